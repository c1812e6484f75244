#pragma once
// Rolling back a switch whose server stopped before it finished (an interrupted switch,
// deployment/live_confirmation.h), so the next switch starts from a known state: the config that
// was live before it (selecting its `from` colour) is put back if the file was swapped, HAProxy
// is reloaded (whatever it ran, it then runs the file) and the routing to `from` is verified.
//
// The config is put back from <config>.bluegreen-backup only when that backup is exactly the
// interrupted switch's original: rewriting its selecting line to `to` gives the live file byte
// for byte. Otherwise nothing is restored and the caller must refuse: an older backup could
// undo someone else's change.
//
// Thread-safety: reentrant; must run under the app's lock.

#include "config/config.h"
#include "deployment/lb_snapshot.h"
#include "deployment/services.h"

#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct RecoveryOutcome {
  bool ok = false;        // the config selects `from`, HAProxy reloaded it and the routing verified
  bool restored = false;  // the backup was put back over a swapped config
  std::string text;       // what was done, or why it stopped (with what to do)
};

// `snapshot`: read under the lock, with an interrupted switch in its activity record.
// `emergency`: the switch that follows is an emergency (its `from`, where this rolls back to, may
// be the broken colour), so requests through the frontend not reaching `from` are reported, not a
// failure (RoutingExpectation::frontend_advisory). Not cancellable: stopping halfway would leave
// things worse. Takes up to the LB's command timeout per remote step, plus the reload
// verification's wait.
RecoveryOutcome roll_back_interrupted_switch(Services& services, const config::AppConfig& app,
                                             const LbSnapshot& snapshot, bool emergency);

// The files an interrupted switch had replaced, as HAProxy and nginx tell (LbKind::interrupted_swaps'
// default): those in which a route of the app selects the switch's colour; each must have a backup
// that is the switch's original (with it in place every route selects `from`, and rewriting it to
// the switch's colour gives the live file), else an Error says which is not.
bluegreen::Result<std::vector<std::string>> interrupted_file_swaps(Services& services, const config::AppConfig& app,
                                                                   const LbSnapshot& snapshot);

// The load balancer's snapshot after a reload, once HAProxy's checks of `standby`'s servers have
// settled ("UP 1/2" is a transition): read again every 250 ms for up to 10 s while any is in
// transition (`stop` ends the wait early). Under the app's lock.
LbSnapshot read_settled_snapshot(Services& services, const config::AppConfig& app, const state::StateStore& store,
                                 state::Color standby, const std::stop_token& stop);

}  // namespace bluegreen::deployment
