#include "deployment/traffic_switch.h"

#include "common/base64.h"
#include "deployment/frontend_check.h"
#include "remote/shell_command.h"

#include <future>
#include <sstream>
#include <thread>

namespace deployment {
namespace {

using bluegreen::Error;
using nlohmann::json;
using remote::shell_quote;
using state::Color;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kSteps = 6;
constexpr int kCandidateInvalidExit = 10;
constexpr int kLiveConfigChangedExit = 11;

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}


std::string output_of(const remote::CommandResult& result) {
  std::string text = result.err.tail + result.out.tail;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.size() > 1500) text = "..." + text.substr(text.size() - 1500);
  return text.empty() ? result.summary() : text;
}

// HAProxy's process list from its master socket (forwarded through the LB's SSH connection where
// its sshd allows, so polling it after a reload costs well under a millisecond per look).
bluegreen::Result<haproxy::ProcessInfo> master_processes(Services& services, const config::AppConfig& app) {
  auto reply = query_haproxy_socket(services.executor, app, *app.load_balancer.master_socket, "show proc");
  if (!reply) return reply.error();
  return haproxy::parse_show_proc(*reply);
}

// Runs on the LB with the app's command deadline.
bluegreen::Result<remote::CommandResult> on_lb(Services& services, const config::AppConfig& app, const std::string& command) {
  remote::CommandOptions options;
  options.deadline = app.load_balancer.command_timeout;
  return services.executor.run(app.load_balancer.ssh, command, options);
}

// Standby health with the gate's consecutive-success rule, so a flapping host never passes on
// one lucky probe.
GateOutcome check_standby(Services& services, const config::AppConfig& app, Color standby, std::stop_token stop) {
  const auto& host = standby == Color::kBlue ? app.blue : app.green;
  GateSettings settings;
  settings.consecutive_successes = app.health_gate.consecutive_successes;
  settings.interval = std::min(app.health_gate.interval, milliseconds(250));
  settings.request_timeout = app.health_gate.request_timeout;
  // Long enough for the consecutive probes, short enough that a down standby is reported quickly.
  settings.timeout = settings.interval * (settings.consecutive_successes + 2) + settings.request_timeout;
  return run_health_gate(host.health_url, std::nullopt, settings, services.probe, std::move(stop));
}

// At execution time the standby must still pass a consecutive-success gate (probes close
// together, so a flapping host is caught without slowing the switch), and HAProxy's own checks
// (which need `rise` consecutive successes) must have it fully UP, not in a transition such as
// "UP 1/2".
GateOutcome quick_standby_gate(Services& services, const config::AppConfig& app, Color standby, std::stop_token stop) {
  const auto& host = standby == Color::kBlue ? app.blue : app.green;
  GateSettings settings;
  settings.consecutive_successes = app.health_gate.consecutive_successes;
  settings.interval = std::min(app.health_gate.interval, milliseconds(20));
  settings.request_timeout = app.health_gate.request_timeout;
  settings.timeout = settings.interval * (settings.consecutive_successes + 2) + settings.request_timeout;
  return run_health_gate(host.health_url, std::nullopt, settings, services.probe, std::move(stop));
}

std::string standby_problem_now(const config::AppConfig& app, const LbSnapshot& snapshot, Color standby,
                                const GateOutcome& gate) {
  if (!gate.passed) return "its health check does not pass consecutively now: " + gate.reason;
  if (snapshot.servers) {
    for (const auto& server : *snapshot.servers) {
      if (server.backend != backend_of(app, standby) || server.server == "BACKEND") continue;
      if (server.status != "UP" && server.status != "no check") {
        return "HAProxy's own checks report server " + server.server + " as " + server.status;
      }
    }
  }
  return "";
}

struct Verification {
  bool ok = false;
  std::string detail;
};

// After a reload: HAProxy took the new config (master socket), the file on disk selects the
// expected backend, and (when configured) requests through the frontend reach the expected colour.
Verification verify_routing(Services& services, const config::AppConfig& app, Color expected,
                            std::optional<int> reloads_before, std::stop_token stop, bool frontend_advisory = false) {
  const auto& lb = app.load_balancer;
  const auto deadline = Clock::now() + std::max(milliseconds(10000), lb.command_timeout);
  std::vector<std::string> checks;

  if (lb.master_socket && reloads_before) {
    bool reloaded = false;
    std::string last;
    while (!reloaded && Clock::now() < deadline && !stop.stop_requested()) {
      auto info = master_processes(services, app);
      if (info && info->reloads > *reloads_before) {
        if (info->current_worker_pids.empty()) {
          return {false, "HAProxy's reload #" + std::to_string(info->reloads) + " left no worker running"};
        }
        reloaded = true;
        checks.push_back("master reports reload #" + std::to_string(info->reloads) + ", workers " +
                         std::to_string(info->current_worker_pids.front()));
        break;
      }
      // The socket refuses briefly after a reload: keep looking until the deadline.
      last = info ? "reload count still " + std::to_string(info->reloads) : info.error().message;
      std::this_thread::sleep_for(milliseconds(10));
    }
    if (!reloaded) return {false, "HAProxy did not report a completed reload (" + last + ")"};
  } else if (lb.master_socket) {
    // The reload count before was unknown, so a reload cannot be confirmed; the master must at
    // least answer, or HAProxy is not in a state anyone should call verified.
    auto info = master_processes(services, app);
    if (!info) return {false, "HAProxy's master socket " + *lb.master_socket + " does not answer (" + info.error().message + ")"};
  }

  remote::CommandOptions read_options;
  read_options.deadline = lb.command_timeout;
  read_options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto config = services.executor.read_files(lb.ssh, {lb.haproxy_config}, read_options);
  if (!config || config->size() != 1 || config->front().missing || !config->front().problem.empty()) {
    const std::string why = !config                   ? config.error().message
                            : config->size() != 1      ? std::string("no result")
                            : config->front().missing ? std::string("No such file or directory")
                                                      : config->front().problem;
    return {false, "cannot re-read " + lb.haproxy_config + ": " + why};
  }
  auto selection = haproxy::find_live_backend(config->front().content, selector_of(app));
  if (!selection || color_of_backend(app, selection->backend) != expected) {
    return {false, lb.haproxy_config + " does not select the " + state::to_upper_string(expected) + " backend after the switch"};
  }
  checks.push_back(lb.haproxy_config + " line " + std::to_string(selection->line_number) + ": " +
                   trim_blanks(selection->line));

  if (lb.verify_url) {
    int streak = 0;
    remote::HealthReport last;
    // New connections reach the new workers within milliseconds of a reload; a few seconds is
    // generous. When the check is only advisory, do not hold the switch up for long.
    const auto frontend_deadline = Clock::now() + (frontend_advisory ? milliseconds(2000) : milliseconds(5000));
    while (streak < 3 && Clock::now() < frontend_deadline && !stop.stop_requested()) {
      last = services.probe(*lb.verify_url, app.health_gate.request_timeout);
      const bool right = last.healthy() && last.color && state::parse_color(*last.color) == expected;
      streak = right ? streak + 1 : 0;
      if (streak < 3) std::this_thread::sleep_for(milliseconds(right ? 5 : 20));
    }
    if (streak < 3) {
      const std::string problem = "requests through " + *lb.verify_url + " do not reach " + state::to_upper_string(expected) +
                                  " (last: " + last.summary() +
                                  (last.color ? ", colour " + *last.color : ", no colour reported") + ")";
      // In an emergency the standby may fail HAProxy's checks too; HAProxy did switch, which is
      // what was asked, so this is reported rather than undone.
      if (!frontend_advisory) return {false, problem};
      checks.push_back("⚠️ " + problem);
    } else {
      checks.push_back(*lb.verify_url + " answers from " + state::to_upper_string(expected) + " (" + last.summary() + ")");
    }
  }
  Verification ok{true, ""};
  for (const auto& c : checks) ok.detail += (ok.detail.empty() ? "" : "; ") + c;
  return ok;
}

std::optional<int> current_reloads(Services& services, const config::AppConfig& app) {
  if (!app.load_balancer.master_socket) return std::nullopt;
  auto info = master_processes(services, app);
  return info ? std::optional<int>(info->reloads) : std::nullopt;
}

struct Restore {
  bool restored = false;  // the backed-up config is back in place
  bool reloaded = false;  // and HAProxy was told to reload it
  bool verified = false;  // and HAProxy was seen routing to the previous colour again
  std::string text;       // what happened, for the user
};

// Puts the backed-up config back and reloads.
Restore restore_previous(Services& services, const config::AppConfig& app, Color previous) {
  const auto& lb = app.load_balancer;
  const std::string cfg = shell_quote(lb.haproxy_config);
  const auto reloads = current_reloads(services, app);
  Restore outcome;
  auto restored = on_lb(services, app,
                        "set -e; cp -p " + shell_quote(lb.haproxy_config + ".bluegreen-backup") + " " +
                            shell_quote(lb.haproxy_config + ".bluegreen-restore") + "; mv -f " +
                            shell_quote(lb.haproxy_config + ".bluegreen-restore") + " " + cfg + "; sync " + cfg);
  if (!restored || !restored->succeeded()) {
    outcome.text = "restoring the previous config failed too (" +
                   (restored ? output_of(*restored) : restored.error().message) + ")";
    return outcome;
  }
  outcome.restored = true;
  auto reload = on_lb(services, app, lb_reload_command(app));
  if (!reload || !reload->succeeded()) {
    outcome.text = "the previous config was restored, but reloading HAProxy failed (" +
                   (reload ? output_of(*reload) : reload.error().message) + ")";
    return outcome;
  }
  outcome.reloaded = true;
  const auto check = verify_routing(services, app, previous, reloads, {});
  outcome.verified = check.ok;
  outcome.text = check.ok ? "the previous config was restored and HAProxy verified routing to " +
                                state::to_upper_string(previous) + " again (" + check.detail + ")"
                          : "the previous config was restored and HAProxy reloaded, but verification failed: " +
                                check.detail;
  return outcome;
}

SwitchOutcome refused(const std::string& why, const SwitchPlan& plan) {
  SwitchOutcome outcome;
  outcome.text = "❌ TRAFFIC SWITCH NOT DONE: " + why + "\n\nNothing was changed: HAProxy still routes to " +
                 state::to_upper_string(plan.from) + ".";
  outcome.structured = {{"switched", false}, {"rolledBack", false}, {"app", plan.app}, {"from", state::to_string(plan.from)},
                        {"to", state::to_string(plan.to)}, {"error", why}};
  return outcome;
}

}  // namespace

bluegreen::Result<PlanView> plan_switch(Services& services, const config::AppConfig& app, bool emergency) {
  const auto store = store_for(services.executor, app);
  auto snapshot_future = std::async(std::launch::async, [&] { return read_lb_snapshot(services.executor, app, store); });
  auto frontend_probe = std::async(std::launch::async, [&] { return probe_frontend(services, app); });
  HostStatus blue_info, green_info;
  auto blue_commit = std::async(std::launch::async, [&] {
    fill_deployed_commit(services, app.blue, app.load_balancer.command_timeout, blue_info);
  });
  auto green_commit = std::async(std::launch::async, [&] {
    fill_deployed_commit(services, app.green, app.load_balancer.command_timeout, green_info);
  });
  const auto snapshot = snapshot_future.get();
  blue_commit.get();
  green_commit.get();

  if (!snapshot.live) return Error{snapshot.live_problem + ". A switch needs to know what is live; nothing was changed."};
  if (snapshot.state_status == StateFileStatus::kCorrupt || snapshot.state_status == StateFileStatus::kUnreadable) {
    return Error{snapshot.state_problem};
  }
  if (const auto mismatch = frontend_mismatch(app, snapshot, settle_frontend(services, app, snapshot, frontend_probe.get()));
      !mismatch.empty()) {
    return Error{mismatch};
  }
  PlanView view;
  view.plan = SwitchPlan{app.name, *snapshot.live, state::other(*snapshot.live), snapshot.generation(), emergency};
  view.line_now = snapshot.selection->line;
  view.line_number = snapshot.selection->line_number;
  auto rewritten = haproxy::rewrite_live_backend(*snapshot.haproxy_text, selector_of(app), backend_of(app, view.plan.to));
  if (!rewritten) return Error{"cannot prepare the HAProxy change: " + rewritten.error().message};
  // The rewritten line, for showing the human exactly what changes.
  std::istringstream lines(*rewritten);
  std::string line;
  for (std::size_t n = 1; std::getline(lines, line); ++n) {
    if (n == view.line_number) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      view.line_after = line;
      break;
    }
  }
  const auto& standby_info = view.plan.to == Color::kBlue ? blue_info : green_info;
  view.standby_commit = standby_info.deployed_commit;
  view.next_switch_number = (snapshot.state ? snapshot.state->switch_count : 0) + 1;

  if (emergency) {  // health is shown, not required
    const auto& host = view.plan.to == Color::kBlue ? app.blue : app.green;
    view.standby_health = services.probe(host.health_url, app.health_gate.request_timeout);
    return view;
  }
  const auto gate = check_standby(services, app, view.plan.to, {});
  view.standby_health = gate.last;
  if (!gate.passed) {
    return Error{"Cannot switch traffic: STANDBY " + state::to_upper_string(view.plan.to) + " is not healthy (" + gate.reason +
                 "). Fix or redeploy it (deploy_to_standby), or, only to roll back from a broken PROD, use "
                 "emergency=true."};
  }
  return view;
}

json plan_json(const config::AppConfig& app, const PlanView& view) {
  const auto& to_host = view.plan.to == Color::kBlue ? app.blue : app.green;
  const auto& from_host = view.plan.from == Color::kBlue ? app.blue : app.green;
  return {{"app", app.name},
          {"from", {{"server", state::to_upper_string(view.plan.from)}, {"ip", from_host.address}}},
          {"to", {{"server", state::to_upper_string(view.plan.to)}, {"ip", to_host.address}}},
          {"haproxy", {{"config", app.load_balancer.haproxy_config}, {"lineNumber", view.line_number},
                       {"now", view.line_now}, {"after", view.line_after}}},
          {"standby", {{"healthy", view.standby_health.healthy()}, {"health", view.standby_health.summary()},
                       {"version", view.standby_health.version ? json(*view.standby_health.version) : json(nullptr)},
                       {"commit", view.standby_commit ? json(*view.standby_commit) : json(nullptr)}}},
          {"emergency", view.plan.emergency},
          {"stateGeneration", view.plan.generation},
          {"switchNumber", view.next_switch_number}};
}

std::string approval_request_text(const config::AppConfig& app, const PlanView& view, const std::string& token,
                                  std::chrono::milliseconds ttl) {
  const auto& to_host = view.plan.to == Color::kBlue ? app.blue : app.green;
  const auto& from_host = view.plan.from == Color::kBlue ? app.blue : app.green;
  std::ostringstream out;
  out << "⚠️ TRAFFIC SWITCH APPROVAL REQUIRED" << (view.plan.emergency ? " (EMERGENCY MODE)" : "") << " — app "
      << app.name << "\n\n"
      << "Current PROD: " << state::to_upper_string(view.plan.from) << " (" << from_host.address << ")\n"
      << "New PROD: " << state::to_upper_string(view.plan.to) << " (" << to_host.address << ") — "
      << (view.standby_health.healthy() ? "✅ healthy" : "❌ NOT healthy") << ", " << view.standby_health.summary();
  if (view.standby_commit) out << ", deployed commit " << short_commit(*view.standby_commit);
  out << "\n\nHAProxy " << app.load_balancer.haproxy_config << " line " << view.line_number << ":\n"
      << "  now:   " << trim_blanks(view.line_now) << "\n"
      << "  after: " << trim_blanks(view.line_after) << "\n\n"
      << "This will:\n"
      << "1. Validate the new HAProxy config (haproxy -c) and switch it in atomically, keeping a backup\n"
      << "2. Reload HAProxy and verify it routes to " << state::to_upper_string(view.plan.to) << " (rolling back automatically if not)\n"
      << "3. Swap PROD/STANDBY roles and record switch #" << view.next_switch_number << " in the state file\n";
  if (view.plan.emergency) out << "Emergency mode: the standby health requirement is skipped.\n";
  out << "\nShow this plan to the human. Only after they explicitly approve it, call switch_traffic with\n"
      << "approvalToken=\"" << token << "\" (single use, valid " << ttl.count() / 1000 << " s, only for this plan).\n"
      << "To cancel, take no action. Never approve on the human's behalf.";
  return out.str();
}

SwitchOutcome execute_switch(Services& services, const config::AppConfig& app, const SwitchPlan& plan,
                             const std::string& client, Reporter& reporter, std::stop_token stop) {
  const auto started = Clock::now();
  const auto& lb = app.load_balancer;
  const auto store = store_for(services.executor, app);
  json timings = json::object();
  // The standby's consecutive probes run while the lock is taken and the live system re-read.
  std::future<GateOutcome> standby_gate;
  if (!plan.emergency) {
    standby_gate = std::async(std::launch::async, [&] { return quick_standby_gate(services, app, plan.to, stop); });
  }

  // 1. The lock: no deploy or other switch of this app can run meanwhile.
  reporter.step(1, kSteps, "step 1/6: taking the lock on " + lb.ssh);
  auto lock = store.lock(client, std::string(plan.emergency ? "emergency " : "") + "switch to " + state::to_upper_string(plan.to),
                         app.lock_wait, stop);
  if (!lock) return refused(lock.error().message, plan);
  timings["lockMs"] = ms_since(started);

  // 2. The plan must still hold.
  reporter.step(2, kSteps, "step 2/6: re-checking the plan against the live system");
  auto frontend_probe = std::async(std::launch::async, [&] { return probe_frontend(services, app); });
  const auto snapshot = read_lb_snapshot(services.executor, app, store);
  if (!snapshot.live) return refused(snapshot.live_problem, plan);
  if (const auto mismatch = frontend_mismatch(app, snapshot, settle_frontend(services, app, snapshot, frontend_probe.get()));
      !mismatch.empty()) {
    return refused(mismatch, plan);
  }
  if (*snapshot.live != plan.from) {
    return refused("the live colour changed since the plan was approved (HAProxy now routes to " +
                       state::to_upper_string(*snapshot.live) + "); the approval is void. Check status and request a new plan.",
                   plan);
  }
  if (snapshot.state_status == StateFileStatus::kCorrupt || snapshot.state_status == StateFileStatus::kUnreadable) {
    return refused(snapshot.state_problem, plan);
  }
  if (snapshot.generation() != plan.generation) {
    return refused("the state file changed since the plan was approved (generation " +
                       std::to_string(snapshot.generation()) + ", plan made at " + std::to_string(plan.generation) +
                       "); the approval is void. Request a new plan.",
                   plan);
  }
  if (lb.master_socket && !snapshot.processes) {
    return refused(snapshot.processes_problem + ". Without HAProxy's master socket a reload cannot be confirmed, so "
                   "nothing was changed. Check HAProxy on " + lb.ssh + ", then request a new plan.",
                   plan);
  }
  auto candidate = haproxy::rewrite_live_backend(*snapshot.haproxy_text, selector_of(app), backend_of(app, plan.to));
  if (!candidate) return refused("cannot prepare the HAProxy change: " + candidate.error().message, plan);

  // The candidate config is written beside the live one and checked (`haproxy -c`) while the
  // standby's probes finish: neither changes anything HAProxy reads, and the check is the slowest
  // part of a switch. Every refusal from here on waits for it and removes the candidate.
  const std::string cfg = lb.haproxy_config;
  const std::string candidate_path = cfg + ".bluegreen-candidate";
  auto placeholders = lb_placeholders(app);
  placeholders["config"] = candidate_path;
  const std::string validate =
      "set -e; cand=" + shell_quote(candidate_path) + "; printf '%s' " + shell_quote(bluegreen::base64_encode(*candidate)) +
      " | base64 -d > \"$cand\"; if ! out=$( { " + remote::substitute_placeholders(lb.validate_command, placeholders) +
      "; } 2>&1 ); then printf '%s\\n' \"$out\"; rm -f \"$cand\"; exit " + std::to_string(kCandidateInvalidExit) + "; fi";
  const auto validate_started = Clock::now();
  auto validation = std::async(std::launch::async, [&services, &app, validate] { return on_lb(services, app, validate); });
  // Best effort: HAProxy never reads the candidate, and the next switch overwrites it.
  const auto remove_candidate = [&] { (void)on_lb(services, app, "rm -f " + shell_quote(candidate_path)); };
  const auto refused_before_swap = [&](const std::string& why) {
    auto checked = validation.get();
    // An invalid candidate was removed by the check itself; otherwise it may be on the LB (or its
    // writing was cut off).
    if (!checked || checked->exit_status != kCandidateInvalidExit) remove_candidate();
    return refused(why, plan);
  };

  if (!plan.emergency) {
    if (const auto problem = standby_problem_now(app, snapshot, plan.to, standby_gate.get()); !problem.empty()) {
      return refused_before_swap("STANDBY " + state::to_upper_string(plan.to) + " is not healthy now (" + problem +
                                 "). Use emergency=true only to roll back from a broken PROD.");
    }
  }
  if (stop.stop_requested()) return refused_before_swap("cancelled");

  // The new state, written beside the old one now: a full or read-only disk stops us here.
  state::DeploymentState next = snapshot.state.value_or(state::DeploymentState{});
  if (!snapshot.state) next.prod = plan.from;  // a missing file starts from HAProxy's truth
  const std::string timestamp = state::utc_timestamp();
  next.prod = plan.to;
  next.switch_count += 1;
  next.last_switch = timestamp;
  state::SwitchRecord record;
  record.timestamp = timestamp;
  record.from = plan.from;
  record.to = plan.to;
  record.emergency = plan.emergency;
  record.extra["client"] = client;
  next.history.push_back(record);
  next.trim(app.history_limit);
  next.generation = snapshot.generation() + 1;
  auto prepared = store.prepare(**lock, next, snapshot.generation());
  if (!prepared) return refused_before_swap(prepared.error().message);
  timings["checksMs"] = ms_since(started);

  // 3. Validate the candidate and swap it in atomically (keeping a backup), unless the live file
  // changed under us.
  reporter.step(3, kSteps, "step 3/6: validating the new HAProxy config and switching it in");
  auto validated = validation.get();
  if (!validated || !validated->succeeded()) {
    store.discard(*prepared);
    if (validated && validated->exit_status == kCandidateInvalidExit) {
      return refused("the new HAProxy config failed validation (" + lb.validate_command + "):\n" +
                         output_of(*validated) + "\nThe live config is untouched.",
                     plan);
    }
    remove_candidate();
    return refused("checking the new HAProxy config failed: " +
                       (validated ? output_of(*validated) : validated.error().message) + " (the live config is untouched)",
                   plan);
  }
  // Swapped in atomically (keeping a backup), unless the live file changed under us.
  const std::string swap =
      "set -e; cfg=" + shell_quote(cfg) + "; cand=" + shell_quote(candidate_path) + "; if ! printf '%s' " +
      shell_quote(bluegreen::base64_encode(*snapshot.haproxy_text)) + " | base64 -d | cmp -s - \"$cfg\"; then rm -f \"$cand\"; exit " +
      std::to_string(kLiveConfigChangedExit) +
      "; fi; cp -p \"$cfg\" \"$cfg.bluegreen-backup\"; sync \"$cfg.bluegreen-backup\"; mv -f \"$cand\" \"$cfg\"; sync \"$cfg\"";
  std::optional<int> reloads_before;
  if (snapshot.processes) reloads_before = snapshot.processes->reloads;
  auto swapped = on_lb(services, app, swap);
  if (!swapped || !swapped->succeeded()) {
    store.discard(*prepared);
    if (swapped && swapped->exit_status == kLiveConfigChangedExit) {
      return refused(cfg + " changed on the load balancer while the switch was being prepared; request a new plan", plan);
    }
    remove_candidate();
    return refused("installing the new HAProxy config failed: " +
                       (swapped ? output_of(*swapped) : swapped.error().message) + " (the live config is untouched)",
                   plan);
  }
  timings["validateAndSwapMs"] = ms_since(validate_started);

  // 4. Reload: new connections go to the new backend; open ones finish on the old workers.
  reporter.step(4, kSteps, "step 4/6: reloading HAProxy");
  const auto reload_started = Clock::now();
  auto reload = on_lb(services, app, lb_reload_command(app));
  std::string failure;
  if (!reload || !reload->succeeded()) {
    failure = "reloading HAProxy failed: " + (reload ? output_of(*reload) : reload.error().message);
  }

  // 5. Verify what HAProxy does now.
  Verification verification;
  if (failure.empty()) {
    reporter.step(5, kSteps, "step 5/6: verifying HAProxy routes to " + state::to_upper_string(plan.to));
    verification = verify_routing(services, app, plan.to, reloads_before, stop, plan.emergency);
    if (!verification.ok) failure = "verification after the reload failed: " + verification.detail;
  }
  timings["reloadAndVerifyMs"] = ms_since(reload_started);

  // 6. Record it, or put everything back.
  std::string state_problem;
  if (failure.empty()) {
    reporter.step(6, kSteps, "step 6/6: recording switch #" + std::to_string(next.switch_count));
    if (auto committed = store.commit(**lock, *prepared); !committed) {
      state_problem = committed.error().message;
      failure = "the state file could not be updated (" + state_problem + ")";
    }
  }
  if (!failure.empty()) {
    store.discard(*prepared);
    const Restore restore = restore_previous(services, app, plan.from);
    (void)store.audit({plan.emergency ? "emergency-switch" : "switch", client,
                       restore.reloaded ? "rolled-back" : "rollback-failed",
                       {{"from", state::to_string(plan.from)}, {"to", state::to_string(plan.to)}, {"error", failure},
                        {"restore", restore.text}}});
    SwitchOutcome outcome;
    outcome.rolled_back = restore.reloaded;
    const std::string previous = state::to_upper_string(plan.from);
    if (restore.verified) {
      outcome.text = "❌ TRAFFIC SWITCH FAILED AND WAS ROLLED BACK: " + failure + ".\n\nThen " + restore.text +
                     ".\nThe state file still records PROD=" + previous + ". Check get_deployment_status before trying again.";
    } else if (restore.reloaded) {
      outcome.text = "❌ TRAFFIC SWITCH FAILED; THE ROLLBACK IS NOT VERIFIED: " + failure + ".\n\nThen " + restore.text +
                     ".\nThe state file still records PROD=" + previous +
                     ". Run get_deployment_status now: it shows which colour HAProxy routes to and any drift.";
    } else {
      outcome.text = "❌ TRAFFIC SWITCH FAILED AND THE ROLLBACK FAILED — ACTION NEEDED: " + failure + ".\n\nThen " +
                     restore.text + ".\n\nWhat HAProxy serves now is uncertain: " + lb.haproxy_config + " on " + lb.ssh +
                     (restore.restored ? " selects " + previous + " again, but HAProxy may still run the config selecting " +
                                             state::to_upper_string(plan.to)
                                       : " may select " + state::to_upper_string(plan.to) +
                                             ", and HAProxy may or may not have reloaded it") +
                     ". The state file was not changed and records PROD=" + previous +
                     ".\n\nNext: once " + lb.ssh + " is reachable, run get_deployment_status; it reports what HAProxy routes "
                     "to and how the state file differs. To put " + previous + " back by hand: on " + lb.ssh + ", cp -p " +
                     lb.haproxy_config + ".bluegreen-backup " + lb.haproxy_config + " and reload HAProxy (" +
                     lb_reload_command(app) + ").";
    }
    outcome.structured = {{"switched", false}, {"rolledBack", restore.reloaded}, {"rollbackVerified", restore.verified},
                          {"app", app.name}, {"from", state::to_string(plan.from)}, {"to", state::to_string(plan.to)},
                          {"error", failure}, {"restore", restore.text}};
    return outcome;
  }
  timings["totalMs"] = ms_since(started);
  if (auto audited = store.audit({plan.emergency ? "emergency-switch" : "switch", client, "ok",
                                  {{"from", state::to_string(plan.from)}, {"to", state::to_string(plan.to)},
                                   {"switchCount", next.switch_count}}});
      !audited) {
    reporter.note("warning: " + audited.error().message);
  }

  const auto& to_host = plan.to == Color::kBlue ? app.blue : app.green;
  const auto& from_host = plan.from == Color::kBlue ? app.blue : app.green;
  SwitchOutcome outcome;
  outcome.switched = true;
  std::ostringstream text;
  text << "✅ TRAFFIC SWITCH COMPLETE!" << (plan.emergency ? " (emergency mode)" : "") << "\n\n"
       << "New PROD: " << state::to_upper_string(plan.to) << " (" << to_host.address << ")\n"
       << "New STANDBY: " << state::to_upper_string(plan.from) << " (" << from_host.address << ")\n\n"
       << "Switch #" << next.switch_count << " completed at " << timestamp << " in " << timings["totalMs"].get<long long>()
       << " ms\nVerified: " << verification.detail << "\n";
  if (lb.public_url) text << "\nProduction URL: " << *lb.public_url;
  if (lb.stats_url) text << "\nHAProxy Stats: " << *lb.stats_url;
  text << "\n\nTo roll back, call switch_traffic again (a new approval is needed).";
  outcome.text = text.str();
  outcome.structured = {{"switched", true},
                        {"rolledBack", false},
                        {"app", app.name},
                        {"from", state::to_string(plan.from)},
                        {"to", state::to_string(plan.to)},
                        {"prod", {{"server", state::to_upper_string(plan.to)}, {"ip", to_host.address}}},
                        {"standby", {{"server", state::to_upper_string(plan.from)}, {"ip", from_host.address}}},
                        {"switchNumber", next.switch_count},
                        {"completedAt", timestamp},
                        {"emergency", plan.emergency},
                        {"verified", verification.detail},
                        {"timings", timings}};
  return outcome;
}

}  // namespace deployment
