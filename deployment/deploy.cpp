#include "deployment/deploy.h"

#include "common/text.h"
#include "deployment/frontend_check.h"
#include "deployment/lb_pair.h"
#include "deployment/lb_set.h"
#include "deployment/lb_snapshot.h"
#include "deployment/live_confirmation.h"
#include "deployment/pools.h"
#include "deployment/server_deploy.h"
#include "deployment/sessions.h"
#include "deployment/status.h"
#include "deployment/step_progress.h"
#include "remote/shell_command.h"

#include <atomic>
#include <future>
#include <mutex>

#include <unistd.h>

namespace bluegreen::deployment {
namespace {

using state::Color;

// One deploy to the standby. The steps in order: checks under the lock, the configured steps and
// the health gate on each standby server (deploy.maxParallel at a time), the record.
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
        lbs_(services.executor, app),
        steps_(reporter, deploy_steps(app)),
        started_(services.time.now()) {
    facts_.ref = request.ref.value_or(app.default_ref);
  }

  DeployRun(const DeployRun&) = delete;
  DeployRun& operator=(const DeployRun&) = delete;

  DeployOutcome run() {
    if (auto refusal = lock_and_check()) return *refusal;
    run_servers();
    summarise();
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
  void run_servers();
  void step_started(std::size_t index, const std::string& label);
  void summarise();
  void record();
  bluegreen::Status write_activity(const std::string& step);
  [[nodiscard]] const config::Pool& pool() const { return pool_of(app_, facts_.target); }

  Services& services_;
  const config::AppConfig& app_;
  const DeployRequest& request_;
  const std::string& client_;
  Reporter& reporter_;
  std::stop_token stop_;
  LbSet lbs_;  // every load balancer (one, or a pair: lb_set.h)
  StepProgress steps_;
  TimeSource::TimePoint started_;
  DeployFacts facts_;
  Activity activity_;                      // what the activity record on the LB says (activity_record.h)
  std::optional<Activity> interrupted_;    // an earlier deploy whose server stopped, found under the lock
  std::unique_ptr<OwnActivityGuard> own_;  // status knows this deploy runs, while it does
  // Progress and the activity record hear each server's steps; servers run on several threads.
  std::mutex progress_mutex_;
  std::size_t steps_started_ = 0;
};

// The LB's activity record: which step runs, since when, by whom; a server that dies leaves it
// behind, so the next status and switch know this host may be half deployed.
bluegreen::Status DeployRun::write_activity(const std::string& step) {
  activity_.step = step;
  activity_.step_since = state::utc_timestamp();
  const auto written =
      lbs_.run_on_all([this](const config::AppConfig& view) { return write_activity_script(view, activity_); });
  for (std::size_t i = 0; i < written.size(); ++i) {
    if (written[i] && written[i]->succeeded()) continue;
    return bluegreen::Error{lbs_.where(i) + "cannot write the deploy's activity record " + activity_path(lbs_.view(i)) +
                            ": " + command_output(written[i])};
  }
  return bluegreen::ok_status();
}

// The target is whatever HAProxy does not route to, decided under the lock.
std::optional<DeployOutcome> DeployRun::lock_and_check() {
  if (auto valid = remote::validate_git_ref(facts_.ref, "ref"); !valid)
    return deploy_refused(valid.error().message, app_.name);
  if (auto locked = lbs_.lock(client_, "deploy " + facts_.ref, app_.lock_wait, stop_); !locked) {
    return deploy_refused(locked.error().message, app_.name);
  }
  std::vector<std::future<std::optional<FrontendView>>> probes;
  for (std::size_t i = 0; i < lbs_.size(); ++i) {
    probes.push_back(std::async(std::launch::async, [this, i] { return probe_frontend(services_, lbs_.view(i)); }));
  }
  lbs_.read_snapshots(SnapshotOptions{true, true});
  for (std::size_t i = 0; i < lbs_.size(); ++i) {
    const auto& snapshot = lbs_.snapshot(i);
    const auto frontend = settle_frontend(services_, lbs_.view(i), snapshot, probes[i].get());
    if (!snapshot.live) {
      return deploy_refused(lbs_.where(i) + snapshot.live_problem +
                                ". Without knowing what is live, no host is touched.",
                            app_.name);
    }
    if (snapshot.state_status == StateFileStatus::kCorrupt || snapshot.state_status == StateFileStatus::kUnreadable) {
      return deploy_refused(lbs_.where(i) + snapshot.state_problem, app_.name);
    }
    // The host the file calls STANDBY may be the one users are on.
    if (const auto mismatch = frontend_mismatch(lbs_.view(i), snapshot, frontend); !mismatch.empty()) {
      return deploy_refused(lbs_.where(i) + mismatch, app_.name);
    }
  }
  const auto live = pair_live(lbs_.snapshots());
  if (!live) return deploy_refused(pair_divergence(app_, lbs_.snapshots()).front(), app_.name);
  facts_.live = *live;
  facts_.target = state::other(facts_.live);
  for (std::size_t i = 0; i < lbs_.size() && !interrupted_; ++i) interrupted_ = interrupted_deploy_of(lbs_.snapshot(i));
  if (request_.expected_target && *request_.expected_target == facts_.live) {
    return deploy_refused(state::to_upper_string(facts_.live) + " is PROD (" +
                              config::product_name(app_.load_balancer.type) +
                              " routes to it): deploying there would change the live site. "
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
  std::vector<ColourSessions> per_lb;  // each load balancer of a pair counts its own
  for (std::size_t i = 0; i < lbs_.size(); ++i)
    per_lb.push_back(colour_sessions(lbs_.view(i), lbs_.snapshot(i), facts_.target));
  const auto sessions = add_sessions(per_lb);
  if (!sessions.known && app_.max_standby_sessions) {
    // nginx and Caddy do not count the connections still open to the colour they left.
    facts_.warning = "deploy.maxStandbySessions could not be checked: " +
                     std::string(config::product_name(app_.load_balancer.type)) +
                     " does not report connections still open to STANDBY " + state::to_upper_string(facts_.target) +
                     " (draining), so its restart may have cut long-lived connections from before the last switch.";
    reporter_.note("warning: " + facts_.warning);
    return std::nullopt;
  }
  if (!sessions.known || sessions.open() == 0) return std::nullopt;
  const std::string target = state::to_upper_string(facts_.target);
  const std::string stop_after = hard_stop_after(lbs_.snapshot(0));
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

// The configured steps and the health gate on every standby server, at most deploy.maxParallel
// servers at once. The first failure starts no further server and no further step on the
// running ones (the step each is in finishes); a cancel stops the running commands.
void DeployRun::run_servers() {
  const auto& servers = pool().servers;
  std::string where = servers.front().ssh;
  if (servers.size() > 1) {
    where = std::to_string(servers.size()) + " servers";
    const std::size_t parallel = max_parallel(app_, pool());
    where += parallel == servers.size() ? ", all at once" : ", " + std::to_string(parallel) + " at a time";
  }
  reporter_.note("deploying " + facts_.ref + " to " + state::to_upper_string(facts_.target) + " (" + where +
                 "); PROD " + state::to_upper_string(facts_.live) + " is not touched");
  for (const auto& server : servers) facts_.servers.push_back(ServerDeploy{&server, {}, {}, {}, "not started", "", 0});
  std::atomic<bool> halted{false};
  std::atomic<std::size_t> next{0};
  ServerDeployHooks hooks;
  hooks.halted = [&halted] { return halted.load(); };
  hooks.step_started = [this](std::size_t index, const std::string& label) { step_started(index, label); };
  hooks.note = [this](const std::string& message) {
    const std::lock_guard<std::mutex> hold(progress_mutex_);
    reporter_.note(message);
  };
  const auto work = [&] {
    for (;;) {
      if (halted.load() || stop_.stop_requested()) return;
      const std::size_t i = next++;
      if (i >= servers.size()) return;
      auto result = deploy_server(services_, app_, request_, facts_.ref, facts_.target, servers[i], hooks, stop_);
      if (result.status == "failed") halted = true;
      const std::lock_guard<std::mutex> hold(progress_mutex_);
      facts_.servers[i] = std::move(result);
    }
  };
  const std::size_t workers = max_parallel(app_, pool());
  if (workers == 1) {
    work();
    return;
  }
  std::vector<std::future<void>> runs;
  for (std::size_t w = 0; w < workers; ++w) runs.push_back(std::async(std::launch::async, work));
  for (auto& run : runs) run.get();
}

// Progress and the activity record, as each server starts a step: one server reports "step 3/8:
// build" (the deploy's own step numbers); a pool reports "blue2: step 3/8: build" and counts
// every server's steps.
void DeployRun::step_started(std::size_t index, const std::string& label) {
  const std::lock_guard<std::mutex> hold(progress_mutex_);
  if (pool().size() == 1) {
    reporter_.step(static_cast<double>(index + 1), static_cast<double>(steps_.size()), label);
  } else {
    const auto total = static_cast<double>(pool().size() * (app_.steps.size() + 1) + 1);
    reporter_.step(static_cast<double>(++steps_started_), total, label);
  }
  if (auto written = write_activity(label); !written) reporter_.note("warning: " + written.error().message);
}

// The deploy's verdict from its servers': failed when any failed (or, in a pool, did not finish),
// cancelled when a cancel stopped any; the commit and version when they agree.
void DeployRun::summarise() {
  std::vector<std::string> failed;
  for (const auto& server : facts_.servers) {
    if (server.status == "cancelled" || (server.status == "not started" && stop_.stop_requested())) {
      facts_.cancelled = true;
    } else if (server.status == "failed") {
      if (facts_.failure.empty()) {
        facts_.failure =
            facts_.servers.size() == 1 ? server.failure : server_label(*server.server) + ": " + server.failure;
      }
      failed.push_back(server_label(*server.server));
    }
  }
  facts_.failed = !failed.empty() && !facts_.cancelled;
  if (failed.size() > 1) facts_.failure += " (" + std::to_string(failed.size()) + " servers failed)";
  const auto& first = facts_.servers.front();
  facts_.commit = first.commit;
  facts_.version = first.version;
  if (facts_.servers.size() == 1 || facts_.failed || facts_.cancelled) {
    if (facts_.servers.size() > 1) {
      facts_.commit.reset();
      facts_.version.reset();
    }
    return;
  }
  for (const auto& server : facts_.servers) {
    if (server.commit != facts_.commit) {
      facts_.failed = true;
      facts_.failure = "the servers ended on different commits (" + server_label(*first.server) + " " +
                       short_commit(first.commit.value_or("unknown")) + ", " + server_label(*server.server) + " " +
                       short_commit(server.commit.value_or("unknown")) + "; did " + facts_.ref +
                       " move during the deploy?)";
      facts_.commit.reset();
    }
    if (server.version != facts_.version) facts_.version.reset();
  }
}

// Record it while the lock is still ours: the state file and the audit log.
void DeployRun::record() {
  if (pool().size() == 1) {
    steps_.begin(app_.steps.size() + 1);
  } else {  // the pool's count, so progress never goes back
    const auto total = static_cast<double>(pool().size() * (app_.steps.size() + 1) + 1);
    reporter_.step(total, total, steps_.label(app_.steps.size() + 1));
  }
  const Color live = facts_.live;
  const auto newest = lbs_.newest_state();
  state::DeploymentState next = newest.value_or(state::DeploymentState{});
  if (newest && next.prod != live) {
    reporter_.note("state file said PROD=" + state::to_upper_string(next.prod) + " but " +
                   config::product_name(app_.load_balancer.type) + " routes to " + state::to_upper_string(live) +
                   "; corrected");
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
  if (facts_.servers.size() > 1) {
    record.extra["servers"] = nlohmann::json::array();
    for (const auto& server : facts_.servers) {
      record.extra["servers"].push_back({{"server", server_label(*server.server)},
                                         {"status", server.status},
                                         {"commit", server.commit.value_or("")}});
    }
  }
  next.deploys.push_back(record);
  next.trim(app_.history_limit);
  next.generation = lbs_.generation() + 1;  // the same on every load balancer of a pair
  if (auto problem = lbs_.write_state(next); !problem.empty()) {
    facts_.record_problem = problem;
  } else {
    // Recorded: the activity record has done its work (kept when the state could not be written,
    // so the next switch still sees an unfinished deploy).
    (void)lbs_.run_on_all([](const config::AppConfig& view) { return remove_activity_script(view); });
  }
  if (auto problem = lbs_.audit({"deploy",
                                 client_,
                                 record.outcome,
                                 {{"color", state::to_string(facts_.target)},
                                  {"ref", facts_.ref},
                                  {"commit", record.commit},
                                  {"error", facts_.failure}}});
      !problem.empty()) {
    facts_.audit_problem = problem;
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
