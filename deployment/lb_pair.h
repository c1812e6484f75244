#pragma once
// Load-balancer pairs: an app whose loadBalancer is a list (an active/passive pair behind a
// floating address, or two nodes behind DNS). Every load balancer routes the app, holds its own
// copy of the state file, lock and audit log, and is switched with the others or not at all.
//
// The single-LB code reads `app.load_balancer`; it runs once per load balancer on a *view* of the
// app whose load_balancer is that one (app_on_lb). Locks are taken in lock_order (by ssh
// destination, whatever the configuration order), so two servers switching the same pair at once
// can never each hold one lock and wait for the other.
//
// Thread-safety: pure functions.

#include "config/config.h"
#include "deployment/lb_snapshot.h"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// Whether `app` has more than one load balancer.
inline bool is_lb_pair(const config::AppConfig& app) { return app.load_balancers.size() > 1; }

// A copy of `app` whose load_balancer (and only entry of load_balancers) is
// app.load_balancers[index] (std::out_of_range past the end), or app.load_balancer itself for
// index 0 (the first load balancer's source of truth; also when load_balancers is empty, as in an
// AppConfig built by hand). Pointers into the copy (its pools'
// servers) are the copy's own: keep it alive while they are used.
config::AppConfig app_on_lb(const config::AppConfig& app, std::size_t index);

// Every view of `app`, one per load balancer, in configuration order (size 1 for one LB).
std::vector<config::AppConfig> lb_views(const config::AppConfig& app);

// The indexes of `load_balancers` (an app's) in the order their locks are taken: by ssh
// destination, so the order is the same whatever the configuration's.
std::vector<std::size_t> lock_order(const std::vector<config::LoadBalancerConfig>& load_balancers);

// What one load balancer of a pair says, as a line for messages: "lab-lb2 routes to GREEN (state
// generation 12, PROD=GREEN)", or "lab-lb2: <why its routing is unknown>".
std::string lb_position(const std::string& ssh, const LbSnapshot& snapshot);

// Why the load balancers' snapshots (`snapshots[i]` of app.load_balancers[i]) do not agree, or ""
// when they do: one's routing unknown, different colours, different state files (PROD or
// generation). Each sentence names the load balancers and says what to do.
std::vector<std::string> pair_divergence(const config::AppConfig& app, const std::vector<const LbSnapshot*>& snapshots);

// The colour every load balancer routes to, when they all know and agree; nullopt otherwise.
std::optional<state::Color> pair_live(const std::vector<const LbSnapshot*>& snapshots);

// The newest state among the snapshots (the highest generation; nullptr when none has a state
// file): what the next write builds on, so a pair whose state files drifted apart is healed by it.
const LbSnapshot* newest_state(const std::vector<const LbSnapshot*>& snapshots);

}  // namespace bluegreen::deployment
