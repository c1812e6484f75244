// Every route of the app on the simulated site: the effective configuration's file list
// (deployment/haproxy_files.h), SPLIT ROUTING (deployment/app_routing.h), and a switch that moves
// every route of the file at once.
#include "deployment/deploy.h"
#include "deployment/haproxy_files.h"
#include "deployment/status.h"
#include "deployment/switch_plan.h"
#include "deployment/traffic_switch.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

using namespace bluegreen;        // NOLINT(google-build-using-namespace): the project namespace, in a test or main
using namespace testing_support;  // NOLINT(google-build-using-namespace)
using state::Color;

namespace {

// fe_app and a second frontend on another port, routing to `first` and `second`.
std::string two_frontends(const std::string& first, const std::string& second) {
  std::string text = haproxy_cfg(first);
  const auto at = text.find("\nbackend blue") + 1;
  return text.insert(at, "frontend fe_alt\n    bind 127.0.99.3:81\n    use_backend " + second + "\n\n");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

deployment::SwitchOutcome run_switch(DeploymentRig& rig, const deployment::SwitchPlan& plan) {
  return deployment::execute_switch(rig.services, rig.app, rig.bound(plan), "claude-test", rig.reporter, {});
}

deployment::DeployOutcome run_deploy(DeploymentRig& rig) {
  return deployment::deploy_to_standby(rig.services, rig.app, {}, "claude-test", rig.reporter, {});
}

}  // namespace

TEST_CASE("HAProxy's directory rule and its list of loaded files", "[deployment][routing]") {
  CHECK(deployment::haproxy_loads_from_directory("10-app.cfg"));
  CHECK_FALSE(deployment::haproxy_loads_from_directory(".hidden.cfg"));
  CHECK_FALSE(deployment::haproxy_loads_from_directory("x.cfg.cfg"));  // HAProxy 2.6 skips it too
  CHECK_FALSE(deployment::haproxy_loads_from_directory("app.cfg.bluegreen-candidate"));
  CHECK_FALSE(deployment::haproxy_loads_from_directory("app.CFG"));

  const auto files =
      deployment::parse_cfgfiles_env("HAPROXY_CFGFILES=/etc/haproxy/haproxy.cfg;/etc/haproxy/conf.d/a.cfg\n");
  REQUIRE(files);
  CHECK(*files == std::vector<std::string>{"/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d/a.cfg"});
  CHECK_FALSE(deployment::parse_cfgfiles_env("Unknown command: 'show env'\n"));

  const std::vector<std::string> loaded{"/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d/a.cfg"};
  CHECK(deployment::configured_list_problem(loaded, {"/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d/"}).empty());
  const auto problem = deployment::configured_list_problem(loaded, {"/etc/haproxy/haproxy.cfg", "/etc/haproxy/x.cfg"});
  CHECK(contains(problem, "not configured: /etc/haproxy/conf.d/a.cfg"));
  CHECK(contains(problem, "not loaded: /etc/haproxy/x.cfg"));
}

TEST_CASE("two entry points on different colours: SPLIT ROUTING, no PROD, no plan, no deploy",
          "[deployment][routing]") {
  DeploymentRig rig;
  rig.lb.set_config_text(two_frontends("blue", "green"));
  rig.lb.reload_by_hand();
  const auto report = deployment::gather_status(rig.services, rig.app);
  const auto text = report.to_text(rig.app);
  INFO(text);
  CHECK_FALSE(report.lb.live);
  CHECK(contains(text, "SPLIT ROUTING"));
  CHECK(contains(text, "frontend fe_app (/etc/haproxy/haproxy.cfg:11, bind 127.0.99.3:80) serves BLUE"));
  CHECK(contains(text, "frontend fe_alt (/etc/haproxy/haproxy.cfg:15, bind 127.0.99.3:81) serves GREEN"));
  const auto json = report.to_json(rig.app);
  CHECK(json["haproxy"]["entryPoints"].size() == 2);
  CHECK(json["haproxy"]["entryPoints"][1]["serves"] == "green");

  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE_FALSE(plan);
  CHECK(contains(plan.error().message, "SPLIT ROUTING"));
  const auto deploy = run_deploy(rig);
  CHECK_FALSE(deploy.ok);
  CHECK(contains(deploy.text, "SPLIT ROUTING"));
  CHECK(rig.lb.executor().commands("lab-green", "tar -czf").empty());
}

TEST_CASE("a switch moves every entry point of the file at once, and verifies them all", "[deployment][routing]") {
  DeploymentRig rig;
  rig.lb.set_config_text(two_frontends("blue", "blue"));
  rig.lb.reload_by_hand();  // HAProxy runs it
  auto plan = deployment::plan_switch(rig.services, rig.app, false);
  INFO((plan ? std::string() : plan.error().message));
  REQUIRE(plan);
  REQUIRE(plan->change.edits.front().lines.size() == 2);
  CHECK(plan->change.edits.front().lines[1].section == "frontend fe_alt");
  CHECK(plan->change.edits.front().lines[1].after == "    use_backend green");
  const auto request = deployment::approval_request_text(rig.app, *plan, "approve-x", std::chrono::minutes(5));
  CHECK(contains(request, "2 lines change, every route of the app"));
  CHECK(contains(request, "frontend fe_alt"));

  const auto outcome = run_switch(rig, plan->plan);
  INFO(outcome.text);
  CHECK(outcome.switched);
  CHECK(rig.lb.config_text() == two_frontends("green", "green"));
}

namespace {

// The test app with its routes in two files: haproxy.cfg (fe_app) and conf.d/alt.cfg (fe_alt).
config::AppConfig two_file_app() {
  auto app = test_app();
  app.load_balancer.haproxy_configs = {"/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d/alt.cfg"};
  app.load_balancer.haproxy_configs_set = true;
  return app;
}

const char* const kAltBlue = "frontend fe_alt\n    bind 127.0.99.3:81\n    default_backend blue\n";

}  // namespace

TEST_CASE("routes in two files: one switch changes both, and a swap failing part way restores the first",
          "[deployment][routing]") {
  DeploymentRig rig(two_file_app());
  rig.lb.executor().set_file("lab-lb", "/etc/haproxy/conf.d/alt.cfg", kAltBlue);
  rig.lb.reload_by_hand();  // HAProxy runs both files
  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  INFO((plan ? std::string() : plan.error().message));
  REQUIRE(plan);
  REQUIRE(plan->change.edits.size() == 2);
  CHECK(plan->change.edits[1].file == "/etc/haproxy/conf.d/alt.cfg");
  const auto request = deployment::approval_request_text(rig.app, *plan, "approve-x", std::chrono::minutes(5));
  CHECK(contains(request, "2 lines change"));

  SECTION("both files switch with one reload") {
    const int reloads = rig.lb.reloads();
    const auto outcome = run_switch(rig, plan->plan);
    INFO(outcome.text);
    CHECK(outcome.switched);
    CHECK(rig.lb.reloads() == reloads + 1);
    CHECK(contains(rig.lb.config_text(), "default_backend green"));
    CHECK(rig.lb.executor().file("lab-lb", "/etc/haproxy/conf.d/alt.cfg") ==
          std::string("frontend fe_alt\n    bind 127.0.99.3:81\n    default_backend green\n"));
  }
  SECTION("the second file's swap fails: the first is put back, HAProxy verified on BLUE") {
    const std::string main_before = rig.lb.config_text();
    rig.lb.faults().swap = Fault::after(1);
    const auto outcome = run_switch(rig, plan->plan);
    INFO(outcome.text);
    CHECK_FALSE(outcome.switched);
    CHECK(contains(outcome.text, "1 of 2 files had been replaced"));
    CHECK(rig.lb.config_text() == main_before);
    CHECK(rig.lb.executor().file("lab-lb", "/etc/haproxy/conf.d/alt.cfg") == std::string(kAltBlue));
    CHECK(rig.lb.running() == Color::kBlue);
    CHECK(rig.lb.audit_lines().back()["outcome"] == "rolled-back");
    CHECK(rig.lb.leftovers().empty());
  }
}
