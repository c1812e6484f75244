#pragma once
// The second half of switch_traffic: carrying out an approved plan safely. Planning is in
// switch_plan.h, the texts in switch_report.h.
//
// execute_switch() runs these steps (switch_steps(), in order; progress names each):
//   1. take the app's lock on the LB (held throughout);
//   2. re-check the plan against the live system (live colour, state generation, frontend,
//      master socket), rewrite the config, and, in parallel, validate the candidate (`haproxy -c`)
//      while the standby's consecutive probes run; write the new state file beside the old one;
//   3. swap the candidate in atomically, keeping a backup, unless the live file changed;
//   4. reload HAProxy;
//   5. verify the routing (routing_check.h);
//   6. commit the state file, or, on any failure after the swap, restore the backup, reload and
//      verify the old routing.
// Every refusal before the swap removes what it staged (candidate and prepared state; best
// effort: the next switch overwrites a leftover candidate) and changes nothing live. Every outcome
// once the lock is held (refused, ok, rolled-back, rollback-failed) is appended to the audit log;
// a failed append is reported in the outcome (`auditProblem`).
//
// Thread-safety: reentrant; concurrent executions for one app are serialised by the lock.

#include "config/config.h"
#include "deployment/approvals.h"
#include "deployment/services.h"
#include "deployment/switch_plan.h"
#include "deployment/switch_report.h"

#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// The step names, in order, as progress shows them.
const std::vector<std::string>& switch_steps(config::LbType type = config::LbType::kHaproxy);

// Executes `plan` for `client` (recorded in the lock, state history and audit log). `stop`
// cancels: until the candidate is swapped in (including while `haproxy -c` runs) nothing live
// changes; during the reload verification the switch is rolled back (the client hears it as a
// log line, as MCP sends no result for a cancelled call); once the routing is verified the state
// is recorded.
SwitchOutcome execute_switch(Services& services, const config::AppConfig& app, const SwitchPlan& plan,
                             const std::string& client, Reporter& reporter, std::stop_token stop);

}  // namespace bluegreen::deployment
