#pragma once
// Is the standby fit to take traffic? The health gate's consecutive-success rule applied at the
// two moments a switch asks: when the plan is made, and again just before the config is swapped.
// A flapping host never passes on one lucky probe.
//
// Thread-safety: reentrant; probes run on the caller's thread.

#include "config/config.h"
#include "deployment/health_gate.h"
#include "deployment/lb_snapshot.h"
#include "deployment/services.h"

#include <optional>
#include <stop_token>
#include <string>

namespace bluegreen::deployment {

// When the plan is made: health_gate.consecutiveSuccesses probes at most 250 ms apart, with a
// deadline of interval x (successes + 2) + requestTimeout: just long enough for the streak, so a
// down standby is reported quickly.
GateOutcome plan_time_standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                                   const std::stop_token& stop);

// At execution, while the lock is taken: the same streak, probes 20 ms apart (the switch waits
// for it).
GateOutcome execution_standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                                   const std::stop_token& stop);

// The last deploy to `color`: an interrupted one in the snapshot's activity record (it is newer
// than anything recorded), else the newest of that colour in the state file; nullopt when none.
std::optional<state::DeployRecord> last_deploy_to(const LbSnapshot& snapshot, state::Color color);

// Why the standby's files may not be what its health check says, or "" when its last deploy
// succeeded (or none is recorded): that deploy failed, was cancelled or was interrupted, so the
// host may be half deployed while its old process still answers healthy. Says what to do.
std::string standby_deploy_problem(const LbSnapshot& snapshot, state::Color standby);

// Why the standby may not take traffic now, or "" when it may: the gate must have passed, and
// HAProxy's own checks (snapshot.servers, when the stats socket is configured) must report every
// server of its backend fully UP ("no check" counts as up; "UP 1/2" is a transition and does not).
std::string standby_problem_now(const config::AppConfig& app, const LbSnapshot& snapshot, state::Color standby,
                                const GateOutcome& gate);

}  // namespace bluegreen::deployment
