#include "caddy/config_json.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace bluegreen::caddy {
namespace {

using bluegreen::Error;
using nlohmann::json;

// RFC 6901: "~" is written "~0" and "/" is written "~1" inside a reference token.
std::string escape_token(const std::string& token) {
  std::string escaped;
  for (const char c : token) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string child(const std::string& pointer, const std::string& token) { return pointer + "/" + escape_token(token); }
std::string child(const std::string& pointer, std::size_t index) { return pointer + "/" + std::to_string(index); }

// The address part of a dial: without a network prefix Caddy accepts ("tcp/127.0.0.1:80").
std::string_view without_network(std::string_view dial) {
  for (const std::string_view prefix : {"tcp/", "tcp4/", "tcp6/"}) {
    if (dial.substr(0, prefix.size()) == prefix) return dial.substr(prefix.size());
  }
  return dial;
}

// "127.0.0.1:80" -> "127.0.0.1"; "[::1]:80" -> "::1"; no colon: the whole text.
std::string host_of(std::string_view address) {
  address = without_network(address);
  const auto colon = address.rfind(':');
  std::string_view host = colon == std::string_view::npos ? address : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::string(host);
}

// The string at `key` of an object; "" when it is absent or not a string (never throws).
std::string string_field(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> strings_of(const json& array) {
  std::vector<std::string> result;
  if (!array.is_array()) return result;
  for (const auto& item : array) {
    if (item.is_string()) result.push_back(item.get<std::string>());
  }
  return result;
}

// The hosts of all matcher sets of one route (`match: [{host: [...]}, ...]`).
std::vector<std::string> route_hosts(const json& route) {
  std::vector<std::string> hosts;
  const auto match = route.find("match");
  if (match == route.end() || !match->is_array()) return hosts;
  for (const auto& set : *match) {
    if (!set.is_object() || !set.contains("host")) continue;
    for (auto& host : strings_of(set["host"])) hosts.push_back(std::move(host));
  }
  return hosts;
}

// Each upstream's dial, in order; "" for an upstream that has no string dial (`malformed` set).
std::vector<std::string> dials_of(const json& handler, bool& malformed) {
  std::vector<std::string> dials;
  const auto upstreams = handler.find("upstreams");
  if (upstreams == handler.end() || upstreams->is_null()) return dials;
  if (!upstreams->is_array()) {
    malformed = true;
    return dials;
  }
  for (const auto& upstream : *upstreams) {
    if (upstream.is_object() && upstream.contains("dial") && upstream["dial"].is_string()) {
      dials.push_back(upstream["dial"].get<std::string>());
    } else {
      dials.emplace_back();
      malformed = true;
    }
  }
  return dials;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// What the dials of one handler name.
struct DialSorting {
  std::vector<std::string> blue, green, unknown, placeholders;
  bool malformed = false;
};

class Classifier {
 public:
  Classifier(const ColourAddresses& blue, const ColourAddresses& green) : blue_(blue), green_(green) {
    for (const auto& address : blue) hosts_.insert(host_of(address));
    for (const auto& address : green) hosts_.insert(host_of(address));
  }

  [[nodiscard]] std::optional<Colour> colour_of(std::string_view dial) const {
    const std::string address(without_network(dial));
    if (blue_.count(address) != 0) return Colour::kBlue;
    if (green_.count(address) != 0) return Colour::kGreen;
    return std::nullopt;
  }

  // A string that names a colour: one of its addresses, its host alone, or "HOST:{placeholder}".
  [[nodiscard]] bool names_colour(const std::string& text) const {
    return colour_of(text).has_value() || hosts_.count(text) != 0 || hosts_.count(host_of(text)) != 0;
  }

  // Whether any string anywhere in `node` names a colour.
  [[nodiscard]] bool mentions_colour(const json& node) const {
    if (node.is_string()) return names_colour(node.get<std::string>());
    if (node.is_structured()) {
      return std::any_of(node.begin(), node.end(), [this](const json& item) { return mentions_colour(item); });
    }
    return false;
  }

  [[nodiscard]] DialSorting sort(const std::vector<std::string>& dials, bool malformed) const {
    DialSorting sorting;
    sorting.malformed = malformed;
    for (const auto& dial : dials) {
      if (dial.empty()) continue;
      if (dial.find('{') != std::string::npos) {
        sorting.placeholders.push_back(dial);
      } else if (const auto colour = colour_of(dial); !colour) {
        sorting.unknown.push_back(dial);
      } else {
        (*colour == Colour::kBlue ? sorting.blue : sorting.green).push_back(dial);
      }
    }
    return sorting;
  }

 private:
  const ColourAddresses& blue_;
  const ColourAddresses& green_;
  std::set<std::string> hosts_;
};

// Why a handler that names the app cannot be switched; "" when it can (or does not name the app).
std::string refusal(const Classifier& classifier, const json& handler, const DialSorting& dials) {
  const bool names_app = !dials.blue.empty() || !dials.green.empty();
  const auto dynamic = handler.find("dynamic_upstreams");
  if (dynamic != handler.end() && !dynamic->is_null() && classifier.mentions_colour(handler)) {
    const std::string source = dynamic->is_object() ? string_field(*dynamic, "source") : std::string();
    return "this reverse_proxy has dynamic_upstreams (source \"" + source +
           "\"), which Caddy looks up per request, and it names one of the app's servers: a switch cannot rewrite "
           "what is looked up at run time. Remove the `dynamic` subdirective and list one colour's addresses as its "
           "upstreams";
  }
  const bool placeholder_names_app = std::any_of(dials.placeholders.begin(), dials.placeholders.end(),
                                                 [&](const std::string& d) { return classifier.names_colour(d); });
  if (!dials.placeholders.empty() && (names_app || placeholder_names_app)) {
    return "the upstream dial `" + dials.placeholders.front() +
           "` holds a placeholder, replaced per request, so which colour it reaches cannot be read from the config: "
           "write the app's upstreams as literal host:port addresses";
  }
  if (!dials.blue.empty() && !dials.green.empty()) {
    return "this reverse_proxy balances across both colours (blue " + joined(dials.blue) + "; green " +
           joined(dials.green) +
           "), so no switch can move it to one colour: list only one colour's addresses in it (then reload Caddy) "
           "and switch";
  }
  if (names_app && dials.malformed) {
    return "an upstream of this reverse_proxy has no `dial` string, which is not how Caddy 2.6 writes upstreams: "
           "give every upstream a \"host:port\" dial";
  }
  if (names_app && !dials.unknown.empty()) {
    const char* colour = dials.blue.empty() ? "green" : "blue";
    return std::string("this reverse_proxy lists ") + colour + "'s " +
           joined(dials.blue.empty() ? dials.green : dials.blue) + " next to " + joined(dials.unknown) +
           ", which is neither colour's server, so a switch cannot tell whether that address moves too: add it to "
           "the colour's hosts in bluegreen-mcp's config, or proxy to it from a reverse_proxy of its own";
  }
  return "";
}

class Walker {
 public:
  Walker(const ColourAddresses& blue, const ColourAddresses& green) : classifier_(blue, green) {}

  void server(const std::string& name, const json& server, const std::string& pointer) {
    server_ = name;
    listen_ = server.contains("listen") ? strings_of(server["listen"]) : std::vector<std::string>();
    if (server.contains("routes")) routes(server["routes"], child(pointer, "routes"));
    if (server.contains("errors") && server["errors"].is_object() && server["errors"].contains("routes")) {
      routes(server["errors"]["routes"], child(child(pointer, "errors"), "routes"));
    }
  }

  AppProxies take() && { return std::move(found_); }

 private:
  void routes(const json& routes, const std::string& pointer) {
    if (!routes.is_array()) return;
    for (std::size_t i = 0; i < routes.size(); ++i) {
      const json& route = routes[i];
      if (!route.is_object()) continue;
      auto hosts = route_hosts(route);
      const bool has_hosts = !hosts.empty();
      if (has_hosts) hosts_.push_back(std::move(hosts));
      const auto handle = route.find("handle");
      if (handle != route.end() && handle->is_array()) {
        const std::string handle_pointer = child(child(pointer, i), "handle");
        for (std::size_t h = 0; h < handle->size(); ++h) handler((*handle)[h], child(handle_pointer, h));
      }
      if (has_hosts) hosts_.pop_back();
    }
  }

  void handler(const json& handler, const std::string& pointer) {
    if (!handler.is_object()) return;
    const std::string kind = string_field(handler, "handler");
    if (kind == "subroute") {
      if (handler.contains("routes")) routes(handler["routes"], child(pointer, "routes"));
      if (handler.contains("errors") && handler["errors"].is_object() && handler["errors"].contains("routes")) {
        routes(handler["errors"]["routes"], child(child(pointer, "errors"), "routes"));
      }
    } else if (kind == "reverse_proxy") {
      proxy(handler, pointer);
      const auto responses = handler.find("handle_response");
      if (responses == handler.end() || !responses->is_array()) return;
      for (std::size_t r = 0; r < responses->size(); ++r) {
        const json& response = (*responses)[r];
        if (response.is_object() && response.contains("routes")) {
          routes(response["routes"], child(child(child(pointer, "handle_response"), r), "routes"));
        }
      }
    }
  }

  void proxy(const json& handler, const std::string& pointer) {
    bool malformed = false;
    ProxyPlace place{pointer, server_, listen_, hosts_, dials_of(handler, malformed)};
    const DialSorting dials = classifier_.sort(place.dials, malformed);
    std::string why = refusal(classifier_, handler, dials);
    if (!why.empty()) {
      entry_point().unsupported.push_back(found_.unsupported.size());
      found_.unsupported.push_back(UnsupportedProxy{std::move(place), std::move(why)});
    } else if (!dials.blue.empty() || !dials.green.empty()) {
      entry_point().routes.push_back(found_.routes.size());
      found_.routes.push_back(ProxyRoute{std::move(place), dials.blue.empty() ? Colour::kGreen : Colour::kBlue});
    }
  }

  EntryPoint& entry_point() {
    if (found_.entry_points.empty() || found_.entry_points.back().server != server_) {
      found_.entry_points.push_back(EntryPoint{server_, listen_, {}, {}});
    }
    return found_.entry_points.back();
  }

  Classifier classifier_;
  std::string server_;
  std::vector<std::string> listen_;
  std::vector<std::vector<std::string>> hosts_;
  AppProxies found_;
};

bluegreen::Status check_target(const std::vector<std::string>& target_dials) {
  if (target_dials.empty()) {
    return Error("cannot rewrite Caddy's upstreams to no address: the target colour has no servers",
                 ErrorCode::kInvalidArgument);
  }
  std::set<std::string> seen;
  for (const auto& dial : target_dials) {
    const bool bad =
        dial.empty() || dial.find('{') != std::string::npos || std::any_of(dial.begin(), dial.end(), [](char c) {
          return c == ' ' || c == '\t' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        });
    if (bad) {
      return Error("cannot rewrite Caddy's upstreams to `" + dial +
                       "`: a dial must be a literal host:port without blanks, control characters or placeholders",
                   ErrorCode::kInvalidArgument);
    }
    if (!seen.insert(dial).second) {
      return Error("cannot rewrite Caddy's upstreams: `" + dial + "` is given twice", ErrorCode::kInvalidArgument);
    }
  }
  return ok_status();
}

// The handler object at `pointer` in `config`, or nullptr when there is none.
json* handler_at(json& config, const std::string& pointer) {
  try {
    const json::json_pointer path(pointer);
    if (!config.contains(path)) return nullptr;
    json& node = config.at(path);
    return node.is_object() ? &node : nullptr;
  } catch (const json::exception&) {
    return nullptr;  // not a pointer into this config: it changed, or the route was not found in it
  }
}

json upstreams_for(const json& handler, const std::vector<std::string>& target_dials) {
  json shape = json::object();
  const auto upstreams = handler.find("upstreams");
  if (upstreams != handler.end() && upstreams->is_array() && !upstreams->empty() && upstreams->front().is_object()) {
    shape = upstreams->front();
  }
  json result = json::array();
  for (const auto& dial : target_dials) {
    json upstream = shape;
    upstream["dial"] = dial;
    result.push_back(std::move(upstream));
  }
  return result;
}

}  // namespace

const char* to_string(Colour colour) { return colour == Colour::kBlue ? "blue" : "green"; }

AppProxies find_proxies(const nlohmann::json& config, const ColourAddresses& blue, const ColourAddresses& green) {
  Walker walker(blue, green);
  const json::json_pointer servers_path("/apps/http/servers");
  if (!config.is_object() || !config.contains(servers_path)) return {};
  const json& servers = config.at(servers_path);
  if (!servers.is_object()) return {};
  for (const auto& [name, server] : servers.items()) {
    if (server.is_object()) walker.server(name, server, child("/apps/http/servers", name));
  }
  return std::move(walker).take();
}

bluegreen::Result<Rewrite> rewrite_proxies(const nlohmann::json& config, const std::vector<ProxyRoute>& routes,
                                           const std::vector<std::string>& target_dials) {
  if (auto status = check_target(target_dials); !status.ok()) return status.error();
  Rewrite rewrite{config, {}};
  std::set<std::string> done;
  for (const auto& route : routes) {
    if (!done.insert(route.pointer).second) continue;
    json* handler = handler_at(rewrite.config, route.pointer);
    bool malformed = false;
    if (handler == nullptr || string_field(*handler, "handler") != "reverse_proxy" ||
        dials_of(*handler, malformed) != route.dials || malformed) {
      return Error("Caddy's config changed since it was read: " + route.pointer +
                       " no longer holds a reverse_proxy with the upstreams [" + joined(route.dials) +
                       "]; read the running config again and plan the switch anew",
                   ErrorCode::kFailedPrecondition);
    }
    if (route.dials == target_dials) continue;
    (*handler)["upstreams"] = upstreams_for(*handler, target_dials);
    rewrite.changes.push_back(UpstreamChange{route.pointer, route.dials, target_dials});
  }
  return rewrite;
}

}  // namespace bluegreen::caddy
