// execute_switch against a simulated load balancer (tests/support/fake_lb.h): every refusal
// before the swap, every rollback after it, and the success path, each checked on what the LB
// ends up holding (config, backup, leftovers, state file, audit log, what HAProxy runs) as well
// as on the outcome's text and structured fields.

#include "deployment/config_change.h"
#include "deployment/switch_plan.h"
#include "deployment/traffic_switch.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

#include <future>
#include <stop_token>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using deployment::SwitchOutcome;
using deployment::SwitchPlan;
using state::Color;

namespace {

SwitchPlan blue_to_green(bool emergency = false, std::uint64_t generation = 7) {
  return SwitchPlan{"shop", Color::kBlue, Color::kGreen, generation, emergency, ""};
}

SwitchOutcome run_switch(DeploymentRig& rig, const SwitchPlan& plan, std::stop_token stop = {}) {
  return deployment::execute_switch(rig.services, rig.app, rig.bound(plan), "claude-test", rig.reporter,
                                    std::move(stop));
}

std::string error_of(const SwitchOutcome& outcome) { return outcome.structured.value("error", std::string()); }

// A refusal: nothing changed on the LB, nothing left behind, the lock released.
void require_untouched(DeploymentRig& rig, const SwitchOutcome& outcome, const std::string& original_cfg,
                       int reloads_before = 0) {
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK_FALSE(outcome.rolled_back);
  CHECK(outcome.structured.at("switched") == false);
  CHECK(outcome.structured.at("rolledBack") == false);
  CHECK(outcome.text.find("TRAFFIC SWITCH NOT DONE") != std::string::npos);
  CHECK(outcome.text.find("Nothing was changed") != std::string::npos);
  CHECK(rig.lb.config_text() == original_cfg);
  CHECK_FALSE(rig.lb.backup().has_value());
  CHECK(rig.lb.leftovers().empty());
  CHECK(rig.lb.reloads() == reloads_before);
  CHECK_FALSE(rig.lb.lock_held());
  CHECK(rig.lb.executor().unmatched().empty());
}

// A rollback: the state file still records the old switch, the config selects BLUE again (when
// the restore worked) and nothing is left behind but the backup.
void require_state_unchanged(DeploymentRig& rig) {
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->prod == Color::kBlue);
  CHECK(recorded->switch_count == 3);
  CHECK(recorded->generation == 7);
  CHECK(rig.lb.leftovers().empty());
  CHECK_FALSE(rig.lb.lock_held());
  CHECK(rig.lb.executor().unmatched().empty());
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

// --- success --------------------------------------------------------------------------------

TEST_CASE("a switch moves HAProxy to the standby and records it", "[deployment][switch]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();

  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);

  REQUIRE(outcome.switched);
  CHECK_FALSE(outcome.rolled_back);
  CHECK(contains(outcome.text, "TRAFFIC SWITCH COMPLETE"));
  CHECK(contains(outcome.text, "New PROD: GREEN (127.0.99.2)"));
  CHECK(contains(outcome.text, "Switch #4"));
  CHECK(outcome.structured.at("switchNumber") == 4);
  CHECK(outcome.structured.at("to") == "green");
  CHECK(outcome.structured.at("from") == "blue");
  CHECK_FALSE(outcome.structured.contains("auditProblem"));
  CHECK(contains(outcome.structured.at("verified").get<std::string>(), "master reports reload #1"));

  // The LB: the config selects GREEN, the old one is the backup, HAProxy runs GREEN.
  CHECK(rig.lb.config_colour() == Color::kGreen);
  CHECK(rig.lb.config_text() == haproxy_cfg(Color::kGreen));
  CHECK(rig.lb.backup() == original);
  CHECK(rig.lb.running() == Color::kGreen);
  CHECK(rig.lb.reloads() == 1);
  CHECK(rig.lb.leftovers().empty());
  CHECK_FALSE(rig.lb.lock_held());
  CHECK(rig.lb.locks_taken() == 1);

  // The state file.
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->prod == Color::kGreen);
  CHECK(recorded->standby() == Color::kBlue);
  CHECK(recorded->switch_count == 4);
  CHECK(recorded->generation == 8);
  REQUIRE(recorded->history.size() == 1);
  CHECK(recorded->history.back().from == Color::kBlue);
  CHECK(recorded->history.back().to == Color::kGreen);
  CHECK_FALSE(recorded->history.back().emergency);
  CHECK(recorded->history.back().extra["client"] == "claude-test");
  CHECK(recorded->last_switch == recorded->history.back().timestamp);

  // The audit log.
  const auto audit = rig.lb.audit_lines();
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["action"] == "switch");
  CHECK(audit[0]["outcome"] == "ok");
  CHECK(audit[0]["from"] == "blue");
  CHECK(audit[0]["to"] == "green");
  CHECK(audit[0]["switchCount"] == 4);
  CHECK(audit[0]["client"] == "claude-test");
  CHECK(audit[0]["app"] == "shop");

  // Progress: each of switch_steps() once, in order, numbered i/6.
  const auto steps = rig.reporter.steps();
  const auto& names = deployment::switch_steps();
  REQUIRE(names.size() == 6);
  REQUIRE(steps.size() == names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    CHECK(contains(steps[i], "step " + std::to_string(i + 1) + "/6: " + names[i]));
  }
  CHECK(steps[0] == "step 1/6: taking the lock on lab-lb");
  CHECK(steps[4] == "step 5/6: verifying HAProxy routes to GREEN");
  CHECK(steps[5] == "step 6/6: recording switch #4");

  CHECK(rig.lb.executor().unmatched().empty());
  // The standby was probed (the execution-time gate); the live host was not touched over SSH.
  CHECK(rig.lb.probes_of(Color::kGreen) >= 3);
  CHECK(rig.lb.executor().commands("lab-blue").empty());
}

TEST_CASE("a switch without a state file creates it from HAProxy's routing", "[deployment][switch]") {
  DeploymentRig rig(test_app(), Color::kBlue, /*state_file=*/false);
  const auto outcome = run_switch(rig, blue_to_green(false, 0));
  INFO(outcome.text);
  REQUIRE(outcome.switched);
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->prod == Color::kGreen);
  CHECK(recorded->switch_count == 1);
  CHECK(recorded->generation == 1);
  CHECK(rig.lb.running() == Color::kGreen);
}

TEST_CASE("an emergency switch to an unhealthy standby completes with a warning", "[deployment][switch]") {
  DeploymentRig rig;
  rig.lb.set_health(Color::kGreen, HostHealth{false, false, std::nullopt, "1.4.2"});
  const auto outcome = run_switch(rig, blue_to_green(/*emergency=*/true));
  INFO(outcome.text);
  REQUIRE(outcome.switched);
  CHECK(contains(outcome.text, "(emergency mode)"));
  CHECK(contains(outcome.structured.at("verified").get<std::string>(), "⚠️"));
  CHECK(rig.lb.running() == Color::kGreen);
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->history.back().emergency);
  CHECK(rig.lb.audit_lines().back()["action"] == "emergency-switch");
  CHECK(rig.lb.probes_of(Color::kGreen) == 0);  // no standby gate in an emergency
}

// --- refusals before the swap ---------------------------------------------------------------

TEST_CASE("switch refusals leave the live config untouched", "[deployment][switch][refusal]") {
  DeploymentRig rig;
  SwitchPlan plan = blue_to_green();
  std::string expected;

  SECTION("lock busy") {
    rig.lb.faults().lock_busy = true;
    rig.lb.executor().set_file(
        "lab-lb", "/var/lib/bluegreen/shop.json.lock.owner",
        R"({"client":"ops-laptop","action":"deploy origin/main","since":"2026-11-30T11:59:00.000Z"})");
    expected = "is locked by ops-laptop (deploy origin/main) since 2026-11-30T11:59:00.000Z";
  }
  SECTION("live colour changed since the plan") {
    rig.lb.set_config_text(haproxy_cfg(Color::kGreen));
    rig.lb.reload_by_hand();
    expected = "the live colour changed since the plan was made (HAProxy now routes to GREEN)";
  }
  SECTION("state generation changed since the plan") {
    plan.generation = 6;
    expected = "the state file changed since the plan was made (generation 7, plan made at 6)";
  }
  SECTION("corrupt state file") {
    rig.lb.set_state_text("{\"prod\": \"blu");
    expected = "is corrupt";
  }
  SECTION("master socket silent") {
    rig.lb.faults().master_silent = true;
    expected = "cannot read HAProxy's master socket /run/haproxy/master.sock";
  }
  SECTION("the frontend contradicts the config file") {
    rig.lb.set_running(Color::kGreen);  // a reload that never happened
    expected = "HAProxy is not running its configuration";
  }
  SECTION("standby unhealthy now") {
    rig.lb.set_health(Color::kGreen, HostHealth{false, false, std::nullopt, "1.4.2"});
    expected = "STANDBY GREEN is not healthy now";
  }
  SECTION("standby flapping") {
    rig.lb.set_health(Color::kGreen, HostHealth{true, true, std::nullopt, "1.4.2"});
    expected = "STANDBY GREEN is not healthy now";
  }
  SECTION("HAProxy's own checks mark the standby down") {
    rig.lb.set_server_status(Color::kGreen, "DOWN");
    expected = "HAProxy's own checks report server green as DOWN";
  }
  SECTION("candidate rejected by haproxy -c") {
    rig.lb.faults().validation = Fault::always();
    expected =
        "the new HAProxy config failed validation (haproxy -c -f '/etc/haproxy/haproxy.cfg.bluegreen-candidate')";
  }
  SECTION("candidate cannot be written") {
    rig.lb.faults().candidate_write = Fault::always();
    expected = "checking the new HAProxy config failed";
  }
  SECTION("live config changed just before the swap") {
    rig.lb.faults().live_changed = Fault::once();
    expected = "/etc/haproxy/haproxy.cfg changed on the load balancer while the switch was being prepared";
  }
  SECTION("swap failed") {
    rig.lb.faults().swap = Fault::always();
    expected = "installing the new /etc/haproxy/haproxy.cfg failed: mv: cannot move";
  }
  SECTION("state prepare failed (disk full)") {
    rig.lb.faults().prepare = Fault::always();
    expected = "cannot write the new state file next to /var/lib/bluegreen/shop.json (disk full or read-only?)";
  }
  SECTION("LB unreachable when the lock is taken") {
    rig.lb.faults().unreachable_from_call = 1;
    expected = "cannot take the lock";
  }

  const std::string original = rig.lb.config_text();  // as the sections left it
  const int reloads = rig.lb.reloads();
  const auto outcome = run_switch(rig, plan);
  INFO(outcome.text);
  CHECK(contains(error_of(outcome), expected));
  const bool edited = contains(expected, "changed on the load balancer while");
  require_untouched(rig, outcome, edited ? original + "# edited by hand while the switch was prepared\n" : original,
                    reloads);
  CHECK(rig.lb.running() == (contains(expected, "live colour changed") || contains(expected, "not running its config")
                                 ? Color::kGreen
                                 : Color::kBlue));
  if (!contains(expected, "corrupt")) {
    const auto recorded = rig.lb.state();
    REQUIRE(recorded);
    CHECK(recorded->generation == 7);
  }
}

// Found by these tests, fixed: traffic_switch.h promises "every outcome ... is appended to the audit
// log", but a switch refused after it took the lock (candidate invalid, live config changed,
// swap failed, state prepare failed, ...) writes no audit line: SwitchRun only audits completed
// and rolled-back switches. Written as the header's contract says it should behave.
TEST_CASE("a switch refused under the lock is in the audit log", "[deployment][switch][audit]") {
  DeploymentRig rig;
  rig.lb.faults().validation = Fault::always();
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  const auto audit = rig.lb.audit_lines();
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["action"] == "switch");
  CHECK(audit[0]["outcome"] != "ok");
}

// Found by these tests, fixed: switch_refused() always says "HAProxy still routes to <plan.from>",
// even when the refusal is that HAProxy now routes to the other colour, so the text contradicts
// itself ("HAProxy now routes to GREEN ... HAProxy still routes to BLUE").
TEST_CASE("a refusal because the live colour changed does not claim the old colour is live",
          "[deployment][switch][refusal]") {
  DeploymentRig rig;
  rig.lb.set_config_text(haproxy_cfg(Color::kGreen));
  rig.lb.reload_by_hand();
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK(contains(outcome.text, "HAProxy now routes to GREEN"));
  CHECK_FALSE(contains(outcome.text, "HAProxy still routes to BLUE"));
}

TEST_CASE("a concurrent holder of the lock makes the switch wait and refuse", "[deployment][switch][refusal]") {
  DeploymentRig rig;
  const auto store = deployment::store_for(rig.lb.executor(), rig.app);
  auto held = store.lock("other-session", "deploy origin/main", std::chrono::seconds(1), {});
  REQUIRE(held.ok());
  const auto outcome = run_switch(rig, blue_to_green());
  CHECK(contains(error_of(outcome), "locked by other-session (deploy origin/main) since"));
  CHECK(rig.lb.config_text() == haproxy_cfg(Color::kBlue));
  held.value().reset();
  CHECK_FALSE(rig.lb.lock_held());
}

TEST_CASE("a switch cancelled before the swap changes nothing", "[deployment][switch][refusal]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  std::stop_source stop;
  // Cancelled while the live system is re-read under the lock (before the swap).
  rig.lb.executor().observe([&stop](const Call& call) {
    if (call.kind == CallKind::kSocket && call.request == "show stat\n") stop.request_stop();
  });
  const auto outcome = run_switch(rig, blue_to_green(/*emergency=*/true), stop.get_token());
  INFO(outcome.text);
  CHECK(error_of(outcome) == "cancelled");
  require_untouched(rig, outcome, original);
  // The candidate had been written and validated: the refusal removed it.
  CHECK_FALSE(rig.lb.executor().commands("lab-lb", "rm -f '/etc/haproxy/haproxy.cfg.bluegreen-candidate'").empty());
}

TEST_CASE("a non-emergency switch cancelled before the swap changes nothing", "[deployment][switch][refusal]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  std::stop_source stop;
  rig.lb.executor().observe([&stop](const Call& call) {
    if (call.kind == CallKind::kSocket && call.request == "show stat\n") stop.request_stop();
  });
  const auto outcome = run_switch(rig, blue_to_green(), stop.get_token());
  INFO(outcome.text);
  require_untouched(rig, outcome, original);
}

// --- rollbacks after the swap ---------------------------------------------------------------

TEST_CASE("a failed reload is rolled back and the rollback verified", "[deployment][switch][rollback]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  rig.lb.faults().reload = Fault::once();

  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK(outcome.rolled_back);
  CHECK(outcome.structured.at("rollbackVerified") == true);
  CHECK(contains(outcome.text, "TRAFFIC SWITCH FAILED AND WAS ROLLED BACK: reloading HAProxy failed"));
  CHECK(contains(outcome.text, "The state file still records PROD=BLUE"));
  CHECK_FALSE(contains(outcome.text, "ACTION NEEDED"));
  CHECK(rig.lb.config_text() == original);
  CHECK(rig.lb.running() == Color::kBlue);
  CHECK(rig.lb.reloads() == 1);  // only the rollback's reload happened
  require_state_unchanged(rig);
  const auto audit = rig.lb.audit_lines();
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["outcome"] == "rolled-back");
  CHECK(contains(audit[0]["error"].get<std::string>(), "reloading HAProxy failed"));
}

TEST_CASE("a reload that keeps failing leaves a rollback that needs action", "[deployment][switch][rollback]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  rig.lb.faults().reload = Fault::always();

  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK_FALSE(outcome.rolled_back);
  CHECK(outcome.structured.at("rollbackVerified") == false);
  CHECK(contains(outcome.text, "THE ROLLBACK FAILED — ACTION NEEDED"));
  CHECK(contains(outcome.structured.at("restore").get<std::string>(),
                 "the previous config was restored, but reloading HAProxy failed"));
  CHECK(contains(outcome.text, "cp -p /etc/haproxy/haproxy.cfg.bluegreen-backup /etc/haproxy/haproxy.cfg"));
  CHECK(rig.lb.config_text() == original);  // restored on disk
  CHECK(rig.lb.running() == Color::kBlue);  // HAProxy never reloaded
  require_state_unchanged(rig);
  CHECK(rig.lb.audit_lines().back()["outcome"] == "rollback-failed");
}

TEST_CASE("a failed verification (frontend still on the old colour) is rolled back", "[deployment][switch][rollback]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  rig.lb.faults().reload_keeps_colour = Fault::once();

  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK(outcome.rolled_back);
  CHECK(outcome.structured.at("rollbackVerified") == true);
  CHECK(contains(error_of(outcome),
                 "verification after the reload failed: requests through http://127.0.99.3:80/health do "
                 "not reach GREEN"));
  CHECK(rig.lb.config_text() == original);
  CHECK(rig.lb.running() == Color::kBlue);
  CHECK(rig.lb.reloads() == 2);
  require_state_unchanged(rig);
}

TEST_CASE("a reload without effect is rolled back; the rollback's reload without effect is unverified",
          "[deployment][switch][rollback]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  rig.lb.faults().reload_no_effect = Fault::always();

  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK(outcome.rolled_back);  // reloaded, but not verified
  CHECK(outcome.structured.at("rollbackVerified") == false);
  CHECK(contains(error_of(outcome), "HAProxy did not report a completed reload (reload count still 0)"));
  CHECK(contains(outcome.text, "THE ROLLBACK IS NOT VERIFIED"));
  CHECK(contains(outcome.text, "Run get_deployment_status now"));
  CHECK(rig.lb.config_text() == original);
  CHECK(rig.lb.running() == Color::kBlue);
  CHECK(rig.lb.reloads() == 0);
  require_state_unchanged(rig);
  CHECK(rig.lb.audit_lines().back()["outcome"] == "rolled-back");
}

TEST_CASE("a switch cancelled during verification is rolled back", "[deployment][switch][rollback]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  std::stop_source stop;
  const std::string reload = deployment::lb_reload_command(rig.app);
  rig.lb.executor().observe([&stop, reload](const Call& call) {
    if (call.kind == CallKind::kRun && call.command == reload) stop.request_stop();
  });

  const auto outcome = run_switch(rig, blue_to_green(), stop.get_token());
  INFO(outcome.text);
  CHECK(outcome.rolled_back);
  CHECK(outcome.structured.at("rollbackVerified") == true);
  CHECK(contains(error_of(outcome), "the switch was cancelled while waiting for HAProxy to report the reload"));
  CHECK(rig.lb.config_text() == original);
  CHECK(rig.lb.running() == Color::kBlue);
  CHECK(rig.lb.reloads() == 2);
  require_state_unchanged(rig);
}

TEST_CASE("a reload without effect once is rolled back and the rollback verified", "[deployment][switch][rollback]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  rig.lb.faults().reload_no_effect = Fault::once();
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK(outcome.rolled_back);
  CHECK(outcome.structured.at("rollbackVerified") == true);
  CHECK(contains(error_of(outcome), "HAProxy did not report a completed reload"));
  CHECK(rig.lb.config_text() == original);
  CHECK(rig.lb.running() == Color::kBlue);
  CHECK(rig.lb.reloads() == 1);
  require_state_unchanged(rig);
}

TEST_CASE("a lock lost before the state commit is rolled back", "[deployment][switch][rollback]") {
  DeploymentRig rig;
  const std::string reload = deployment::lb_reload_command(rig.app);
  rig.lb.executor().observe([&rig, reload](const Call& call) {
    if (call.kind == CallKind::kRun && call.command == reload) rig.lb.lose_lock();
  });
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK(outcome.rolled_back);
  CHECK(outcome.structured.at("rollbackVerified") == true);
  CHECK(contains(error_of(outcome),
                 "the lock on /var/lib/bluegreen/shop.json.lock was lost; the state file was not replaced"));
  CHECK(rig.lb.running() == Color::kBlue);
  require_state_unchanged(rig);
}

TEST_CASE("a lock lost before the state is prepared refuses the switch", "[deployment][switch][refusal]") {
  DeploymentRig rig;
  rig.lb.executor().observe([&rig](const Call& call) {
    if (call.kind == CallKind::kSocket && call.request == "show stat\n") rig.lb.lose_lock();
  });
  const auto outcome = run_switch(rig, blue_to_green());
  CHECK(contains(error_of(outcome), "was lost; the state file was not written"));
  require_untouched(rig, outcome, haproxy_cfg(Color::kBlue));
}

// Found by these tests, fixed: a switch cancelled while the execution-time standby gate is still
// probing is refused as "STANDBY GREEN is not healthy now (... cancelled). Use emergency=true
// only to roll back from a broken PROD." The standby is healthy; the user cancelled. The refusal
// should say the switch was cancelled (stage_candidate checks the gate before `stop`).
TEST_CASE("a switch cancelled during the standby gate says it was cancelled", "[deployment][switch][refusal]") {
  DeploymentRig rig;
  std::stop_source stop;
  std::promise<void> rechecking;
  auto rechecked = rechecking.get_future().share();
  // The gate's first wait blocks until the switch re-reads the LB under the lock; the user
  // cancels then, while the gate is still probing.
  rig.time.on_sleep([rechecked](auto) { rechecked.wait(); });
  rig.lb.executor().observe([&stop, &rechecking](const Call& call) {
    if (call.kind == CallKind::kSocket && call.request == "show stat\n") {
      stop.request_stop();
      rechecking.set_value();
    }
  });
  const auto outcome = run_switch(rig, blue_to_green(), stop.get_token());
  INFO(outcome.text);
  require_untouched(rig, outcome, haproxy_cfg(Color::kBlue));
  CHECK(contains(error_of(outcome), "cancelled"));
  CHECK_FALSE(contains(error_of(outcome), "is not healthy"));
  CHECK_FALSE(contains(error_of(outcome), "emergency=true"));
}

TEST_CASE("a failed state commit is rolled back", "[deployment][switch][rollback]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  rig.lb.faults().commit = Fault::always();

  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK(outcome.rolled_back);
  CHECK(outcome.structured.at("rollbackVerified") == true);
  CHECK(contains(error_of(outcome), "the state file could not be updated (replacing the state file"));
  CHECK(rig.lb.config_text() == original);
  CHECK(rig.lb.running() == Color::kBlue);
  require_state_unchanged(rig);
}

// Found by these tests, fixed: StateStore::commit() can fail AFTER its `mv` replaced the state file
// (the read-back fails or differs). execute_switch then rolls HAProxy back to BLUE and says "The
// state file still records PROD=BLUE", but the file records PROD=GREEN with the switch in its
// history and a new generation: the record now contradicts HAProxy, and the text is false.
// Written as it should behave: after a rollback, the state file agrees with what the text says.
TEST_CASE("a state commit that fails after the rename leaves a truthful rollback", "[deployment][switch][rollback]") {
  DeploymentRig rig;
  rig.lb.faults().state_read = Fault::after(1);  // prepare's read works; commit's read-back fails
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK(outcome.rolled_back);
  CHECK(contains(error_of(outcome), "the state file was written but cannot be read back"));
  CHECK(rig.lb.running() == Color::kBlue);
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  if (contains(outcome.text, "The state file still records PROD=BLUE")) {
    CHECK(recorded->prod == Color::kBlue);
    CHECK(recorded->generation == 7);
  }
  // The file was replaced: the text must say it may record the switch.
  CHECK(recorded->prod == Color::kGreen);
  CHECK(contains(outcome.text, "it may already record PROD=GREEN"));
}

TEST_CASE("a failed commit whose restore fails too needs action", "[deployment][switch][rollback]") {
  DeploymentRig rig;
  rig.lb.faults().commit = Fault::always();
  rig.lb.faults().restore = Fault::always();

  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.rolled_back);
  CHECK(contains(outcome.text, "ACTION NEEDED"));
  CHECK(contains(outcome.structured.at("restore").get<std::string>(), "restoring the previous config failed too"));
  // Traffic did move: the config and HAProxy are on GREEN, the state file still says BLUE.
  CHECK(rig.lb.config_colour() == Color::kGreen);
  CHECK(rig.lb.running() == Color::kGreen);
  require_state_unchanged(rig);
  CHECK(rig.lb.audit_lines().back()["outcome"] == "rollback-failed");
}

TEST_CASE("the LB becoming unreachable at the reload leaves a rollback that needs action",
          "[deployment][switch][rollback]") {
  DeploymentRig rig;
  rig.lb.faults().unreachable_from_command = deployment::lb_reload_command(rig.app);

  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK_FALSE(outcome.rolled_back);
  CHECK(contains(outcome.text, "ACTION NEEDED"));
  CHECK(contains(error_of(outcome), "reloading HAProxy failed: ssh: connect to host lab-lb"));
  // Swapped on disk, never reloaded: HAProxy still serves BLUE.
  CHECK(rig.lb.config_colour() == Color::kGreen);
  CHECK(rig.lb.running() == Color::kBlue);
  // The audit log cannot be reached either: that is reported.
  CHECK(contains(outcome.structured.value("auditProblem", std::string()), "appending to the audit log failed"));
  CHECK(contains(outcome.text, "The switch is not in the audit log"));
  CHECK(rig.lb.audit_lines().empty());
  CHECK_FALSE(rig.lb.lock_held());
}

// --- the audit log --------------------------------------------------------------------------

TEST_CASE("an audit failure is reported on a completed switch", "[deployment][switch][audit]") {
  DeploymentRig rig;
  rig.lb.faults().audit = Fault::always();
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK(outcome.switched);
  const auto problem = outcome.structured.value("auditProblem", std::string());
  CHECK(contains(problem, "appending to the audit log /var/lib/bluegreen/audit.log failed"));
  CHECK(contains(outcome.text, "⚠️ The switch is not in the audit log: " + problem));
  bool noted = false;
  for (const auto& note : rig.reporter.notes())
    noted = noted || contains(note, "warning: the switch is not in the audit log");
  CHECK(noted);
  CHECK(rig.lb.running() == Color::kGreen);
  CHECK(rig.lb.state()->prod == Color::kGreen);
  CHECK(rig.lb.audit_lines().empty());
}

TEST_CASE("an audit failure is reported on a rolled-back switch", "[deployment][switch][audit]") {
  DeploymentRig rig;
  rig.lb.faults().audit = Fault::always();
  rig.lb.faults().reload = Fault::once();
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK(outcome.rolled_back);
  CHECK(contains(outcome.structured.value("auditProblem", std::string()), "appending to the audit log"));
  CHECK(contains(outcome.text, "⚠️ The switch is not in the audit log"));
  require_state_unchanged(rig);
}

// --- a bug after the swap -------------------------------------------------------------------

TEST_CASE("an exception after the swap rolls the switch back instead of leaving it half-done",
          "[deployment][switch][rollback]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  const auto probe = rig.lb.probe();
  rig.services.probe = [&rig, probe](const std::string& url, std::chrono::milliseconds timeout) {
    // The frontend is probed during verification, once HAProxy reloaded the new config.
    if (rig.lb.reloads() == 1 && rig.lb.running() == Color::kGreen && url.find(":80/") != std::string::npos) {
      throw std::runtime_error("simulated bug");
    }
    return probe(url, timeout);
  };
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK(outcome.rolled_back);
  CHECK(contains(error_of(outcome), "internal error (a bug in bluegreen-mcp; please report it): simulated bug"));
  CHECK(rig.lb.config_text() == original);
  CHECK(rig.lb.running() == Color::kBlue);
  require_state_unchanged(rig);
}

// --- the approval binds the lines it showed (issue 17) ---------------------------------------

TEST_CASE("a config edited by hand after the plan voids its approval; an edit elsewhere does not",
          "[deployment][switch][approval]") {
  DeploymentRig rig;
  auto view = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE(view.ok());
  REQUIRE(view->plan.lines.size() == 1);
  CHECK(contains(view->plan.lines.front(), "default_backend blue =>     default_backend green"));
  const auto digest = deployment::plan_json(rig.app, *view).at("changeDigest").get<std::string>();
  CHECK(digest.rfind("sha256:", 0) == 0);
  CHECK(digest.size() == 7 + 64);

  SECTION("the app's route moved to another line: refused, nothing changed") {
    std::string edited = rig.lb.config_text();
    edited.insert(edited.find("frontend fe_app"), "# a comment added by hand\n");
    rig.lb.set_config_text(edited);
    rig.lb.reload_by_hand();  // and loaded: else the unloaded file alone refuses the switch
    const auto outcome = run_switch(rig, view->plan);
    require_untouched(rig, outcome, edited, rig.lb.reloads());
    CHECK(contains(outcome.text, "the configuration changed since the plan was made"));
    CHECK(contains(outcome.text, "haproxy.cfg:13:"));  // the line the plan showed
  }
  SECTION("another route of the app added by hand: refused") {
    std::string edited = rig.lb.config_text();
    edited.insert(edited.find("\nbackend blue") + 1,
                  "frontend fe_extra\n    bind 127.0.99.3:81\n    default_backend blue\n\n");
    rig.lb.set_config_text(edited);
    rig.lb.reload_by_hand();  // and loaded: else the unloaded file alone refuses the switch
    const auto outcome = run_switch(rig, view->plan);
    require_untouched(rig, outcome, edited, rig.lb.reloads());
    CHECK(contains(outcome.text, "which the plan did not show"));
  }
  SECTION("a line that is not the app's route changed: the switch goes ahead") {
    std::string edited = rig.lb.config_text();
    const auto at = edited.find("timeout client 30s");
    edited.replace(at, 18, "timeout client 31s");
    rig.lb.set_config_text(edited);
    rig.lb.reload_by_hand();
    const auto outcome = run_switch(rig, view->plan);
    INFO(outcome.text);
    CHECK(outcome.switched);
  }
  SECTION("the same plan twice gives the same digest; the way back gives another") {
    auto again = deployment::plan_switch(rig.services, rig.app, false);
    REQUIRE(again.ok());
    CHECK(deployment::plan_json(rig.app, *again).at("changeDigest") == digest);
    CHECK(deployment::lines_digest({}) != digest);
  }
}
