#include "deployment/traffic_switch.h"

#include "common/text.h"
#include "deployment/config_change.h"
#include "deployment/config_swap.h"
#include "deployment/frontend_check.h"
#include "deployment/lb_scripts.h"
#include "deployment/lb_snapshot.h"
#include "deployment/live_confirmation.h"
#include "deployment/map_switch.h"
#include "deployment/routing_check.h"
#include "deployment/standby_gate.h"
#include "deployment/step_progress.h"
#include "deployment/switch_recovery.h"

#include <exception>
#include <future>
#include <optional>
#include <unistd.h>

namespace bluegreen::deployment {
namespace {

using nlohmann::json;
using state::Color;

enum SwitchStep : std::size_t { kLock, kRecheck, kSwap, kReload, kVerify, kRecord };

std::string output_of(const remote::CommandResult& result) { return command_output(result); }
std::string output_of(const bluegreen::Result<remote::CommandResult>& result) { return command_output(result); }

bluegreen::Result<remote::CommandResult> on_lb(Services& services, const config::AppConfig& app,
                                               const std::string& command) {
  return run_on_lb(services.executor, app, command);
}

// The state after the switch: `snapshot`'s state (or, with no file yet, HAProxy's truth) with
// the roles swapped, the count bumped and the switch in the history (and an interrupted deploy
// found on the way, so it is not forgotten when the activity record is removed).
state::DeploymentState next_state(const config::AppConfig& app, const LbSnapshot& snapshot, const SwitchPlan& plan,
                                  const std::string& client) {
  state::DeploymentState next = snapshot.state.value_or(state::DeploymentState{});
  if (const auto deploy = interrupted_deploy_of(snapshot)) next.deploys.push_back(interrupted_deploy_record(*deploy));
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
  return next;
}

// Why the snapshot taken under the lock no longer supports `plan` ("" when it still does), and
// the colour HAProxy is then known to route to (nullopt: not known).
struct PlanCheck {
  std::string why;
  std::optional<Color> routes_to;
};

PlanCheck plan_no_longer_holds(Services& services, const config::AppConfig& app, const SwitchPlan& plan,
                               const LbSnapshot& snapshot, std::optional<FrontendView> frontend) {
  if (!snapshot.live) return {snapshot.live_problem, std::nullopt};
  if (auto mismatch = frontend_mismatch(app, snapshot, settle_frontend(services, app, snapshot, std::move(frontend)));
      !mismatch.empty()) {
    return {mismatch, std::nullopt};
  }
  if (*snapshot.live != plan.from) {
    return {"the live colour changed since the plan was approved (HAProxy now routes to " +
                state::to_upper_string(*snapshot.live) +
                "); the approval is void. Check status and request a new plan.",
            snapshot.live};
  }
  if (snapshot.state_status == StateFileStatus::kCorrupt || snapshot.state_status == StateFileStatus::kUnreadable) {
    return {snapshot.state_problem, plan.from};
  }
  if (snapshot.generation() != plan.generation) {
    return {"the state file changed since the plan was approved (generation " + std::to_string(snapshot.generation()) +
                ", plan made at " + std::to_string(plan.generation) + "); the approval is void. Request a new plan.",
            plan.from};
  }
  if (app.load_balancer.master_socket && !snapshot.processes) {
    return {snapshot.processes_problem +
                ". Without HAProxy's master socket a reload cannot be confirmed, so nothing was "
                "changed. Check HAProxy on " +
                app.load_balancer.ssh + ", then request a new plan.",
            plan.from};
  }
  return {"", plan.from};
}

// One execution of an approved plan. Each step returns the outcome that ends the switch, or
// nothing to go on to the next.
class SwitchRun {
 public:
  SwitchRun(Services& services, const config::AppConfig& app, const SwitchPlan& plan, const std::string& client,
            Reporter& reporter, std::stop_token stop)
      : services_(services),
        app_(app),
        plan_(plan),
        client_(client),
        reporter_(reporter),
        stop_(std::move(stop)),
        store_(store_for(services.executor, app)),
        steps_(reporter, switch_steps()),
        started_(services.time.now()) {}

  SwitchRun(const SwitchRun&) = delete;
  SwitchRun& operator=(const SwitchRun&) = delete;

  SwitchOutcome run() {
    auto outcome = run_steps();
    settle_activity(outcome);
    if (!recovered_.empty()) {
      outcome.text = "Before the switch, " + recovered_ + ".\n\n" + outcome.text;
      outcome.structured["recoveredInterruptedSwitch"] = recovered_;
    }
    return outcome;
  }

 private:
  SwitchOutcome run_steps() {
    if (auto ended = take_lock()) return *ended;
    if (auto ended = recheck_plan()) return *ended;
    if (auto ended = stage_candidate()) return *ended;
    if (auto ended = swap_config()) return *ended;
    std::string failure;
    try {
      failure = reload_and_verify();
      if (failure.empty()) failure = record_switch();
    } catch (const std::exception& bug) {
      // A bug must not leave the new config live with nothing recorded: put the old one back
      // first. If it struck while the state file was being replaced, that file is uncertain.
      state_uncertain_ = recording_;
      failure = std::string("internal error (a bug in bluegreen-mcp; please report it): ") + bug.what();
    }
    if (!failure.empty()) return roll_back(failure);
    return completed();
  }

  std::optional<SwitchOutcome> take_lock();
  std::optional<SwitchOutcome> recheck_plan();
  std::optional<SwitchOutcome> recover_interrupted_switch();
  [[nodiscard]] bool standby_checks_in_transition() const;
  void write_activity();
  void settle_activity(const SwitchOutcome& outcome);
  std::optional<SwitchOutcome> stage_candidate();
  std::optional<SwitchOutcome> swap_config();
  std::string reload_and_verify();
  std::string record_switch();
  SwitchOutcome roll_back(const std::string& failure);
  RollbackReport restore_previous();
  SwitchOutcome completed();

  // A refusal under the lock: audited, and HAProxy's routing as far as it is known.
  SwitchOutcome refuse(const std::string& why, std::optional<Color> routes_to);
  SwitchOutcome refuse(const std::string& why) { return refuse(why, plan_.from); }
  // A refusal once the candidate may be on the LB: waits for its check, then removes it.
  SwitchOutcome refuse_before_swap(const std::string& why);
  void remove_candidate() { remove_candidates(services_, app_, change_); }  // best effort
  SwitchOutcome swap_failed(const SwapOutcome& swapped);
  [[nodiscard]] std::string validate_text() const;
  std::string audit(const std::string& outcome, json details);

  Services& services_;
  const config::AppConfig& app_;
  const SwitchPlan& plan_;
  const std::string& client_;
  Reporter& reporter_;
  std::stop_token stop_;
  state::StateStore store_;
  StepProgress steps_;
  TimeSource::TimePoint started_;
  json timings_ = json::object();

  std::future<StandbyGate> standby_gate_;
  std::unique_ptr<state::AppLock> lock_;
  LbSnapshot snapshot_;
  ConfigChange change_;      // what the switch changes in HAProxy's configuration
  std::size_t swapped_ = 0;  // how many of change_.edits were replaced (all once the swap step succeeded)
  std::future<bluegreen::Result<remote::CommandResult>> validation_;
  state::DeploymentState next_;
  std::optional<state::StateStore::PreparedWrite> prepared_;
  std::string verified_;
  bool cancelled_ = false;        // the failure after the swap was a cancellation
  bool state_uncertain_ = false;  // the state file was replaced but not confirmed
  bool recording_ = false;        // the state file is being (or was) replaced
  // The activity record (activity_record.h): written before the swap; what it replaced (an
  // interrupted deploy's record, put back when this switch records nothing); kept when the user
  // must act.
  std::future<bluegreen::Result<remote::CommandResult>> activity_write_;
  bool activity_written_ = false;
  std::optional<Activity> replaced_activity_;
  bool keep_activity_ = false;
  std::string recovered_;                  // what rolling back an interrupted switch did, when one was found
  std::unique_ptr<OwnActivityGuard> own_;  // status knows this switch runs, while it does
  TimeSource::TimePoint validation_started_;
  // The futures run lambdas that read services_, app_, plan_ and stop_ (declared above, so alive
  // until the futures are joined); validation_ is declared after lock_, so it is joined before
  // the lock is released.
};

std::optional<SwitchOutcome> SwitchRun::take_lock() {
  // The standby's consecutive probes run while the lock is taken and the live system re-read.
  if (!plan_.emergency) {
    standby_gate_ =
        std::async(std::launch::async, [this] { return execution_standby_gate(services_, app_, plan_.to, stop_); });
  }
  steps_.begin(kLock, " on " + app_.load_balancer.ssh);
  auto lock =
      store_.lock(client_,
                  std::string(plan_.emergency ? "emergency " : "") + "switch to " + state::to_upper_string(plan_.to),
                  app_.lock_wait, stop_);
  if (!lock) return switch_refused(lock.error().message, plan_, plan_.from);
  lock_ = std::move(lock.value());
  timings_["lockMs"] = services_.time.ms_since(started_);
  return std::nullopt;
}

std::optional<SwitchOutcome> SwitchRun::recheck_plan() {
  steps_.begin(kRecheck);
  auto frontend = std::async(std::launch::async, [this] { return probe_frontend(services_, app_); });
  snapshot_ = read_lb_snapshot(services_.executor, app_, store_, SnapshotOptions{true, true});
  if (interrupted_switch(snapshot_)) {
    if (snapshot_.activity->since != plan_.recovers) {
      return refuse("an interrupted switch was found (" + snapshot_.activity->describe() +
                        ") that the approved plan did not include, so nothing was changed. Request a new plan: it "
                        "shows how the interrupted switch is rolled back first.",
                    std::nullopt);
    }
    if (auto ended = recover_interrupted_switch()) return ended;
    frontend = std::async(std::launch::async, [this] { return probe_frontend(services_, app_); });
  }
  if (const auto problem = standby_deploy_problem(snapshot_, plan_.to); !problem.empty() && !plan_.emergency) {
    return refuse(problem);
  }
  if (const auto check = plan_no_longer_holds(services_, app_, plan_, snapshot_, frontend.get()); !check.why.empty()) {
    return refuse(check.why, check.routes_to);
  }
  auto change = plan_config_change(app_, snapshot_, plan_.to);
  if (!change) return refuse("cannot prepare the HAProxy change: " + change.error().message);
  change_ = std::move(change.value());
  return std::nullopt;
}

// A switch whose server died before it finished is rolled back first (switch_recovery.h), so this
// one starts from the config its plan was made from; then the live system is read again.
std::optional<SwitchOutcome> SwitchRun::recover_interrupted_switch() {
  reporter_.note("an interrupted switch was found (" + snapshot_.activity->describe() + "); rolling it back first");
  const auto recovery = roll_back_interrupted_switch(services_, app_, snapshot_, plan_.emergency);
  const json details{{"interrupted", snapshot_.activity->to_json()}, {"result", recovery.text}};
  (void)store_.audit({"recover-interrupted-switch", client_, recovery.ok ? "rolled-back" : "failed", details});
  if (!recovery.ok) {
    keep_activity_ = true;
    return refuse("ACTION NEEDED: " + recovery.text, std::nullopt);
  }
  recovered_ = recovery.text;
  // The interrupted switch's record is done with; what it replaced (an interrupted deploy) stays.
  auto replaced = parse_activity(snapshot_.activity->replaced);
  (void)on_lb(services_, app_, replaced ? write_activity_script(app_, *replaced) : remove_activity_script(app_));
  // The reload restarted HAProxy's health checks: give its view of the standby a moment to settle
  // ("UP 1/2" is a transition) before the checks below judge it.
  const auto settle_until = services_.time.now() + std::chrono::seconds(10);
  do {
    snapshot_ = read_lb_snapshot(services_.executor, app_, store_, SnapshotOptions{true, true});
  } while (standby_checks_in_transition() && services_.time.now() < settle_until &&
           services_.time.sleep_for(std::chrono::milliseconds(250), stop_));
  return std::nullopt;
}

bool SwitchRun::standby_checks_in_transition() const {
  if (!snapshot_.servers) return false;
  for (const auto& server : *snapshot_.servers) {
    if (server.backend == backend_of(app_, plan_.to) && server.server != "BACKEND" &&
        server.status.find('/') != std::string::npos) {
      return true;
    }
  }
  return false;
}

// What a server that dies from here on leaves behind: which switch, from which state generation
// and reload count. Written while the candidate is checked; the swap waits for it.
void SwitchRun::write_activity() {
  Activity activity;
  activity.kind = ActivityKind::kSwitch;
  activity.app = app_.name;
  activity.client = client_;
  activity.since = state::utc_timestamp();
  activity.server_pid = ::getpid();
  activity.step = "validating the new HAProxy config and switching it in";
  activity.step_since = activity.since;
  activity.from = plan_.from;
  activity.color = plan_.to;
  activity.generation = snapshot_.generation();
  if (snapshot_.processes) {
    activity.reloads_before = snapshot_.processes->reloads;
    activity.master_pid = snapshot_.processes->master_pid;
  }
  for (const auto& edit : change_.edits) activity.config_files.push_back(edit.file);
  if (auto deploy = interrupted_deploy_of(snapshot_)) {
    replaced_activity_ = deploy;
    activity.replaced = deploy->to_json().dump();
  }
  own_ = std::make_unique<OwnActivityGuard>(*services_.own_activities, app_.name, activity.since);
  activity_write_ = std::async(std::launch::async, [this, script = write_activity_script(app_, activity)] {
    return on_lb(services_, app_, script);
  });
}

// The record goes once the switch has ended, unless the user must act (then it tells the next
// status what happened); an interrupted deploy it replaced is put back unless the state file now
// records it.
void SwitchRun::settle_activity(const SwitchOutcome& outcome) {
  if (activity_write_.valid()) {
    const auto written = activity_write_.get();
    activity_written_ = written && written->succeeded();
  }
  if (!activity_written_ || keep_activity_) return;
  const bool state_has_deploy = outcome.switched;
  (void)on_lb(services_, app_,
              replaced_activity_ && !state_has_deploy ? write_activity_script(app_, *replaced_activity_)
                                                      : remove_activity_script(app_));
}

// The candidate config is written beside the live one and checked (`haproxy -c`) while the
// standby's probes finish: neither changes anything HAProxy reads, and the check is the slowest
// part of a switch. The new state is written beside the old one too: a full or read-only disk
// stops the switch here.
std::optional<SwitchOutcome> SwitchRun::stage_candidate() {
  validation_started_ = services_.time.now();
  write_activity();
  validation_ = std::async(std::launch::async, [this] { return stage_candidates(services_, app_, change_); });
  if (!plan_.emergency) {
    const auto gate = standby_gate_.get();
    if (stop_.stop_requested()) return refuse_before_swap("cancelled");  // the gate's verdict would be "cancelled"
    if (const auto problem = standby_problem_now(app_, snapshot_, plan_.to, gate); !problem.empty()) {
      return refuse_before_swap("STANDBY " + state::to_upper_string(plan_.to) + " is not healthy now (" + problem +
                                "). Use emergency=true only to roll back from a broken PROD.");
    }
  }
  if (stop_.stop_requested()) return refuse_before_swap("cancelled");
  next_ = next_state(app_, snapshot_, plan_, client_);
  auto prepared = store_.prepare(*lock_, next_, snapshot_.generation());
  if (!prepared) return refuse_before_swap(prepared.error().message);
  prepared_ = std::move(prepared.value());
  timings_["checksMs"] = services_.time.ms_since(started_);
  return std::nullopt;
}

SwitchOutcome SwitchRun::refuse_before_swap(const std::string& why) {
  const auto checked = validation_.get();
  // An invalid candidate was removed by the check itself; otherwise it may be on the LB (or its
  // writing was cut off).
  if (!checked || checked->exit_status != kCandidateInvalidExit) remove_candidate();
  if (prepared_) store_.discard(*prepared_);
  return refuse(why);
}

SwitchOutcome SwitchRun::refuse(const std::string& why, std::optional<Color> routes_to) {
  auto outcome = switch_refused(why, plan_, routes_to);
  if (const auto problem =
          audit("refused",
                {{"from", state::to_string(plan_.from)}, {"to", state::to_string(plan_.to)}, {"error", why}});
      !problem.empty()) {
    outcome.structured["auditProblem"] = problem;
  }
  return outcome;
}

std::optional<SwitchOutcome> SwitchRun::swap_config() {
  steps_.begin(kSwap);
  const auto validated = validation_.get();
  const auto recorded = activity_write_.get();
  activity_written_ = recorded && recorded->succeeded();
  if (stop_.stop_requested()) {  // cancelled while `haproxy -c` ran: the live config is still untouched
    store_.discard(*prepared_);
    if (!validated || validated->exit_status != kCandidateInvalidExit) remove_candidate();
    return refuse("cancelled");
  }
  if (!validated || !validated->succeeded()) {
    store_.discard(*prepared_);
    if (validated && validated->exit_status == kCandidateInvalidExit) {
      remove_candidate();  // the others (the invalid one was removed by its check)
      return refuse("the new HAProxy config failed validation (" + validate_text() + "):\n" + output_of(*validated) +
                    "\nThe live config is untouched.");
    }
    if (validated && validated->exit_status == state::kSymlinkRefusedExit) {  // nothing was written
      return refuse(output_of(*validated) + " The live config is untouched.");
    }
    remove_candidate();
    return refuse("checking the new HAProxy config failed: " + output_of(validated) +
                  " (the live config is untouched)");
  }
  if (!activity_written_) {
    store_.discard(*prepared_);
    remove_candidate();
    return refuse("cannot write the switch's activity record " + activity_path(app_) +
                  " (without it, a switch cut off halfway could not be recognised): " + output_of(recorded) +
                  ". The live config is untouched.");
  }
  const auto swapped = swap_edits(services_, app_, change_);
  swapped_ = swapped.swapped;
  if (!swapped.ok()) return swap_failed(swapped);
  timings_["validateAndSwapMs"] = services_.time.ms_since(validation_started_);
  return std::nullopt;
}

// New connections go to the new backend; open ones finish on the old workers. Returns why it
// failed, or "".
std::string SwitchRun::reload_and_verify() {
  const auto reload_started = services_.time.now();
  if (change_.map_only()) {
    steps_.begin(kReload, " — not needed for a map: updating HAProxy's running map instead");
  } else {
    steps_.begin(kReload);
  }
  std::string failure = apply_change(services_, app_, change_, true);
  timings_["haproxyStepMs"] = services_.time.ms_since(reload_started);
  if (failure.empty()) {
    steps_.begin(kVerify, " " + state::to_upper_string(plan_.to));
    RoutingExpectation expected{plan_.to, std::nullopt, plan_.emergency, change_.files, &change_};
    if (snapshot_.processes) expected.reloads_before = snapshot_.processes->reloads;
    const auto check = verify_routing(services_, app_, expected, stop_);
    cancelled_ = check.cancelled;
    if (check.ok) verified_ = check.detail;
    else if (check.cancelled) failure = check.detail;
    else
      failure = std::string(change_.map_only() ? "verification after the map change failed: "
                                               : "verification after the reload failed: ") +
                check.detail;
  }
  timings_["reloadAndVerifyMs"] = services_.time.ms_since(reload_started);
  return failure;
}

std::string SwitchRun::record_switch() {
  steps_.begin(kRecord, " #" + std::to_string(next_.switch_count));
  recording_ = true;
  if (auto committed = store_.commit(*lock_, *prepared_); !committed) {
    state_uncertain_ = committed.error().code == bluegreen::ErrorCode::kUnknownOutcome;
    return "the state file could not be updated (" + committed.error().message + ")";
  }
  return "";
}

// Puts the backed-up config back, reloads, and verifies the previous routing. Not cancellable:
// stopping halfway back would leave things worse.
RollbackReport SwitchRun::restore_previous() {
  const auto reloads = current_reloads(services_, app_);
  RollbackReport report;
  report.state_uncertain = state_uncertain_;
  for (const auto& edit : change_.edits) report.config_files.push_back(edit.file);
  if (const auto problem = restore_edits(services_, app_, change_, swapped_); !problem.empty()) {
    report.text = "restoring the previous config failed too: " + problem;
    return report;
  }
  report.restored = true;
  if (const auto problem = apply_change(services_, app_, change_, false); !problem.empty()) {
    report.text = "the previous config was restored, but " + problem;
    return report;
  }
  report.reloaded = true;
  const auto check =
      verify_routing(services_, app_, RoutingExpectation{plan_.from, reloads, false, change_.files, &change_}, {});
  report.verified = check.ok;
  report.text = check.ok
                    ? "the previous config was restored and HAProxy verified routing to " +
                          state::to_upper_string(plan_.from) + " again (" + check.detail + ")"
                    : std::string(change_.map_only()
                                      ? "the previous map was restored in its file and in HAProxy's running map, but "
                                        "verification failed: "
                                      : "the previous config was restored and HAProxy reloaded, but verification "
                                        "failed: ") +
                          check.detail;
  return report;
}

// The swap stopped part way (swapped.swapped of the files replaced). Nothing replaced: a refusal.
// Some replaced: rolled back (their backups are this switch's). Not known whether the file it
// stopped at was replaced: nothing is restored (that file's backup may be an older switch's) and
// the user is told what to look at.
SwitchOutcome SwitchRun::swap_failed(const SwapOutcome& swapped) {
  if (swapped.swapped == 0 && !swapped.uncertain) {
    store_.discard(*prepared_);
    remove_candidate();
    if (swapped.live_changed) return refuse(swapped.failure + "; request a new plan");
    if (swapped.symlink) return refuse(swapped.failure + " The live config is untouched.");
    return refuse(swapped.failure + " (the live config is untouched)");
  }
  if (!swapped.uncertain) {
    remove_candidate();  // those of the files not swapped (never read by HAProxy)
    return roll_back(swapped.failure + "; " + std::to_string(swapped.swapped) + " of " +
                     std::to_string(change_.edits.size()) + " files had been replaced");
  }
  store_.discard(*prepared_);
  keep_activity_ = true;
  RollbackReport unknown;
  for (const auto& edit : change_.edits) unknown.config_files.push_back(edit.file);
  const auto& stuck = change_.edits[swapped.swapped].file;
  unknown.text = "whether " + stuck +
                 " was replaced could not be checked, so nothing was restored: " + backup_path(stuck) +
                 " may be an older switch's. Look at " + edited_files(change_) +
                 " first; restore a backup only if its file selects " + state::to_upper_string(plan_.to) +
                 " and the backup selects " + state::to_upper_string(plan_.from);
  auto outcome = switch_rolled_back(app_, plan_, swapped.failure, unknown);
  (void)audit("rollback-failed", {{"from", state::to_string(plan_.from)},
                                  {"to", state::to_string(plan_.to)},
                                  {"error", swapped.failure},
                                  {"restore", unknown.text}});
  return outcome;
}

std::string SwitchRun::validate_text() const {
  std::map<std::string, std::string> candidates;
  for (const auto& edit : change_.edits) {
    if (!edit.is_map) candidates[edit.file] = candidate_path(edit.file);
  }
  return validate_command_for(app_, change_.files, candidates);
}

SwitchOutcome SwitchRun::roll_back(const std::string& failure) {
  store_.discard(*prepared_);  // best effort; harmless when the rename already consumed it
  const RollbackReport rollback = restore_previous();
  // Kept when the file may still hold the new config (the next status and switch then know a switch
  // was left halfway); once the original is back, a reload that did not happen shows as a file
  // HAProxy has not loaded (the restore gives it a new modification time).
  keep_activity_ = !rollback.restored || rollback.state_uncertain;
  auto outcome = switch_rolled_back(app_, plan_, failure, rollback);
  if (cancelled_) {
    // MCP sends no result for a cancelled call, so this log line is what the client sees.
    reporter_.note("switch to " + state::to_upper_string(plan_.to) + " cancelled after the reload: " + rollback.text);
  }
  const auto audit_problem =
      audit(rollback.reloaded ? "rolled-back" : "rollback-failed", {{"from", state::to_string(plan_.from)},
                                                                    {"to", state::to_string(plan_.to)},
                                                                    {"error", failure},
                                                                    {"restore", rollback.text}});
  if (!audit_problem.empty()) {
    outcome.text += "\n\n⚠️ The switch is not in the audit log: " + audit_problem;
    outcome.structured["auditProblem"] = audit_problem;
  }
  return outcome;
}

SwitchOutcome SwitchRun::completed() {
  timings_["totalMs"] = services_.time.ms_since(started_);
  CompletedSwitch done{next_.switch_count,
                       next_.last_switch.value_or(""),
                       timings_["totalMs"].get<long long>(),
                       verified_,
                       timings_,
                       read_colour_sessions(services_.executor, app_, plan_.from),
                       hard_stop_after(snapshot_)};
  auto outcome = switch_completed(app_, plan_, done);
  const auto audit_problem = audit("ok", {{"from", state::to_string(plan_.from)},
                                          {"to", state::to_string(plan_.to)},
                                          {"switchCount", next_.switch_count}});
  if (!audit_problem.empty()) {
    reporter_.note("warning: the switch is not in the audit log: " + audit_problem);
    outcome.text += "\n\n⚠️ The switch is not in the audit log: " + audit_problem;
    outcome.structured["auditProblem"] = audit_problem;
  }
  return outcome;
}

// Appends the outcome to the audit log; returns why that failed, or "".
std::string SwitchRun::audit(const std::string& outcome, json details) {
  auto audited = store_.audit({plan_.emergency ? "emergency-switch" : "switch", client_, outcome, std::move(details)});
  return audited ? "" : audited.error().message;
}

}  // namespace

const std::vector<std::string>& switch_steps() {
  static const std::vector<std::string> steps{"taking the lock",
                                              "re-checking the plan against the live system",
                                              "validating the new HAProxy config and switching it in",
                                              "reloading HAProxy",
                                              "verifying HAProxy routes to",
                                              "recording switch"};
  return steps;
}

SwitchOutcome execute_switch(Services& services, const config::AppConfig& app, const SwitchPlan& plan,
                             const std::string& client, Reporter& reporter, std::stop_token stop) {
  return SwitchRun(services, app, plan, client, reporter, std::move(stop)).run();
}

}  // namespace bluegreen::deployment
