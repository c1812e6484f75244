#include "deployment/standby_gate.h"

#include "deployment/live_confirmation.h"
#include "deployment/pools.h"

#include <algorithm>
#include <future>

namespace bluegreen::deployment {
namespace {

StandbyGate standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                         std::chrono::milliseconds max_interval, const std::stop_token& stop) {
  GateSettings settings;
  settings.consecutive_successes = app.health_gate.consecutive_successes;
  settings.interval = std::min(app.health_gate.interval, max_interval);
  settings.request_timeout = app.health_gate.request_timeout;
  settings.timeout = settings.interval * (settings.consecutive_successes + 2) + settings.request_timeout;
  const auto& pool = pool_of(app, standby);
  StandbyGate gate;
  gate.needed = min_healthy(app, pool);
  std::vector<std::future<GateOutcome>> runs;
  for (const auto& server : pool.servers) {
    runs.push_back(std::async(std::launch::async, [&services, &server, &settings, &stop] {
      return run_health_gate(server.health_url, std::nullopt, settings, services.probe, services.time, stop);
    }));
  }
  std::string failures;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    gate.servers.push_back({&pool.servers[i], runs[i].get()});
    const auto& outcome = gate.servers.back().outcome;
    gate.cancelled = gate.cancelled || outcome.cancelled;
    if (outcome.passed) {
      if (gate.passed_count++ == 0) gate.last = outcome.last;
      continue;
    }
    const std::string why = outcome.reason.empty() ? outcome.last.summary() : outcome.reason;
    failures += (failures.empty() ? "" : "; ") + (pool.size() == 1 ? why : server_label(pool.servers[i]) + ": " + why);
  }
  if (gate.passed_count == 0 && !gate.servers.empty()) gate.last = gate.servers.front().outcome.last;
  gate.passed = !gate.cancelled && gate.passed_count >= gate.needed;
  if (!gate.passed) {
    gate.reason = pool.size() == 1 ? failures
                                   : std::to_string(gate.passed_count) + " of " + std::to_string(pool.size()) +
                                         " servers pass, " + std::to_string(gate.needed) + " needed (" + failures + ")";
  }
  return gate;
}

}  // namespace

StandbyGate plan_time_standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                                   const std::stop_token& stop) {
  return standby_gate(services, app, standby, std::chrono::milliseconds(250), stop);
}

StandbyGate execution_standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                                   const std::stop_token& stop) {
  return standby_gate(services, app, standby, std::chrono::milliseconds(20), stop);
}

std::string standby_problem_now(const config::AppConfig& app, const LbSnapshot& snapshot, state::Color standby,
                                const StandbyGate& gate, bool up_in_transition_counts) {
  if (!gate.passed) return "its health check does not pass consecutively now: " + gate.reason;
  if (!snapshot.servers) return "";
  if (const auto drift = pool_membership_drift(app, snapshot, standby); !drift.empty()) return drift.front();
  const auto& pool = pool_of(app, standby);
  const std::size_t needed = app.health_gate.min_healthy == 0 ? 0 : min_healthy(app, pool);
  std::size_t up = 0;
  std::string down;
  for (const auto& server : *snapshot.servers) {
    if (server.backend != backend_of(app, standby) || server.server == "BACKEND") continue;
    if (server.status == "UP" || server.status == "no check" ||
        (up_in_transition_counts && server.status.rfind("UP ", 0) == 0)) {
      ++up;
    } else if (down.empty()) {
      down = "HAProxy's own checks report server " + server.server + " as " + server.status;
    }
  }
  if (down.empty() || (needed > 0 && up >= needed)) return "";
  return needed > 0 ? down + " (" + std::to_string(up) + " UP, healthGate.minHealthy " + std::to_string(needed) + ")"
                    : down;
}

std::string standby_commit_problem(const config::Pool& pool, const std::vector<std::optional<std::string>>& commits,
                                   const std::vector<std::string>& problems, const StandbyGate& gate) {
  if (pool.size() == 1) return "";
  // What each server runs: the commit its health JSON reports, else its checkout's.
  std::optional<std::string> first;
  std::string first_server;
  for (std::size_t i = 0; i < pool.size() && i < commits.size(); ++i) {
    const std::string label = server_label(pool.servers[i]);
    const auto gated = std::find_if(gate.servers.begin(), gate.servers.end(),
                                    [&](const ServerGate& g) { return g.server == &pool.servers[i]; });
    const bool serving = gated != gate.servers.end() && gated->outcome.passed;
    const auto reported = gated != gate.servers.end() ? gated->outcome.last.commit : std::nullopt;
    if (!commits[i]) {
      if (serving) {
        return "the deployed commit of " + label + " cannot be read (" + (i < problems.size() ? problems[i] : "") +
               "), and it answers healthy: it would take traffic with code nobody can name";
      }
      continue;
    }
    if (serving && reported && !same_commit(*reported, *commits[i])) {
      return label + " runs commit " + reported->substr(0, 12) + " (its health answer) but its checkout is at " +
             commits[i]->substr(0, 8) +
             " (restarted from another commit, or its checkout changed since): the switch would serve code no "
             "deploy recorded. Deploy to the standby again (deploy_to_standby)";
    }
    const std::string runs = serving && reported ? *reported : *commits[i];
    if (!first) {
      first = runs;
      first_server = label;
    } else if (!same_commit(runs, *first)) {
      return "its servers are on different commits (" + first_server + " " + first->substr(0, 8) + ", " + label + " " +
             runs.substr(0, 8) +
             "): the switch would serve two versions at once. Deploy to the standby again (deploy_to_standby) so "
             "every server has the same commit";
    }
  }
  return "";
}

DeployedCommits read_pool_commits(Services& services, const config::Pool& pool, std::chrono::milliseconds timeout) {
  std::vector<const config::HostConfig*> servers;
  for (const auto& server : pool.servers) servers.push_back(&server);
  return read_deployed_commits_by_host(services, servers, timeout);
}

std::string pool_commit_problem(const config::Pool& pool, const DeployedCommits& commits, const StandbyGate& gate) {
  std::vector<std::optional<std::string>> deployed;
  std::vector<std::string> problems;
  for (const auto& server : pool.servers) {
    const auto& each = commits.at({server.ssh, server.app_dir});
    deployed.push_back(each.deployed_commit);
    problems.push_back(each.git_problem);
  }
  return standby_commit_problem(pool, deployed, problems, gate);
}

std::optional<state::DeployRecord> last_deploy_to(const LbSnapshot& snapshot, state::Color color) {
  if (const auto interrupted = interrupted_deploy_of(snapshot); interrupted && interrupted->color == color) {
    return interrupted_deploy_record(*interrupted);
  }
  if (!snapshot.state) return std::nullopt;
  const auto& deploys = snapshot.state->deploys;
  const auto newest = std::find_if(deploys.rbegin(), deploys.rend(),
                                   [color](const state::DeployRecord& d) { return d.color == color; });
  if (newest == deploys.rend()) return std::nullopt;
  return *newest;
}

std::string standby_deploy_problem(const LbSnapshot& snapshot, state::Color standby) {
  if (deploy_running_unknown(snapshot) && snapshot.activity->color == standby) {
    const std::string name = state::to_upper_string(standby);
    return "a deploy to " + name + " was recorded (" + snapshot.activity->describe() +
           ") and whether it is still running or was interrupted could not be checked (" +
           snapshot.activity_running_problem + "). " + name + " may be half deployed";
  }
  const auto last = last_deploy_to(snapshot, standby);
  if (!last || last->outcome == "ok") return "";
  const std::string name = state::to_upper_string(standby);
  std::string error = last->extra.value("error", std::string());
  return "the last deploy to " + name + " (ref " + last->ref + ", recorded " + last->timestamp + ") " +
         (last->outcome == "interrupted" ? std::string("was interrupted") : last->outcome) +
         (error.empty() ? "" : ": " + error) + ". " + name +
         " may be half deployed even though its health check passes (its old process may still be answering). "
         "Deploy to it again (deploy_to_standby) until that succeeds, or, only to roll back from a broken PROD, "
         "use emergency=true (the plan then shows this warning)";
}

}  // namespace bluegreen::deployment
