// What a server that died in the middle leaves behind, and what the next server makes of it
// (issue 19): a config file HAProxy has not loaded, an interrupted switch, an interrupted or
// failed deploy, and operations in progress, all on the simulated site.

#include "deployment/deploy.h"
#include "deployment/frontend_check.h"
#include "deployment/status.h"
#include "deployment/switch_plan.h"
#include "deployment/traffic_switch.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using deployment::Activity;
using deployment::ActivityKind;
using state::Color;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

deployment::SwitchOutcome run_switch(DeploymentRig& rig, const deployment::SwitchPlan& plan) {
  return deployment::execute_switch(rig.services, rig.app, rig.bound(plan), "claude-test", rig.reporter, {});
}

deployment::DeployOutcome run_deploy(DeploymentRig& rig) {
  return deployment::deploy_to_standby(rig.services, rig.app, {}, "claude-test", rig.reporter, {});
}

deployment::SwitchPlan blue_to_green(bool emergency = false) {
  return deployment::SwitchPlan{"shop", Color::kBlue, Color::kGreen, 7, emergency, ""};
}

Activity switch_activity(int reloads_before) {
  Activity activity;
  activity.kind = ActivityKind::kSwitch;
  activity.app = "shop";
  activity.client = "killed-client";
  activity.since = "2026-11-30T12:00:00.000Z";
  activity.server_pid = 4242;
  activity.step = "validating the new HAProxy config and switching it in";
  activity.from = Color::kBlue;
  activity.color = Color::kGreen;
  activity.generation = 7;
  activity.reloads_before = reloads_before;
  return activity;
}

Activity deploy_activity(Color color) {
  Activity activity;
  activity.kind = ActivityKind::kDeploy;
  activity.app = "shop";
  activity.client = "killed-client";
  activity.since = "2026-11-30T11:00:00.000Z";
  activity.server_pid = 4243;
  activity.step = "step 5/8: build";
  activity.color = color;
  activity.ref = "origin/main";
  return activity;
}

// As a server killed between the config swap and the reload leaves the LB: the file selects
// GREEN, its backup BLUE, HAProxy still runs BLUE, the state file says BLUE, the record is there.
void interrupt_after_swap(DeploymentRig& rig) {
  rig.lb.set_activity(switch_activity(rig.lb.reloads()));
  rig.lb.executor().set_file("lab-lb", deployment::backup_path(rig.app), haproxy_cfg(Color::kBlue));
  rig.lb.advance_clock(30);
  rig.lb.set_config_text(haproxy_cfg(Color::kGreen));
}

}  // namespace

TEST_CASE("a config file changed after HAProxy loaded it: no colour is live, deploy and switch refuse",
          "[deployment][crash]") {
  DeploymentRig rig;
  rig.lb.advance_clock(120);
  rig.lb.set_config_text(haproxy_cfg(Color::kGreen));  // edited by hand, never reloaded: HAProxy runs BLUE

  const auto status = deployment::gather_status(rig.services, rig.app);
  CHECK_FALSE(status.lb.live.has_value());
  CHECK(status.lb.selected == Color::kGreen);
  const auto text = status.to_text(rig.app);
  INFO(text);
  CHECK(contains(text, "HAProxy has not loaded its configuration"));
  CHECK(contains(text, "after the running HAProxy workers started"));
  CHECK(contains(text, "echo reload | socat"));  // the exact reload command
  CHECK_FALSE(contains(text, "PROD:"));
  CHECK(status.to_json(rig.app).at("liveColorKnown") == false);

  const auto deploy = run_deploy(rig);
  CHECK_FALSE(deploy.ok);
  CHECK(contains(deploy.text, "HAProxy has not loaded its configuration"));
  CHECK(rig.lb.executor().commands("lab-blue", "tar -czf").empty());  // no deploy step ran
  CHECK(rig.lb.executor().commands("lab-green", "tar -czf").empty());

  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE_FALSE(plan.ok());
  CHECK(contains(plan.error().message, "HAProxy has not loaded its configuration"));
  const auto emergency = deployment::plan_switch(rig.services, rig.app, true);
  CHECK_FALSE(emergency.ok());

  // Reloaded: the file is what runs, and GREEN is live.
  rig.lb.reload_by_hand();
  const auto after = deployment::gather_status(rig.services, rig.app);
  CHECK(after.lb.live == Color::kGreen);
}

TEST_CASE("a config file changed and backdated (cp -p, touch -d) still counts as not loaded", "[deployment][crash]") {
  DeploymentRig rig;
  rig.lb.advance_clock(120);
  rig.lb.set_config_text(haproxy_cfg(Color::kGreen));
  rig.lb.executor().backdate("lab-lb", rig.app.load_balancer.haproxy_config, rig.lb.lb_now() - 86'400);
  const auto status = deployment::gather_status(rig.services, rig.app);
  CHECK_FALSE(status.lb.live.has_value());
  CHECK(contains(status.lb.live_problem, "HAProxy has not loaded its configuration"));
  const auto deploy = run_deploy(rig);
  CHECK_FALSE(deploy.ok);
  CHECK(rig.lb.executor().commands("lab-blue", "tar -czf").empty());
}

TEST_CASE("an interrupted switch is shown, blocks deploys, and the next switch rolls it back first",
          "[deployment][crash]") {
  DeploymentRig rig;
  interrupt_after_swap(rig);

  const auto status = deployment::gather_status(rig.services, rig.app);
  const auto text = status.to_text(rig.app);
  INFO(text);
  CHECK_FALSE(status.lb.live.has_value());
  CHECK(contains(text, "AN INTERRUPTED SWITCH was found: switch BLUE → GREEN by killed-client"));
  CHECK(contains(text, "but HAProxy was not reloaded, so users are still on BLUE"));
  CHECK(contains(text, "rm -f /var/lib/bluegreen/shop.json.lock.activity"));
  const auto json = status.to_json(rig.app);
  CHECK(json.at("activity").at("interrupted") == true);
  CHECK(json.at("activity").at("running") == false);

  const auto deploy = run_deploy(rig);
  CHECK_FALSE(deploy.ok);
  CHECK(rig.lb.executor().commands("lab-green", "tar -czf").empty());

  auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE(plan.ok());
  CHECK(plan->plan.from == Color::kBlue);
  CHECK(plan->plan.to == Color::kGreen);
  REQUIRE(plan->interrupted);
  const auto request = deployment::approval_request_text(rig.app, *plan, "approve-x", std::chrono::minutes(5));
  CHECK(contains(request, "AN INTERRUPTED SWITCH will be rolled back first"));
  CHECK(deployment::plan_json(rig.app, *plan).contains("interruptedSwitch"));

  const auto outcome = run_switch(rig, plan->plan);
  INFO(outcome.text);
  REQUIRE(outcome.switched);
  CHECK(contains(outcome.text, "Before the switch, the interrupted switch"));
  CHECK(rig.lb.running() == Color::kGreen);
  CHECK(rig.lb.config_colour() == Color::kGreen);
  CHECK(rig.lb.reloads() == 2);  // the rollback's reload, then the switch's
  CHECK(rig.lb.state()->prod == Color::kGreen);
  CHECK(rig.lb.state()->generation == 8);
  CHECK_FALSE(rig.lb.activity_text().has_value());
  bool audited = false;
  for (const auto& line : rig.lb.audit_lines()) audited = audited || line["action"] == "recover-interrupted-switch";
  CHECK(audited);
  CHECK(deployment::gather_status(rig.services, rig.app).lb.live == Color::kGreen);
}

TEST_CASE("an emergency switch gets away from a broken PROD even past an interrupted switch", "[deployment][crash]") {
  DeploymentRig rig;
  interrupt_after_swap(rig);
  rig.lb.set_health(Color::kBlue, HostHealth{false, false, std::nullopt, "1.4.2"});  // PROD BLUE is broken
  auto plan = deployment::plan_switch(rig.services, rig.app, true);
  REQUIRE(plan.ok());
  REQUIRE(plan->interrupted);
  const auto outcome = run_switch(rig, plan->plan);
  INFO(outcome.text);
  REQUIRE(outcome.switched);  // the rollback to broken BLUE is not held against it
  CHECK(rig.lb.running() == Color::kGreen);
  CHECK_FALSE(rig.lb.activity_text().has_value());
}

TEST_CASE("an interrupted switch whose backup is not its original is not restored", "[deployment][crash]") {
  DeploymentRig rig;
  interrupt_after_swap(rig);
  rig.lb.executor().set_file("lab-lb", deployment::backup_path(rig.app),
                             haproxy_cfg(Color::kBlue) + "# an older switch's backup\n");
  const std::string before = rig.lb.config_text();
  auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE(plan.ok());
  const auto outcome = run_switch(rig, plan->plan);
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK(contains(outcome.text, "ACTION NEEDED: cannot roll back the interrupted switch"));
  CHECK(rig.lb.config_text() == before);
  CHECK(rig.lb.reloads() == 0);
  CHECK(rig.lb.activity_text().has_value());  // still tells the next status what happened
  CHECK_FALSE(rig.lb.lock_held());
}

TEST_CASE("a plan approved before a switch was interrupted does not roll it back", "[deployment][crash]") {
  DeploymentRig rig;
  const auto stale = deployment::plan_switch(rig.services, rig.app, false);  // made while all was well
  REQUIRE(stale.ok());
  interrupt_after_swap(rig);
  const std::string before = rig.lb.config_text();
  const auto outcome = run_switch(rig, stale->plan);
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK(contains(outcome.text, "that the approved plan did not include, so nothing was changed"));
  CHECK(rig.lb.config_text() == before);
  CHECK(rig.lb.reloads() == 0);
  CHECK(rig.lb.activity_text().has_value());
}

TEST_CASE("a switch that recorded itself before its server died is complete", "[deployment][crash]") {
  DeploymentRig rig;
  rig.lb.set_activity(switch_activity(rig.lb.reloads()));
  rig.lb.set_config_text(haproxy_cfg(Color::kGreen));
  rig.lb.reload_by_hand();
  auto recorded = *rig.lb.state();
  recorded.prod = Color::kGreen;
  recorded.generation = 8;
  rig.lb.set_state(recorded);
  const auto status = deployment::gather_status(rig.services, rig.app);
  CHECK(status.lb.live == Color::kGreen);
  CHECK(status.to_json(rig.app).at("activity").at("interrupted") == false);
}

TEST_CASE("operations in progress: a switch hides the live colour, a deploy is shown with its step",
          "[deployment][crash]") {
  DeploymentRig rig;
  const auto store = deployment::store_for(rig.lb.executor(), rig.app);
  auto held = store.lock("other-server", "switch to GREEN", std::chrono::seconds(1), {});
  REQUIRE(held.ok());
  SECTION("switch") {
    rig.lb.set_activity(switch_activity(rig.lb.reloads()));
    const auto status = deployment::gather_status(rig.services, rig.app);
    CHECK_FALSE(status.lb.live.has_value());
    CHECK(contains(status.to_text(rig.app), "a switch is in progress on the load balancer"));
  }
  SECTION("deploy") {
    rig.lb.set_activity(deploy_activity(Color::kGreen));
    const auto status = deployment::gather_status(rig.services, rig.app);
    CHECK(status.lb.live == Color::kBlue);
    const auto text = status.to_text(rig.app);
    INFO(text);
    CHECK(contains(text, "⏳ DEPLOY IN PROGRESS: deploy of origin/main to GREEN by killed-client"));
    CHECK(contains(text, "at step 5/8: build"));
    CHECK(status.drift.empty());
  }
}

TEST_CASE("an interrupted or failed deploy to the standby refuses the switch unless emergency", "[deployment][crash]") {
  DeploymentRig rig;
  SECTION("interrupted") {
    rig.lb.set_activity(deploy_activity(Color::kGreen));
    const auto status = deployment::gather_status(rig.services, rig.app);
    CHECK(contains(status.to_text(rig.app), "AN INTERRUPTED DEPLOY was found"));
    const auto plan = deployment::plan_switch(rig.services, rig.app, false);
    REQUIRE_FALSE(plan.ok());
    CHECK(contains(plan.error().message, "the last deploy to GREEN (ref origin/main"));
    CHECK(contains(plan.error().message, "was interrupted"));

    auto emergency = deployment::plan_switch(rig.services, rig.app, true);
    REQUIRE(emergency.ok());
    CHECK(contains(deployment::approval_request_text(rig.app, *emergency, "approve-x", std::chrono::minutes(5)),
                   "⚠️ WARNING: the last deploy to GREEN"));
    // A non-emergency switch is refused at execution too; an emergency one records the deploy.
    CHECK_FALSE(run_switch(rig, blue_to_green()).switched);
    CHECK(rig.lb.activity_text().has_value());  // put back: nothing recorded it
    const auto outcome = run_switch(rig, emergency->plan);
    INFO(outcome.text);
    REQUIRE(outcome.switched);
    REQUIRE_FALSE(rig.lb.state()->deploys.empty());
    CHECK(rig.lb.state()->deploys.back().outcome == "interrupted");
    CHECK_FALSE(rig.lb.activity_text().has_value());
  }
  SECTION("a deploy record whose lock cannot be asked: may be running or interrupted") {
    rig.lb.set_activity(deploy_activity(Color::kGreen));
    rig.lb.fail_lock_question(true);
    const auto status = deployment::gather_status(rig.services, rig.app);
    const std::string text = status.to_text(rig.app);
    CHECK(contains(text, "A DEPLOY RECORD was found"));
    CHECK(contains(text, "whether it is still running could not be checked"));
    CHECK(contains(text, "Permission denied"));
    const auto plan = deployment::plan_switch(rig.services, rig.app, false);
    REQUIRE_FALSE(plan.ok());
    CHECK(contains(plan.error().message, "whether it is still running or was interrupted could not be checked"));
  }
  SECTION("failed") {
    auto recorded = *rig.lb.state();
    state::DeployRecord failed;
    failed.timestamp = "2026-11-30T10:00:00.000Z";
    failed.color = Color::kGreen;
    failed.ref = "origin/main";
    failed.outcome = "failed";
    failed.extra["error"] = "step \"build\" failed (exit 2 in 40 ms)";
    recorded.deploys.push_back(failed);
    rig.lb.set_state(recorded);
    const auto plan = deployment::plan_switch(rig.services, rig.app, false);
    REQUIRE_FALSE(plan.ok());
    CHECK(contains(plan.error().message, "failed: step \"build\" failed"));
  }
  SECTION("succeeded: shown in the plan") {
    auto recorded = *rig.lb.state();
    state::DeployRecord ok;
    ok.timestamp = "2026-11-30T10:00:00.000Z";
    ok.color = Color::kGreen;
    ok.ref = "v1.5.0";
    ok.commit = kGreenCommit;
    ok.outcome = "ok";
    recorded.deploys.push_back(ok);
    rig.lb.set_state(recorded);
    auto plan = deployment::plan_switch(rig.services, rig.app, false);
    REQUIRE(plan.ok());
    CHECK(contains(deployment::approval_request_text(rig.app, *plan, "approve-x", std::chrono::minutes(5)),
                   "Last deploy to GREEN: ref v1.5.0 commit 9ee09ee0, ✅ succeeded"));
  }
}

TEST_CASE("a deploy keeps its activity record up to date and removes it when recorded", "[deployment][crash]") {
  DeploymentRig rig;
  std::vector<std::string> seen;
  std::mutex seen_mutex;
  rig.lb.executor().observe([&](const Call& call) {
    if (call.host != "lab-green" || !contains(call.command, "./install-deps")) return;
    std::lock_guard lock(seen_mutex);
    seen.push_back(rig.lb.activity_text().value_or("none"));
  });
  rig.lb.set_activity(deploy_activity(Color::kGreen));  // an earlier deploy's server died
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);
  REQUIRE(outcome.ok);
  REQUIRE(seen.size() == 1);
  CHECK(contains(seen[0], "\"step\":\"step 3/8: install\""));
  CHECK(contains(seen[0], "\"client\":\"claude-test\""));
  CHECK_FALSE(rig.lb.activity_text().has_value());
  const auto deploys = rig.lb.state()->deploys;
  REQUIRE(deploys.size() == 2);
  CHECK(deploys[0].outcome == "interrupted");
  CHECK(deploys[1].outcome == "ok");
}

TEST_CASE("a switch that cannot write its activity record changes nothing", "[deployment][crash]") {
  DeploymentRig rig;
  rig.lb.faults().activity_write = Fault::always();
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK(contains(outcome.text, "cannot write the switch's activity record"));
  CHECK(rig.lb.config_text() == haproxy_cfg(Color::kBlue));
  CHECK(rig.lb.reloads() == 0);
  CHECK(rig.lb.leftovers().empty());
}

// --- a verification that could never succeed ------------------------------------------------

TEST_CASE("the frontend's colour is told by commit or version when the app names none", "[deployment][verify]") {
  const auto report = [](std::optional<std::string> color, std::string commit, std::string version) {
    remote::HealthReport r;
    r.status = 200;
    r.color = std::move(color);
    r.commit = std::move(commit);
    r.version = std::move(version);
    return r;
  };
  const auto blue = report(std::nullopt, "c1", "1.0");
  const auto green = report(std::nullopt, "c2", "1.0");
  std::string by;
  CHECK(deployment::identify_colour(report("green", "c1", "1.0"), blue, green, &by) == Color::kGreen);
  CHECK(by == "color");
  CHECK(deployment::identify_colour(report(std::nullopt, "c2", "1.0"), blue, green, &by) == Color::kGreen);
  CHECK(by == "commit");
  CHECK(deployment::identify_colour(report(std::nullopt, "c1", "1.0"), blue, green) == Color::kBlue);
  // Same commit: the version decides; same both: nothing can.
  const auto blue_v = report(std::nullopt, "c1", "1.0");
  const auto green_v = report(std::nullopt, "c1", "2.0");
  CHECK(deployment::identify_colour(report(std::nullopt, "c1", "2.0"), blue_v, green_v, &by) == Color::kGreen);
  CHECK(by == "version");
  CHECK_FALSE(deployment::identify_colour(report(std::nullopt, "c1", "1.0"), blue, blue).has_value());
  CHECK_FALSE(deployment::identify_colour(report(std::nullopt, "c9", "9.9"), blue, green).has_value());
  // A colour that is neither blue nor green names none: the commit decides.
  CHECK(deployment::identify_colour(report("unknown", "c2", "1.0"), blue, green, &by) == Color::kGreen);
  CHECK(by == "commit");
  auto down = report(std::nullopt, "c1", "1.0");
  down.status = 503;
  CHECK_FALSE(deployment::identify_colour(down, blue, green).has_value());
}

TEST_CASE("an app whose health names no colour switches when its commits differ, and is refused when nothing "
          "tells the colours apart",
          "[deployment][verify]") {
  DeploymentRig rig;
  for (const auto color : {Color::kBlue, Color::kGreen}) {
    HostHealth health;
    health.names_colour = false;
    rig.lb.set_health(color, health);
  }
  SECTION("different commits: verified by commit") {
    auto plan = deployment::plan_switch(rig.services, rig.app, false);
    REQUIRE(plan.ok());
    const auto outcome = run_switch(rig, plan->plan);
    INFO(outcome.text);
    REQUIRE(outcome.switched);
    CHECK(rig.lb.running() == Color::kGreen);
  }
  SECTION("same commit and version: refused before anything moves") {
    rig.lb.executor().set_file("lab-green", "/srv/app/.git/HEAD", kBlueCommit + "\n");
    const auto plan = deployment::plan_switch(rig.services, rig.app, false);
    REQUIRE_FALSE(plan.ok());
    CHECK(contains(plan.error().message, "its verification could never succeed"));
    CHECK(contains(plan.error().message, "names no colour"));
    const auto status = deployment::gather_status(rig.services, rig.app);
    CHECK(contains(status.to_text(rig.app), "switches are refused"));
  }
}

TEST_CASE("an unreadable activity record calls no colour live and says how to clear it", "[deployment][crash]") {
  DeploymentRig rig;
  rig.lb.executor().set_file("lab-lb", deployment::activity_path(rig.app), "{\"action\":\"switch\"}");
  const auto status = deployment::gather_status(rig.services, rig.app);
  CHECK_FALSE(status.lb.live.has_value());
  CHECK(contains(status.lb.live_problem, "rm -f /var/lib/bluegreen/shop.json.lock.activity"));
  CHECK_FALSE(run_deploy(rig).ok);
}

TEST_CASE("an interrupted switch across an HAProxy restart counts as loaded by the new master", "[deployment][crash]") {
  DeploymentRig rig;
  auto activity = switch_activity(rig.lb.reloads());
  activity.master_pid = 999;  // the master then; the fake's master now is 1000
  rig.lb.set_activity(activity);
  rig.lb.executor().set_file("lab-lb", deployment::backup_path(rig.app), haproxy_cfg(Color::kBlue));
  rig.lb.set_config_text(haproxy_cfg(Color::kGreen));
  const auto status = deployment::gather_status(rig.services, rig.app);
  CHECK(contains(status.lb.live_problem, "and HAProxy reloaded, but the switch was neither verified nor recorded"));
}

TEST_CASE("status asks the LB for the config's change time only when the content or modification time moved",
          "[deployment][crash]") {
  DeploymentRig rig;
  const auto stats = [&rig] { return rig.lb.executor().commands("lab-lb", "stat -L -c %Z").size(); };
  CHECK(deployment::gather_status(rig.services, rig.app).lb.live == Color::kBlue);
  CHECK(stats() == 1);
  CHECK(deployment::gather_status(rig.services, rig.app).lb.live == Color::kBlue);
  CHECK(stats() == 1);  // same content, same modification time: remembered
  // Changed and backdated: the content differs, so the LB is asked again, and the change shows.
  rig.lb.advance_clock(120);
  rig.lb.set_config_text(haproxy_cfg(Color::kGreen));
  rig.lb.executor().backdate("lab-lb", rig.app.load_balancer.haproxy_config, rig.lb.lb_now() - 86'400);
  CHECK_FALSE(deployment::gather_status(rig.services, rig.app).lb.live.has_value());
  CHECK(stats() == 2);
  // A deploy always asks.
  (void)run_deploy(rig);
  CHECK(stats() == 3);
}
