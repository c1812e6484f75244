// Open sessions per colour (deployment/sessions.h) on the simulated site: status shows them and
// whether the standby has drained, a deploy warns about (or, above deploy.maxStandbySessions,
// refuses) a standby that has not, and a switch says whether the old PROD has drained.
#include "deployment/deploy.h"
#include "deployment/status.h"
#include "deployment/switch_plan.h"
#include "deployment/traffic_switch.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

using namespace bluegreen;        // NOLINT(google-build-using-namespace): the project namespace, in a test or main
using namespace testing_support;  // NOLINT(google-build-using-namespace)
using state::Color;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

deployment::DeployOutcome run_deploy(DeploymentRig& rig) {
  return deployment::deploy_to_standby(rig.services, rig.app, {}, "claude-test", rig.reporter, {});
}

}  // namespace

TEST_CASE("status counts each colour's sessions, old workers' included, and says the standby is draining",
          "[deployment][sessions]") {
  DeploymentRig rig;
  rig.lb.reload_by_hand();  // an old worker, still finishing connections
  rig.lb.set_sessions(Color::kGreen, 2, 3);
  rig.lb.set_sessions(Color::kBlue, 7);
  const auto report = deployment::gather_status(rig.services, rig.app);
  const auto text = report.to_text(rig.app);
  INFO(text);
  const auto json = report.to_json(rig.app);
  CHECK(json["current"]["standby"]["sessions"]["open"] == 5);
  CHECK(json["current"]["standby"]["sessions"]["inOldWorkers"] == 3);
  CHECK(json["current"]["standby"]["sessions"]["drained"] == false);
  CHECK(json["current"]["prod"]["sessions"]["open"] == 7);
  CHECK(json["haproxy"]["hardStopAfter"] == "30s");
  CHECK(contains(text, "sessions: 5 open (3 in HAProxy's old workers)"));
  CHECK(contains(text, "STANDBY GREEN is still draining: 5 open sessions"));
  CHECK(contains(text, "1 old worker(s) finishing connections (hard-stop-after 30s)"));

  rig.lb.set_sessions(Color::kGreen, 0, 0);
  const auto drained = deployment::gather_status(rig.services, rig.app);
  CHECK(drained.to_json(rig.app)["current"]["standby"]["sessions"]["drained"] == true);
  CHECK_FALSE(contains(drained.to_text(rig.app), "draining"));
}

TEST_CASE("a deploy to a standby that has not drained: warned, or refused above maxStandbySessions",
          "[deployment][sessions]") {
  SECTION("no limit configured: the deploy runs and says what it may have cut off") {
    DeploymentRig rig;
    rig.lb.set_sessions(Color::kGreen, 4);
    const auto outcome = run_deploy(rig);
    INFO(outcome.text);
    CHECK(outcome.ok);
    CHECK(contains(outcome.text, "STANDBY GREEN still had 4 open sessions"));
    CHECK(outcome.structured.contains("warning"));
  }
  SECTION("above the limit: refused before anything runs") {
    auto app = test_app();
    app.max_standby_sessions = 3;
    DeploymentRig rig(app);
    rig.lb.set_sessions(Color::kGreen, 4);
    const auto outcome = run_deploy(rig);
    INFO(outcome.text);
    CHECK_FALSE(outcome.ok);
    CHECK(contains(outcome.text, "more than deploy.maxStandbySessions (3)"));
    CHECK(rig.lb.executor().commands("lab-green", "tar -czf").empty());
  }
}

TEST_CASE("a switch says whether the old PROD has drained", "[deployment][sessions]") {
  DeploymentRig rig;
  rig.lb.set_sessions(Color::kBlue, 0, 2);
  auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE(plan);
  auto outcome = deployment::execute_switch(rig.services, rig.app, plan->plan, "claude-test", rig.reporter, {});
  INFO(outcome.text);
  REQUIRE(outcome.switched);
  CHECK(contains(outcome.text, "BLUE is draining: 2 open (2 in HAProxy's old workers)"));
  CHECK(outcome.structured["oldProdSessions"]["drained"] == false);
}
