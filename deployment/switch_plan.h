#pragma once
// The first half of switch_traffic: what a switch would do, computed from the live system, and
// how it is shown to the human who approves it. Nothing here changes anything.
//
// Thread-safety: reentrant.

#include "config/config.h"
#include "deployment/activity_record.h"
#include "deployment/approvals.h"
#include "deployment/config_change.h"
#include "deployment/services.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bluegreen::deployment {

// One server of the standby as the plan saw it.
struct PlanServer {
  const config::HostConfig* server = nullptr;  // into the app's configuration
  remote::HealthReport health;                 // its gate's last answer (emergency: one probe)
  bool passed = false;                         // it passed the standby gate (emergency: answered healthy)
  std::optional<std::string> commit;           // git HEAD in its app dir, when readable
};

struct PlanView {
  SwitchPlan plan;
  ConfigChange change;  // every route of the app rewritten to the new colour (config_change.h)
  // A pair's other load balancers (lb_pair.h): each one's ssh and its change, in configuration order.
  std::vector<std::pair<std::string, ConfigChange>> other_changes;
  std::vector<std::string> entry_points;      // each entry point and the colour it serves now (describe_entry_point)
  remote::HealthReport standby_health;        // a passing standby server's last answer (else the first's)
  std::optional<std::string> standby_commit;  // git HEAD in the standby's app dir(s), when readable and the same
  std::vector<PlanServer> standby_servers;    // every standby server, in configuration order
  std::size_t min_healthy = 1;                // how many of them must pass (pools.h)
  std::int64_t next_switch_number = 1;
  // A switch whose server stopped before it finished: the switch rolls it back first
  // (switch_recovery.h); `recovery_stage` is how far it had got (live_confirmation.h).
  std::optional<Activity> interrupted;
  std::string recovery_stage;
  std::optional<state::DeployRecord> last_deploy;  // the last deploy to the standby, when recorded
  std::string deploy_warning;  // an emergency plan's warning that the standby's last deploy did not succeed
};

// Computes the plan from the live system: the LB snapshot, the frontend, every server's commit,
// and (unless `emergency`) the standby's consecutive-success gate on each of its servers (at
// least healthGate.minHealthy must pass, all on one commit, the backend's servers as configured). An interrupted switch
// is planned as its rollback followed by the same switch (its `from` is what the state file records). Errors (all
// kFailed, with what to do): live colour unknown, corrupt or unreadable state file, the running HAProxy contradicting
// its config file, a config that cannot be rewritten, an unhealthy standby, or (unless `emergency`) a standby whose
// last deploy failed, was cancelled or was interrupted.
bluegreen::Result<PlanView> plan_switch(Services& services, const config::AppConfig& app, bool emergency);

// The plan for the human: the heading, from and to, the standby's health, version and commit, every
// changed config line now and after, the entry points and the steps, without how to answer (the
// approval page and the deployment panel have their own buttons). Several lines, '\n'-separated.
std::string plan_text(const config::AppConfig& app, const PlanView& view);

// The plan for the human (plan_text), ending with how to approve: `token` is quoted as the approvalToken to
// pass; "" when the human answers in the client's own form (elicitation), which the text then
// says. `ttl` is how long the approval is valid.
std::string approval_request_text(const config::AppConfig& app, const PlanView& view, const std::string& token,
                                  std::chrono::milliseconds ttl);

// The same plan as JSON: {app, from{server,ip,servers}, to{server,ip,servers}, haproxy{config (the file that
// changes), lineNumber, now, after (its first changed line), lines[{line,section,now,after}],
// entryPoints[text]},
// standby{healthy,health,version,commit,lastDeploy{ref,commit,outcome,timestamp}|null,
// minHealthy, servers[{server,ssh,ip,healthy,health,version,commit}]},
// emergency, stateGeneration, switchNumber, and when they apply: interruptedSwitch{...,stage},
// warning}.
nlohmann::json plan_json(const config::AppConfig& app, const PlanView& view);

}  // namespace bluegreen::deployment
