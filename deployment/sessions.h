#pragma once
// Open sessions per colour, as HAProxy counts them: `show stat`'s scur (current sessions) and stot
// (total) of the colour's backend and servers in the current worker, plus the sessions old
// workers are still finishing after a reload (each old worker's own `show stat`, asked through the
// master CLI as `@!<pid> show stat`: counters are per process, so the new worker does not count
// them). A colour that no entry point routes to has *drained* when none is left: that is when a
// deploy to it cuts no one off (seeds 002/003: long-lived WebSocket and upload sessions).
//
// Thread-safety: pure functions over a snapshot; read_old_worker_sessions is reentrant.

#include "config/config.h"
#include "deployment/lb_snapshot.h"

#include <optional>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct ColourSessions {
  bool known = false;             // the stats socket answered (else nothing below is known)
  long long current = 0;          // open now in the current worker (the backend's scur)
  long long in_old_workers = 0;   // open in old workers finishing connections from before a reload
  bool old_workers_known = true;  // every old worker answered
  long long total = 0;            // sessions since the current worker started (the backend's stot)
  [[nodiscard]] long long open() const { return current + in_old_workers; }
};

// The sessions of several load balancers (a pair: each counts its own) added up; known only when
// every one is known. An empty list gives known = false.
ColourSessions add_sessions(const std::vector<ColourSessions>& parts);

// `color`'s sessions in `snapshot` (its servers, old_worker_servers).
ColourSessions colour_sessions(const config::AppConfig& app, const LbSnapshot& snapshot, state::Color color);

// "3 open (2 in HAProxy's old workers), 120 since the last reload" for messages; "unknown" when
// the stats socket did not answer.
std::string sessions_text(const ColourSessions& sessions);

// Asks each old worker of snapshot.processes for its `show stat` through the master socket and
// fills snapshot.old_worker_servers (a worker that does not answer is left out and counted in
// old_workers_problem). Nothing is asked when there is no old worker.
void read_old_worker_sessions(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot);

// `color`'s sessions now, read afresh: `show stat` on the stats socket, `show proc` and each old
// worker's `show stat` on the master socket (known = false without a stats socket or an answer).
ColourSessions read_colour_sessions(remote::Executor& executor, const config::AppConfig& app, state::Color color);

// The global section's `hard-stop-after` value as written ("30s"), from the snapshot's files; ""
// when not set. HAProxy cuts what old workers still hold once it has passed since the reload.
std::string hard_stop_after(const LbSnapshot& snapshot);

}  // namespace bluegreen::deployment
