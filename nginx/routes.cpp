#include "nginx/routes.h"

#include "nginx/config_parse.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

namespace bluegreen::nginx {
namespace {

constexpr int kMaxIncludeDepth = 32;  // deeper is a loop, or not a config anyone can read

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Where a proxy_pass (or *_pass, set or map value) word points: the host part as written.
struct Target {
  std::string host;             // the name or address (no scheme, no URI), the value as nginx reads it
  std::size_t host_offset = 0;  // of `host` in the file's text (bytes); valid when `exact`
  bool exact = false;           // the written bytes of the host are its value (no quotes or escapes in it)
  bool variable = false;        // the host holds a variable
  bool has_port = false;        // "name:port"
};

// The host part of `word` (a proxy_pass address: "http://NAME/URI", or for the stream module and
// the other *_pass directives "NAME" or "scheme://NAME"), in `text` (the word's file).
Target target_of(const Word& word, std::string_view text) {
  Target target;
  const std::string& value = word.value;
  std::size_t start = 0;
  if (const auto scheme = value.find("://"); scheme != std::string::npos) start = scheme + 3;
  auto stop = value.find('/', start);
  if (stop == std::string::npos) stop = value.size();
  std::string host = value.substr(start, stop - start);
  target.variable = host.find('$') != std::string::npos;
  if (const auto colon = host.rfind(':'); colon != std::string::npos && host.find(']') == std::string::npos) {
    target.has_port = true;
    host.resize(colon);
  }
  target.host = host;
  const std::size_t raw_start = word.begin + (word.quoted ? 1 : 0);
  const auto raw = text.substr(raw_start, start + host.size());
  target.exact = raw == std::string_view(value).substr(0, start + host.size());
  target.host_offset = raw_start + start;
  return target;
}

// The words of a block directive joined, for the context path: "location /api", "if ($a)".
std::string context_name(const Directive& d) {
  std::string name;
  for (const auto& w : d.words) name += (name.empty() ? "" : " ") + w.value;
  return name;
}

std::string joined(const std::vector<std::string>& context) {
  std::string text;
  for (const auto& c : context) text += (text.empty() ? "" : " > ") + c;
  return text;
}

struct Place {
  const ConfigFile* file = nullptr;
  Module module = Module::kHttp;
  bool in_module = false;             // inside http {} or stream {}
  std::optional<std::size_t> server;  // index into servers_ while inside a server block
  std::vector<std::string> context;
};

class Walker {
 public:
  Walker(const std::vector<ConfigFile>& files, const std::vector<std::string>& app_upstreams) : files_(files) {
    for (const auto& name : app_upstreams) app_.emplace(lower(name), name);
  }

  AppRoutes run() {
    if (files_.empty()) return {};
    Place top;
    top.file = &files_.front();
    walk_file(top, 0);
    return finish();
  }

 private:
  bool is_app(const std::string& name) const { return app_.count(lower(name)) != 0; }

  void walk_file(Place& place, int depth) {
    const auto& file = *place.file;
    auto parsed = parse_config(file.text, file.path);
    if (!parsed) {
      result_.problems.push_back(parsed.error().message);
      return;
    }
    walk(*parsed, place, depth);
  }

  void walk(const std::vector<Directive>& directives, Place& place, int depth) {
    for (const auto& d : directives) {
      if (d.name() == "include" && !d.has_block) {
        include(d, place, depth);
      } else if (d.has_block) {
        block(d, place, depth);
      } else {
        simple(d, place);
      }
    }
  }

  void include(const Directive& d, Place& place, int depth) {
    if (depth >= kMaxIncludeDepth) {
      result_.problems.push_back(place.file->path + ":" + std::to_string(d.line) + ": includes nest more than " +
                                 std::to_string(kMaxIncludeDepth) + " deep (an include loop?): not followed");
      return;
    }
    std::string pattern = d.arg(0);
    if (!pattern.empty() && pattern.front() != '/') {
      const auto& main = files_.front().path;
      const auto slash = main.rfind('/');
      pattern = (slash == std::string::npos ? std::string() : main.substr(0, slash + 1)) + pattern;
    }
    const bool glob = pattern.find_first_of("*?[") != std::string::npos;
    std::vector<const ConfigFile*> matches;
    for (const auto& f : files_) {
      if (glob ? fnmatch(pattern.c_str(), f.path.c_str(), FNM_PATHNAME | FNM_PERIOD) == 0 : f.path == pattern) {
        matches.push_back(&f);
      }
    }
    std::sort(matches.begin(), matches.end(), [](const auto* a, const auto* b) { return a->path < b->path; });
    if (matches.empty() && !glob) result_.missing_includes.push_back(pattern);
    for (const auto* f : matches) {
      Place inner = place;
      inner.file = f;
      walk_file(inner, depth + 1);
    }
  }

  void block(const Directive& d, Place& place, int depth) {
    const auto& name = d.name();
    if (name == "upstream") {
      Upstream upstream{place.module, d.arg(0), place.file->path, d.line, {}};
      for (const auto& child : d.children) {
        if (child.name() == "server") upstream.servers.push_back(child.arg(0));
      }
      result_.upstreams.push_back(std::move(upstream));
      return;
    }
    if (name == "map") {
      map_values(d, place);
      return;
    }
    Place inner = place;
    inner.context.push_back(context_name(d));
    if (!place.in_module && (name == "http" || name == "stream")) {
      inner.module = name == "http" ? Module::kHttp : Module::kStream;
      inner.in_module = true;
    } else if (!place.in_module) {
      return;  // events {}, mail {}: nothing routes there
    } else if (name == "server" && !place.server) {
      EntryPoint server;
      server.module = place.module;
      server.file = place.file->path;
      server.line_number = d.line;
      inner.server = servers_.size();
      servers_.push_back(std::move(server));
    }
    walk(d.children, inner, depth);
  }

  void simple(const Directive& d, Place& place) {
    const auto& name = d.name();
    if (place.server && (name == "listen" || name == "server_name")) {
      auto& server = servers_[*place.server];
      for (std::size_t i = 1; i < d.words.size(); ++i) {
        if (name == "server_name") server.server_names.push_back(d.words[i].value);
      }
      if (name == "listen") server.listens.push_back(d.arg(0));
      return;
    }
    if (d.words.size() < 2 || !place.in_module) return;
    if (name == "proxy_pass") {
      proxy_pass(d, place);
    } else if (name == "grpc_pass" || name == "fastcgi_pass" || name == "uwsgi_pass" || name == "scgi_pass" ||
               name == "memcached_pass") {
      const auto target = target_of(d.words[1], place.file->text);
      if (is_app(target.host)) {
        unsupported(d, place,
                    "`" + name + "` names the app's upstream \"" + target.host +
                        "\"; bluegreen-mcp switches only proxy_pass lines. Use proxy_pass, or switch "
                        "this line by hand.");
      }
    } else if (name == "set" && d.words.size() >= 3) {
      const auto target = target_of(d.words[2], place.file->text);
      if (is_app(target.host)) {
        names_app_in_values_ = true;
        unsupported(d, place,
                    "`set` puts the app's upstream \"" + target.host +
                        "\" in a variable, so a proxy_pass may pick the colour per request; "
                        "bluegreen-mcp switches only proxy_pass lines that name the upstream.");
      }
    }
  }

  void proxy_pass(const Directive& d, Place& place) {
    const auto target = target_of(d.words[1], place.file->text);
    if (target.variable) {
      variable_passes_.emplace_back(place.server, unsupported_of(d, place, ""));
      return;
    }
    if (!is_app(target.host)) return;
    if (target.has_port) {
      unsupported(d, place,
                  "proxy_pass names \"" + target.host +
                      "\" with a port, so nginx resolves it in DNS instead of using the upstream of "
                      "that name; write it without the port.");
      return;
    }
    if (!target.exact) {
      unsupported(d, place, "the upstream name in this proxy_pass is written with escapes; write it plainly.");
      return;
    }
    if (!place.server) {
      unsupported(d, place, "this proxy_pass is outside any server block.");
      return;
    }
    // The same line reached again (a snippet included by another server block): one route, in both.
    for (std::size_t i = 0; i < result_.routes.size(); ++i) {
      if (result_.routes[i].file == place.file->path && result_.routes[i].name_begin == target.host_offset) {
        memberships_.emplace_back(*place.server, i);
        return;
      }
    }
    Route route;
    route.module = place.module;
    route.file = place.file->path;
    route.line_number = d.words[1].line;
    route.line = line_at(place.file->text, route.line_number);
    route.context = joined(place.context);
    route.upstream = target.host;
    route.app_upstream = app_.at(lower(target.host));
    route.name_begin = target.host_offset;
    route.name_end = target.host_offset + target.host.size();
    memberships_.emplace_back(*place.server, result_.routes.size());
    result_.routes.push_back(std::move(route));
  }

  void map_values(const Directive& d, const Place& place) {
    for (const auto& entry : d.children) {
      for (std::size_t i = 1; i < entry.words.size(); ++i) {
        const auto target = target_of(entry.words[i], place.file->text);
        if (!is_app(target.host)) continue;
        names_app_in_values_ = true;
        unsupported(entry, place,
                    "the map at line " + std::to_string(d.line) + " (\"" + context_name(d) +
                        "\") chooses the app's upstream \"" + target.host +
                        "\" per request, so no one line decides the colour; bluegreen-mcp "
                        "switches only proxy_pass lines that name an upstream.");
        break;
      }
    }
  }

  UnsupportedRoute unsupported_of(const Directive& d, const Place& place, std::string why) const {
    return {place.file->path, d.line, line_at(place.file->text, d.line), std::move(why)};
  }
  void unsupported(const Directive& d, const Place& place, std::string why) {
    result_.unsupported.push_back(unsupported_of(d, place, std::move(why)));
  }

  AppRoutes finish() {
    std::map<std::size_t, std::size_t> kept;  // server index -> entry point index
    std::vector<bool> placed(result_.routes.size(), false);
    for (const auto& [server, index] : memberships_) {
      auto [it, added] = kept.try_emplace(server, result_.entry_points.size());
      if (added) result_.entry_points.push_back(servers_[server]);
      auto& routes = result_.entry_points[it->second].routes;
      if (std::find(routes.begin(), routes.end(), index) == routes.end()) routes.push_back(index);
      if (!placed[index]) result_.routes[index].entry_point = it->second;
      placed[index] = true;
    }
    for (auto& [server, pass] : variable_passes_) {
      const bool in_app_server = server && kept.count(*server) != 0;
      if (!in_app_server && !names_app_in_values_) continue;
      pass.why = std::string("this proxy_pass takes its address from a variable, ") +
                 (in_app_server ? "in a server block that routes to the app"
                                : "and a map or set value names the app's upstream") +
                 ", so nginx may pick either colour per request; bluegreen-mcp cannot switch it. Name the "
                 "upstream in the proxy_pass.";
      result_.unsupported.push_back(std::move(pass));
    }
    return std::move(result_);
  }

  const std::vector<ConfigFile>& files_;
  std::map<std::string, std::string> app_;                        // lower-case name -> the name as configured
  std::vector<std::pair<std::size_t, std::size_t>> memberships_;  // (server index, route index)
  AppRoutes result_;
  std::vector<EntryPoint> servers_;  // every server block seen
  std::vector<std::pair<std::optional<std::size_t>, UnsupportedRoute>> variable_passes_;
  bool names_app_in_values_ = false;
};

bool valid_upstream_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
}

std::size_t line_of(std::string_view text, std::size_t offset) {
  return 1 +
         static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

}  // namespace

AppRoutes find_routes(const std::vector<ConfigFile>& files, const std::vector<std::string>& app_upstreams) {
  return Walker(files, app_upstreams).run();
}

bluegreen::Result<std::vector<FileChange>> rewrite_routes(const std::vector<ConfigFile>& files, const AppRoutes& routes,
                                                          std::string_view new_upstream) {
  const auto invalid = [](std::string message) {
    return bluegreen::Error(std::move(message), bluegreen::ErrorCode::kInvalidArgument);
  };
  if (!valid_upstream_name(new_upstream)) {
    return invalid("\"" + std::string(new_upstream) + "\" is not an upstream name nginx accepts here ([A-Za-z0-9._-])");
  }
  // Per file, the routes to rewrite, from the last byte to the first so earlier offsets hold.
  std::map<std::string, std::vector<const Route*>> by_file;
  for (const auto& route : routes.routes) {
    if (lower(route.upstream) == lower(new_upstream)) continue;
    const bool defined = std::any_of(routes.upstreams.begin(), routes.upstreams.end(), [&](const Upstream& u) {
      return lower(u.name) == lower(new_upstream) && u.module == route.module;
    });
    if (!defined) {
      return invalid("no upstream \"" + std::string(new_upstream) + "\" is defined" +
                     (route.module == Module::kStream ? " in the stream module" : "") +
                     " in the files nginx loads; a switch never points traffic nowhere (" + route.file + ":" +
                     std::to_string(route.line_number) + ")");
    }
    by_file[route.file].push_back(&route);
  }
  std::vector<FileChange> changes;
  for (const auto& file : files) {
    const auto it = by_file.find(file.path);
    if (it == by_file.end()) continue;
    auto edits = it->second;
    std::sort(edits.begin(), edits.end(), [](const auto* a, const auto* b) { return a->name_begin > b->name_begin; });
    FileChange change{file.path, file.text, file.text, {}};
    for (const auto* route : edits) {
      if (route->name_end > file.text.size() ||
          file.text.compare(route->name_begin, route->name_end - route->name_begin, route->upstream) != 0) {
        return invalid(file.path + ":" + std::to_string(route->line_number) + " no longer reads as \"" + route->line +
                       "\": the file changed since it was read; read it again");
      }
      change.after.replace(route->name_begin, route->name_end - route->name_begin, new_upstream);
      change.lines.push_back(line_of(file.text, route->name_begin));
    }
    std::sort(change.lines.begin(), change.lines.end());
    change.lines.erase(std::unique(change.lines.begin(), change.lines.end()), change.lines.end());
    changes.push_back(std::move(change));
    by_file.erase(it);
  }
  if (!by_file.empty()) {
    return invalid(by_file.begin()->first + " holds a route but is not among the files given; read them again");
  }
  return changes;
}

}  // namespace bluegreen::nginx
