#pragma once
// deploy_to_standby's substance: run the app's deploy steps on the STANDBY host only, under the
// app's lock, then hold the health gate and record the outcome in the state file.
//
// The target is whatever HAProxy does not route to; if that cannot be determined, or the caller
// expected a different target, nothing runs. Steps stop at the first failure; a cancellation
// stops the running remote command. The lock is released whatever happens.
//
// Thread-safety: reentrant; concurrent deploys of one app are serialised by the lock.

#include "config/config.h"
#include "deployment/deploy_report.h"
#include "deployment/services.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct DeployRequest {
  bool pull_github = true;
  bool run_migrations = false;
  bool create_backup = true;
  std::optional<std::string> ref;               // default: the app's deploy.defaultRef
  std::optional<state::Color> expected_target;  // refuse unless the standby is this colour
};

// The step names of a deploy of `app`, in order, as progress shows them: the configured steps,
// then "health gate" and "recording the deploy".
std::vector<std::string> deploy_steps(const config::AppConfig& app);

// Runs the deploy for `client` (recorded in the lock, state file and audit log). `stop` stops the
// running remote command (or the health gate); the deploy is then recorded as cancelled.
DeployOutcome deploy_to_standby(Services& services, const config::AppConfig& app, const DeployRequest& request,
                                const std::string& client, Reporter& reporter, std::stop_token stop);

}  // namespace bluegreen::deployment
