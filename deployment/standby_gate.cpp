#include "deployment/standby_gate.h"

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

}  // namespace bluegreen::deployment
