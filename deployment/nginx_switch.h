#pragma once
// What a switch does differently on nginx (loadBalancer.type nginx); everything else (the lock,
// the approval, staging, swapping and restoring files with backups, the state file, the audit
// log, the frontend probes) is shared with HAProxy (traffic_switch.h, config_swap.h):
//  - the change: every proxy_pass of the app (nginx/routes.h) rewritten to the new colour's
//    upstream, in every file that holds one, byte for byte;
//  - validation: lb_scripts.h's validate_command_for (`nginx -t` in a private mount namespace with
//    the candidates bind-mounted over their files);
//  - the reload took: nginx answers `nginx -s reload` before its master has re-read anything, and
//    a master that rejects the new configuration keeps its old workers (nginx(8), "Controlling
//    nginx": "If this fails, it rolls back changes and continues to work with old configuration").
//    So a reload counts only once none of the workers from before runs as a current worker and at
//    least one new one does;
//  - the routing after it: `nginx -T` again, every route of the app must select the new colour.
//
// Thread-safety: reentrant; the switch functions run under the app's lock.

#include "config/config.h"
#include "deployment/config_change.h"
#include "deployment/lb_snapshot.h"
#include "deployment/services.h"

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// The change that makes every route of the app in `snapshot` (nginx's files read, routes found)
// select `to`. Errors: the files were not read; the upstream is not defined; nothing would change.
bluegreen::Result<ConfigChange> plan_nginx_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                  state::Color to);

// nginx's current workers now (the master from pidFile, its children from /proc); nullopt when
// they cannot be read or no master runs.
std::optional<std::vector<int>> nginx_current_workers(Services& services, const config::AppConfig& app);

// Waits (polling every 20 ms until `deadline`) for nginx to run only new current workers: none of
// `before` is a current worker any more and at least one worker runs. Returns "" and what it saw
// in `seen`, or why not; `cancelled` when `stop` ended the wait.
std::string wait_for_nginx_reload(Services& services, const config::AppConfig& app, const std::vector<int>& before,
                                  std::chrono::steady_clock::time_point deadline, const std::stop_token& stop,
                                  bool& cancelled, std::string& seen);

// `nginx -T` again: "" when every route of the app selects `expected`, else what does not.
std::string nginx_routing_mismatch(Services& services, const config::AppConfig& app, state::Color expected);

}  // namespace bluegreen::deployment
