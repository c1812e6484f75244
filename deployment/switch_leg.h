#pragma once
// One load balancer's part of a switch (traffic_switch.h): every load balancer of an app (one, or
// a pair: lb_pair.h) goes through the same steps together: its config change staged and checked,
// swapped in, applied (reload, or running map) and verified; or, on any failure anywhere, restored
// and verified on the old colour. This file holds what one leg does; traffic_switch.cpp decides
// when, for all of them.
//
// Thread-safety: a leg is used by one thread at a time; the functions here are reentrant for
// different legs (a pair's legs apply and restore in parallel).

#include "config/config.h"
#include "deployment/activity_record.h"
#include "deployment/approvals.h"
#include "deployment/config_change.h"
#include "deployment/lb_snapshot.h"
#include "deployment/services.h"
#include "deployment/switch_report.h"
#include "state/state_store.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <future>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct SwitchLeg {
  std::size_t index = 0;                    // the load balancer's index (LbSet, configuration order)
  const config::AppConfig* view = nullptr;  // the app as this load balancer sees it (lb_pair.h)
  ConfigChange change;                      // what the switch changes in its HAProxy configuration
  std::size_t swapped = 0;                  // how many of change.edits were replaced
  std::future<bluegreen::Result<remote::CommandResult>> validation;  // stage_candidates, while it runs
  std::optional<state::StateStore::PreparedWrite> prepared;          // the new state beside the old one
  // The activity record (activity_record.h): written before the swap; what it replaced (an
  // interrupted deploy's record, put back when this switch records nothing); kept when the user
  // must act.
  std::future<bluegreen::Result<remote::CommandResult>> activity_write;
  bool activity_written = false;
  std::optional<Activity> replaced_activity;
  bool keep_activity = false;
  bool applied = false;    // its reload (or running-map change) was attempted
  bool committed = false;  // its state file records the switch
  std::string verified;    // what its verification saw
};

// Applies leg.change on its load balancer (reload, or the running map) and verifies the routing
// to plan.to (routing_check.h), the reload counted from `snapshot`. Returns why it failed ("" when
// verified; `cancelled` set when a cancel stopped the verification); sets leg.applied and
// leg.verified. `haproxy_step_ms` gets the apply's duration.
std::string apply_and_verify(Services& services, const SwitchPlan& plan, const LbSnapshot& snapshot, SwitchLeg& leg,
                             const std::stop_token& stop, bool& cancelled, long long& haproxy_step_ms);

// Puts leg's backed-up files back, reloads (or restores the running map) and verifies the routing
// to plan.from. Not cancellable. `state_uncertain` is copied into the report.
RollbackReport restore_leg(Services& services, const SwitchPlan& plan, const SwitchLeg& leg, bool state_uncertain);

// One report for several load balancers' rollbacks (`ssh[i]` names reports[i]'s): restored,
// reloaded and verified only when every one was; the texts prefixed with their load balancer;
// config_files those of the first whose way back was not verified. A single report is returned as
// it is.
RollbackReport merge_rollbacks(const std::vector<std::string>& ssh, const std::vector<RollbackReport>& reports);

// A leg whose state file recorded the switch (leg.committed) while the switch failed elsewhere:
// `before` (the state before the switch, its prod the plan's `from`) is written back with a newer
// generation (`recorded` + 1, `recorded` being the switch's), so the file tells the truth again.
// Returns what happened, for the result ("" when leg did not commit); clears leg.committed when
// it worked. `where`: "on lab-lb: " for a pair.
std::string revert_recorded_state(const state::StateStore& store, const state::AppLock& lock, SwitchLeg& leg,
                                  state::DeploymentState before, std::uint64_t recorded, const std::string& where);

// The validate command as it checks leg's candidates (validate_command_for), for messages.
std::string validate_text_of(const SwitchLeg& leg);

// Where each leg of a rolled-back pair switch ended: [{ssh, replaced, restoredAndVerified?}] in
// legs' order; `touched[k]` is the index of the leg reports[k] restored.
nlohmann::json rollback_positions(const std::vector<SwitchLeg>& legs, const std::vector<std::size_t>& touched,
                                  const std::vector<RollbackReport>& reports);

// Where each leg of a completed pair switch is: [{ssh, routesTo}] in legs' order.
nlohmann::json switched_positions(const std::vector<SwitchLeg>& legs, state::Color to);

}  // namespace bluegreen::deployment
