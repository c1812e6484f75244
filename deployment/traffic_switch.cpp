#include "deployment/traffic_switch.h"

#include "deployment/config_swap.h"
#include "deployment/frontend_check.h"
#include "deployment/lb_pair.h"
#include "deployment/lb_scripts.h"
#include "deployment/lb_set.h"
#include "deployment/lb_snapshot.h"
#include "deployment/live_confirmation.h"
#include "deployment/pools.h"
#include "deployment/standby_gate.h"
#include "deployment/step_progress.h"
#include "deployment/switch_checks.h"
#include "deployment/switch_leg.h"
#include "deployment/switch_recovery.h"

#include <exception>
#include <future>
#include <optional>
#include <set>
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

// One execution of an approved plan on every load balancer of the app (one, or a pair: every step
// is taken on each, and any failure after a swap restores all of them). Each step returns the
// outcome that ends the switch, or nothing to go on to the next.
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
        lbs_(services.executor, app),
        steps_(reporter, switch_steps(app.load_balancer.type)),
        started_(services.time.now()) {
    for (std::size_t i = 0; i < lbs_.size(); ++i) {
      legs_.emplace_back();
      legs_.back().index = i;
      legs_.back().view = &lbs_.view(i);
    }
  }

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
  std::optional<SwitchOutcome> recheck_leg(SwitchLeg& leg, std::optional<FrontendView> frontend);
  std::optional<SwitchOutcome> recover_interrupted_switch(SwitchLeg& leg);
  void write_activity(SwitchLeg& leg);
  void settle_activity(const SwitchOutcome& outcome);
  std::optional<SwitchOutcome> stage_candidate();
  std::optional<SwitchOutcome> swap_config();
  std::string reload_and_verify();
  std::string record_switch();
  SwitchOutcome roll_back(const std::string& failure);
  SwitchOutcome completed();

  // A refusal under the lock: audited, and HAProxy's routing as far as it is known.
  SwitchOutcome refuse(const std::string& why, std::optional<Color> routes_to);
  SwitchOutcome refuse(const std::string& why) { return refuse(why, plan_.from); }
  // A refusal once candidates may be on the load balancers: waits for their checks, then removes
  // them and the prepared states.
  SwitchOutcome refuse_before_swap(const std::string& why);
  void remove_candidate(const SwitchLeg& leg) { remove_candidates(services_, *leg.view, leg.change); }
  void discard_prepared();
  SwitchOutcome swap_failed(SwitchLeg& leg, const SwapOutcome& swapped);
  std::string audit(const std::string& outcome, json details);
  [[nodiscard]] std::string where(const SwitchLeg& leg) const { return lbs_.where(leg.index); }
  static std::string product(const SwitchLeg& leg) { return config::product_name(leg.view->load_balancer.type); }

  Services& services_;
  const config::AppConfig& app_;
  const SwitchPlan& plan_;
  const std::string& client_;
  Reporter& reporter_;
  std::stop_token stop_;
  LbSet lbs_;  // every load balancer: views, stores, locks, snapshots (lb_set.h)
  StepProgress steps_;
  TimeSource::TimePoint started_;
  json timings_ = json::object();

  std::future<StandbyGate> standby_gate_;
  std::future<DeployedCommits> standby_commits_;  // a pool's checkouts, read while the gate runs
  std::vector<SwitchLeg> legs_;                   // one per load balancer, in configuration order
  state::DeploymentState next_;
  bool cancelled_ = false;                 // the failure after the swap was a cancellation
  bool state_uncertain_ = false;           // a state file was replaced but not confirmed
  bool recording_ = false;                 // the state files are being (or were) replaced
  std::string recovered_;                  // what rolling back an interrupted switch did, when one was found
  std::string since_;                      // when this switch's activity records say it started
  std::unique_ptr<OwnActivityGuard> own_;  // status knows this switch runs, while it does
  TimeSource::TimePoint validation_started_;
  // The futures run lambdas that read services_, app_, plan_, lbs_ and stop_ (declared above, so
  // alive until the futures are joined); legs_ (holding the validations) is declared after lbs_
  // (holding the locks), so they are joined before the locks are released.
};

std::optional<SwitchOutcome> SwitchRun::take_lock() {
  // The standby's consecutive probes run while the locks are taken and the live system re-read.
  if (!plan_.emergency) {
    standby_gate_ =
        std::async(std::launch::async, [this] { return execution_standby_gate(services_, app_, plan_.to, stop_); });
    if (pool_of(app_, plan_.to).size() > 1) {
      standby_commits_ = std::async(std::launch::async, [this] {
        return read_pool_commits(services_, pool_of(app_, plan_.to), app_.load_balancer.command_timeout);
      });
    }
  }
  std::string on = app_.load_balancer.ssh;
  for (std::size_t i = 1; i < lbs_.size(); ++i) on += ", " + lbs_.ssh(i);
  steps_.begin(kLock, " on " + on);
  if (auto locked =
          lbs_.lock(client_,
                    std::string(plan_.emergency ? "emergency " : "") + "switch to " + state::to_upper_string(plan_.to),
                    app_.lock_wait, stop_);
      !locked) {
    return switch_refused(locked.error().message, plan_, plan_.from);
  }
  timings_["lockMs"] = services_.time.ms_since(started_);
  return std::nullopt;
}

std::optional<SwitchOutcome> SwitchRun::recheck_plan() {
  steps_.begin(kRecheck);
  std::vector<std::future<std::optional<FrontendView>>> frontends;
  for (std::size_t i = 0; i < lbs_.size(); ++i) {
    frontends.push_back(std::async(std::launch::async, [this, i] { return probe_frontend(services_, lbs_.view(i)); }));
  }
  lbs_.read_snapshots(SnapshotOptions{true, true});
  for (auto& leg : legs_) {
    if (auto ended = recheck_leg(leg, frontends[leg.index].get())) return ended;
  }
  if (lbs_.pair() && !pair_live(lbs_.snapshots())) {
    return refuse(pair_divergence(app_, lbs_.snapshots()).front(), std::nullopt);
  }
  if (const auto check = lbs_.generation_sum(); check != plan_.generation) {
    return refuse("the state file changed since the plan was made (generation " + std::to_string(check) +
                  ", plan made at " + std::to_string(plan_.generation) +
                  "); the approval is void. Request a new plan.");
  }
  std::vector<const ConfigChange*> changes;
  for (const auto& leg : legs_) changes.push_back(&leg.change);
  if (auto changed = lines_no_longer_approved(plan_, changes); !changed.empty()) return refuse(changed);
  return std::nullopt;
}

// One load balancer under the lock: an interrupted switch rolled back first, then the plan checked
// against it and its change prepared.
std::optional<SwitchOutcome> SwitchRun::recheck_leg(SwitchLeg& leg, std::optional<FrontendView> frontend) {
  auto& snapshot = lbs_.snapshot(leg.index);
  if (interrupted_switch(snapshot)) {
    if (snapshot.activity->since != plan_.recovers) {
      return refuse(where(leg) + "an interrupted switch was found (" + snapshot.activity->describe() +
                        ") that the approved plan did not include, so nothing was changed. Request a new plan: it "
                        "shows how the interrupted switch is rolled back first.",
                    std::nullopt);
    }
    if (auto ended = recover_interrupted_switch(leg)) return ended;
    frontend = probe_frontend(services_, *leg.view);
  }
  if (const auto problem = standby_deploy_problem(snapshot, plan_.to); !problem.empty() && !plan_.emergency) {
    return refuse(problem);
  }
  // The generation is compared once for all load balancers (recheck_plan).
  if (const auto check =
          plan_no_longer_holds(services_, *leg.view, plan_, snapshot, std::move(frontend), plan_.generation);
      !check.why.empty()) {
    return refuse(where(leg) + check.why, check.routes_to);
  }
  auto change = plan_config_change(*leg.view, snapshot, plan_.to);
  if (!change) return refuse(where(leg) + "cannot prepare the change: " + change.error().message);
  leg.change = std::move(change.value());
  return std::nullopt;
}

// A switch whose server died before it finished is rolled back first (switch_recovery.h), so this
// one starts from the config its plan was made from; then the live system is read again.
std::optional<SwitchOutcome> SwitchRun::recover_interrupted_switch(SwitchLeg& leg) {
  auto& snapshot = lbs_.snapshot(leg.index);
  const auto& view = *leg.view;
  reporter_.note(where(leg) + "an interrupted switch was found (" + snapshot.activity->describe() +
                 "); rolling it back first");
  const auto recovery = roll_back_interrupted_switch(services_, view, snapshot, plan_.emergency);
  const json details{{"interrupted", snapshot.activity->to_json()}, {"result", recovery.text}};
  (void)lbs_.store(leg.index).audit(
      {"recover-interrupted-switch", client_, recovery.ok ? "rolled-back" : "failed", details});
  if (!recovery.ok) {
    leg.keep_activity = true;
    return refuse(where(leg) + "ACTION NEEDED: " + recovery.text, std::nullopt);
  }
  recovered_ += (recovered_.empty() ? "" : "; ") + where(leg) + recovery.text;
  // The interrupted switch's record is done with; what it replaced (an interrupted deploy) stays.
  auto replaced = parse_activity(snapshot.activity->replaced);
  (void)on_lb(services_, view, replaced ? write_activity_script(view, *replaced) : remove_activity_script(view));
  // The reload restarted HAProxy's health checks: the checks below judge a settled view.
  snapshot = read_settled_snapshot(services_, view, lbs_.store(leg.index), plan_.to, stop_);
  return std::nullopt;
}

// What a server that dies from here on leaves behind on each load balancer: which switch, from
// which state generation and reload count. Written while the candidate is checked; the swap waits
// for it.
void SwitchRun::write_activity(SwitchLeg& leg) {
  const auto& snapshot = lbs_.snapshot(leg.index);
  auto activity = switch_activity(app_, plan_, client_, snapshot, leg.change);
  if (since_.empty()) since_ = activity.since;
  activity.since = activity.step_since = since_;  // one switch: the same on every load balancer
  if (auto deploy = interrupted_deploy_of(snapshot)) leg.replaced_activity = deploy;
  if (!own_) own_ = std::make_unique<OwnActivityGuard>(*services_.own_activities, app_.name, activity.since);
  leg.activity_write =
      std::async(std::launch::async, [this, view = leg.view, script = write_activity_script(*leg.view, activity)] {
        return on_lb(services_, *view, script);
      });
}

// The records go once the switch has ended, unless the user must act (then they tell the next
// status what happened); an interrupted deploy a record replaced is put back unless the state file
// now records it.
void SwitchRun::settle_activity(const SwitchOutcome& outcome) {
  for (auto& leg : legs_) {
    if (leg.activity_write.valid()) {
      const auto written = leg.activity_write.get();
      leg.activity_written = written && written->succeeded();
    }
    if (!leg.activity_written || leg.keep_activity) continue;
    const bool state_has_deploy = outcome.switched;
    (void)on_lb(services_, *leg.view,
                leg.replaced_activity && !state_has_deploy ? write_activity_script(*leg.view, *leg.replaced_activity)
                                                           : remove_activity_script(*leg.view));
  }
}

// The candidate configs are written beside the live ones and checked (`haproxy -c`) while the
// standby's probes finish: neither changes anything HAProxy reads, and the check is the slowest
// part of a switch. The new state is written beside the old one on each load balancer too: a full
// or read-only disk stops the switch here.
std::optional<SwitchOutcome> SwitchRun::stage_candidate() {
  validation_started_ = services_.time.now();
  for (auto& leg : legs_) {
    write_activity(leg);
    leg.validation =
        std::async(std::launch::async, [this, &leg] { return stage_candidates(services_, *leg.view, leg.change); });
  }
  if (!plan_.emergency) {
    const auto gate = standby_gate_.get();
    if (stop_.stop_requested()) return refuse_before_swap("cancelled");  // the gate's verdict would be "cancelled"
    if (standby_commits_.valid()) {  // a pool: still one commit, what every server runs?
      if (const auto problem = pool_commit_problem(pool_of(app_, plan_.to), standby_commits_.get(), gate);
          !problem.empty()) {
        return refuse_before_swap("STANDBY " + state::to_upper_string(plan_.to) + " is not ready now: " + problem +
                                  ".");
      }
    }
    for (const auto& leg : legs_) {
      if (const auto problem = standby_problem_now(*leg.view, lbs_.snapshot(leg.index), plan_.to, gate);
          !problem.empty()) {
        return refuse_before_swap("STANDBY " + state::to_upper_string(plan_.to) + " is not healthy now (" + where(leg) +
                                  problem + "). Use emergency=true only to roll back from a broken PROD.");
      }
    }
  }
  if (stop_.stop_requested()) return refuse_before_swap("cancelled");
  const auto* newest = newest_state(lbs_.snapshots());
  std::optional<Activity> interrupted_deploy;
  for (std::size_t i = 0; i < lbs_.size() && !interrupted_deploy; ++i) {
    interrupted_deploy = interrupted_deploy_of(lbs_.snapshot(i));
  }
  next_ = next_state(app_, newest != nullptr ? *newest : lbs_.snapshot(0), plan_, client_, lbs_.generation(),
                     interrupted_deploy);
  for (auto& leg : legs_) {
    auto prepared = lbs_.store(leg.index).prepare(lbs_.held(leg.index), next_, lbs_.snapshot(leg.index).generation());
    if (!prepared) return refuse_before_swap(where(leg) + prepared.error().message);
    leg.prepared = std::move(prepared.value());
  }
  timings_["checksMs"] = services_.time.ms_since(started_);
  return std::nullopt;
}

void SwitchRun::discard_prepared() {
  for (const auto& leg : legs_) {
    if (leg.prepared) lbs_.store(leg.index).discard(*leg.prepared);
  }
}

SwitchOutcome SwitchRun::refuse_before_swap(const std::string& why) {
  for (auto& leg : legs_) {
    const auto checked = leg.validation.get();
    // An invalid candidate was removed by the check itself; otherwise it may be on the LB (or its
    // writing was cut off).
    if (!checked || checked->exit_status != kCandidateInvalidExit) remove_candidate(leg);
  }
  discard_prepared();
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

// Every candidate must have passed its check (and every activity record be written) before any
// live file is replaced; then the legs are swapped one after the other.
std::optional<SwitchOutcome> SwitchRun::swap_config() {
  steps_.begin(kSwap);
  std::vector<bluegreen::Result<remote::CommandResult>> validated;
  for (auto& leg : legs_) {
    validated.push_back(leg.validation.get());
    const auto recorded = leg.activity_write.get();
    leg.activity_written = recorded && recorded->succeeded();
    if (!leg.activity_written && !stop_.stop_requested() && validated.back() && validated.back()->succeeded()) {
      discard_prepared();
      for (const auto& each : legs_) remove_candidate(each);
      return refuse(where(leg) + "cannot write the switch's activity record " + activity_path(*leg.view) +
                    " (without it, a switch cut off halfway could not be recognised): " + output_of(recorded) +
                    ". The live config is untouched.");
    }
  }
  for (std::size_t i = 0; i < legs_.size(); ++i) {
    const auto& result = validated[i];
    if (!stop_.stop_requested() && result && result->succeeded()) continue;
    discard_prepared();
    for (std::size_t k = 0; k < legs_.size(); ++k) {
      // An invalid candidate was removed by its check; a refused symlink wrote nothing.
      const int code = validated[k] ? validated[k]->exit_status.value_or(-1) : -1;
      static const std::set<int> kNothingLeft{kCandidateInvalidExit, state::kSymlinkRefusedExit};
      if (kNothingLeft.count(code) == 0) remove_candidate(legs_[k]);
    }
    const auto& leg = legs_[i];
    if (stop_.stop_requested()) return refuse("cancelled");  // the live configs are still untouched
    if (result && result->exit_status == kCandidateInvalidExit) {
      return refuse(where(leg) + "the new " + product(leg) + " config failed validation (" + validate_text_of(leg) +
                    "):\n" + output_of(*result) + "\nThe live config is untouched.");
    }
    if (result && result->exit_status == state::kSymlinkRefusedExit) {
      return refuse(where(leg) + output_of(*result) + " The live config is untouched.");
    }
    return refuse(where(leg) + "checking the new " + product(leg) + " config failed: " + output_of(result) +
                  " (the live config is untouched)");
  }
  for (auto& leg : legs_) {
    const auto swapped = swap_edits(services_, *leg.view, leg.change);
    leg.swapped = swapped.swapped;
    if (!swapped.ok()) return swap_failed(leg, swapped);
  }
  timings_["validateAndSwapMs"] = services_.time.ms_since(validation_started_);
  return std::nullopt;
}

// New connections go to the new backend on every load balancer (at once); open ones finish on the
// old workers. Returns why it failed (the load balancer named for a pair), or "".
std::string SwitchRun::reload_and_verify() {
  const auto reload_started = services_.time.now();
  const bool maps = std::all_of(legs_.begin(), legs_.end(), [](const SwitchLeg& leg) { return leg.change.map_only(); });
  if (maps) {
    steps_.begin(kReload, " — not needed for a map: updating HAProxy's running map instead");
  } else {
    steps_.begin(kReload);
  }
  struct Applied {
    std::string failure;
    bool cancelled = false;
    long long step_ms = 0;
  };
  const auto results = for_each_lb(legs_.size(), [this](std::size_t i) {
    Applied applied;
    auto& leg = legs_[i];
    applied.failure =
        apply_and_verify(services_, plan_, lbs_.snapshot(i), leg, stop_, applied.cancelled, applied.step_ms);
    return applied;
  });
  steps_.begin(kVerify, " " + state::to_upper_string(plan_.to));
  std::string failure;
  long long step_ms = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    step_ms = std::max(step_ms, results[i].step_ms);
    cancelled_ = cancelled_ || results[i].cancelled;
    if (!results[i].failure.empty()) {
      failure += (failure.empty() ? "" : "; ") + where(legs_[i]) + results[i].failure;
    }
  }
  timings_["haproxyStepMs"] = step_ms;
  timings_["reloadAndVerifyMs"] = services_.time.ms_since(reload_started);
  return failure;
}

std::string SwitchRun::record_switch() {
  steps_.begin(kRecord, " #" + std::to_string(next_.switch_count));
  recording_ = true;
  const auto results = for_each_lb(legs_.size(), [this](std::size_t i) {
    return lbs_.store(i).commit(lbs_.held(i), *legs_[i].prepared);
  });
  std::string problem;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i]) {
      legs_[i].committed = true;
      continue;
    }
    state_uncertain_ = state_uncertain_ || results[i].error().code == bluegreen::ErrorCode::kUnknownOutcome;
    problem += (problem.empty() ? "" : "; ") + where(legs_[i]) + results[i].error().message;
  }
  if (problem.empty()) return "";
  return "the state file could not be updated (" + problem + ")";
}

// The swap stopped part way on `leg` (swapped.swapped of its files replaced). Nothing replaced
// anywhere: a refusal. Some replaced: rolled back (their backups are this switch's). Not known
// whether the file it stopped at was replaced: nothing is restored on that load balancer (that
// file's backup may be an older switch's), the others are, and the user is told what to look at.
SwitchOutcome SwitchRun::swap_failed(SwitchLeg& leg, const SwapOutcome& swapped) {
  const bool earlier_swapped = std::any_of(legs_.begin(), legs_.end(), [&leg](const SwitchLeg& other) {
    return other.index < leg.index && other.swapped > 0;
  });
  if (swapped.swapped == 0 && !swapped.uncertain && !earlier_swapped) {
    discard_prepared();
    for (const auto& each : legs_) remove_candidate(each);
    if (swapped.live_changed) return refuse(where(leg) + swapped.failure + "; request a new plan");
    if (swapped.symlink) return refuse(where(leg) + swapped.failure + " The live config is untouched.");
    return refuse(where(leg) + swapped.failure + " (the live config is untouched)");
  }
  for (const auto& each : legs_) remove_candidate(each);  // those not swapped (never read by HAProxy)
  if (!swapped.uncertain) {
    return roll_back(where(leg) + swapped.failure + "; " + std::to_string(swapped.swapped) + " of " +
                     std::to_string(leg.change.edits.size()) + " files had been replaced");
  }
  leg.keep_activity = true;
  const auto& stuck = leg.change.edits[swapped.swapped].file;
  RollbackReport unknown;
  for (const auto& edit : leg.change.edits) unknown.config_files.push_back(edit.file);
  unknown.text = where(leg) + "whether " + stuck +
                 " was replaced could not be checked, so nothing was restored: " + backup_path(*leg.view, stuck) +
                 " may be an older switch's. Look at " + edited_files(leg.change) +
                 " first; restore a backup only if its file selects " + state::to_upper_string(plan_.to) +
                 " and the backup selects " + state::to_upper_string(plan_.from);
  leg.swapped = 0;  // not restored by roll_back below
  if (earlier_swapped) {
    auto outcome = roll_back(where(leg) + swapped.failure);
    outcome.text += "\n\n⚠️ " + unknown.text + ".";
    return outcome;
  }
  discard_prepared();
  auto outcome = switch_rolled_back(*leg.view, plan_, swapped.failure, unknown);
  (void)audit("rollback-failed", {{"from", state::to_string(plan_.from)},
                                  {"to", state::to_string(plan_.to)},
                                  {"error", swapped.failure},
                                  {"restore", unknown.text}});
  return outcome;
}

// Every load balancer whose files were replaced is put back (at once), reloaded and verified on
// the old colour. Not cancellable: stopping halfway back would leave things worse.
SwitchOutcome SwitchRun::roll_back(const std::string& failure) {
  discard_prepared();  // best effort; harmless when the rename already consumed it
  // A pair's state files that recorded the switch before another failed are put back first.
  std::string reverted;
  auto before = lbs_.newest_state().value_or(state::DeploymentState{});
  before.prod = plan_.from;
  for (auto& leg : legs_) {
    const auto text =
        revert_recorded_state(lbs_.store(leg.index), lbs_.held(leg.index), leg, before, next_.generation, where(leg));
    reverted += (reverted.empty() || text.empty() ? "" : "; ") + text;
    state_uncertain_ = state_uncertain_ || leg.committed;  // still records it
  }
  std::vector<std::size_t> touched;
  for (const auto& leg : legs_) {
    if (leg.swapped > 0) touched.push_back(leg.index);
  }
  const auto reports = for_each_lb(touched.size(), [this, &touched](std::size_t k) {
    return restore_leg(services_, plan_, legs_[touched[k]], state_uncertain_);
  });
  std::vector<std::string> names;
  for (const auto i : touched) names.push_back(lbs_.ssh(i));
  RollbackReport rollback = reports.empty() ? RollbackReport{true, true, true, "nothing had been replaced", false, {}}
                                            : merge_rollbacks(names, reports);
  rollback.state_uncertain = state_uncertain_;
  // Kept when the file may still hold the new config (the next status and switch then know a switch
  // was left halfway); once the original is back, a reload that did not happen shows as a file
  // HAProxy has not loaded (the restore gives it a new modification time).
  for (std::size_t k = 0; k < touched.size(); ++k) {
    legs_[touched[k]].keep_activity = !reports[k].restored || state_uncertain_;
  }
  std::size_t shown = touched.empty() ? 0 : touched.front();  // the load balancer the text is about
  for (std::size_t k = touched.size(); k-- > 0;) shown = reports[k].verified ? shown : touched[k];
  const auto& first = legs_[shown];
  auto outcome = switch_rolled_back(*first.view, plan_, failure, rollback);
  if (!reverted.empty()) outcome.text += "\n" + reverted + ".";
  if (lbs_.pair()) outcome.structured["loadBalancers"] = rollback_positions(legs_, touched, reports);
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
  std::string verified;
  for (const auto& leg : legs_) verified += (verified.empty() ? "" : "; ") + where(leg) + leg.verified;
  const auto old_sessions = add_sessions(for_each_lb(legs_.size(), [this](std::size_t i) {
    return read_colour_sessions(services_.executor, lbs_.view(i), plan_.from);
  }));
  CompletedSwitch done{
      next_.switch_count, next_.last_switch.value_or(""),   timings_["totalMs"].get<long long>(), verified, timings_,
      old_sessions,       hard_stop_after(lbs_.snapshot(0))};
  auto outcome = switch_completed(app_, plan_, done);
  if (lbs_.pair()) outcome.structured["loadBalancers"] = switched_positions(legs_, plan_.to);
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

// Appends the outcome to every load balancer's audit log; returns why that failed, or "".
std::string SwitchRun::audit(const std::string& outcome, json details) {
  if (!plan_.approved_via.empty()) details["approvedVia"] = plan_.approved_via;
  if (!plan_.client_version.empty()) details["clientVersion"] = plan_.client_version;
  if (!plan_.lines.empty()) details["changeDigest"] = lines_digest(plan_.lines);
  return lbs_.audit({plan_.emergency ? "emergency-switch" : "switch", client_, outcome, std::move(details)});
}

}  // namespace

SwitchOutcome execute_switch(Services& services, const config::AppConfig& app, const SwitchPlan& plan,
                             const std::string& client, Reporter& reporter, std::stop_token stop) {
  return SwitchRun(services, app, plan, client, reporter, std::move(stop)).run();
}

}  // namespace bluegreen::deployment
