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

TEST_CASE("a panel handle is redeemed once, only as a panel handle, with the panel's wording",
          "[deployment][approvals][panel]") {
  Clock clock;
  ApprovalBook book(clock.function());
  const auto handle = book.issue(kPlan, std::chrono::minutes(5), ApprovalBook::Handle::kPanel);
  CHECK(handle.rfind("panel-", 0) == 0);
  CHECK(handle.size() == 6 + 32);
  const auto token = book.issue(kPlan, std::chrono::minutes(5));

  SECTION("a panel handle is no approval token, and a token is no panel handle") {
    const auto as_token = book.redeem(handle, "shop");
    REQUIRE_FALSE(as_token.ok());
    CHECK(contains(as_token.error().message, "unknown approval token"));
    const auto as_handle = book.redeem(token, "shop", ApprovalBook::Handle::kPanel);
    REQUIRE_FALSE(as_handle.ok());
    CHECK(contains(as_handle.error().message, "not a plan the deployment panel was given"));
    // Neither attempt spent the other kind's entry.
    CHECK(book.redeem(handle, "shop", ApprovalBook::Handle::kPanel).ok());
    CHECK(book.redeem(token, "shop").ok());
  }
  SECTION("answered once: a second answer is refused") {
    REQUIRE(book.redeem(handle, "shop", ApprovalBook::Handle::kPanel).ok());
    const auto again = book.redeem(handle, "shop", ApprovalBook::Handle::kPanel);
    REQUIRE_FALSE(again.ok());
    CHECK(contains(again.error().message, "already answered"));
  }
  SECTION("expired, for another app, or unknown") {
    clock.now += std::chrono::minutes(5);
    const auto late = book.redeem(handle, "shop", ApprovalBook::Handle::kPanel);
    REQUIRE_FALSE(late.ok());
    CHECK(contains(late.error().message, "this plan expired"));
    const auto other = book.issue(kPlan, std::chrono::minutes(5), ApprovalBook::Handle::kPanel);
    const auto wrong_app = book.redeem(other, "cart", ApprovalBook::Handle::kPanel);
    REQUIRE_FALSE(wrong_app.ok());
    CHECK(contains(wrong_app.error().message, "for app \"shop\", not \"cart\""));
    const auto unknown = book.redeem("panel-" + std::string(32, '0'), "shop", ApprovalBook::Handle::kPanel);
    REQUIRE_FALSE(unknown.ok());
    CHECK(contains(unknown.error().message, "not known to this server"));
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
  SECTION("the deployment panel (\"app\"): for clients that render MCP Apps, in the configuration's order") {
    app.approval.channels = {"app", "token"};
    CHECK(deployment::decide_approval(app, {false, true}, {false, false, true}).path == ApprovalPath::kShowInPanel);
    CHECK(deployment::decide_approval(app, {false, true}, {true, true, true}).path == ApprovalPath::kShowInPanel);
    CHECK(deployment::decide_approval(app, {false, true}, {true, true, false}).path == ApprovalPath::kIssueToken);
    app.approval.channels = {"elicitation", "url", "app"};
    CHECK(deployment::decide_approval(app, {false, true}, {true, false, true}).path == ApprovalPath::kAskHuman);
    CHECK(deployment::decide_approval(app, {false, true}, {false, false, true}).path == ApprovalPath::kShowInPanel);
    app.approval.channels = {"app"};
    const auto refused = deployment::decide_approval(app, {false, true}, {true, true, false});
    CHECK(refused.path == ApprovalPath::kRefuse);
    CHECK(contains(refused.refusal, "only a form (MCP form elicitation) and a link (MCP URL-mode elicitation)"));
    CHECK(contains(refused.refusal, "a client that supports MCP Apps (the deployment panel)"));
    const auto none = deployment::decide_approval(app, {false, true}, {false, false, false});
    CHECK(contains(none.refusal, "no form, link or panel"));
    // An emergency is shown in the panel as any switch is.
    CHECK(deployment::decide_approval(app, {true, true}, {false, false, true}).path == ApprovalPath::kShowInPanel);
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
