#include "deployment/caddy_snapshot.h"

#include "common/text.h"
#include "deployment/app_routing.h"
#include "remote/shell_command.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

namespace bluegreen::deployment {

using nlohmann::json;

namespace {

// Caddy answers its admin API at once; a socket silent this long is reported instead of holding
// the whole read.
constexpr std::chrono::milliseconds kAdminDeadline{5000};

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

std::string dial_list(const caddy::ColourAddresses& dials) {
  return joined(std::vector<std::string>(dials.begin(), dials.end()), ", ");
}

// "reverse_proxy 127.0.33.1:9000 127.0.33.5:9000": a handler as a Caddyfile would write it.
std::string proxy_line(const caddy::ProxyPlace& place) { return "reverse_proxy " + joined(place.dials, " "); }

std::string server_pointer(const std::string& server) { return "/apps/http/servers/" + server; }

void read_source_of_truth(remote::Executor& executor, const config::AppConfig& app, const json& running,
                          LbSnapshot& snapshot) {
  const auto& path = *caddy_source_path(app.load_balancer);
  auto source = read_caddy_source(executor, app, path);
  if (!source) {
    snapshot.source_problem = source.error().message;
    return;
  }
  snapshot.config_files.push_back({path, source->text});
  LbSnapshot in_file;
  interpret_caddy_proxies(app, caddy::find_proxies(source->adapted, caddy_dials(app.blue), caddy_dials(app.green)),
                          in_file);
  snapshot.source_selects = in_file.selected;
  if (auto difference = caddy_source_difference(caddy_source_name(app, path), source->adapted, running);
      !difference.empty()) {
    snapshot.source_problem =
        std::move(difference) + (app.load_balancer.caddyfile
                                     ? ": Caddy's configuration was changed through its admin API, or the file was "
                                       "edited and not loaded, so a restart of Caddy would change what it serves"
                                     : ": the file was edited, or Caddy does not autosave (admin.config.persist "
                                       "false), so a restart of Caddy would change what it serves");
  }
}

}  // namespace

bluegreen::Result<caddy::AdminResponse> caddy_admin(remote::Executor& executor, const config::AppConfig& app,
                                                    caddy::AdminRequest request) {
  const auto& lb = app.load_balancer;
  request.host.clear();
  auto bytes = caddy::admin_request(request);
  if (!bytes) return bytes.error();
  remote::CommandOptions options;
  options.deadline = std::min(lb.command_timeout, kAdminDeadline);
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto reply = executor.query_unix_socket(lb.ssh, lb.admin_socket, *bytes, options);
  if (!reply) {
    return bluegreen::Error{"cannot reach Caddy's admin API (unix socket " + lb.admin_socket + " on " + lb.ssh +
                            "): " + reply.error().message};
  }
  auto response = caddy::parse_admin_response(reply->text);
  if (!response) {
    return bluegreen::Error{"Caddy's admin API (unix socket " + lb.admin_socket + " on " + lb.ssh + ") answered " +
                            request.method + " " + request.path +
                            " with something that is not HTTP: " + response.error().message};
  }
  return response;
}

caddy::ColourAddresses caddy_dials(const config::Pool& pool) {
  caddy::ColourAddresses dials;
  for (const auto& server : pool.servers) dials.insert(server.upstream);
  return dials;
}

haproxy::AppRoutes caddy_app_routes(const config::AppConfig& app, const caddy::AppProxies& proxies) {
  haproxy::AppRoutes routes;
  for (const auto& route : proxies.routes) {
    haproxy::Route out;
    out.kind = haproxy::RouteKind::kUseBackend;
    out.file = route.pointer;
    out.line = proxy_line(route);
    out.section = "server " + route.server;
    out.backend =
        route.colour == caddy::Colour::kBlue ? app.load_balancer.blue_backend : app.load_balancer.green_backend;
    routes.routes.push_back(std::move(out));
  }
  for (const auto& entry : proxies.entry_points) {
    if (entry.routes.empty()) continue;
    haproxy::EntryPoint out;
    out.section = "server " + entry.server;
    out.file = server_pointer(entry.server);
    out.binds = entry.listen;
    out.routes = entry.routes;
    routes.entry_points.push_back(std::move(out));
  }
  for (const auto& proxy : proxies.unsupported) {
    routes.unsupported.push_back({proxy.pointer, 0, proxy_line(proxy), proxy.why});
  }
  routes.backends = {app.load_balancer.blue_backend, app.load_balancer.green_backend};
  return routes;
}

void interpret_caddy_proxies(const config::AppConfig& app, const caddy::AppProxies& proxies, LbSnapshot& snapshot) {
  snapshot.routes = caddy_app_routes(app, proxies);
  const auto& routes = *snapshot.routes;
  if (!routes.unsupported.empty()) {
    snapshot.live_problem =
        "Caddy's running configuration routes to app " + app.name + " in ways bluegreen-mcp cannot switch safely:";
    for (const auto& route : routes.unsupported) {
      snapshot.live_problem += "\n  - " + route.file + " `" + route.line + "`: " + route.why;
    }
    return;
  }
  if (routes.entry_points.empty()) {
    snapshot.live_problem =
        "no reverse_proxy in Caddy's running configuration dials only BLUE's servers (" +
        dial_list(caddy_dials(app.blue)) + ") or only GREEN's (" + dial_list(caddy_dials(app.green)) + ") for app " +
        app.name +
        ", so which colour is live is unknown: its proxies point at neither colour. Point the "
        "app's reverse_proxy at the live colour's servers, or, if Caddy dials them by other "
        "addresses, set hosts.blue/green's upstream to those (host:port), then ask for status again";
    return;
  }
  select_colour(app, routes, snapshot);
}

bluegreen::Result<std::vector<haproxy::ServerStatus>> caddy_upstream_rows(const config::AppConfig& app,
                                                                          const std::string& body) {
  const auto parsed = json::parse(body, nullptr, false);
  if (!parsed.is_array()) {
    return bluegreen::Error{"GET /reverse_proxy/upstreams did not answer a JSON array: " +
                            bluegreen::tail_of(body, 200)};
  }
  const auto blue = caddy_dials(app.blue);
  const auto green = caddy_dials(app.green);
  std::vector<haproxy::ServerStatus> rows;
  for (const auto& upstream : parsed) {
    const auto address = upstream.is_object() ? upstream.find("address") : parsed.end();
    if (!upstream.is_object() || address == upstream.end() || !address->is_string()) {
      return bluegreen::Error{"GET /reverse_proxy/upstreams: an entry without a string \"address\": " +
                              upstream.dump().substr(0, 200)};
    }
    const auto dial = address->get<std::string>();
    const bool is_blue = blue.count(dial) != 0;
    if (!is_blue && green.count(dial) == 0) continue;
    const auto number = [&](const char* key) {
      const auto it = upstream.find(key);
      return it != upstream.end() && it->is_number_integer() ? it->get<long long>() : 0LL;
    };
    haproxy::ServerStatus row;
    row.backend = is_blue ? app.load_balancer.blue_backend : app.load_balancer.green_backend;
    row.server = dial;
    const auto fails = number("fails");
    row.status = fails == 0 ? "UP" : "FAILING (" + std::to_string(fails) + " fails)";
    row.current_sessions = number("num_requests");
    rows.push_back(std::move(row));
  }
  return rows;
}

const std::string* caddy_source_path(const config::LoadBalancerConfig& lb) {
  if (lb.caddyfile) return &*lb.caddyfile;
  if (lb.autosave) return &*lb.autosave;
  return nullptr;
}

std::string caddy_source_name(const config::AppConfig& app, const std::string& path) {
  return (app.load_balancer.caddyfile ? "the Caddyfile " : "Caddy's autosave ") + path;
}

bluegreen::Result<CaddySource> read_caddy_source(remote::Executor& executor, const config::AppConfig& app,
                                                 const std::string& path) {
  const auto& lb = app.load_balancer;
  const bool caddyfile = lb.caddyfile.has_value();
  const std::string quoted = remote::shell_quote(path);
  // The file's size on a line of its own, the file, then (a Caddyfile) the adapter's JSON.
  const std::string command = "wc -c < " + quoted + " && cat -- " + quoted +
                              (caddyfile ? " && caddy adapt --adapter caddyfile --config " + quoted : "");
  remote::CommandOptions options;
  options.deadline = lb.command_timeout;
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  const auto ran = executor.run(lb.ssh, command, options);
  const auto name = caddy_source_name(app, path);
  const auto failed = [&](const std::string& what) {
    return bluegreen::Error{what + " on " + lb.ssh + ": " + command_output(ran)};
  };
  if (!ran) return failed("cannot read " + name);
  const auto& out = ran->out.tail;
  const auto newline = out.find('\n');
  const bool sized = newline != std::string::npos && newline > 0 &&
                     std::all_of(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(newline),
                                 [](char c) { return (c >= '0' && c <= '9') || c == ' '; });
  if (!sized || ran->out.dropped != 0) return failed("cannot read " + name);
  const std::size_t size = std::stoull(out.substr(0, newline));
  if (out.size() < newline + 1 + size) return failed("cannot read " + name);
  CaddySource source;
  source.text = out.substr(newline + 1, size);
  if (!ran->succeeded()) return failed(caddyfile ? "`caddy adapt` rejects " + name : "cannot read " + name);
  const auto json_text = caddyfile ? out.substr(newline + 1 + size) : source.text;
  source.adapted = json::parse(json_text, nullptr, false);
  if (!source.adapted.is_object()) {
    return bluegreen::Error{(caddyfile ? "`caddy adapt --config " + path + "` on " + lb.ssh + " printed"
                                       : name + " on " + lb.ssh + " holds") +
                            " no JSON object: " + bluegreen::tail_of(json_text, 200)};
  }
  return source;
}

std::string caddy_source_difference(const std::string& name, const json& adapted, const json& running, bool planned) {
  if (adapted == running) return "";
  const auto patch = json::diff(running, adapted);
  std::string where = "(somewhere)";
  std::string detail;
  if (!patch.empty() && patch.front().contains("path")) {
    const auto& op = patch.front();
    where = op["path"].get<std::string>();
    if (where.empty()) where = "/";
    const json pointer_value =
        running.contains(json::json_pointer(where)) ? running.at(json::json_pointer(where)) : json();
    const auto shorten = [](const json& value) {
      auto text = value.dump();
      return text.size() > 120 ? text.substr(0, 117) + "..." : text;
    };
    detail = std::string(planned ? ": the plan has " : ": Caddy runs ") +
             (pointer_value.is_null() ? std::string("nothing") : shorten(pointer_value)) + " there, the file gives " +
             (op.contains("value") ? shorten(op["value"]) : std::string("nothing"));
  }
  return name + " does not give " + (planned ? "the planned configuration" : "the configuration Caddy runs") +
         " (they differ at " + where + detail + ")";
}

void read_caddy(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot) {
  const auto& lb = app.load_balancer;
  snapshot.config_list.source = "Caddy's admin API (" + lb.admin_socket + ")";
  const auto running = caddy_admin(executor, app, caddy::AdminRequest{"GET", "/config/", "", std::nullopt, ""});
  if (!running) {
    snapshot.live_problem = running.error().message + ". Check that Caddy runs on " + lb.ssh +
                            " and that loadBalancer.adminSocket is the "
                            "socket of its `admin unix/...` global option";
    snapshot.servers_problem = snapshot.live_problem;
    return;
  }
  if (running->status != 200) {
    snapshot.live_problem = "Caddy's admin API refused GET /config/: " + caddy::admin_error_text(*running);
    snapshot.servers_problem = snapshot.live_problem;
    return;
  }
  const auto parsed = json::parse(running->body, nullptr, false);
  if (parsed.is_discarded()) {
    snapshot.live_problem = "Caddy's admin API answered GET /config/ with something that is not JSON: " +
                            bluegreen::tail_of(running->body, 200);
    return;
  }
  interpret_caddy_proxies(app, caddy::find_proxies(parsed, caddy_dials(app.blue), caddy_dials(app.green)), snapshot);
  snapshot.running_config = running->body;
  if (caddy_source_path(lb) != nullptr) read_source_of_truth(executor, app, parsed, snapshot);

  const auto upstreams =
      caddy_admin(executor, app, caddy::AdminRequest{"GET", "/reverse_proxy/upstreams", "", std::nullopt, ""});
  if (!upstreams) {
    snapshot.servers_problem = upstreams.error().message;
  } else if (upstreams->status != 200) {
    snapshot.servers_problem =
        "Caddy's admin API refused GET /reverse_proxy/upstreams: " + caddy::admin_error_text(*upstreams);
  } else if (auto rows = caddy_upstream_rows(app, upstreams->body); !rows) {
    snapshot.servers_problem = rows.error().message;
  } else {
    snapshot.servers = std::move(rows.value());
  }
}

}  // namespace bluegreen::deployment
