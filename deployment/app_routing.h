#pragma once
// What HAProxy's effective configuration says about an app: each entry point (frontend or listen
// routing to the app, haproxy/routes.h) and the colour it serves, and from them the one colour
// every route selects, which is the live colour once confirmed (live_confirmation.h). When the
// entry points disagree (one port serving BLUE, another GREEN) there is no live colour: that is
// SPLIT ROUTING, and nothing may call either colour STANDBY or deploy to it.
//
// Thread-safety: pure functions.

#include "config/config.h"
#include "deployment/lb_snapshot.h"
#include "haproxy/routes.h"

#include <optional>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// The colour a route sends traffic to (every route names the blue or the green backend).
state::Color route_colour(const config::AppConfig& app, const haproxy::Route& route);

// The colour an entry point serves: the one its routes agree on, or nullopt when they disagree
// (e.g. `use_backend green if canary` beside `default_backend blue`).
std::optional<state::Color> entry_point_colour(const config::AppConfig& app, const haproxy::AppRoutes& routes,
                                               const haproxy::EntryPoint& entry);

// "haproxy.cfg:12" (the file's full path, then the line).
std::string route_location(const haproxy::Route& route);
std::string entry_location(const haproxy::EntryPoint& entry);

// One line per entry point for messages: "frontend https_in (/etc/haproxy/haproxy.cfg:20, bind
// :443) serves GREEN via line 23 `use_backend green if is_app`".
std::string describe_entry_point(const config::AppConfig& app, const haproxy::AppRoutes& routes,
                                 const haproxy::EntryPoint& entry);

// Finds the app's routes in snapshot.config_files (and map_texts) and sets snapshot.routes and
// either snapshot.selected (every route selects one colour) or snapshot.live_problem: no route
// to the app, lines that cannot be switched (each named with file:line and why), a configured
// `section` whose line is not among the routes, a map that could not be read, or SPLIT ROUTING
// (each entry point with its colour, and what to do).
void interpret_routing(const config::AppConfig& app, LbSnapshot& snapshot);

// The one colour every route of `routes` selects, into snapshot.selected; or, when they disagree,
// SPLIT ROUTING into snapshot.live_problem (each entry point with its colour, and what to do).
void select_colour(const config::AppConfig& app, const haproxy::AppRoutes& routes, LbSnapshot& snapshot);

// The map files whose entries route the app (map-based routing), in load order.
std::vector<std::string> routing_maps(const LbSnapshot& snapshot);

// Asks the running HAProxy for each of routing_maps (`show map FILE` on the stats socket) into
// snapshot.runtime_maps, or says why not in runtime_maps_problem.
void read_runtime_maps(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot);

// Why the app's map routes may not be what HAProxy runs, with what to do; "" when every map
// entry that routes the app has the same value in the running HAProxy as in its file (or there
// are none). Without a stats socket the running map cannot be read: that is a problem too.
std::string map_runtime_problem(const config::AppConfig& app, const LbSnapshot& snapshot);

}  // namespace bluegreen::deployment
