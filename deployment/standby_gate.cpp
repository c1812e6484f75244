#include "deployment/standby_gate.h"

#include "deployment/live_confirmation.h"

#include <algorithm>

namespace bluegreen::deployment {
namespace {

GateOutcome standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                         std::chrono::milliseconds max_interval, const std::stop_token& stop) {
  GateSettings settings;
  settings.consecutive_successes = app.health_gate.consecutive_successes;
  settings.interval = std::min(app.health_gate.interval, max_interval);
  settings.request_timeout = app.health_gate.request_timeout;
  settings.timeout = settings.interval * (settings.consecutive_successes + 2) + settings.request_timeout;
  return run_health_gate(host_of(app, standby).health_url, std::nullopt, settings, services.probe, services.time, stop);
}

}  // namespace

GateOutcome plan_time_standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                                   const std::stop_token& stop) {
  return standby_gate(services, app, standby, std::chrono::milliseconds(250), stop);
}

GateOutcome execution_standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                                   const std::stop_token& stop) {
  return standby_gate(services, app, standby, std::chrono::milliseconds(20), stop);
}

std::string standby_problem_now(const config::AppConfig& app, const LbSnapshot& snapshot, state::Color standby,
                                const GateOutcome& gate) {
  if (!gate.passed) return "its health check does not pass consecutively now: " + gate.reason;
  if (!snapshot.servers) return "";
  for (const auto& server : *snapshot.servers) {
    if (server.backend != backend_of(app, standby) || server.server == "BACKEND") continue;
    if (server.status != "UP" && server.status != "no check") {
      return "HAProxy's own checks report server " + server.server + " as " + server.status;
    }
  }
  return "";
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
  return "the last deploy to " + name + " (ref " + last->ref + ", started " + last->timestamp + ") " +
         (last->outcome == "interrupted" ? std::string("was interrupted") : last->outcome) +
         (error.empty() ? "" : ": " + error) + ". " + name +
         " may be half deployed even though its health check passes (its old process may still be answering). "
         "Deploy to it again (deploy_to_standby) until that succeeds, or, only to roll back from a broken PROD, "
         "use emergency=true (the plan then shows this warning)";
}

}  // namespace bluegreen::deployment
