// gather_status and plan_switch against the simulated site: drift rules, warnings, an unknown
// live colour, and what a plan shows (or why there is none). Neither changes anything.

#include "deployment/approval_policy.h"
#include "deployment/status.h"
#include "deployment/switch_plan.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using state::Color;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& line : lines) {
    if (contains(line, part)) return true;
  }
  return false;
}

// The only command status and plans run on the LB: reading the config's status-change time.
bool only_reads_change_times(DeploymentRig& rig) {
  for (const auto& command : rig.lb.executor().commands("lab-lb")) {
    if (command.rfind("for f in ", 0) != 0 || !contains(command, "; do stat -L -c %Z -- \"$f\"")) return false;
  }
  return true;
}

// Reads only: no command that could change anything ran on the LB.
void require_read_only(DeploymentRig& rig) {
  CHECK(only_reads_change_times(rig));
  CHECK(rig.lb.locks_taken() == 0);
  CHECK(rig.lb.executor().unmatched().empty());
}

}  // namespace

// --- status ---------------------------------------------------------------------------------

TEST_CASE("status of a healthy site shows no drift", "[deployment][status]") {
  DeploymentRig rig;
  const auto report = deployment::gather_status(rig.services, rig.app);
  const auto json = report.to_json(rig.app);
  const auto text = report.to_text(rig.app);
  INFO(text);
  CHECK(report.drift.empty());
  CHECK(report.warnings.empty());
  CHECK(json["liveColorKnown"] == true);
  CHECK(json["current"]["prod"]["server"] == "BLUE");
  CHECK(json["current"]["prod"]["status"] == "✅ ONLINE");
  CHECK(json["current"]["standby"]["server"] == "GREEN");
  CHECK(json["current"]["standby"]["deployedCommit"] == kGreenCommit);
  CHECK(json["current"]["standby"]["haproxyView"]["backendStatus"] == "UP");
  CHECK(json["haproxy"]["status"] == "✅ OPERATIONAL");
  CHECK(json["haproxy"]["backend"] == "blue");
  CHECK(json["haproxy"]["lineNumber"] == 13);
  CHECK(json["haproxy"]["reloads"] == 0);
  CHECK(json["haproxy"]["frontend"]["answeredBy"] == "blue");
  CHECK(json["stateFile"]["status"] == "ok");
  CHECK(json["stateFile"]["generation"] == 7);
  CHECK(json["history"]["totalSwitches"] == 3);
  CHECK(contains(text, "PROD:    BLUE (127.0.99.1)  ✅ ONLINE"));
  CHECK(contains(text, "STANDBY: GREEN (127.0.99.2)  ✅ READY"));
  CHECK(contains(text, "Next: deploy_to_standby puts new code on GREEN"));
  require_read_only(rig);
}

TEST_CASE("status reports a state file that disagrees with HAProxy as drift", "[deployment][status]") {
  DeploymentRig rig;
  state::DeploymentState wrong;
  wrong.prod = Color::kGreen;
  wrong.generation = 7;
  rig.lb.set_state(wrong);
  const auto report = deployment::gather_status(rig.services, rig.app);
  REQUIRE(report.drift.size() == 1);
  CHECK(contains(report.drift[0], "The state file says PROD is GREEN but HAProxy routes to BLUE"));
  CHECK(report.to_json(rig.app)["haproxy"]["status"] == "⚠️ OPERATIONAL WITH DRIFT");
  CHECK(report.to_json(rig.app)["current"]["prod"]["server"] == "BLUE");  // HAProxy's truth
  CHECK(contains(report.to_text(rig.app), "⚠️ DRIFT:"));
  require_read_only(rig);
}

TEST_CASE("status with a frontend that contradicts the config file calls no colour live", "[deployment][status]") {
  DeploymentRig rig;
  rig.lb.set_running(Color::kGreen);  // the file says BLUE, HAProxy still runs GREEN
  const auto report = deployment::gather_status(rig.services, rig.app);
  INFO(report.to_text(rig.app));
  CHECK_FALSE(report.lb.live.has_value());
  CHECK(report.to_json(rig.app)["liveColorKnown"] == false);
  CHECK_FALSE(contains(report.to_text(rig.app), "PROD:"));
  CHECK(contains(report.lb.live_problem, "HAProxy is not running its configuration: its files select BLUE, but "
                                         "requests through http://127.0.99.3:80/health are answered by GREEN"));
  REQUIRE(report.frontend);
  CHECK(report.frontend->color == Color::kGreen);
  CHECK(report.to_json(rig.app)["haproxy"]["frontend"]["answeredBy"] == "green");
}

TEST_CASE("status reports the live backend DOWN in HAProxy's view as drift", "[deployment][status]") {
  DeploymentRig rig;
  rig.lb.set_server_status(Color::kBlue, "DOWN");
  const auto report = deployment::gather_status(rig.services, rig.app);
  REQUIRE(report.drift.size() == 1);
  CHECK(contains(report.drift[0], "HAProxy's own health checks mark the live backend \"blue\" as DOWN"));
  CHECK(contains(report.drift[0], "an emergency switch to GREEN is the way back"));
  CHECK(report.blue.haproxy_backend_status == "DOWN");
  REQUIRE(report.blue.haproxy_servers.size() == 1);
  CHECK(report.blue.haproxy_servers[0].check_status == "L4CON");
}

TEST_CASE("status warns when PROD fails its health check", "[deployment][status]") {
  DeploymentRig rig;
  rig.lb.set_health(Color::kBlue, HostHealth{false, false, std::nullopt, "1.4.2"});
  const auto report = deployment::gather_status(rig.services, rig.app);
  INFO(report.to_text(rig.app));
  CHECK(any_contains(report.warnings, "PROD (BLUE) fails its health check: no response"));
  CHECK(report.drift.empty());  // a down PROD is no evidence against the file
  CHECK(contains(report.to_text(rig.app), "PROD:    BLUE (127.0.99.1)  ❌ DOWN"));
  CHECK(report.to_json(rig.app)["current"]["prod"]["healthy"] == false);
}

TEST_CASE("status with an unknown live colour says so and assumes nothing", "[deployment][status]") {
  DeploymentRig rig;
  std::string expected;
  SECTION("a backend that is neither colour") {
    rig.lb.set_config_text(haproxy_cfg("maintenance"));
    expected = "no frontend or listen section routes to the blue backend \"blue\" or the green backend";
  }
  SECTION("the config file is missing") {
    rig.lb.executor().remove_file("lab-lb", "/etc/haproxy/haproxy.cfg");
    expected = "cannot read the HAProxy file /etc/haproxy/haproxy.cfg on lab-lb: No such file or directory";
  }
  SECTION("the LB is unreachable") {
    rig.lb.faults().unreachable_from_call = 1;
    expected = "the load balancer cannot be reached, so which colour is live is unknown";
  }
  const auto report = deployment::gather_status(rig.services, rig.app);
  const auto json = report.to_json(rig.app);
  const auto text = report.to_text(rig.app);
  INFO(text);
  CHECK_FALSE(report.lb.live);
  CHECK(contains(report.lb.live_problem, expected));
  CHECK(json["liveColorKnown"] == false);
  CHECK(json["current"].is_null());
  CHECK(contains(json["problem"].get<std::string>(), expected));
  CHECK(json["haproxy"]["status"] == "❌ UNKNOWN");
  CHECK(contains(text, "❌ WHICH COLOUR IS LIVE IS UNKNOWN"));
  CHECK(contains(text, "BLUE:    BLUE (127.0.99.1)"));
  CHECK_FALSE(contains(text, "Next: deploy_to_standby"));
}

TEST_CASE("status notes a silent master socket and a missing state file", "[deployment][status]") {
  DeploymentRig rig(test_app(), Color::kBlue, /*state_file=*/false);
  rig.lb.faults().master_silent = true;
  const auto report = deployment::gather_status(rig.services, rig.app);
  CHECK(any_contains(report.warnings, "cannot read HAProxy's master socket /run/haproxy/master.sock"));
  CHECK(report.lb.state_status == deployment::StateFileStatus::kMissing);
  CHECK(report.to_json(rig.app)["stateFile"]["status"] == "missing");
  CHECK(report.drift.empty());
}

TEST_CASE("status of two apps on one LB reads the LB once", "[deployment][status]") {
  DeploymentRig rig;
  auto second = rig.app;
  second.name = "shop-admin";
  const auto reports = deployment::gather_status_all(rig.services, {&rig.app, &second});
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].app_name == "shop");
  CHECK(reports[1].app_name == "shop-admin");
  CHECK(reports[1].lb.live == Color::kBlue);
  int file_reads = 0;
  for (const auto& call : rig.lb.executor().calls()) {
    if (call.host == "lab-lb" && call.kind == CallKind::kReadFiles) ++file_reads;
  }
  CHECK(file_reads == 1);
}

// --- plan_switch ----------------------------------------------------------------------------

TEST_CASE("a plan for a healthy standby", "[deployment][plan]") {
  DeploymentRig rig;
  auto view = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE(view.ok());
  CHECK(view->plan.app == "shop");
  CHECK(view->plan.from == Color::kBlue);
  CHECK(view->plan.to == Color::kGreen);
  CHECK(view->plan.generation == 7);
  CHECK_FALSE(view->plan.emergency);
  REQUIRE(view->change.edits.front().lines.size() == 1);
  CHECK(view->change.edits.front().file == "/etc/haproxy/haproxy.cfg");
  CHECK(view->change.edits.front().lines.front().number == 13);
  CHECK(view->change.edits.front().lines.front().section == "frontend fe_app");
  CHECK(view->change.edits.front().lines.front().now == "    default_backend blue");
  CHECK(view->change.edits.front().lines.front().after == "    default_backend green");
  CHECK(view->standby_health.healthy());
  CHECK(view->standby_commit == kGreenCommit);
  CHECK(view->next_switch_number == 4);
  CHECK(rig.lb.probes_of(Color::kGreen) >= 3);  // the consecutive-success gate

  const auto token = rig.approvals.issue(view->plan, rig.app.approval.token_ttl);
  const auto requested = deployment::approval_requested(rig.app, *view, token, rig.app.approval.token_ttl);
  CHECK(requested.structured.at("approvalToken") == token);
  CHECK(requested.structured.at("expiresInSeconds") == 300);
  CHECK(requested.structured.at("plan")["switchNumber"] == 4);
  CHECK(requested.structured.at("plan")["haproxy"]["after"] == "    default_backend green");
  CHECK(requested.structured.at("plan")["standby"]["commit"] == kGreenCommit);
  CHECK(contains(requested.text, "approvalToken=\"" + token + "\""));
  CHECK(contains(requested.text, "record switch #4"));
  CHECK_FALSE(contains(requested.text, "EMERGENCY"));

  // Planning changes nothing.
  CHECK(only_reads_change_times(rig));
  CHECK(rig.lb.locks_taken() == 0);
  CHECK(rig.lb.config_text() == haproxy_cfg(Color::kBlue));
}

TEST_CASE("no plan for an unhealthy standby", "[deployment][plan]") {
  DeploymentRig rig;
  SECTION("down") { rig.lb.set_health(Color::kGreen, HostHealth{false, false, std::nullopt, "1.4.2"}); }
  SECTION("flapping") { rig.lb.set_health(Color::kGreen, HostHealth{true, true, std::nullopt, "1.4.2"}); }
  auto view = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE_FALSE(view.ok());
  CHECK(contains(view.error().message, "Cannot switch traffic: STANDBY GREEN is not healthy"));
  CHECK(contains(view.error().message, "emergency=true"));
}

TEST_CASE("an emergency plan skips the standby's health requirement", "[deployment][plan]") {
  DeploymentRig rig;
  rig.lb.set_health(Color::kGreen, HostHealth{false, false, std::nullopt, "1.4.2"});
  auto view = deployment::plan_switch(rig.services, rig.app, true);
  REQUIRE(view.ok());
  CHECK(view->plan.emergency);
  CHECK_FALSE(view->standby_health.healthy());
  CHECK(rig.lb.probes_of(Color::kGreen) == 1);  // shown, not gated
  const auto text = deployment::approval_request_text(rig.app, *view, "approve-x", std::chrono::seconds(300));
  CHECK(contains(text, "(EMERGENCY MODE)"));
  CHECK(contains(text, "❌ NOT healthy"));
  CHECK(contains(text, "the standby health requirement is skipped"));
}

TEST_CASE("no plan when what is live is unknown or contradicted", "[deployment][plan]") {
  DeploymentRig rig;
  std::string expected;
  SECTION("unknown live colour") {
    rig.lb.set_config_text(haproxy_cfg("maintenance"));
    expected = "no frontend or listen section routes to the blue backend \"blue\" or the green backend \"green\"";
  }
  SECTION("LB unreachable") {
    rig.lb.faults().unreachable_from_call = 1;
    expected = "the load balancer cannot be reached";
  }
  SECTION("corrupt state file") {
    rig.lb.set_state_text("{\"prod\":\"purple\",\"standby\":\"green\"}");
    expected = "is corrupt: prod: expected \"blue\" or \"green\"";
  }
  SECTION("the frontend contradicts the config file") {
    rig.lb.set_running(Color::kGreen);
    expected = "HAProxy is not running its configuration";
  }
  auto view = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE_FALSE(view.ok());
  CHECK(contains(view.error().message, expected));
  CHECK(rig.lb.locks_taken() == 0);
}
