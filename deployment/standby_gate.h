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
#include "deployment/status.h"

#include <cstddef>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// The gate of one standby server.
struct ServerGate {
  const config::HostConfig* server = nullptr;  // into the app's configuration
  GateOutcome outcome;
};

// The gate of the whole standby colour: each server's streak, run in parallel; it passes when at
// least `needed` servers pass (pools.h's min_healthy: every server unless healthGate.minHealthy).
struct StandbyGate {
  std::vector<ServerGate> servers;  // in configuration order
  std::size_t passed_count = 0;
  std::size_t needed = 1;
  bool passed = false;
  bool cancelled = false;
  // Why it did not pass: the servers that failed and why ("blue3: HTTP 503; blue4: ..."), with
  // "2 of 4 servers pass, 3 needed" for pools.
  std::string reason;
  // A passing server's last report (else the first server's): what a one-line summary shows.
  remote::HealthReport last;
};

// When the plan is made: health_gate.consecutiveSuccesses probes at most 250 ms apart, with a
// deadline of interval x (successes + 2) + requestTimeout: just long enough for the streak, so a
// down standby is reported quickly. Every standby server in parallel.
StandbyGate plan_time_standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                                   const std::stop_token& stop);

// At execution, while the lock is taken: the same streak, probes 20 ms apart (the switch waits
// for it). Every standby server in parallel.
StandbyGate execution_standby_gate(Services& services, const config::AppConfig& app, state::Color standby,
                                   const std::stop_token& stop);

// Why the standby's servers are not all on one commit, or "" when they are: `commits[i]` is the
// deployed commit (git HEAD) of pool.servers[i], nullopt when it could not be read (`problems[i]`
// says why). A server whose commit cannot be read counts only when it is not among those that
// passed the gate (a down server is allowed by minHealthy; a serving one of unknown code is not).
std::string standby_commit_problem(const config::Pool& pool, const std::vector<std::optional<std::string>>& commits,
                                   const std::vector<std::string>& problems, const StandbyGate& gate);

// The last deploy to `color`: an interrupted one in the snapshot's activity record (it is newer
// than anything recorded), else the newest of that colour in the state file; nullopt when none.
std::optional<state::DeployRecord> last_deploy_to(const LbSnapshot& snapshot, state::Color color);

// Why the standby's files may not be what its health check says, or "" when its last deploy
// succeeded (or none is recorded): that deploy failed, was cancelled or was interrupted, so the
// host may be half deployed while its old process still answers healthy. Says what to do.
std::string standby_deploy_problem(const LbSnapshot& snapshot, state::Color standby);

// The deployed commits of `pool`'s servers (status.h's read_deployed_commits_by_host), in
// parallel, each within `timeout`.
DeployedCommits read_pool_commits(Services& services, const config::Pool& pool, std::chrono::milliseconds timeout);

// standby_commit_problem over commits read by read_pool_commits.
std::string pool_commit_problem(const config::Pool& pool, const DeployedCommits& commits, const StandbyGate& gate);

// Why the standby may not take traffic now, or "" when it may: the gate must have passed, and
// HAProxy's own checks (snapshot.servers, when the stats socket is configured) must report every
// server of its backend fully UP ("no check" counts as up; "UP 1/2" is a transition and does not),
// or, with healthGate.minHealthy, at least that many; and a pool whose servers are named must
// match the backend's servers (pools.h's pool_membership_drift).
// `up_in_transition_counts`: "UP 1/2" (up, a check failed since) counts as up; the plan passes it
// (a server just restarted by a deploy shows it for a moment), the execution does not.
std::string standby_problem_now(const config::AppConfig& app, const LbSnapshot& snapshot, state::Color standby,
                                const StandbyGate& gate, bool up_in_transition_counts = false);

}  // namespace bluegreen::deployment
