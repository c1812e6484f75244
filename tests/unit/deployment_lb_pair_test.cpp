// Load-balancer pairs as pure functions: `loadBalancer` as a list (later entries take what they
// omit from the first), the views per load balancer, the lock order, the pair's agreement
// (divergence, the newest state), and HAProxy's backend server lines that pools are compared with
// when the stats socket does not answer.

#include "deployment/lb_pair.h"
#include "deployment/pools.h"
#include "haproxy/backend_servers.h"
#include "tests/support/fake_lb.h"

#include <catch2/catch.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using state::Color;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The test app with a second load balancer that gives only what differs.
config::AppConfig pair_app(const std::function<void(json&)>& edit = {}) {
  return test_app([&edit](json& app) {
    const json first = app["loadBalancer"];
    app["loadBalancer"] = json::array({first, {{"ssh", "lab-lb2"}, {"verifyUrl", "http://127.0.99.5:80/health"}}});
    if (edit) edit(app);
  });
}

std::string config_error(const std::function<void(json&)>& edit) {
  try {
    (void)pair_app(edit);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

deployment::LbSnapshot snapshot_on(std::optional<Color> live, std::uint64_t generation, Color prod = Color::kBlue) {
  deployment::LbSnapshot snapshot;
  snapshot.live = live;
  if (!live) snapshot.live_problem = "ssh lab-lb2: connection refused";
  state::DeploymentState state;
  state.prod = prod;
  state.generation = generation;
  snapshot.state = state;
  return snapshot;
}

}  // namespace

TEST_CASE("loadBalancer as a list: later entries take what they omit from the first", "[config][lb-pair]") {
  const auto app = pair_app();
  REQUIRE(app.load_balancers.size() == 2);
  CHECK(app.load_balancer.ssh == "lab-lb");
  CHECK(app.load_balancers[1].ssh == "lab-lb2");
  CHECK(app.load_balancers[1].state_file == app.load_balancer.state_file);
  CHECK(app.load_balancers[1].master_socket == app.load_balancer.master_socket);
  REQUIRE(app.load_balancers[1].verify_urls.size() == 1);
  CHECK(app.load_balancers[1].verify_urls[0] == "http://127.0.99.5:80/health");  // its own, not the first's
  CHECK(deployment::is_lb_pair(app));
  CHECK_FALSE(deployment::is_lb_pair(test_app()));

  CHECK(contains(config_error([](json& j) { j["loadBalancer"][1]["ssh"] = "lab-lb"; }),
                 "apps.shop.loadBalancer[1].ssh: \"lab-lb\" is also apps.shop.loadBalancer[0]'s"));
  CHECK(contains(config_error([](json& j) { j["loadBalancer"] = json::array(); }),
                 "apps.shop.loadBalancer: must be a load balancer object or a non-empty list of them"));
  CHECK(contains(config_error([](json& j) { j["loadBalancer"][1]["frobnicate"] = 1; }),
                 "apps.shop.loadBalancer[1].frobnicate: unknown key"));
}

TEST_CASE("each load balancer has its view of the app; locks are taken by ssh name", "[deployment][lb-pair]") {
  auto app = pair_app([](json& j) {
    j["loadBalancer"][0]["ssh"] = "zz-lb";
    j["loadBalancer"][1]["ssh"] = "aa-lb";
  });
  const auto views = deployment::lb_views(app);
  REQUIRE(views.size() == 2);
  CHECK(views[0].load_balancer.ssh == "zz-lb");
  CHECK(views[1].load_balancer.ssh == "aa-lb");
  CHECK(views[1].load_balancers.size() == 1);
  CHECK(views[1].blue.front().ssh == "lab-blue");
  CHECK(deployment::lock_order(app.load_balancers) == std::vector<std::size_t>{1, 0});
  // The first load balancer's view follows load_balancer (its source of truth).
  app.load_balancer.reload_command = "systemctl reload haproxy";
  CHECK(deployment::app_on_lb(app, 0).load_balancer.reload_command == "systemctl reload haproxy");
}

TEST_CASE("a pair agrees, diverges, or cannot be read", "[deployment][lb-pair]") {
  const auto app = pair_app();
  const auto a = snapshot_on(Color::kBlue, 12);
  SECTION("the same colour and state: no drift") {
    const auto b = snapshot_on(Color::kBlue, 12);
    CHECK(deployment::pair_divergence(app, {&a, &b}).empty());
    CHECK(deployment::pair_live({&a, &b}) == Color::kBlue);
  }
  SECTION("different colours: no live colour, drift naming both") {
    const auto b = snapshot_on(Color::kGreen, 12);
    const auto drift = deployment::pair_divergence(app, {&a, &b});
    REQUIRE(drift.size() == 1);
    CHECK(contains(drift[0], "LB PAIR DIVERGED"));
    CHECK(contains(drift[0], "lab-lb routes to BLUE"));
    CHECK(contains(drift[0], "lab-lb2 routes to GREEN"));
    CHECK_FALSE(deployment::pair_live({&a, &b}));
  }
  SECTION("one unreachable") {
    const auto b = snapshot_on(std::nullopt, 12);
    const auto drift = deployment::pair_divergence(app, {&a, &b});
    REQUIRE(drift.size() == 1);
    CHECK(contains(drift[0], "the routing of a load balancer is unknown"));
    CHECK(contains(drift[0], "lab-lb2: ssh lab-lb2: connection refused"));
  }
  SECTION("different state files: drift, and the newest is what the next write builds on") {
    const auto b = snapshot_on(Color::kBlue, 11);
    const auto drift = deployment::pair_divergence(app, {&a, &b});
    REQUIRE(drift.size() == 1);
    CHECK(contains(drift[0], "the state files differ"));
    CHECK(deployment::newest_state({&b, &a}) == &a);
  }
}

TEST_CASE("a backend's server lines, across files, for pools without a stats socket", "[haproxy][pools]") {
  const std::vector<haproxy::ConfigFile> files{
      {"/etc/haproxy/haproxy.cfg",
       "backend blue\n    server blue 10.0.0.1:80 check\n    server blue2 10.0.0.2:80 check\n"
       "backend green\n    server-template g 3 10.0.1.1:80\n"},
      {"/etc/haproxy/conf.d/more.cfg", "backend blue\n    server \"blue3\" 10.0.0.3:80\nfrontend x\n"}};
  const auto servers = haproxy::backend_servers(files, {"blue", "green", "absent"});
  REQUIRE(servers.at("blue").size() == 3);
  CHECK(servers.at("blue")[2].name == "blue3");
  CHECK(servers.at("blue")[2].file == "/etc/haproxy/conf.d/more.cfg");
  CHECK(servers.at("blue")[1].address == "10.0.0.2:80");
  REQUIRE(servers.at("green").size() == 1);
  CHECK(servers.at("green")[0].name.empty());  // server-template
  CHECK(servers.count("absent") == 0);

  // Compared with a pool when the stats socket did not answer.
  const auto app = test_app([](json& j) {
    j["hosts"]["blue"] = json::array({{{"ssh", "b1"},
                                       {"address", "10.0.0.1"},
                                       {"healthUrl", "http://10.0.0.1/health"},
                                       {"appDir", "/srv/app"},
                                       {"haproxyServer", "blue"}},
                                      {{"ssh", "b2"},
                                       {"address", "10.0.0.2"},
                                       {"healthUrl", "http://10.0.0.2/health"},
                                       {"appDir", "/srv/app"},
                                       {"haproxyServer", "blue2"}}});
  });
  deployment::LbSnapshot snapshot;
  snapshot.config_files = files;
  const auto drift = deployment::pool_membership_drift(app, snapshot, Color::kBlue);
  REQUIRE(drift.size() == 1);
  CHECK(contains(drift[0],
                 "the backend in HAProxy's files \"blue\" (BLUE) has server blue3, which is not in hosts.blue"));
  bool unknown = false;
  CHECK(deployment::pool_membership_drift(app, snapshot, Color::kGreen, &unknown).empty());
  CHECK(unknown);  // server-template: not comparable
}

TEST_CASE("one configured server facing a backend of several is drift", "[deployment][pools]") {
  const auto app = test_app();
  deployment::LbSnapshot snapshot;
  snapshot.config_files = {{"/etc/haproxy/haproxy.cfg",
                            "backend green\n    server green 127.0.99.2:8080\n    server green2 127.0.99.22:8080\n"}};
  const auto drift = deployment::pool_membership_drift(app, snapshot, Color::kGreen);
  REQUIRE(drift.size() == 1);
  CHECK(contains(drift[0], "has 2 servers (green, green2) but hosts.green configures one"));
}
