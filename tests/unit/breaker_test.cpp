// Adversarial tests of the deployment layer, written by a tester trying to break it: races,
// cancellation at every remote call of a switch, an LB that goes away at every call, replies
// lost after a command ran (the executor contract's "no exit status: connection lost"), and
// cancellation at every step of a deploy.
//
// Each test guards the invariant it states. Those whose comment says "Found by these tests"
// exposed a defect in the product, since fixed.

#include "deployment/deploy.h"
#include "deployment/traffic_switch.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <stop_token>
#include <thread>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using deployment::DeployOutcome;
using deployment::DeployRequest;
using deployment::SwitchOutcome;
using deployment::SwitchPlan;
using state::Color;

namespace {

SwitchPlan blue_to_green(bool emergency = false) {
  return SwitchPlan{"shop", Color::kBlue, Color::kGreen, 7, emergency, ""};
}

SwitchOutcome run_switch(DeploymentRig& rig, const SwitchPlan& plan, std::stop_token stop = {},
                         deployment::Reporter* reporter = nullptr, const std::string& client = "claude-test") {
  return deployment::execute_switch(rig.services, rig.app, rig.bound(plan), client, reporter ? *reporter : rig.reporter,
                                    std::move(stop));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// How many executor calls (of any kind, on any host) an undisturbed switch makes.
std::size_t calls_of_clean_switch(bool emergency) {
  DeploymentRig rig;
  const auto outcome = run_switch(rig, blue_to_green(emergency));
  REQUIRE(outcome.switched);
  return rig.lb.executor().calls().size();
}

// Whatever happened, the LB is in one of the two consistent end states and the outcome says
// which: fully switched and recorded, or fully on BLUE with the state file untouched.
void require_all_or_nothing(DeploymentRig& rig, const SwitchOutcome& outcome, const std::string& original) {
  INFO(outcome.text);
  CHECK_FALSE(rig.lb.lock_held());
  CHECK(rig.lb.leftovers().empty());
  CHECK(rig.lb.executor().unmatched().empty());
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  if (outcome.switched) {
    CHECK(rig.lb.config_colour() == Color::kGreen);
    CHECK(rig.lb.running() == Color::kGreen);
    CHECK(recorded->prod == Color::kGreen);
    CHECK(recorded->generation == 8);
    CHECK(contains(outcome.text, "TRAFFIC SWITCH COMPLETE"));
  } else {
    CHECK(rig.lb.config_text() == original);
    CHECK(rig.lb.running() == Color::kBlue);
    CHECK(recorded->prod == Color::kBlue);
    CHECK(recorded->generation == 7);
    CHECK(recorded->switch_count == 3);
    CHECK_FALSE(contains(outcome.text, "COMPLETE"));
    if (outcome.rolled_back) {
      CHECK(outcome.structured.at("rollbackVerified") == true);
      CHECK(contains(outcome.text, "ROLLED BACK"));
    } else {
      CHECK(contains(outcome.text, "Nothing was changed"));
      CHECK(rig.lb.reloads() == 0);
    }
  }
}

// Whatever the outcome text claims about the LB must be true of the LB.
void require_truthful(DeploymentRig& rig, const SwitchOutcome& outcome, const std::string& original) {
  INFO(outcome.text);
  CHECK_FALSE(rig.lb.lock_held());
  CHECK(rig.lb.executor().unmatched().empty());
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  if (outcome.switched) {
    CHECK(rig.lb.config_colour() == Color::kGreen);
    CHECK(rig.lb.running() == Color::kGreen);
    CHECK(recorded->prod == Color::kGreen);
  }
  if (contains(outcome.text, "Nothing was changed")) {
    CHECK_FALSE(outcome.switched);
    CHECK(rig.lb.config_text() == original);
    CHECK(rig.lb.running() == Color::kBlue);
    CHECK(recorded->generation == 7);
  }
  if (contains(outcome.text, "the live config is untouched")) CHECK(rig.lb.config_text() == original);
  if (contains(outcome.text, "The state file still records PROD=BLUE")) {
    CHECK(recorded->prod == Color::kBlue);
    CHECK(recorded->generation == 7);
  }
  if (outcome.rolled_back && outcome.structured.value("rollbackVerified", false)) {
    CHECK(rig.lb.config_text() == original);
    CHECK(rig.lb.running() == Color::kBlue);
  }
  // The only outcome allowed to leave the LB on GREEN without saying so in capitals is a switch.
  if (!outcome.switched && (rig.lb.config_colour() == Color::kGreen || rig.lb.running() == Color::kGreen)) {
    CHECK(contains(outcome.text, "ACTION NEEDED"));
  }
}

// A reply that never came back although the command ran on the host: what SshExecutor returns
// when the connection drops mid-command (executor.h: no exit status, "connection lost").
remote::CommandResult connection_lost_result() {
  remote::CommandResult result;
  result.problem = "the connection was lost while the command ran";
  result.duration = std::chrono::milliseconds(3);
  return result;
}

// A command whose deadline passed after it did its work (e.g. `sync` on a slow disk).
remote::CommandResult timed_out_result() {
  remote::CommandResult result;
  result.timed_out = true;
  result.problem = "timed out after 30000 ms";
  result.duration = std::chrono::milliseconds(30000);
  return result;
}

thread_local bool g_inside_lost_reply = false;  // NOLINT: the nested run() below must reach FakeLb

// The first LB command containing `fragment` (or the `nth` LB run() when fragment is empty) runs
// on the FakeLb, but its caller gets `reply` instead of the real result; when `then_unreachable`,
// the LB is unreachable from then on.
void lose_reply(DeploymentRig& rig, const std::string& fragment, int nth, remote::CommandResult reply,
                bool then_unreachable) {
  auto seen = std::make_shared<std::atomic<int>>(0);
  auto fired = std::make_shared<std::atomic<bool>>(false);
  auto& executor = rig.lb.executor();
  executor.on_match(
      [lb = rig.app.load_balancer.ssh, fragment, nth, seen, fired](const std::string& host,
                                                                   const std::string& command) {
        if (g_inside_lost_reply || host != lb || fired->load()) return false;
        if (!fragment.empty()) return contains(command, fragment) && !fired->exchange(true);
        return ++*seen == nth && !fired->exchange(true);
      },
      [&rig, reply, then_unreachable](const std::string& host, const std::string& command) -> ScriptedExecutor::Reply {
        g_inside_lost_reply = true;
        auto real = rig.lb.executor().run(host, command, remote::CommandOptions{});
        g_inside_lost_reply = false;
        (void)real;
        if (then_unreachable) rig.lb.update_faults([](LbFaults& faults) { faults.unreachable_from_call = 1; });
        return reply;
      });
}

}  // namespace

// --- races ----------------------------------------------------------------------------------

TEST_CASE("breaker: two approved switches racing on one LB: exactly one switches", "[deployment][switch][breaker]") {
  for (int round = 0; round < 20; ++round) {
    DeploymentRig rig;
    RecordingReporter other_reporter;
    std::promise<void> go;
    auto start = go.get_future().share();
    auto first = std::async(std::launch::async, [&] {
      start.wait();
      return run_switch(rig, blue_to_green(), {}, nullptr, "client-a");
    });
    auto second = std::async(std::launch::async, [&] {
      start.wait();
      return run_switch(rig, blue_to_green(), {}, &other_reporter, "client-b");
    });
    go.set_value();
    const auto a = first.get();
    const auto b = second.get();
    INFO("round " << round << "\nA: " << a.text << "\nB: " << b.text);
    CHECK(int(a.switched) + int(b.switched) == 1);
    CHECK_FALSE(a.rolled_back);
    CHECK_FALSE(b.rolled_back);
    const auto& loser = a.switched ? b : a;
    CHECK(contains(loser.text, "Nothing was changed"));
    CHECK(rig.lb.running() == Color::kGreen);
    CHECK(rig.lb.config_colour() == Color::kGreen);
    CHECK(rig.lb.reloads() == 1);
    const auto recorded = rig.lb.state();
    REQUIRE(recorded);
    CHECK(recorded->switch_count == 4);
    CHECK(recorded->generation == 8);
    CHECK(recorded->history.size() == 1);
    CHECK(rig.lb.leftovers().empty());
    CHECK_FALSE(rig.lb.lock_held());
    int ok_lines = 0;
    for (const auto& line : rig.lb.audit_lines()) ok_lines += line["outcome"] == "ok" ? 1 : 0;
    CHECK(ok_lines == 1);
  }
}

TEST_CASE("breaker: a switch racing a deploy on one LB: the lock serialises them", "[deployment][switch][breaker]") {
  for (int round = 0; round < 10; ++round) {
    DeploymentRig rig;
    RecordingReporter deploy_reporter;
    std::promise<void> go;
    auto start = go.get_future().share();
    auto sw = std::async(std::launch::async, [&] {
      start.wait();
      return run_switch(rig, blue_to_green());
    });
    auto dep = std::async(std::launch::async, [&] {
      start.wait();
      return deployment::deploy_to_standby(rig.services, rig.app, DeployRequest{}, "deployer", deploy_reporter, {});
    });
    go.set_value();
    const auto s = sw.get();
    const auto d = dep.get();
    INFO("round " << round << "\nswitch: " << s.text << "\ndeploy: " << d.text);
    // The deploy must never run its steps on the colour that is PROD when it runs them.
    if (d.ok && s.switched) {
      // Both went through: one after the other. The deploy went to whichever colour was standby.
      const auto target = d.structured.at("target")["server"].get<std::string>();
      const auto deploys = rig.lb.state()->deploys;
      REQUIRE_FALSE(deploys.empty());
      CHECK(rig.lb.state()->prod == Color::kGreen);
      CHECK((target == "GREEN" || target == "BLUE"));
    }
    CHECK_FALSE(rig.lb.lock_held());
    CHECK(rig.lb.leftovers().empty());
  }
}

// --- cancellation at every remote call of a switch ------------------------------------------

TEST_CASE("breaker: a switch cancelled at any remote call ends all-or-nothing", "[deployment][switch][breaker]") {
  const bool emergency = GENERATE(false, true);
  const std::size_t total = calls_of_clean_switch(emergency);
  REQUIRE(total > 10);
  for (std::size_t k = 1; k <= total + 1; ++k) {
    DeploymentRig rig;
    const std::string original = rig.lb.config_text();
    std::stop_source stop;
    auto seen = std::make_shared<std::atomic<std::size_t>>(0);
    auto swap_started = std::make_shared<std::atomic<bool>>(false);
    bool before_swap = false;
    std::string cancelled_at;
    std::mutex at_mutex;
    rig.lb.executor().observe([&, seen, swap_started, k](const Call& call) {
      if (call.kind == CallKind::kRun && contains(call.command, "| base64 -d | cmp -s - \"$cfg\""))
        *swap_started = true;
      if (++*seen == k) {
        before_swap = !swap_started->load();
        std::lock_guard lock(at_mutex);
        cancelled_at = call.kind == CallKind::kRun      ? call.command.substr(0, 60)
                       : call.kind == CallKind::kSocket ? "socket " + call.request
                       : call.kind == CallKind::kHold   ? std::string("hold (lock)")
                                                        : std::string("read_files");
        stop.request_stop();
      }
    });
    const auto outcome = run_switch(rig, blue_to_green(emergency), stop.get_token());
    {
      std::lock_guard lock(at_mutex);
      INFO("emergency=" << emergency << ", cancelled at call " << k << " of " << total << ": " << cancelled_at);
      require_all_or_nothing(rig, outcome, original);
      if (!outcome.switched && k <= total) CHECK(contains(outcome.structured.value("error", std::string()), "cancel"));
      // README: "Cancelling a switch before the new config is swapped in ... changes nothing".
      if (k <= total && before_swap) {
        CHECK_FALSE(outcome.switched);
        CHECK_FALSE(outcome.rolled_back);
        CHECK(rig.lb.reloads() == 0);
        CHECK(rig.lb.executor().commands("lab-lb", "| base64 -d | cmp -s - \"$cfg\"").empty());
      }
    }
  }
}

// Found by these tests: in an emergency, a cancellation that arrives after HAProxy's master
// confirmed the reload but before the frontend was probed is neither rolled back nor probed:
// frontend_serves() never sends a request (its loop checks `stop` first) and, being advisory,
// returns ok with "⚠️ requests through <url> do not reach GREEN (last: <a report of no request>)".
// The switch is then recorded as COMPLETE, with a verification line describing a probe that never
// happened; README says "cancelling while the reload is verified rolls it back".
TEST_CASE("breaker: an emergency switch cancelled during verification is rolled back and not half-verified",
          "[deployment][switch][breaker]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  std::stop_source stop;
  // Cancelled when the switch re-reads haproxy.cfg to verify it (after the master confirmed the reload).
  auto reloaded = std::make_shared<std::atomic<bool>>(false);
  const std::string reload = deployment::lb_reload_command(rig.app);
  rig.lb.executor().observe([&stop, reloaded, reload](const Call& call) {
    if (call.kind == CallKind::kRun && call.command == reload) reloaded->store(true);
    if (reloaded->load() && call.kind == CallKind::kReadFiles) stop.request_stop();
  });
  const auto outcome = run_switch(rig, blue_to_green(/*emergency=*/true), stop.get_token());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK(outcome.rolled_back);
  CHECK(rig.lb.config_text() == original);
  CHECK(rig.lb.running() == Color::kBlue);
}

// --- an LB that becomes unreachable at every successive call --------------------------------

TEST_CASE("breaker: an LB unreachable from any call on leaves a truthful outcome", "[deployment][switch][breaker]") {
  const std::size_t total = calls_of_clean_switch(false);
  for (std::size_t k = 1; k <= total + 1; ++k) {
    DeploymentRig rig;
    const std::string original = rig.lb.config_text();
    rig.lb.faults().unreachable_from_call = static_cast<int>(k);
    const auto outcome = run_switch(rig, blue_to_green());
    INFO("unreachable from LB call " << k << " of " << total);
    require_truthful(rig, outcome, original);
  }
}

// --- replies lost after the command ran -----------------------------------------------------

// Found by these tests: when the connection drops (or the deadline passes) after the swap script's
// `mv` ran but before its exit status came back, swap_config() reports "installing the new HAProxy
// config failed: ... (the live config is untouched)" and "Nothing was changed", and does not roll
// back. haproxy.cfg on the LB now selects GREEN (HAProxy not reloaded): the next reload by anyone
// moves production traffic with no record, and the text told the user nothing changed. A result
// without an exit status from a script that changes the live file is an unknown outcome
// (executor.h: "exit_status missing: killed by a signal, stopped, or connection lost").
TEST_CASE("breaker: a swap whose reply is lost is not reported as 'live config untouched'",
          "[deployment][switch][breaker]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  const bool unreachable_after = GENERATE(false, true);
  const bool timed_out = GENERATE(false, true);
  lose_reply(rig, "| base64 -d | cmp -s - \"$cfg\"", 0, timed_out ? timed_out_result() : connection_lost_result(),
             unreachable_after);
  const auto outcome = run_switch(rig, blue_to_green());
  INFO("unreachable after: " << unreachable_after << ", timed out: " << timed_out);
  require_truthful(rig, outcome, original);
}

// Found by these tests: the same for the state commit. StateStore::commit() treats a result with
// no exit status from `mv -f tmp state && sync dir` as "failed (the previous file is untouched)"
// with ErrorCode::kFailed, so the switch rolls HAProxy back and says "The state file still
// records PROD=BLUE", while the file records PROD=GREEN, switch #4, generation 8. Only a failed
// read-back is treated as kUnknownOutcome today.
TEST_CASE("breaker: a state commit whose reply is lost does not claim the state file is unchanged",
          "[deployment][switch][breaker]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  const bool timed_out = GENERATE(false, true);
  lose_reply(rig, "mv -f '/var/lib/bluegreen/shop.json.tmp.", 0,
             timed_out ? timed_out_result() : connection_lost_result(),
             /*then_unreachable=*/false);
  const auto outcome = run_switch(rig, blue_to_green());
  INFO("timed out: " << timed_out);
  require_truthful(rig, outcome, original);
}

TEST_CASE("breaker: a reply lost at any LB command of a switch leaves a truthful outcome",
          "[deployment][switch][breaker]") {
  // Counting LB run() calls of a clean switch.
  std::size_t runs = 0;
  {
    DeploymentRig rig;
    REQUIRE(run_switch(rig, blue_to_green()).switched);
    runs = rig.lb.executor().commands("lab-lb").size();
  }
  for (std::size_t k = 1; k <= runs; ++k) {
    DeploymentRig rig;
    const std::string original = rig.lb.config_text();
    lose_reply(rig, "", static_cast<int>(k), connection_lost_result(), /*then_unreachable=*/true);
    const auto outcome = run_switch(rig, blue_to_green());
    INFO("reply lost at LB command " << k << " of " << runs);
    require_truthful(rig, outcome, original);
  }
}

// --- deploy: cancelled at each step ---------------------------------------------------------

namespace {

std::vector<std::string> rows(const DeployOutcome& outcome) {
  std::vector<std::string> out;
  for (const auto& step : outcome.structured.at("steps")) {
    out.push_back(step["name"].get<std::string>() + "=" + step["status"].get<std::string>());
  }
  return out;
}

}  // namespace

TEST_CASE("breaker: a deploy cancelled during any step stops there", "[deployment][deploy][breaker]") {
  // The enabled steps of a default request: backup, pull, install, build, restart (migrate off).
  const std::vector<std::pair<std::string, std::string>> steps{{"backup", "tar -czf"},
                                                               {"pull", "git fetch"},
                                                               {"install", "./install-deps"},
                                                               {"build", "./build"},
                                                               {"restart", "./appctl restart"}};
  for (std::size_t i = 0; i < steps.size(); ++i) {
    DeploymentRig rig;
    std::stop_source stop;
    rig.lb.executor().on_match(
        [fragment = steps[i].second](const std::string& host, const std::string& command) {
          return host == "lab-green" && contains(command, fragment);
        },
        [&stop](const std::string&, const std::string&) -> ScriptedExecutor::Reply {
          stop.request_stop();
          return cancelled_result();
        });
    const auto outcome = deployment::deploy_to_standby(rig.services, rig.app, DeployRequest{}, "claude-test",
                                                       rig.reporter, stop.get_token());
    INFO("cancelled during " << steps[i].first << "\n" << outcome.text);
    CHECK(outcome.cancelled);
    CHECK_FALSE(outcome.ok);
    const auto got = rows(outcome);
    for (std::size_t j = 0; j < steps.size(); ++j) {
      const auto expected_status = j < i ? "ok" : j == i ? "cancelled" : "not run";
      CHECK(std::find(got.begin(), got.end(), steps[j].first + "=" + expected_status) != got.end());
    }
    for (std::size_t j = i + 1; j < steps.size(); ++j)
      CHECK(rig.lb.executor().commands("lab-green", steps[j].second).empty());
    CHECK(rig.lb.probes_of(Color::kGreen) == 0);
    CHECK(rig.lb.executor().commands("lab-blue").empty());
    CHECK(rig.lb.state()->deploys.back().outcome == "cancelled");
    CHECK_FALSE(rig.lb.lock_held());
  }
}

// Found by these tests: a cancellation that arrives while step N finishes (its command exits 0
// just as the user cancels) does not stop the deploy before step N+1: run_steps() only looks at
// the previous row, never at `stop`, so it starts the next remote command with a stop token that
// is already set. SshExecutor starts it and then TERMs it at once: a `./appctl restart` (or a
// migration) is started and killed halfway on the standby, after the user asked to stop.
TEST_CASE("breaker: no deploy step starts after the deploy was cancelled", "[deployment][deploy][breaker]") {
  DeploymentRig rig;
  std::stop_source stop;
  rig.lb.executor().on_match(
      [](const std::string& host, const std::string& command) {
        return host == "lab-green" && contains(command, "./install-deps");
      },
      [&stop](const std::string&, const std::string&) -> ScriptedExecutor::Reply {
        stop.request_stop();  // the user cancels just as install finishes successfully
        return ok_with();
      });
  const auto outcome = deployment::deploy_to_standby(rig.services, rig.app, DeployRequest{}, "claude-test",
                                                     rig.reporter, stop.get_token());
  INFO(outcome.text);
  CHECK(outcome.cancelled);
  for (const auto& call : rig.lb.executor().calls()) {
    INFO(call.host << ": " << call.command);
    CHECK_FALSE((call.host == "lab-green" && call.kind == CallKind::kRun && call.stop_requested &&
                 contains(call.command, "cd '/srv/app' && ")));
  }
  CHECK(rig.lb.executor().commands("lab-green", "./appctl restart").empty());
}

// --- health gate edge ------------------------------------------------------------------------

TEST_CASE("breaker: a deploy's health gate with an old commit at the last probe fails",
          "[deployment][deploy][breaker]") {
  DeploymentRig rig;
  // Two good probes, then the old commit, then good for ever: needs a fresh streak of three.
  auto probes = std::make_shared<std::atomic<int>>(0);
  const auto base = rig.services.probe;
  rig.services.probe = [&rig, probes, base](const std::string& url, std::chrono::milliseconds timeout) {
    auto report = base(url, timeout);
    if (url == rig.app.green.front().health_url && ++*probes == 3) report.commit = kBlueCommit;
    return report;
  };
  const auto outcome = deployment::deploy_to_standby(rig.services, rig.app, DeployRequest{}, "t", rig.reporter, {});
  INFO(outcome.text);
  CHECK(outcome.ok);
  CHECK(probes->load() == 6);
}

// --- the state file edited under the switch's feet ------------------------------------------

TEST_CASE("breaker: a state file changed after the re-check is not overwritten", "[deployment][switch][breaker]") {
  DeploymentRig rig;
  const std::string original = rig.lb.config_text();
  // Someone (by hand, without the lock) writes generation 8 while the switch re-reads the LB.
  state::DeploymentState edited = *rig.lb.state();
  edited.generation = 8;
  edited.switch_count = 9;
  auto done = std::make_shared<std::atomic<bool>>(false);
  rig.lb.executor().observe([&rig, edited, done](const Call& call) {
    if (call.kind == CallKind::kSocket && call.request == "show stat\n" && !done->exchange(true))
      rig.lb.set_state(edited);
  });
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK(rig.lb.state()->switch_count == 9);
  CHECK(rig.lb.state()->generation == 8);
  CHECK(rig.lb.config_text() == original);
  CHECK(rig.lb.reloads() == 0);
  CHECK(rig.lb.leftovers().empty());
}
