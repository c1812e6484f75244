#include "deployment/app_routing.h"

#include "deployment/lb_kind.h"
#include "haproxy/config_lines.h"

#include <algorithm>
#include <set>

namespace bluegreen::deployment {
namespace {

std::string upper(state::Color color) { return state::to_upper_string(color); }

std::string file_list(const LbSnapshot& snapshot) {
  std::string files;
  for (const auto& file : snapshot.config_files) files += (files.empty() ? "" : ", ") + file.path;
  return files;
}

// The route the configured `section`/`directive`/`condition` designate, if it is one.
bool selector_found(const config::AppConfig& app, const haproxy::AppRoutes& routes) {
  const auto& lb = app.load_balancer;
  const auto normalise = [](const std::string& text) {
    const auto lines = haproxy::split_config_lines(text);
    return lines.empty() ? std::string() : haproxy::raw_words_from(lines.front(), 0);
  };
  const auto wanted_section = normalise(lb.section);
  for (const auto& route : routes.routes) {
    const bool directive = lb.directive == "use_backend" ? route.kind == haproxy::RouteKind::kUseBackend
                                                         : route.kind == haproxy::RouteKind::kDefaultBackend;
    if (directive && normalise(route.section) == wanted_section &&
        (lb.directive != "use_backend" || normalise(route.condition) == normalise(lb.condition))) {
      return true;
    }
  }
  return false;
}

std::string split_problem(const config::AppConfig& app, const haproxy::AppRoutes& routes) {
  const auto& kind = lb_kind(app);
  std::string text = std::string("SPLIT ROUTING: ") + kind.entry_points_phrase() + " for app " + app.name +
                     " do not all route to one colour, so neither colour is PROD and neither may be deployed to:";
  for (const auto& entry : routes.entry_points) text += "\n  - " + describe_entry_point(app, routes, entry);
  return text + "\nMake every route name the colour that should be live (" + app.load_balancer.blue_backend + " or " +
         app.load_balancer.green_backend + ") in the lines above, check with `" + kind.check_and_reload_hint() +
         ", then ask for status again";
}

}  // namespace

state::Color route_colour(const config::AppConfig& app, const haproxy::Route& route) {
  return route.backend == app.load_balancer.green_backend ? state::Color::kGreen : state::Color::kBlue;
}

std::optional<state::Color> entry_point_colour(const config::AppConfig& app, const haproxy::AppRoutes& routes,
                                               const haproxy::EntryPoint& entry) {
  std::optional<state::Color> colour;
  for (const auto index : entry.routes) {
    const auto here = route_colour(app, routes.routes[index]);
    if (colour && *colour != here) return std::nullopt;
    colour = here;
  }
  return colour;
}

// Caddy's routes have no line (file is a JSON pointer into its running config): no ":0".
std::string route_location(const haproxy::Route& route) {
  return route.line_number == 0 ? route.file : route.file + ":" + std::to_string(route.line_number);
}

std::string entry_location(const haproxy::EntryPoint& entry) {
  return entry.line_number == 0 ? entry.file : entry.file + ":" + std::to_string(entry.line_number);
}

std::string describe_entry_point(const config::AppConfig& app, const haproxy::AppRoutes& routes,
                                 const haproxy::EntryPoint& entry) {
  std::string text = entry.section + " (" + entry_location(entry);
  const char* bind_word = lb_kind(app).bind_word();
  for (const auto& bind : entry.binds) text += bind_word + bind;
  const auto colour = entry_point_colour(app, routes, entry);
  text += ") serves " + (colour ? upper(*colour) : std::string("BOTH COLOURS"));
  std::string via;
  for (const auto index : entry.routes) {
    const auto& route = routes.routes[index];
    via += std::string(via.empty() ? " via " : "; ") + route_location(route) + " `" +
           haproxy::trimmed_line(route.line) + "`" + (colour ? "" : " → " + upper(route_colour(app, route)));
  }
  return text + via;
}

std::vector<std::string> routing_maps(const LbSnapshot& snapshot) {
  std::vector<std::string> maps;
  if (!snapshot.routes) return maps;
  for (const auto& route : snapshot.routes->routes) {
    if (route.kind == haproxy::RouteKind::kMapEntry && std::find(maps.begin(), maps.end(), route.file) == maps.end()) {
      maps.push_back(route.file);
    }
  }
  return maps;
}

void read_runtime_maps(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot) {
  const auto& lb = app.load_balancer;
  if (!lb.stats_socket) return;
  const auto routing = routing_maps(snapshot);
  // Every map an entry point looks up: an entry added by hand to a map whose file has none of the
  // app's keys routes the app all the same.
  std::vector<std::string> maps = routing;
  for (const auto& [map, text] : snapshot.map_texts) {
    if (std::find(maps.begin(), maps.end(), map) == maps.end()) maps.push_back(map);
  }
  for (const auto& map : maps) {
    const auto reply = query_haproxy_socket(executor, app, *lb.stats_socket, "show map " + map);
    auto entries = reply ? haproxy::parse_show_map(*reply)
                         : bluegreen::Result<std::vector<haproxy::RuntimeMapEntry>>(reply.error());
    if (!entries) {
      if (std::find(routing.begin(), routing.end(), map) == routing.end()) continue;  // not the app's, as far as known
      snapshot.runtime_maps_problem =
          "cannot read the running map " + map + " (show map on " + *lb.stats_socket + "): " + entries.error().message;
      return;
    }
    snapshot.runtime_maps[map] = std::move(entries.value());
  }
}

std::string map_runtime_problem(const config::AppConfig& app, const LbSnapshot& snapshot) {
  const auto maps = routing_maps(snapshot);
  if (maps.empty() && snapshot.runtime_maps.empty()) return "";
  const auto& lb = app.load_balancer;
  if (!lb.stats_socket && !maps.empty()) {
    return "app " + app.name + " is routed through the map " + maps.front() +
           ", and without loadBalancer.statsSocket (HAProxy's runtime API, level admin) the map HAProxy runs cannot "
           "be read or switched. Configure statsSocket";
  }
  if (!snapshot.runtime_maps_problem.empty()) return snapshot.runtime_maps_problem;
  std::string differs;
  for (const auto& route : snapshot.routes->routes) {
    if (route.kind != haproxy::RouteKind::kMapEntry) continue;
    const auto running = snapshot.runtime_maps.find(route.file);
    std::optional<std::string> value;
    if (running != snapshot.runtime_maps.end()) {
      for (const auto& entry : running->second) {
        if (entry.key == route.map_key) value = entry.value;
      }
    }
    if (value != route.backend) {
      differs += "\n  - " + route_location(route) + " `" + haproxy::trimmed_line(route.line) + "`: HAProxy runs " +
                 (value ? "`" + route.map_key + " " + *value + "`" : std::string("no entry for ") + route.map_key);
    }
  }
  // Running entries naming the app's backends that no route of the file accounts for.
  for (const auto& running : snapshot.runtime_maps) {
    const std::string& map = running.first;
    for (const auto& entry : running.second) {
      if (entry.value != lb.blue_backend && entry.value != lb.green_backend) continue;
      const bool in_file =
          std::any_of(snapshot.routes->routes.begin(), snapshot.routes->routes.end(), [&](const haproxy::Route& route) {
            return route.kind == haproxy::RouteKind::kMapEntry && route.file == map && route.map_key == entry.key &&
                   route.backend == entry.value;
          });
      if (!in_file) {
        differs += "\n  - " + map + ": HAProxy runs `" + entry.key + " " + entry.value +
                   "`, which the file does not have (an `add map` or `set map` by hand)";
      }
    }
  }
  if (differs.empty()) return "";
  return "HAProxy's running map differs from its file, so what users get is not what the file says (a `set map` "
         "that was not written to the file, or a file edited without `set map` or a reload):" +
         differs + "\nMake them agree: on " + lb.ssh +
         ", either put the running values in the file, or apply the "
         "file (" +
         lb_reload_command(app) + "), then check get_deployment_status";
}

void interpret_routing(const config::AppConfig& app, LbSnapshot& snapshot) {
  const auto& lb = app.load_balancer;
  const auto& env = snapshot.config_list.env;
  snapshot.routes = haproxy::find_routes(snapshot.config_files, {lb.blue_backend, lb.green_backend}, snapshot.map_texts,
                                         env ? &*env : nullptr);
  const auto& routes = *snapshot.routes;
  if (!routes.missing_maps.empty()) {
    snapshot.live_problem =
        "cannot read the map file " + routes.missing_maps.front() + " that HAProxy looks up backends in";
    return;
  }
  if (!routes.unsupported.empty()) {
    snapshot.live_problem =
        "HAProxy's configuration routes to app " + app.name + " in ways bluegreen-mcp cannot switch safely:";
    for (const auto& line : routes.unsupported) {
      snapshot.live_problem += "\n  - " + line.file + ":" + std::to_string(line.line_number) + " `" +
                               haproxy::trimmed_line(line.line) + "`: " + line.why;
    }
    return;
  }
  if (routes.entry_points.empty()) {
    snapshot.live_problem = "no frontend or listen section routes to the blue backend \"" + lb.blue_backend +
                            "\" or the green backend \"" + lb.green_backend + "\" configured for app " + app.name +
                            " (files read: " + file_list(snapshot) +
                            "). Check loadBalancer.backends and loadBalancer.haproxyConfig";
    return;
  }
  if (!lb.section.empty() && !selector_found(app, routes)) {
    snapshot.live_problem = "loadBalancer.section \"" + lb.section + "\" has no `" + lb.directive +
                            (lb.condition.empty() ? std::string() : " <backend> " + lb.condition) +
                            "` line routing to the app's backends in " + file_list(snapshot) +
                            ". Every route of the app is found without it: remove section/directive/condition from "
                            "the configuration, or correct them";
    return;
  }
  for (const auto& route : routes.routes) {
    if (std::find(routes.backends.begin(), routes.backends.end(), route.backend) == routes.backends.end()) {
      snapshot.live_problem = route_location(route) + " `" + haproxy::trimmed_line(route.line) + "` names backend \"" +
                              route.backend + "\", which no file of HAProxy's configuration defines, so HAProxy " +
                              "sends those requests elsewhere (its default backend). Define the backend or correct " +
                              "the line, then ask for status again";
      return;
    }
  }
  select_colour(app, routes, snapshot);
}

void select_colour(const config::AppConfig& app, const haproxy::AppRoutes& routes, LbSnapshot& snapshot) {
  std::set<state::Color> colours;
  for (const auto& route : routes.routes) colours.insert(route_colour(app, route));
  if (colours.size() > 1) {
    snapshot.live_problem = split_problem(app, routes);
    return;
  }
  if (!colours.empty()) snapshot.selected = *colours.begin();
}

}  // namespace bluegreen::deployment
