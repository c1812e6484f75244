// Pools (several servers per colour) against the simulated site: the configuration forms, status
// per server (mixed versions, HAProxy's backend against the pool), a deploy to every standby
// server (maxParallel, the first failure stops the rest, cancel), and the switch's requirements
// (every server healthy or healthGate.minHealthy, one commit, the backend as configured).

#include "deployment/deploy.h"
#include "deployment/status.h"
#include "deployment/switch_plan.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <stop_token>
#include <thread>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using state::Color;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The test app with `size` servers per colour: blue, blue2, ... on lab-blue, lab-blue2, ...
// (haproxyServer = the name), green likewise; `edit` may change the JSON further.
config::AppConfig pool_app(int size, const std::function<void(json&)>& edit = {}) {
  return test_app([size, &edit](json& app) {
    for (const std::string colour : {"blue", "green"}) {
      json servers = json::array();
      for (int i = 1; i <= size; ++i) {
        const std::string name = colour + (i == 1 ? "" : std::to_string(i));
        const std::string address = "127.0.99." + std::to_string((colour == "blue" ? 10 : 20) + i);
        servers.push_back({{"ssh", "lab-" + name},
                           {"address", address},
                           {"healthUrl", "http://" + address + ":8080/health"},
                           {"appDir", "/srv/app"},
                           {"service", "shop"},
                           {"haproxyServer", name}});
      }
      app["hosts"][colour] = servers;
    }
    if (edit) edit(app);
  });
}

std::string config_error(const std::function<void(json&)>& edit) {
  try {
    (void)pool_app(2, edit);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

deployment::DeployOutcome run_deploy(DeploymentRig& rig, std::stop_token stop = {}) {
  return deployment::deploy_to_standby(rig.services, rig.app, {}, "claude-test", rig.reporter, std::move(stop));
}

std::map<std::string, std::string> server_statuses(const deployment::DeployOutcome& outcome) {
  std::map<std::string, std::string> out;
  for (const auto& server : outcome.structured.at("servers")) out[server["server"]] = server["status"];
  return out;
}

}  // namespace

TEST_CASE("a colour is one server object or a list of servers, each naming its HAProxy server", "[config][pools]") {
  const auto app = pool_app(3, [](json& j) {
    j["deploy"]["maxParallel"] = 2;
    j["healthGate"]["minHealthy"] = 2;
  });
  REQUIRE(app.blue.size() == 3);
  CHECK(app.blue.servers[1].ssh == "lab-blue2");
  CHECK(app.green.servers[2].haproxy_server == "green3");
  CHECK(app.blue.named());
  CHECK(app.max_parallel == 2);
  CHECK(app.health_gate.min_healthy == 2);
  const auto single = test_app();
  CHECK(single.blue.size() == 1);
  CHECK_FALSE(single.blue.named());

  CHECK(contains(config_error([](json& j) { j["hosts"]["blue"][1].erase("haproxyServer"); }),
                 "apps.shop.hosts.blue[1].haproxyServer: is required when a colour has several servers"));
  CHECK(contains(config_error([](json& j) { j["hosts"]["green"][1]["haproxyServer"] = "green"; }),
                 "apps.shop.hosts.green[1].haproxyServer: \"green\" is used twice"));
  CHECK(contains(config_error([](json& j) { j["hosts"]["green"][1]["ssh"] = "lab-blue"; }),
                 "apps.shop.hosts.green[1]: the same server and appDir as apps.shop.hosts.blue[0]"));
  CHECK(contains(config_error([](json& j) { j["healthGate"]["minHealthy"] = 3; }),
                 "apps.shop.healthGate.minHealthy: is 3 but a colour has only 2 servers"));
  CHECK(contains(config_error([](json& j) { j["hosts"]["blue"] = json::array(); }),
                 "apps.shop.hosts.blue: must be a server object or a non-empty list of them"));
  CHECK(contains(config_error([](json& j) { j["deploy"]["maxParallel"] = 0; }),
                 "apps.shop.deploy.maxParallel: must be an integer from 1"));
}

TEST_CASE("status shows every server of each colour and what HAProxy says of each", "[deployment][pools]") {
  DeploymentRig rig(pool_app(3));
  rig.lb.set_server_health(rig.app.green.servers[2], HostHealth{false, false, std::nullopt, "1.4.2"});
  rig.lb.set_server_status_of("green3", "DOWN");
  const auto report = deployment::gather_status(rig.services, rig.app);
  const auto j = report.to_json(rig.app);
  const auto text = report.to_text(rig.app);
  INFO(text);

  const auto& prod = j.at("current").at("prod");
  CHECK(prod["server"] == "BLUE");
  CHECK(prod["healthy"] == true);
  CHECK(prod["healthyServers"] == 3);
  CHECK(prod["servers"].size() == 3);
  CHECK(prod["servers"][1]["name"] == "blue2");
  CHECK(prod["servers"][1]["haproxy"]["status"] == "UP");
  CHECK(prod["deployedCommit"] == kBlueCommit);
  CHECK(prod["versionMixed"] == false);
  const auto& standby = j.at("current").at("standby");
  CHECK(standby["healthy"] == false);
  CHECK(standby["healthyServers"] == 2);
  CHECK(contains(standby["status"].get<std::string>(), "DEGRADED (2/3 healthy)"));
  CHECK(standby["servers"][2]["haproxy"]["status"] == "DOWN");
  CHECK(contains(text, "PROD:    BLUE (3 servers)  ✅ ONLINE 3/3 healthy"));
  CHECK(contains(text, "  - green3 (127.0.99.23)  ❌ DOWN"));
  CHECK(report.drift.empty());
}

TEST_CASE("status reports a pool whose servers disagree on version or commit", "[deployment][pools]") {
  DeploymentRig rig(pool_app(2));
  rig.lb.set_server_health(rig.app.blue.servers[1], HostHealth{true, false, std::nullopt, "1.5.0"});
  rig.lb.executor().set_file("lab-blue2", "/srv/app/.git/HEAD", kGreenCommit + "\n");
  const auto report = deployment::gather_status(rig.services, rig.app);
  const auto j = report.to_json(rig.app);
  INFO(report.to_text(rig.app));
  CHECK(j.at("current").at("prod")["versionMixed"] == true);
  CHECK(j.at("current").at("prod")["commitMixed"] == true);
  CHECK(j.at("current").at("prod")["version"].is_null());
  CHECK(contains(report.to_text(rig.app), "version MIXED"));
  REQUIRE_FALSE(report.drift.empty());
  CHECK(contains(report.drift.front(), "PROD BLUE's servers are on different commits"));
}

TEST_CASE("a server in the pool but not in HAProxy's backend, or the reverse, is drift", "[deployment][pools]") {
  DeploymentRig rig(pool_app(2));
  rig.lb.set_backend_servers(Color::kGreen, {"green", "green9"});
  const auto report = deployment::gather_status(rig.services, rig.app);
  INFO(report.to_text(rig.app));
  std::string drift;
  for (const auto& line : report.drift) drift += line + "\n";
  CHECK(
      contains(drift, "GREEN server green2 (lab-green2) is configured but HAProxy's backend \"green\" has no server"));
  CHECK(contains(drift, "HAProxy's backend \"green\" (GREEN) has server green9, which is not in hosts.green"));

  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE_FALSE(plan);
  CHECK(contains(plan.error().message, "POOL DRIFT: GREEN server green2"));
}

TEST_CASE("a pool deploy runs every standby server and records one commit", "[deployment][pools][deploy]") {
  DeploymentRig rig(pool_app(3));
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);
  REQUIRE(outcome.ok);
  CHECK(server_statuses(outcome) ==
        std::map<std::string, std::string>{{"green", "ok"}, {"green2", "ok"}, {"green3", "ok"}});
  CHECK(outcome.structured.at("commit") == kGreenCommit);
  for (const auto* host : {"lab-green", "lab-green2", "lab-green3"}) {
    CHECK(rig.lb.executor().commands(host, "./appctl restart").size() == 1);
  }
  CHECK(rig.lb.executor().commands("lab-blue2", "cd '/srv/app'").empty());
  CHECK(contains(outcome.text, "Deployment to GREEN (3 servers: 127.0.99.21, 127.0.99.22, 127.0.99.23)"));
  bool named = false;
  for (const auto& step : rig.reporter.steps()) named = named || contains(step, "green2: step 5/8: build");
  CHECK(named);
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->deploys.back().outcome == "ok");
  CHECK(recorded->deploys.back().extra["servers"].size() == 3);
}

TEST_CASE("the first failing server stops the pool deploy and the standby is NOT READY",
          "[deployment][pools][deploy]") {
  DeploymentRig rig(pool_app(3, [](json& j) { j["deploy"]["maxParallel"] = 1; }));
  rig.lb.executor().on_host("lab-green2", "./build", exit_with(2, "", "compile error"));
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);
  CHECK_FALSE(outcome.ok);
  CHECK(server_statuses(outcome) ==
        std::map<std::string, std::string>{{"green", "ok"}, {"green2", "failed"}, {"green3", "not started"}});
  CHECK(contains(outcome.structured.at("error").get<std::string>(), "green2: step \"build\" failed on green2"));
  CHECK(contains(outcome.text, "STANDBY GREEN is NOT READY"));
  CHECK(contains(outcome.text, "compile error"));
  CHECK(rig.lb.executor().commands("lab-green3", "cd '/srv/app'").empty());
  CHECK(rig.lb.executor().commands("lab-green2", "./appctl restart").empty());
  CHECK(rig.lb.state()->deploys.back().outcome == "failed");
  CHECK_FALSE(rig.lb.lock_held());

  // The switch refuses the standby its last deploy left half done.
  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE_FALSE(plan);
  CHECK(contains(plan.error().message, "the last deploy to GREEN"));
}

TEST_CASE("a failure in a parallel pool deploy lets running servers finish their step only",
          "[deployment][pools][deploy]") {
  DeploymentRig rig(pool_app(2));
  // green fails its install while green2 is in the same step (its install returns only after
  // green's has failed, with time for green's thread to record it): green2 finishes that step and
  // starts nothing after it.
  std::atomic<bool> green_failed{false};
  std::atomic<bool> green2_installing{false};
  rig.lb.executor().on_match(
      [](const std::string& host, const std::string& command) {
        return host == "lab-green" && contains(command, "./install-deps");
      },
      [&green_failed, &green2_installing](const std::string&, const std::string&) -> ScriptedExecutor::Reply {
        for (int i = 0; i < 500 && !green2_installing; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        green_failed = true;
        return exit_with(1, "", "npm ERR!");
      });
  rig.lb.executor().on_match(
      [](const std::string& host, const std::string& command) {
        return host == "lab-green2" && contains(command, "./install-deps");
      },
      [&green_failed, &green2_installing](const std::string&, const std::string&) -> ScriptedExecutor::Reply {
        green2_installing = true;
        for (int i = 0; i < 500 && !green_failed; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return ok_with();
      });
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);
  CHECK_FALSE(outcome.ok);
  const auto statuses = server_statuses(outcome);
  CHECK(statuses.at("green") == "failed");
  CHECK(statuses.at("green2") == "stopped");
  const auto& rows = outcome.structured.at("servers")[1]["steps"];
  REQUIRE(rows.size() == 7);
  CHECK(rows[2]["name"] == "install");
  CHECK(rows[2]["status"] == "ok");
  CHECK(rows[4]["status"] == "not run");
  CHECK(rig.lb.executor().commands("lab-green2", "./build").empty());
  CHECK(rig.lb.executor().commands("lab-green", "./build").empty());
}

TEST_CASE("cancelling a pool deploy stops every server and releases the lock", "[deployment][pools][deploy]") {
  DeploymentRig rig(pool_app(3));
  std::stop_source stop;
  rig.lb.executor().on_match([](const std::string&,
                                const std::string& command) { return contains(command, "./build"); },
                             [&stop](const std::string&, const std::string&) -> ScriptedExecutor::Reply {
                               stop.request_stop();
                               return cancelled_result();
                             });
  const auto outcome = run_deploy(rig, stop.get_token());
  INFO(outcome.text);
  CHECK(outcome.cancelled);
  for (const auto& [server, status] : server_statuses(outcome)) {
    INFO(server);
    CHECK((status == "cancelled" || status == "not started"));
  }
  CHECK(rig.lb.executor().commands("lab-green", "./appctl").empty());
  CHECK(rig.lb.state()->deploys.back().outcome == "cancelled");
  CHECK_FALSE(rig.lb.lock_held());
}

// The standby gates of a pool run in parallel; FakeTime's one clock advances by every sleeper's
// sleeps, so a failing server's gate would end the others' early. These run on the real clock
// (about 0.5 s: the plan-time gate's three probes 200 ms apart).
deployment::Services real_time_services(DeploymentRig& rig) {
  return deployment::Services{rig.lb.executor(), rig.approvals, rig.lb.probe(), deployment::system_time(),
                              std::make_shared<deployment::CommitCache>()};
}

TEST_CASE("a switch needs every standby server healthy, or healthGate.minHealthy of them", "[deployment][pools]") {
  SECTION("every server by default") {
    DeploymentRig rig(pool_app(3));
    rig.lb.set_server_health(rig.app.green.servers[1], HostHealth{false, false, std::nullopt, "1.4.2"});
    auto services = real_time_services(rig);
    const auto plan = deployment::plan_switch(services, rig.app, false);
    REQUIRE_FALSE(plan);
    INFO(plan.error().message);
    CHECK(contains(plan.error().message, "2 of 3 servers pass, 3 needed (green2:"));
  }
  SECTION("minHealthy 2 of 3") {
    DeploymentRig rig(pool_app(3, [](json& j) { j["healthGate"]["minHealthy"] = 2; }));
    rig.lb.set_server_health(rig.app.green.servers[1], HostHealth{false, false, std::nullopt, "1.4.2"});
    rig.lb.set_server_status_of("green2", "DOWN");
    auto services = real_time_services(rig);
    const auto plan = deployment::plan_switch(services, rig.app, false);
    INFO((plan ? std::string() : plan.error().message));
    REQUIRE(plan);
    const auto j = deployment::plan_json(rig.app, *plan);
    CHECK(j["standby"]["minHealthy"] == 2);
    CHECK(j["standby"]["servers"].size() == 3);
    CHECK(j["standby"]["servers"][1]["healthy"] == false);
    const auto text = deployment::approval_request_text(rig.app, *plan, "tok", std::chrono::seconds(300));
    CHECK(contains(text, "2/3 servers healthy (2 needed)"));
    CHECK(contains(text, "  - green2 (127.0.99.22) ❌"));
  }
}

TEST_CASE("a switch refuses a standby whose servers are on different commits", "[deployment][pools]") {
  DeploymentRig rig(pool_app(2));
  rig.lb.executor().set_file("lab-green2", "/srv/app/.git/HEAD", kBlueCommit + "\n");
  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE_FALSE(plan);
  CHECK(contains(plan.error().message, "its servers are on different commits (green 9ee09ee0, green2 b1ec0b1e)"));
}

TEST_CASE("a pool server whose running commit is not its checkout's stops the switch", "[deployment][pools]") {
  DeploymentRig rig(pool_app(2));
  // green2's checkout is at green's commit, but its process still runs blue's.
  rig.lb.set_server_health(rig.app.green.servers[1], HostHealth{true, false, kBlueCommit, "1.4.2"});
  auto services = real_time_services(rig);
  const auto plan = deployment::plan_switch(services, rig.app, false);
  REQUIRE_FALSE(plan);
  CHECK(contains(plan.error().message,
                 "green2 runs commit b1ec0b1ec0b1 (its health answer) but its checkout is at 9ee09ee0"));
  const auto report = deployment::gather_status(rig.services, rig.app);
  CHECK(report.to_json(rig.app).at("current").at("standby")["commitMixed"] == true);
  CHECK(contains(report.to_text(rig.app), "STANDBY: GREEN (2 servers)  ❌ NOT READY (its servers run different code)"));
}

TEST_CASE("the plan refuses a standby that HAProxy keeps out (MAINT), as the switch would", "[deployment][pools]") {
  DeploymentRig rig(pool_app(2));
  rig.lb.set_server_status_of("green2", "MAINT");
  auto services = real_time_services(rig);
  const auto plan = deployment::plan_switch(services, rig.app, false);
  REQUIRE_FALSE(plan);
  CHECK(contains(plan.error().message, "is not ready: HAProxy's own checks report server green2 as MAINT"));
  const auto report = deployment::gather_status(rig.services, rig.app);
  CHECK(contains(report.to_text(rig.app), "❌ NOT READY (HAProxy has 1 of 2 of its servers UP)"));
}

TEST_CASE("an emergency plan shows what a normal plan would refuse", "[deployment][pools]") {
  DeploymentRig rig(pool_app(2));
  rig.lb.executor().set_file("lab-green2", "/srv/app/.git/HEAD", kBlueCommit + "\n");
  rig.lb.set_server_health(rig.app.green.servers[1], HostHealth{true, false, kBlueCommit, "1.4.2"});
  rig.lb.set_backend_servers(Color::kGreen, {"green"});
  const auto plan = deployment::plan_switch(rig.services, rig.app, true);
  REQUIRE(plan);
  CHECK(contains(plan->deploy_warning, "POOL DRIFT: GREEN server green2"));
  CHECK(contains(plan->deploy_warning, "its servers are on different commits"));
  const auto text = deployment::approval_request_text(rig.app, *plan, "tok", std::chrono::seconds(300));
  CHECK(contains(text, "WARNING"));
}

TEST_CASE("status calls a standby whose last deploy failed NOT READY", "[deployment][pools]") {
  DeploymentRig rig(pool_app(2));
  rig.lb.executor().on_host("lab-green2", "./build", exit_with(2, "", "compile error"));
  (void)run_deploy(rig);
  const auto report = deployment::gather_status(rig.services, rig.app);
  INFO(report.to_text(rig.app));
  CHECK(contains(report.to_text(rig.app), "STANDBY: GREEN (2 servers)  ❌ NOT READY (its last deploy did not succeed)"));
  CHECK(contains(report.to_json(rig.app).at("current").at("standby")["status"].get<std::string>(), "NOT READY"));
}
