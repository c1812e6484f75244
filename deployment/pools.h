#pragma once
// Pools: a colour served by several app servers (hosts.blue / hosts.green as lists). What the rest
// of the deployment layer needs to treat a colour as a set: how many must be healthy before it
// takes traffic, what to call each server in messages, and whether HAProxy's backend holds
// exactly the configured servers (a server in one but not the other is drift: traffic goes where
// no deploy reaches, or a deployed server never gets traffic).
//
// Thread-safety: pure functions.

#include "config/config.h"
#include "deployment/lb_snapshot.h"

#include <cstddef>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// How many servers of `pool` must pass the standby gate for a switch: healthGate.minHealthy when
// set (never more than the pool has), else all of them. Always >= 1.
std::size_t min_healthy(const config::AppConfig& app, const config::Pool& pool);

// How many servers of `pool` a deploy runs at once: deploy.maxParallel when set (never more than
// the pool has), else all of them. Always >= 1.
std::size_t max_parallel(const config::AppConfig& app, const config::Pool& pool);

// The name of `server` in messages and tables: its haproxyServer, else its ssh destination.
std::string server_label(const config::HostConfig& server);

// "127.0.0.1" for one server, "4 servers: a, b, c, d" (addresses) for a pool.
std::string pool_addresses(const config::Pool& pool);

// HAProxy's backend of `color` against the configured pool: for each mismatch a sentence naming
// the server and what to do. HAProxy's servers come from its stats socket (`show stat`: what runs
// now) when it answered, else from the `server` lines of the backend in the files it loads. A pool
// whose servers name their haproxyServer must match the backend name for name; a colour of one
// server without haproxyServer must face a backend of one server (several would be servers no
// deploy reaches). Empty when they match or when neither source is available (`unknown` is then
// set, when given).
std::vector<std::string> pool_membership_drift(const config::AppConfig& app, const LbSnapshot& snapshot,
                                               state::Color color, bool* unknown = nullptr);

}  // namespace bluegreen::deployment
