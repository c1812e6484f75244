#pragma once
// The Caddy half of a look at a load balancer (lb_snapshot.h, for apps whose loadBalancer.type is
// caddy): Caddy's running configuration and its view of the upstreams, read through its admin API
// on the unix socket loadBalancer.adminSocket, forwarded through the SSH connection to the LB
// (Executor::query_unix_socket; the admin API is never reached over the network). Two requests:
//  - GET /config/: the running JSON config (caddy/admin_http.h); every reverse_proxy handler that
//    dials the app's servers (caddy/config_json.h) is put in the snapshot's haproxy::AppRoutes shape
//    (an entry point per HTTP server, a route per handler, its colour's backend name as the
//    backend), so live confirmation, SPLIT ROUTING and status read Caddy as they read HAProxy;
//  - GET /reverse_proxy/upstreams: each upstream's address, active requests and failures as Caddy
//    counts them, as LbSnapshot::servers rows of the colour whose server it dials.
// A colour's servers are known by the address Caddy dials (hosts.*.upstream, default: address).
// Caddy's config lives in memory: there are no files, processes or reloads in the snapshot.
//
// Thread-safety: reentrant.

#include "caddy/admin_http.h"
#include "caddy/config_json.h"
#include "common/result.h"
#include "config/config.h"
#include "deployment/lb_snapshot.h"
#include "haproxy/runtime_api.h"
#include "remote/executor.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace bluegreen::deployment {

// Sends `request` (its Host is set to "" as Caddy wants on a unix socket) to the app's admin
// socket on its LB, with the LB's command deadline (at most 5 s: Caddy answers at once), up to
// 8 MiB. Errors: the LB or the socket cannot be reached (the message names the socket), no answer
// in time, or a reply that is not HTTP. A non-2xx answer is a response, not an Error.
bluegreen::Result<caddy::AdminResponse> caddy_admin(remote::Executor& executor, const config::AppConfig& app,
                                                    caddy::AdminRequest request);

// The addresses Caddy dials for a colour's servers: each server's `upstream`.
caddy::ColourAddresses caddy_dials(const config::Pool& pool);

// find_proxies' result in the snapshot's shape: an entry point per HTTP server ("server srv0",
// file = its JSON pointer, binds = its listen addresses), a route per reverse_proxy handler (file =
// the handler's pointer, line = "reverse_proxy DIAL ...", backend = its colour's backend name), an
// unsupported route per handler that cannot be switched.
haproxy::AppRoutes caddy_app_routes(const config::AppConfig& app, const caddy::AppProxies& proxies);

// snapshot.routes and selected, or live_problem: handlers that cannot be switched, no handler that
// dials either colour (with the dials configured, so a wrong `upstream` shows), SPLIT ROUTING.
void interpret_caddy_proxies(const config::AppConfig& app, const caddy::AppProxies& proxies, LbSnapshot& snapshot);

// The JSON of GET /reverse_proxy/upstreams ([{"address", "num_requests", "fails"}, ...]) as rows:
// backend = the colour's backend name for an address of that colour (others are left out),
// server = the address, status = "UP" without failures, else "FAILING (N fails)" (Caddy 2.6
// counts passive failures only: an upstream it has not sent a request to reads UP),
// current_sessions = num_requests. Errors: not a JSON array of objects with a string address.
bluegreen::Result<std::vector<haproxy::ServerStatus>> caddy_upstream_rows(const config::AppConfig& app,
                                                                          const std::string& body);

// Caddy's source of truth, the file a switch edits: loadBalancer.caddyfile, or loadBalancer.autosave
// (the JSON Caddy autosaves and resumes from); nullptr when neither is configured.
const std::string* caddy_source_path(const config::LoadBalancerConfig& lb);
// "the Caddyfile /etc/caddy/Caddyfile" or "Caddy's autosave /var/lib/caddy/.../autosave.json" for
// `path` (the source or a candidate of it), for messages.
std::string caddy_source_name(const config::AppConfig& app, const std::string& path);

// The file at `path` on the app's LB (its source of truth, or a candidate of it) and the JSON
// configuration it gives: with a Caddyfile, what Caddy adapts it to (`caddy adapt --adapter
// caddyfile`, run there: Caddy's own adapter, never ours); with the autosave, its JSON. Read in one
// command with the LB's command deadline, up to 8 MiB. Errors: the file cannot be read, or `caddy
// adapt` fails (with its message), or the result is not a JSON object.
struct CaddySource {
  std::string text;
  nlohmann::json adapted;
};
bluegreen::Result<CaddySource> read_caddy_source(remote::Executor& executor, const config::AppConfig& app,
                                                 const std::string& path);

// "" when `adapted` (a source's JSON) equals `running` (what Caddy runs; with `planned`, what the
// switch's plan makes of it); else what differs (the first differing JSON pointer, both values
// shortened) in a sentence about `name` (caddy_source_name).
std::string caddy_source_difference(const std::string& name, const nlohmann::json& adapted,
                                    const nlohmann::json& running, bool planned = false);

// Fills snapshot's routing and server fields for a Caddy app: config_list.source, routes,
// selected or live_problem, servers or servers_problem, running_config; with a source of truth
// (caddy_source_path), config_files (that file) and source_problem.
void read_caddy(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot);

}  // namespace bluegreen::deployment
