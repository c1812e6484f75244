#pragma once
// Every `reverse_proxy` handler of Caddy's running configuration that sends traffic to an app's
// blue or green servers, and rewriting their upstreams to the other colour at once.
//
// Input: the JSON that `GET /config/` returns (admin_http.h), parsed with nlohmann::json; Caddy 2.6
// writes the same JSON for a config that came from a Caddyfile (the adapter's output) and for one
// loaded as JSON. The structure walked (Caddy 2.6 JSON docs, modules/caddyhttp and reverseproxy;
// examples in tests/unit/caddy_fixtures/):
//   apps.http.servers.<name>: {listen: ["127.0.31.1:8080", ...], routes: [ROUTE...], errors: {routes: [ROUTE...]}}
//   ROUTE: {match: [{host: [...], path: [...], ...}, ...], handle: [HANDLER...], terminal: bool, group: ...}
//   HANDLER: {handler: "subroute", routes: [ROUTE...]}                       (recursed into, any depth)
//          | {handler: "reverse_proxy", upstreams: [{dial: "host:port", max_requests: N}, ...],
//             dynamic_upstreams: {source: "a"|"srv"|..., ...}, handle_response: [{routes: [ROUTE...]}],
//             health_checks: ..., load_balancing: ..., transport: ...}
//          | any other handler (ignored)
// The Caddyfile adapter wraps each site block in a route with the site's `host` matcher whose only
// handler is a subroute; `handle`/`route` blocks add subroutes inside it (so the app's proxy is
// usually two or three subroutes deep). A server's error routes (`handle_errors`) and a proxy's
// `handle_response` routes are walked too: a proxy there can serve the app as well.
//
// A colour is known by its servers' addresses, as the load balancer dials them ("host:port").
// A dial matches an address when it is equal, or equal after a network prefix "tcp/", "tcp4/" or
// "tcp6/" (Caddy's network address syntax).
//
// Thread-safety: pure functions and value types.

#include "common/result.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace bluegreen::caddy {

// The "host:port" addresses Caddy dials for one colour's servers (e.g. {"127.0.31.11:9000"}).
using ColourAddresses = std::set<std::string>;

enum class Colour { kBlue, kGreen };
const char* to_string(Colour colour);  // "blue", "green"

// Where a reverse_proxy handler is and what leads to it.
struct ProxyPlace {
  std::string pointer;              // RFC 6901 JSON pointer of the handler object in the config
                                    // ("/apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0")
  std::string server;               // the key under apps.http.servers ("srv0")
  std::vector<std::string> listen;  // that server's `listen` addresses, as written (":443", "127.0.31.1:8080")
  // The `host` matchers of the routes that enclose the handler, outermost first: one entry per
  // enclosing route that has any, holding the hosts of all its matcher sets ({{"shop.example"}}).
  // Empty: no host matcher on the way (any Host header reaches it).
  std::vector<std::vector<std::string>> hosts;
  std::vector<std::string> dials;  // each upstream's `dial`, in order, as written ("" for one without)
};

// A reverse_proxy handler whose upstreams are all one colour's: the unit a switch rewrites.
struct ProxyRoute : ProxyPlace {
  Colour colour = Colour::kBlue;
};

// A reverse_proxy handler that could send traffic to the app but cannot be switched safely.
struct UnsupportedProxy : ProxyPlace {
  std::string why;  // what it does and why it is refused, with what to do instead
};

// A server whose traffic reaches the app (has a route or an unsupported proxy).
struct EntryPoint {
  std::string server;
  std::vector<std::string> listen;
  std::vector<std::size_t> routes;       // indexes into AppProxies::routes
  std::vector<std::size_t> unsupported;  // indexes into AppProxies::unsupported
};

struct AppProxies {
  std::vector<EntryPoint> entry_points;  // in the config's order of server names (sorted: JSON object keys)
  std::vector<ProxyRoute> routes;        // in walk order: servers, routes, handlers, depth first
  std::vector<UnsupportedProxy> unsupported;
};

// Finds every reverse_proxy handler in `config` (the whole `GET /config/` JSON) and sorts it by the
// addresses it names. A handler is
//  - a ProxyRoute when all its dials are one colour's addresses (and there is at least one);
//  - unsupported (refused, with `why`) when its dials name both colours, or one colour's addresses
//    next to an address of neither colour, or when it has a placeholder (`{...}`, resolved per
//    request) in a dial next to a colour address or with a colour's host in it, or
//    `dynamic_upstreams` (chosen per request, Caddy 2.6's `dynamic` subdirective) while any string
//    in the handler names a colour's address or host, or upstreams not written as Caddy writes them
//    (an upstream without a string `dial`) while a colour's address is among them;
//  - ignored otherwise (it names neither colour: another app, or a placeholder we cannot resolve).
// Never fails: a config without apps.http.servers has no proxies; parts of another shape than the
// above are skipped.
AppProxies find_proxies(const nlohmann::json& config, const ColourAddresses& blue, const ColourAddresses& green);

// One handler whose upstreams a rewrite changes, for a plan to show:
// `/apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0/upstreams: ["127.0.31.11:9000"] ->
// ["127.0.31.12:9000"]`.
struct UpstreamChange {
  std::string pointer;  // the handler's pointer (ProxyPlace::pointer); its upstreams are at pointer + "/upstreams"
  std::vector<std::string> before;
  std::vector<std::string> after;
};

struct Rewrite {
  nlohmann::json config;                // the whole config with every route's upstreams replaced
  std::vector<UpstreamChange> changes;  // in the order of `routes`; a route already on the target is left out
};

// A copy of `config` in which the handler of every route in `routes` gets one upstream object per
// dial of `target_dials`, in that order. Each new object is a copy of the handler's first upstream
// object with its `dial` replaced, so the other fields Caddy reads per upstream (`max_requests`) are
// kept; every other byte of meaning in the config is untouched. An empty `changes` means nothing
// changes. The result is meant to be sent whole (`PATCH /config/` with the If-Match of the read).
// Errors:
//  - kInvalidArgument: `target_dials` empty, or a dial that is empty, has a blank, control
//    character or placeholder (`{`), or is given twice;
//  - kFailedPrecondition: a route's pointer no longer leads to a reverse_proxy handler whose dials
//    are the ones found (the config changed since find_proxies read it): read it again and re-plan.
bluegreen::Result<Rewrite> rewrite_proxies(const nlohmann::json& config, const std::vector<ProxyRoute>& routes,
                                           const std::vector<std::string>& target_dials);

}  // namespace bluegreen::caddy
