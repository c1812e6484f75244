#include "deployment/server_deploy.h"

#include "common/text.h"
#include "deployment/pools.h"
#include "deployment/status.h"
#include "remote/shell_command.h"

#include <map>

namespace bluegreen::deployment {
namespace {

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

// The row of one step that ran (or could not start) on `host`; sets the server's status and
// failure when it did not succeed. `where` (" on blue2" in a pool, else "") goes into the failure.
StepRow step_row(const config::DeployStep& step, const std::string& host, const std::string& where,
                 const bluegreen::Result<remote::CommandResult>& result, ServerDeploy& into) {
  StepRow row{step.name, "", std::nullopt, 0, ""};
  if (!result) {
    row.status = "failed";
    row.detail = result.error().message;
    into.status = "failed";
    into.failure = "step \"" + step.name + "\" could not run on " + host + ": " + result.error().message;
    return row;
  }
  row.duration_ms = result->duration.count();
  row.exit_code = result->exit_status;
  if (result->succeeded()) {
    row.status = "ok";
  } else if (result->cancelled) {
    row.status = "cancelled";
    into.status = "cancelled";
  } else {
    row.status = result->timed_out ? "timed out" : "failed";
    row.detail = bluegreen::tail_of(result->err.tail.empty() ? result->out.tail : result->err.tail, 1200);
    if (row.detail.empty()) row.detail = result->problem;
    into.status = "failed";
    into.failure = "step \"" + step.name + "\" " + (result->timed_out ? "timed out" : "failed") + where + " (" +
                   result->summary() + ")";
  }
  return row;
}

std::string label_of(const config::Pool& pool, const config::HostConfig& server, std::size_t index, std::size_t total,
                     const std::string& name, const std::string& detail) {
  const std::string step = "step " + std::to_string(index + 1) + "/" + std::to_string(total) + ": " + name + detail;
  return pool.size() == 1 ? step : server_label(server) + ": " + step;
}

}  // namespace

ServerDeploy deploy_server(Services& services, const config::AppConfig& app, const DeployRequest& request,
                           const std::string& ref, state::Color target, const config::HostConfig& server,
                           const ServerDeployHooks& hooks, const std::stop_token& stop) {
  const auto started = services.time.now();
  const auto& pool = pool_of(app, target);
  const std::size_t total = app.steps.size() + 2;  // deploy_steps(app): the steps, the gate, the record
  ServerDeploy result;
  result.server = &server;
  result.status = "running";
  const std::map<std::string, std::string> values{{"ref", ref},
                                                  {"appDir", server.app_dir},
                                                  {"color", std::string(state::to_string(target))},
                                                  {"service", server.service},
                                                  {"app", app.name}};
  const auto finished = [&result] { return result.status != "running"; };
  const std::string where = pool.size() == 1 ? std::string() : " on " + server_label(server);
  for (std::size_t i = 0; i < app.steps.size(); ++i) {
    const auto& step = app.steps[i];
    if (!finished() && stop.stop_requested()) result.status = "cancelled";  // never start a step after a cancel
    if (!finished() && hooks.halted && hooks.halted()) result.status = "stopped";
    if (finished()) {
      result.rows.push_back({step.name, "not run", std::nullopt, 0, ""});
      continue;
    }
    if (!step_enabled(step, request)) {
      result.rows.push_back({step.name, "skipped", std::nullopt, 0, condition_name(step.when) + "=false"});
      continue;
    }
    if (hooks.step_started) hooks.step_started(i, label_of(pool, server, i, total, step.name, ""));
    remote::CommandOptions options;
    options.deadline = step.timeout;
    options.stop = stop;
    const std::string command =
        "cd " + remote::shell_quote(server.app_dir) + " && " + remote::substitute_placeholders(step.run, values);
    result.rows.push_back(
        step_row(step, server.ssh, where, services.executor.run(server.ssh, command, options), result));
  }
  if (!finished() && hooks.halted && hooks.halted()) result.status = "stopped";
  if (finished()) {
    if (pool.size() > 1) result.rows.push_back({"health gate", "not run", std::nullopt, 0, ""});
    result.duration_ms = services.time.ms_since(started);
    return result;
  }

  // What is deployed now, and is it healthy?
  HostStatus info;
  fill_deployed_commit(services, server, app.load_balancer.command_timeout, info);
  result.commit = info.deployed_commit;
  if (hooks.step_started) {
    hooks.step_started(app.steps.size(),
                       label_of(pool, server, app.steps.size(), total, "health gate", " on " + server.health_url));
  }
  const GateSettings settings{app.health_gate.timeout, app.health_gate.interval, app.health_gate.consecutive_successes,
                              app.health_gate.request_timeout};
  const std::string prefix = pool.size() == 1 ? std::string() : server_label(server) + ": ";
  const auto gate = run_health_gate(server.health_url, result.commit, settings, services.probe, services.time, stop,
                                    [&hooks, &prefix](const std::string& message) {
                                      if (hooks.note) hooks.note(prefix + message);
                                    });
  result.rows.push_back({"health gate", gate.passed ? "ok" : (gate.cancelled ? "cancelled" : "failed"), std::nullopt,
                         gate.waited.count(), gate.passed ? gate.last.summary() : gate.reason});
  result.version = gate.last.version;
  if (gate.passed) {
    result.status = "ok";
  } else if (gate.cancelled) {
    result.status = "cancelled";
  } else {
    result.status = "failed";
    result.failure = "the health gate failed" + where + ": " + gate.reason;
  }
  result.duration_ms = services.time.ms_since(started);
  return result;
}

}  // namespace bluegreen::deployment
