#pragma once
// One standby server's part of deploy_to_standby: the app's enabled steps in order, in the
// server's app directory, then its own health gate (consecutive healthy answers reporting the
// commit its checkout now has). A pool deploy runs one of these per server (deploy.h decides how
// many at once and what the failure of one means for the others).
//
// Thread-safety: reentrant; the hooks are called from the calling thread and must be safe to call
// from several servers' threads at once.

#include "config/config.h"
#include "deployment/deploy.h"
#include "deployment/deploy_report.h"
#include "deployment/services.h"

#include <cstddef>
#include <functional>
#include <stop_token>
#include <string>

namespace bluegreen::deployment {

struct ServerDeployHooks {
  // True once the deploy as a whole is stopping (another server failed): no further step starts
  // on this server and the rest are reported "not run" (the one running finishes).
  std::function<bool()> halted;
  // Each step as it starts: its index in deploy_steps(app) (the health gate is steps.size()) and
  // a label for progress, "step 3/8: build" (pools: "blue2: step 3/8: build").
  std::function<void(std::size_t index, const std::string& label)> step_started;
  // A log line for the client (the health gate's probes).
  std::function<void(const std::string& message)> note;
};

// Runs the steps of `request` (its flags decide the conditional ones; `ref` is substituted as
// {ref}) and then the health gate on `server`, a server of colour `target`. `stop` stops the
// running remote command or the gate (the server is then "cancelled"). Never throws for remote
// failures: the returned rows and status say what happened (status "ok", "failed", "cancelled" or
// "stopped"; failure says why it failed).
ServerDeploy deploy_server(Services& services, const config::AppConfig& app, const DeployRequest& request,
                           const std::string& ref, state::Color target, const config::HostConfig& server,
                           const ServerDeployHooks& hooks, const std::stop_token& stop);

}  // namespace bluegreen::deployment
