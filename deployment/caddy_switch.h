#pragma once
// Switching an app whose load balancer is Caddy, through the file that is Caddy's source of truth
// (caddy_source_path): its Caddyfile (loadBalancer.caddyfile), or, for a Caddy that resumes its
// autosaved JSON (`caddy run --resume`), that autosave (loadBalancer.autosave). The switch goes
// through the same file swap as HAProxy's and nginx's (config_swap.h: candidate, validation,
// backup, atomic rename, restore), and Caddy loads the file through its admin API (`caddy reload`,
// a POST of the (adapted) file to /load: Caddy runs the new configuration or keeps the old one,
// never half of one). So a restart of Caddy keeps the switch.
//
// What makes it safe beyond `caddy validate`:
//  - before the plan: the source must give (a Caddyfile: `caddy adapt`, Caddy's own adapter) exactly
//    the configuration Caddy runs (LbSnapshot::source_problem), else the switch is refused: changing
//    the file would also bring in whatever differs;
//  - the candidate: a Caddyfile gets the upstream tokens of the app's reverse_proxy lines rewritten
//    (caddy/caddyfile_edit.h), an autosave its JSON rewritten (caddy/config_json.h
//    rewrite_proxies); either must give exactly the running configuration with only the app's
//    upstreams rewritten, checked on the LB before anything is swapped;
//  - after the reload: Caddy's running configuration (GET /config/) routes every reverse_proxy of
//    the app to the new colour, the source gives exactly it, and every verifyUrl answers from it.
// With neither key a switch is refused (caddy_switch_refusal).
//
// Thread-safety: reentrant; the remote steps run under the app's lock.

#include "common/result.h"
#include "config/config.h"
#include "deployment/config_change.h"
#include "deployment/lb_snapshot.h"
#include "deployment/routing_check.h"
#include "deployment/services.h"

#include <map>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// Why a switch of `app` (a Caddy app) cannot be made at all, or "": neither caddyfile nor autosave.
std::string caddy_switch_refusal(const config::AppConfig& app);

// The change: the source (snapshot.config_files) with the app's upstreams rewritten to `to`'s
// servers' upstream addresses (configuration order), each changed line (a Caddyfile) or handler's
// upstreams (an autosave, as "line 1" with the handler's JSON pointer) shown, and running_after
// set. Errors (with what to do): Caddy's configuration or the source was not read, the source is
// not what Caddy runs (snapshot.source_problem), the rewrite is refused
// (caddyfile_edit.h), every route already selects `to`. With an interrupted switch in the snapshot
// (the file may be ahead of what runs) only the file's text is planned, for the plan to show; the
// execution rolls the file back first and plans again from what then runs.
bluegreen::Result<ConfigChange> plan_caddy_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                  state::Color to);

// The validate command (loadBalancer.validateCommand, default `caddy validate [--adapter caddyfile]
// --config {config}`) with {config} the candidate (`candidates`' only entry).
std::string caddy_validate_command(const config::AppConfig& app, const std::map<std::string, std::string>& candidates);

// After validation: the candidate's configuration (a Caddyfile adapted on the LB by `caddy adapt`,
// an autosave read back) must equal change.running_after.
// Returns "" or why not (the first difference, or why it could not be adapted).
std::string check_caddy_candidate(Services& services, const config::AppConfig& app, const ConfigChange& change);

// After `caddy reload`: GET /config/ routes every reverse_proxy of the app to expected.color (and
// none cannot be switched), the source gives exactly what runs, then every verifyUrl
// (verify_frontends). Caddy's /load is synchronous, so there is nothing to wait for before reading.
RoutingCheck verify_caddy_routing(Services& services, const config::AppConfig& app, const RoutingExpectation& expected,
                                  const std::stop_token& stop);

// An interrupted switch (snapshot.activity) on a Caddy app: the source counts as replaced when its
// backup, rewritten from the switch's `from` to its colour, gives the live file (a Caddyfile: byte
// for byte; an autosave, which Caddy rewrites in its own format: as JSON) ({path}); not replaced
// when there is no backup, or the live file is the backup, or the backup is an older switch's
// (then it does not give the live file: {}). An Error (nothing is to be reloaded) when the live
// file selects the switch's colour (snapshot.source_selects) but is not proven to be this switch's
// swap: without its original, a reload would load it and move traffic.
bluegreen::Result<std::vector<std::string>> caddy_interrupted_swaps(Services& services, const config::AppConfig& app,
                                                                    const LbSnapshot& snapshot);

}  // namespace bluegreen::deployment
