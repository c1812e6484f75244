#include "deployment/deploy.h"

#include "common/text.h"
#include "deployment/frontend_check.h"
#include "deployment/lb_snapshot.h"
#include "deployment/live_confirmation.h"
#include "deployment/sessions.h"
#include "deployment/status.h"
#include "deployment/step_progress.h"
#include "remote/shell_command.h"

#include <future>

#include <unistd.h>

namespace bluegreen::deployment {
namespace {

using state::Color;

bool step_enabled(const config::DeployStep& step, const DeployRequest& request) {
  switch (step.when) {
    case config::StepCondition::kCreateBackup: return request.create_backup;
    case config::StepCondition::kPullGithub: return request.pull_github;
    case config::StepCondition::kRunMigrations: return request.run_migrations;
    case config::StepCondition::kAlways: return true;
  }
  return true;
}

std::string condition_name(config::StepCondition when) {
  switch (when) {
    case config::StepCondition::kCreateBackup: return "createBackup";
    case config::StepCondition::kPullGithub: return "pullGithub";
    case config::StepCondition::kRunMigrations: return "runMigrations";
    case config::StepCondition::kAlways: return "always";
  }
  return "always";
}

// The row of one step that ran (or could not start) on `host`; sets facts.failed/cancelled.
StepRow step_row(const config::DeployStep& step, const std::string& host,
                 const bluegreen::Result<remote::CommandResult>& result, DeployFacts& facts) {
  StepRow row{step.name, "", std::nullopt, 0, ""};
  if (!result) {
    row.status = "failed";
    row.detail = result.error().message;
    facts.failed = true;
    facts.failure = "step \"" + step.name + "\" could not run on " + host + ": " + result.error().message;
    return row;
  }
  row.duration_ms = result->duration.count();
  row.exit_code = result->exit_status;
  if (result->succeeded()) {
    row.status = "ok";
  } else if (result->cancelled) {
    row.status = "cancelled";
    facts.cancelled = true;
  } else {
    row.status = result->timed_out ? "timed out" : "failed";
    row.detail = bluegreen::tail_of(result->err.tail.empty() ? result->out.tail : result->err.tail, 1200);
    if (row.detail.empty()) row.detail = result->problem;
    facts.failed = true;
    facts.failure =
        "step \"" + step.name + "\" " + (result->timed_out ? "timed out" : "failed") + " (" + result->summary() + ")";
  }
  return row;
}

// One deploy to the standby. The steps in order: checks under the lock, the configured steps,
// the health gate, the record.
class DeployRun {
 public:
  DeployRun(Services& services, const config::AppConfig& app, const DeployRequest& request, const std::string& client,
            Reporter& reporter, std::stop_token stop)
      : services_(services),
        app_(app),
        request_(request),
        client_(client),
        reporter_(reporter),
        stop_(std::move(stop)),
        store_(store_for(services.executor, app)),
        steps_(reporter, deploy_steps(app)),
        started_(services.time.now()) {
    facts_.ref = request.ref.value_or(app.default_ref);
  }

  DeployRun(const DeployRun&) = delete;
  DeployRun& operator=(const DeployRun&) = delete;

  DeployOutcome run() {
    if (auto refusal = lock_and_check()) return *refusal;
    run_steps();
    if (!facts_.failed && !facts_.cancelled) health_gate();
    if (facts_.cancelled) {
      // MCP sends no result for a cancelled call, so this log line is what the client sees.
      reporter_.note("deploy to " + state::to_upper_string(facts_.target) +
                     " cancelled: the running remote command was stopped; recording it and releasing the lock");
    }
    record();
    facts_.duration_ms = services_.time.ms_since(started_);
    return deploy_report(app_, facts_);
  }

 private:
  std::optional<DeployOutcome> lock_and_check();
  std::optional<DeployOutcome> check_standby_sessions();
  void run_steps();
  void health_gate();
  void record();
  bluegreen::Status write_activity(const std::string& step);
  [[nodiscard]] const config::HostConfig& host() const { return host_of(app_, facts_.target); }

  Services& services_;
  const config::AppConfig& app_;
  const DeployRequest& request_;
  const std::string& client_;
  Reporter& reporter_;
  std::stop_token stop_;
  state::StateStore store_;
  StepProgress steps_;
  TimeSource::TimePoint started_;
  std::unique_ptr<state::AppLock> lock_;
  LbSnapshot snapshot_;
  DeployFacts facts_;
  Activity activity_;                      // what the activity record on the LB says (activity_record.h)
  std::optional<Activity> interrupted_;    // an earlier deploy whose server stopped, found under the lock
  std::unique_ptr<OwnActivityGuard> own_;  // status knows this deploy runs, while it does
};

// The LB's activity record: which step runs, since when, by whom; a server that dies leaves it
// behind, so the next status and switch know this host may be half deployed.
bluegreen::Status DeployRun::write_activity(const std::string& step) {
  activity_.step = step;
  activity_.step_since = state::utc_timestamp();
  const auto written = run_on_lb(services_.executor, app_, write_activity_script(app_, activity_));
  if (written && written->succeeded()) return bluegreen::ok_status();
  return bluegreen::Error{"cannot write the deploy's activity record " + activity_path(app_) + ": " +
                          command_output(written)};
}

// The target is whatever HAProxy does not route to, decided under the lock.
std::optional<DeployOutcome> DeployRun::lock_and_check() {
  if (auto valid = remote::validate_git_ref(facts_.ref, "ref"); !valid)
    return deploy_refused(valid.error().message, app_.name);
  auto lock = store_.lock(client_, "deploy " + facts_.ref, app_.lock_wait, stop_);
  if (!lock) return deploy_refused(lock.error().message, app_.name);
  lock_ = std::move(lock.value());

  auto frontend_probe = std::async(std::launch::async, [this] { return probe_frontend(services_, app_); });
  snapshot_ = read_lb_snapshot(services_.executor, app_, store_, SnapshotOptions{true, true});
  const auto frontend = settle_frontend(services_, app_, snapshot_, frontend_probe.get());
  if (!snapshot_.live)
    return deploy_refused(snapshot_.live_problem + ". Without knowing what is live, no host is touched.", app_.name);
  if (snapshot_.state_status == StateFileStatus::kCorrupt || snapshot_.state_status == StateFileStatus::kUnreadable) {
    return deploy_refused(snapshot_.state_problem, app_.name);
  }
  // The host the file calls STANDBY may be the one users are on.
  if (const auto mismatch = frontend_mismatch(app_, snapshot_, frontend); !mismatch.empty()) {
    return deploy_refused(mismatch, app_.name);
  }
  facts_.live = *snapshot_.live;
  facts_.target = state::other(facts_.live);
  interrupted_ = interrupted_deploy_of(snapshot_);
  if (request_.expected_target && *request_.expected_target == facts_.live) {
    return deploy_refused(state::to_upper_string(facts_.live) +
                              " is PROD (HAProxy routes to it): deploying there would change the live site. "
                              "deploy_to_standby only deploys to STANDBY, which is " +
                              state::to_upper_string(facts_.target) + ".",
                          app_.name);
  }
  if (auto refused = check_standby_sessions()) return refused;
  activity_.kind = ActivityKind::kDeploy;
  activity_.app = app_.name;
  activity_.client = client_;
  activity_.since = state::utc_timestamp();
  activity_.server_pid = ::getpid();
  activity_.color = facts_.target;
  activity_.ref = facts_.ref;
  own_ = std::make_unique<OwnActivityGuard>(*services_.own_activities, app_.name, activity_.since);
  if (auto written = write_activity("starting"); !written) {
    return deploy_refused(written.error().message + " (without it, a deploy cut off halfway could not be recognised)",
                          app_.name);
  }
  return std::nullopt;
}

// Sessions still open on the standby (long-lived connections from before the last switch) would be
// cut by its restart: above deploy.maxStandbySessions the deploy is refused, otherwise warned about.
std::optional<DeployOutcome> DeployRun::check_standby_sessions() {
  const auto sessions = colour_sessions(app_, snapshot_, facts_.target);
  if (!sessions.known || sessions.open() == 0) return std::nullopt;
  const std::string target = state::to_upper_string(facts_.target);
  const std::string stop_after = hard_stop_after(snapshot_);
  const std::string when =
      "wait until get_deployment_status shows it drained (0 open)" +
      (stop_after.empty() ? std::string() : "; HAProxy cuts what is left " + stop_after + " after a reload");
  if (app_.max_standby_sessions && sessions.open() > *app_.max_standby_sessions) {
    return deploy_refused("STANDBY " + target + " still has " + sessions_text(sessions) +
                              ", more than deploy.maxStandbySessions (" + std::to_string(*app_.max_standby_sessions) +
                              "): restarting it now would cut them off. " + when + ", then deploy again.",
                          app_.name);
  }
  facts_.warning = "STANDBY " + target + " still had " + std::to_string(sessions.open()) +
                   " open sessions when the deploy started (long-lived connections from before the last switch); "
                   "its restart may have cut them off. Next time, " +
                   when + ".";
  reporter_.note("warning: " + facts_.warning);
  return std::nullopt;
}

// The configured steps, stopping at the first failure or cancellation.
void DeployRun::run_steps() {
  reporter_.note("deploying " + facts_.ref + " to " + state::to_upper_string(facts_.target) + " (" + host().ssh +
                 "); PROD " + state::to_upper_string(facts_.live) + " is not touched");
  const std::map<std::string, std::string> values{{"ref", facts_.ref},
                                                  {"appDir", host().app_dir},
                                                  {"color", std::string(state::to_string(facts_.target))},
                                                  {"service", host().service},
                                                  {"app", app_.name}};
  for (std::size_t i = 0; i < app_.steps.size(); ++i) {
    const auto& step = app_.steps[i];
    if (!facts_.failed && !facts_.cancelled && stop_.stop_requested())
      facts_.cancelled = true;  // never start a step after a cancel
    if (facts_.failed || facts_.cancelled) {
      facts_.rows.push_back({step.name, "not run", std::nullopt, 0, ""});
      continue;
    }
    if (!step_enabled(step, request_)) {
      facts_.rows.push_back({step.name, "skipped", std::nullopt, 0, condition_name(step.when) + "=false"});
      continue;
    }
    steps_.begin(i);
    if (auto written = write_activity(steps_.label(i)); !written) reporter_.note("warning: " + written.error().message);
    remote::CommandOptions options;
    options.deadline = step.timeout;
    options.stop = stop_;
    const std::string command =
        "cd " + remote::shell_quote(host().app_dir) + " && " + remote::substitute_placeholders(step.run, values);
    facts_.rows.push_back(step_row(step, host().ssh, services_.executor.run(host().ssh, command, options), facts_));
  }
}

// What is deployed now, and is it healthy?
void DeployRun::health_gate() {
  HostStatus info;
  fill_deployed_commit(services_, host(), app_.load_balancer.command_timeout, info);
  facts_.commit = info.deployed_commit;
  steps_.begin(app_.steps.size(), " on " + host().health_url);
  if (auto written = write_activity(steps_.label(app_.steps.size())); !written) {
    reporter_.note("warning: " + written.error().message);
  }
  const GateSettings settings{app_.health_gate.timeout, app_.health_gate.interval,
                              app_.health_gate.consecutive_successes, app_.health_gate.request_timeout};
  const auto gate = run_health_gate(host().health_url, facts_.commit, settings, services_.probe, services_.time, stop_,
                                    [this](const std::string& message) { reporter_.note(message); });
  facts_.rows.push_back({"health gate", gate.passed ? "ok" : (gate.cancelled ? "cancelled" : "failed"), std::nullopt,
                         gate.waited.count(), gate.passed ? gate.last.summary() : gate.reason});
  facts_.version = gate.last.version;
  if (gate.cancelled) {
    facts_.cancelled = true;
  } else if (!gate.passed) {
    facts_.failed = true;
    facts_.failure = "the health gate failed: " + gate.reason;
  }
}

// Record it while the lock is still ours: the state file and the audit log.
void DeployRun::record() {
  steps_.begin(app_.steps.size() + 1);
  const Color live = facts_.live;
  state::DeploymentState next = snapshot_.state.value_or(state::DeploymentState{});
  if (snapshot_.state && next.prod != live) {
    reporter_.note("state file said PROD=" + state::to_upper_string(next.prod) + " but HAProxy routes to " +
                   state::to_upper_string(live) + "; corrected");
  }
  next.prod = live;  // HAProxy's truth (also for a missing file)
  if (interrupted_) next.deploys.push_back(interrupted_deploy_record(*interrupted_));
  state::DeployRecord record;
  record.timestamp = state::utc_timestamp();
  record.color = facts_.target;
  record.ref = facts_.ref;
  record.commit = facts_.commit.value_or("");
  record.outcome = deploy_outcome_name(facts_);
  record.extra["client"] = client_;
  record.extra["durationMs"] = services_.time.ms_since(started_);
  if (facts_.failed) record.extra["error"] = facts_.failure;
  next.deploys.push_back(record);
  next.trim(app_.history_limit);
  next.generation = snapshot_.generation() + 1;
  if (auto written = store_.write(*lock_, next, snapshot_.generation()); !written) {
    facts_.record_problem = written.error().message;
  } else {
    // Recorded: the activity record has done its work (kept when the state could not be written,
    // so the next switch still sees an unfinished deploy).
    (void)run_on_lb(services_.executor, app_, remove_activity_script(app_));
  }
  if (auto audited = store_.audit({"deploy",
                                   client_,
                                   record.outcome,
                                   {{"color", state::to_string(facts_.target)},
                                    {"ref", facts_.ref},
                                    {"commit", record.commit},
                                    {"error", facts_.failure}}});
      !audited) {
    facts_.audit_problem = audited.error().message;
    reporter_.note("warning: the deploy is not in the audit log: " + facts_.audit_problem);
  }
}

}  // namespace

std::vector<std::string> deploy_steps(const config::AppConfig& app) {
  std::vector<std::string> names;
  for (const auto& step : app.steps) names.push_back(step.name);
  names.emplace_back("health gate");
  names.emplace_back("recording the deploy");
  return names;
}

DeployOutcome deploy_to_standby(Services& services, const config::AppConfig& app, const DeployRequest& request,
                                const std::string& client, Reporter& reporter, std::stop_token stop) {
  return DeployRun(services, app, request, client, reporter, std::move(stop)).run();
}

}  // namespace bluegreen::deployment
