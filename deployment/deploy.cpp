#include "deployment/deploy.h"

#include "deployment/frontend_check.h"
#include "deployment/lb_snapshot.h"
#include "deployment/status.h"
#include "remote/shell_command.h"

#include <future>
#include <iomanip>
#include <sstream>

namespace deployment {
namespace {

using nlohmann::json;
using state::Color;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

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

std::string clean_tail(const std::string& text, std::size_t max = 1200) {
  std::string out = text.size() > max ? "..." + text.substr(text.size() - max) : text;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

struct StepRow {
  std::string name;
  std::string status;  // ok, failed, skipped, cancelled, timed out, not run
  std::optional<int> exit_code;
  long long duration_ms = 0;
  std::string detail;  // stderr tail, reason
};

DeployOutcome refusal(const std::string& why, const std::string& app) {
  DeployOutcome outcome;
  outcome.text = "❌ DEPLOY NOT STARTED: " + why + "\n\nNothing was changed on any host.";
  outcome.structured = {{"ok", false}, {"app", app}, {"error", why}, {"steps", json::array()}};
  return outcome;
}

}  // namespace

DeployOutcome deploy_to_standby(Services& services, const config::AppConfig& app, const DeployRequest& request,
                                const std::string& client, Reporter& reporter, std::stop_token stop) {
  const auto started = Clock::now();
  const std::string ref = request.ref.value_or(app.default_ref);
  if (auto valid = remote::validate_git_ref(ref, "ref"); !valid) return refusal(valid.error().message, app.name);

  const auto store = store_for(services.executor, app);
  auto lock = store.lock(client, "deploy " + ref, app.lock_wait, stop);
  if (!lock) return refusal(lock.error().message, app.name);

  auto frontend_probe = std::async(std::launch::async, [&] { return probe_frontend(services, app); });
  const auto snapshot = read_lb_snapshot(services.executor, app, store);
  const auto frontend = settle_frontend(services, app, snapshot, frontend_probe.get());
  if (!snapshot.live) return refusal(snapshot.live_problem + ". Without knowing what is live, no host is touched.", app.name);
  if (snapshot.state_status == StateFileStatus::kCorrupt || snapshot.state_status == StateFileStatus::kUnreadable) {
    return refusal(snapshot.state_problem, app.name);
  }
  // The host the file calls STANDBY may be the one users are on.
  if (const auto mismatch = frontend_mismatch(app, snapshot, frontend); !mismatch.empty()) return refusal(mismatch, app.name);
  const Color live = *snapshot.live;
  const Color target = state::other(live);
  if (request.expected_target && *request.expected_target == live) {
    return refusal(state::to_upper_string(live) + " is PROD (HAProxy routes to it): deploying there would change the live site. "
                                 "deploy_to_standby only deploys to STANDBY, which is " + state::to_upper_string(target) + ".",
                   app.name);
  }
  const auto& host = target == Color::kBlue ? app.blue : app.green;

  std::vector<const config::DeployStep*> steps;
  for (const auto& step : app.steps) steps.push_back(&step);
  const auto total = static_cast<double>(steps.size() + 2);
  const std::map<std::string, std::string> values{{"ref", ref},
                                                  {"appDir", host.app_dir},
                                                  {"color", std::string(state::to_string(target))},
                                                  {"service", host.service},
                                                  {"app", app.name}};
  std::vector<StepRow> rows;
  bool failed = false;
  bool cancelled = false;
  std::string failure;
  reporter.note("deploying " + ref + " to " + state::to_upper_string(target) + " (" + host.ssh + "); PROD " + state::to_upper_string(live) + " is not touched");

  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& step = *steps[i];
    StepRow row{step.name, "", std::nullopt, 0, ""};
    if (failed || cancelled) {
      row.status = "not run";
      rows.push_back(row);
      continue;
    }
    if (!step_enabled(step, request)) {
      row.status = "skipped";
      row.detail = condition_name(step.when) + "=false";
      rows.push_back(row);
      continue;
    }
    reporter.step(static_cast<double>(i + 1), total,
                  "step " + std::to_string(i + 1) + "/" + std::to_string(steps.size() + 2) + ": " + step.name);
    remote::CommandOptions options;
    options.deadline = step.timeout;
    options.stop = stop;
    const std::string command = "cd " + remote::shell_quote(host.app_dir) + " && " +
                                remote::substitute_placeholders(step.run, values);
    auto result = services.executor.run(host.ssh, command, options);
    if (!result) {
      row.status = "failed";
      row.detail = result.error().message;
      failed = true;
      failure = "step \"" + step.name + "\" could not run on " + host.ssh + ": " + result.error().message;
    } else {
      row.duration_ms = result->duration.count();
      row.exit_code = result->exit_status;
      if (result->succeeded()) {
        row.status = "ok";
      } else if (result->cancelled) {
        row.status = "cancelled";
        cancelled = true;
      } else {
        row.status = result->timed_out ? "timed out" : "failed";
        row.detail = clean_tail(result->err.tail.empty() ? result->out.tail : result->err.tail);
        if (row.detail.empty()) row.detail = result->problem;
        failed = true;
        failure = "step \"" + step.name + "\" " + (result->timed_out ? "timed out" : "failed") + " (" +
                  result->summary() + ")";
      }
    }
    rows.push_back(row);
  }

  // What is deployed now, and is it healthy?
  std::optional<std::string> commit;
  GateOutcome gate;
  if (!failed && !cancelled) {
    HostStatus info;
    fill_deployed_commit(services, host, app.load_balancer.command_timeout, info);
    commit = info.deployed_commit;
    const auto gate_step = static_cast<double>(steps.size() + 1);
    reporter.step(gate_step, total,
                  "step " + std::to_string(steps.size() + 1) + "/" + std::to_string(steps.size() + 2) +
                      ": health gate on " + host.health_url);
    GateSettings settings{app.health_gate.timeout, app.health_gate.interval, app.health_gate.consecutive_successes,
                          app.health_gate.request_timeout};
    gate = run_health_gate(host.health_url, commit, settings, services.probe, stop,
                           [&](const std::string& message) { reporter.note(message); });
    StepRow row{"health gate", gate.passed ? "ok" : (gate.cancelled ? "cancelled" : "failed"), std::nullopt,
                gate.waited.count(), gate.passed ? gate.last.summary() : gate.reason};
    rows.push_back(row);
    if (gate.cancelled) cancelled = true;
    else if (!gate.passed) {
      failed = true;
      failure = "the health gate failed: " + gate.reason;
    }
  }
  const std::string outcome_name = cancelled ? "cancelled" : (failed ? "failed" : "ok");
  if (cancelled) {
    // MCP sends no result for a cancelled call, so this log line is what the client sees.
    reporter.note("deploy to " + state::to_upper_string(target) + " cancelled: the running remote command was stopped; recording it "
                  "and releasing the lock");
  }

  // Record it (the lock is still ours).
  reporter.step(total, total, "step " + std::to_string(steps.size() + 2) + "/" + std::to_string(steps.size() + 2) +
                                  ": recording the deploy");
  state::DeploymentState next = snapshot.state.value_or(state::DeploymentState{});
  if (!snapshot.state) next.prod = live;  // a missing file starts from HAProxy's truth
  if (next.prod != live) {
    reporter.note("state file said PROD=" + state::to_upper_string(next.prod) + " but HAProxy routes to " + state::to_upper_string(live) + "; corrected");
    next.prod = live;
  }
  state::DeployRecord record;
  record.timestamp = state::utc_timestamp();
  record.color = target;
  record.ref = ref;
  record.commit = commit.value_or("");
  record.outcome = outcome_name;
  record.extra["client"] = client;
  record.extra["durationMs"] = ms_since(started);
  if (failed) record.extra["error"] = failure;
  next.deploys.push_back(record);
  next.trim(app.history_limit);
  next.generation = snapshot.generation() + 1;
  std::string record_problem;
  if (auto written = store.write(**lock, next, snapshot.generation()); !written) record_problem = written.error().message;
  (void)store.audit({"deploy", client, outcome_name,
                     {{"color", state::to_string(target)}, {"ref", ref}, {"commit", record.commit}, {"error", failure}}});

  // The step table.
  std::ostringstream table;
  table << " #  " << std::left << std::setw(14) << "step" << std::setw(12) << "result" << "time\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const std::string icon = r.status == "ok" ? "✅ " : r.status == "skipped" || r.status == "not run" ? "⏭ " : "❌ ";
    table << std::right << std::setw(2) << i + 1 << "  " << std::left << std::setw(14) << r.name << icon
          << std::setw(10) << r.status << (r.duration_ms > 0 || r.status == "ok" ? std::to_string(r.duration_ms) + " ms" : "")
          << (r.exit_code && r.status != "ok" ? "  exit " + std::to_string(*r.exit_code) : "") << "\n";
    if (!r.detail.empty() && r.status != "ok" && r.status != "not run") {
      std::istringstream detail(r.detail);
      for (std::string line; std::getline(detail, line);) table << "      | " << line << "\n";
    }
  }

  DeployOutcome outcome;
  outcome.ok = !failed && !cancelled && record_problem.empty();
  outcome.cancelled = cancelled;
  std::ostringstream text;
  if (cancelled) {
    text << "⏹ DEPLOY TO " << state::to_upper_string(target) << " CANCELLED. The running remote command was stopped and the lock released.\n\n";
  } else if (failed) {
    text << "❌ DEPLOY TO " << state::to_upper_string(target) << " (" << host.address << ") FAILED: " << failure << "\n\n";
  } else {
    text << "✅ Deployment to " << state::to_upper_string(target) << " (" << host.address << ") completed successfully!\n\n";
  }
  text << table.str() << "\nRef " << ref;
  if (commit) text << " -> commit " << short_commit(*commit);
  if (gate.last.version) text << ", version " << *gate.last.version;
  text << "; took " << ms_since(started) << " ms\n";
  if (!record_problem.empty()) text << "\n⚠️ The deploy could not be recorded in the state file: " << record_problem << "\n";
  text << "\nPROD " << state::to_upper_string(live) << " was not touched and still serves traffic.\n";
  if (outcome.ok) {
    text << "✅ STANDBY is ready for traffic switch. Next: switch_traffic (it asks for approval first).";
  } else if (!cancelled) {
    text << "Fix the cause above and run deploy_to_standby again; do not switch traffic to " << state::to_upper_string(target) << ".";
  }
  outcome.text = text.str();

  json steps_json = json::array();
  for (const auto& r : rows) {
    json s{{"name", r.name}, {"status", r.status}, {"durationMs", r.duration_ms}};
    if (r.exit_code) s["exitCode"] = *r.exit_code;
    if (!r.detail.empty()) s["detail"] = r.detail;
    steps_json.push_back(s);
  }
  outcome.structured = {{"ok", outcome.ok},
                        {"app", app.name},
                        {"target", {{"server", state::to_upper_string(target)}, {"ip", host.address}}},
                        {"prod", state::to_upper_string(live)},
                        {"ref", ref},
                        {"commit", commit ? json(*commit) : json(nullptr)},
                        {"version", gate.last.version ? json(*gate.last.version) : json(nullptr)},
                        {"outcome", outcome_name},
                        {"steps", steps_json},
                        {"durationMs", ms_since(started)}};
  if (!failure.empty()) outcome.structured["error"] = failure;
  if (!record_problem.empty()) outcome.structured["recordProblem"] = record_problem;
  return outcome;
}

}  // namespace deployment
