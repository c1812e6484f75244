// Approval tokens (ApprovalBook on an injected clock) and the approval policy (decide_approval).

#include "deployment/approvals.h"
#include "deployment/approval_policy.h"
#include "deployment/shared_routes.h"
#include "tests/support/fake_lb.h"

#include <catch2/catch.hpp>

#include <set>
#include <thread>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using deployment::ApprovalBook;
using deployment::ApprovalPath;
using deployment::SwitchPlan;
using state::Color;

namespace {

struct Clock {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + std::chrono::hours(100);
  ApprovalBook::Clock function() {
    return [this] { return now; };
  }
};

const SwitchPlan kPlan{"shop", Color::kBlue, Color::kGreen, 7, false, ""};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("an approval token is redeemed once for its plan", "[deployment][approvals]") {
  Clock clock;
  ApprovalBook book(clock.function());
  const auto token = book.issue(kPlan, std::chrono::minutes(5));
  CHECK(token.rfind("approve-", 0) == 0);
  CHECK(token.size() == 8 + 32);

  clock.now += std::chrono::minutes(4);
  auto redeemed = book.redeem(token, "shop");
  REQUIRE(redeemed.ok());
  CHECK(redeemed->app == "shop");
  CHECK(redeemed->from == Color::kBlue);
  CHECK(redeemed->to == Color::kGreen);
  CHECK(redeemed->generation == 7);
  CHECK_FALSE(redeemed->emergency);

  SECTION("a replay is refused") {
    auto again = book.redeem(token, "shop");
    REQUIRE_FALSE(again.ok());
    CHECK(contains(again.error().message, "already used"));
  }
}

TEST_CASE("approval tokens are unique", "[deployment][approvals]") {
  ApprovalBook book;
  std::set<std::string> tokens;
  for (int i = 0; i < 50; ++i) tokens.insert(book.issue(kPlan, std::chrono::minutes(5)));
  CHECK(tokens.size() == 50);
}

TEST_CASE("an expired approval token is refused, and void afterwards", "[deployment][approvals]") {
  Clock clock;
  ApprovalBook book(clock.function());
  const auto token = book.issue(kPlan, std::chrono::minutes(5));
  clock.now += std::chrono::minutes(5);  // exactly at expiry: expired
  auto redeemed = book.redeem(token, "shop");
  REQUIRE_FALSE(redeemed.ok());
  CHECK(contains(redeemed.error().message, "expired"));
  CHECK(contains(book.redeem(token, "shop").error().message, "already used"));
}

TEST_CASE("an approval token for another app is refused and voided", "[deployment][approvals]") {
  Clock clock;
  ApprovalBook book(clock.function());
  const auto token = book.issue(kPlan, std::chrono::minutes(5));
  auto redeemed = book.redeem(token, "blog");
  REQUIRE_FALSE(redeemed.ok());
  CHECK(contains(redeemed.error().message, "issued for app \"shop\", not \"blog\""));
  CHECK_FALSE(book.redeem(token, "shop").ok());  // consumed by the wrong attempt
}

TEST_CASE("an unknown approval token is refused", "[deployment][approvals]") {
  ApprovalBook book;
  (void)book.issue(kPlan, std::chrono::minutes(5));
  auto redeemed = book.redeem("approve-00000000000000000000000000000000", "shop");
  REQUIRE_FALSE(redeemed.ok());
  CHECK(contains(redeemed.error().message, "unknown approval token"));
  CHECK_FALSE(book.redeem("", "shop").ok());
}

TEST_CASE("two racing redemptions of one token: exactly one wins", "[deployment][approvals]") {
  ApprovalBook book;
  for (int round = 0; round < 20; ++round) {
    const auto token = book.issue(kPlan, std::chrono::minutes(5));
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        if (book.redeem(token, "shop").ok()) ++wins;
      });
    }
    for (auto& thread : threads) thread.join();
    CHECK(wins == 1);
  }
}

TEST_CASE("the approval policy follows the configuration, never the caller", "[deployment][approvals][policy]") {
  auto app = testing_support::test_app();

  SECTION("requireApproval=false cannot skip a required approval") {
    const auto decision = deployment::decide_approval(app, {false, false}, {true});
    CHECK(decision.path == ApprovalPath::kRefuse);
    CHECK(contains(decision.refusal, "requireApproval=false cannot skip the approval"));
    CHECK(contains(decision.refusal, "Nothing was changed"));
  }
  SECTION("an emergency does not skip it either when emergencyRequiresApproval") {
    CHECK(deployment::decide_approval(app, {true, false}, {false}).path == ApprovalPath::kRefuse);
    CHECK(deployment::decide_approval(app, {true, true}, {false}).path == ApprovalPath::kIssueToken);
  }
  SECTION("approval turned off in the configuration") {
    app.approval.required = false;
    CHECK(deployment::decide_approval(app, {false, true}, {true}).path == ApprovalPath::kNotRequired);
    CHECK(deployment::decide_approval(app, {false, false}, {false}).path == ApprovalPath::kNotRequired);
  }
  SECTION("an emergency without approval when configured so") {
    app.approval.emergency_requires_approval = false;
    CHECK(deployment::decide_approval(app, {true, true}, {true}).path == ApprovalPath::kNotRequired);
    CHECK(deployment::decide_approval(app, {true, false}, {false}).path == ApprovalPath::kNotRequired);
    // ... but not for a normal switch.
    CHECK(deployment::decide_approval(app, {false, true}, {false}).path == ApprovalPath::kIssueToken);
    CHECK(deployment::decide_approval(app, {false, false}, {false}).path == ApprovalPath::kRefuse);
  }
  SECTION("the approval page (\"url\"): for clients with URL-mode elicitation, in the configuration's order") {
    app.approval.channels = {"url", "token"};
    CHECK(deployment::decide_approval(app, {false, true}, {false, true}).path == ApprovalPath::kAskOnPage);
    CHECK(deployment::decide_approval(app, {false, true}, {true, true}).path == ApprovalPath::kAskOnPage);
    CHECK(deployment::decide_approval(app, {false, true}, {true, false}).path == ApprovalPath::kIssueToken);
    app.approval.channels = {"elicitation", "url"};
    CHECK(deployment::decide_approval(app, {false, true}, {true, true}).path == ApprovalPath::kAskHuman);
    CHECK(deployment::decide_approval(app, {false, true}, {false, true}).path == ApprovalPath::kAskOnPage);
    app.approval.channels = {"token", "url", "elicitation"};  // a token comes last whatever the order
    CHECK(deployment::decide_approval(app, {false, true}, {true, true}).path == ApprovalPath::kAskOnPage);
    CHECK(deployment::decide_approval(app, {false, true}, {true, false}).path == ApprovalPath::kAskHuman);
    app.approval.channels = {"url"};
    const auto refused = deployment::decide_approval(app, {false, true}, {true, false});
    CHECK(refused.path == ApprovalPath::kRefuse);
    CHECK(contains(refused.refusal, "can show the human only a form"));
    CHECK(contains(refused.refusal, "a client that supports MCP URL-mode elicitation (an approval page)"));
    CHECK(contains(deployment::token_not_accepted(app), "through MCP URL-mode elicitation"));
  }
  SECTION("approval.channels without token: only a client with elicitation can approve") {
    app.approval.channels = {"elicitation"};
    CHECK(deployment::decide_approval(app, {false, true}, {true}).path == ApprovalPath::kAskHuman);
    const auto refused = deployment::decide_approval(app, {false, true}, {false});
    CHECK(refused.path == ApprovalPath::kRefuse);
    CHECK(contains(refused.refusal, "NO WAY TO APPROVE A SWITCH IN THIS CLIENT"));
    CHECK(contains(refused.refusal, "only through elicitation (approval.channels)"));
    CHECK(contains(refused.refusal, "add \"token\" to approval.channels"));
    CHECK(contains(refused.refusal, "Nothing was changed"));
    CHECK(contains(deployment::token_not_accepted(app), "does not accept approval tokens"));
    CHECK(contains(deployment::no_fallback_to_token(app, "timed out"),
                   "could not be asked through the client (timed out)"));
    // Approval turned off still needs no channel.
    app.approval.required = false;
    CHECK(deployment::decide_approval(app, {false, true}, {false}).path == ApprovalPath::kNotRequired);
  }
  SECTION("approval.channels without elicitation: a token even where the client could ask") {
    app.approval.channels = {"token"};
    CHECK(deployment::decide_approval(app, {false, true}, {true}).path == ApprovalPath::kIssueToken);
  }
  SECTION("ask the human when the client can, else a token") {
    CHECK(deployment::decide_approval(app, {false, true}, {true}).path == ApprovalPath::kAskHuman);
    CHECK(deployment::decide_approval(app, {false, true}, {false}).path == ApprovalPath::kIssueToken);
    CHECK(deployment::decide_approval(app, {false, true}, {true}).refusal.empty());
  }
}

TEST_CASE("apps that share a load balancer's backends cannot be switched", "[deployment][approvals][policy]") {
  config::Config config;
  config.apps.push_back(testing_support::test_app());
  auto other = testing_support::test_app();
  other.name = "shop2";
  config.apps.push_back(other);
  const std::string refusal = deployment::shared_route_conflict(config, config.apps[0]);
  CHECK(contains(refusal, "apps shop and shop2 route through the same HAProxy backends"));
  CHECK(contains(refusal, "Nothing was changed"));
  CHECK_FALSE(deployment::shared_route_conflict(config, config.apps[1]).empty());
  SECTION("other backends, or another load balancer: no conflict") {
    config.apps[1].load_balancers[0].blue_backend = "blue2";
    config.apps[1].load_balancer = config.apps[1].load_balancers[0];
    CHECK(deployment::shared_route_conflict(config, config.apps[0]).empty());
    config.apps[1].load_balancers[0] = config.apps[0].load_balancers[0];
    config.apps[1].load_balancers[0].ssh = "lb-elsewhere";
    CHECK(deployment::shared_route_conflict(config, config.apps[0]).empty());
  }
  SECTION("one app alone") {
    config.apps.pop_back();
    CHECK(deployment::shared_route_conflict(config, config.apps[0]).empty());
  }
}
