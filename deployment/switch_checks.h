#pragma once
// The checks and state of a switch under the lock (traffic_switch.h): whether the approved plan
// still holds on a load balancer, and the state file after the switch.
//
// Thread-safety: reentrant.

#include "config/config.h"
#include "deployment/activity_record.h"
#include "deployment/approvals.h"
#include "deployment/config_change.h"
#include "deployment/frontend_check.h"
#include "deployment/lb_snapshot.h"
#include "deployment/services.h"
#include "state/deployment_state.h"

#include <cstdint>
#include <optional>
#include <string>

namespace bluegreen::deployment {

// The state after the switch: `snapshot`'s state (or, with no file yet, HAProxy's truth) with the
// roles swapped, the count bumped, the switch (by `client`) in the history, an interrupted deploy
// found on the way (so it is not forgotten when the activity record is removed), and generation
// `generation` + 1. For a pair, `snapshot` is the one with the newest state and `generation` the
// highest of all.
state::DeploymentState next_state(const config::AppConfig& app, const LbSnapshot& snapshot, const SwitchPlan& plan,
                                  const std::string& client, std::uint64_t generation,
                                  const std::optional<Activity>& interrupted_deploy);

// Why the snapshot taken under the lock no longer supports `plan` ("" when it still does), and
// the colour HAProxy is then known to route to (nullopt: not known).
struct PlanCheck {
  std::string why;
  std::optional<state::Color> routes_to;
};

// `frontend`: a first probe through the load balancer's verifyUrl (settled here);
// `generation`: the state generation to compare with the plan's (a pair's highest).
PlanCheck plan_no_longer_holds(Services& services, const config::AppConfig& app, const SwitchPlan& plan,
                               const LbSnapshot& snapshot, std::optional<FrontendView> frontend,
                               std::uint64_t generation);

// Why the lines a switch is about to change (`changes`, one per load balancer, made under the lock)
// are not the ones its plan showed the human (plan.lines): "" when they are, else a refusal naming
// the first line that differs. Binds the approval whatever channel gave it (issue 17): a
// configuration edited by hand between the plan and the approval voids it, even when the state
// file did not change.
std::string lines_no_longer_approved(const SwitchPlan& plan, const std::vector<const ConfigChange*>& changes);

// The activity record a switch leaves on a load balancer before its swap: which switch, by whom,
// from which state generation and reload count (from `snapshot`), the files `change` replaces, and
// an interrupted deploy's record it replaces (kept in `replaced`).
Activity switch_activity(const config::AppConfig& app, const SwitchPlan& plan, const std::string& client,
                         const LbSnapshot& snapshot, const ConfigChange& change);

}  // namespace bluegreen::deployment
