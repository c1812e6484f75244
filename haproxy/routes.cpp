#include "haproxy/routes.h"

#include "haproxy/config_lines.h"

#include <algorithm>
#include <optional>
#include <regex>
#include <tuple>

namespace bluegreen::haproxy {
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string section_label(const ConfigLine& line) {
  std::string label = line.words[0].value;
  if (line.words.size() > 1 && line.words[1].value != "from") label += " " + line.words[1].value;
  return label;
}

// The name after `from` on a section line (`frontend fe from web`, `defaults b from a`), or "".
std::string from_name(const ConfigLine& line) {
  for (std::size_t i = 1; i + 1 < line.words.size(); ++i) {
    if (line.words[i].value == "from") return line.words[i + 1].value;
  }
  return "";
}

// The start the names share ("shop_" for shop_blue and shop_green).
std::string shared_prefix(const std::vector<std::string>& names) {
  if (names.empty()) return "";
  std::string prefix = names.front();
  for (const auto& name : names) {
    std::size_t n = 0;
    while (n < prefix.size() && n < name.size() && prefix[n] == name[n]) ++n;
    prefix.resize(n);
  }
  return prefix;
}

// A map lookup in a use_backend's log-format backend: `map(FILE)`, `map_str(FILE,DEFAULT)`,
// `map_beg(...)`, ... (every map converter takes the file first and an optional default).
struct MapCall {
  std::string file;
  std::string default_value;
};

std::optional<MapCall> map_call_in(const std::string& expression) {
  static const std::regex pattern(R"((?:^|[^A-Za-z0-9_])map(?:_[a-z]+)*\(\s*([^,)\s]+)\s*(?:,\s*([^)]*?)\s*)?\))");
  std::smatch match;
  if (!std::regex_search(expression, match, pattern)) return std::nullopt;
  return MapCall{match[1].str(), match[2].str()};
}

// What one `defaults` section passes on: its default_backend line (own or inherited), if any.
struct Defaults {
  std::string name;
  bool has_default = false;
  std::optional<Route> default_route;  // set when that default_backend is one of the app's backends
  std::string default_backend;
};

// The frontend or listen section being read.
struct Proxy {
  std::string label;
  std::string file;
  std::size_t line_number = 0;
  std::vector<std::string> binds;
  bool has_own_default = false;
  std::vector<Route> routes;
  std::vector<UnsupportedRoute> dynamic;  // dynamic use_backend lines that are not map lookups
  bool names_app_backend = false;         // one of those mentions an app backend by name
  std::vector<MapLookup> lookups;
  std::optional<Defaults> inherited;
  std::map<std::string, std::string> set_vars;                // variable -> the set-var rule's expression
  std::vector<std::pair<std::string, std::size_t>> var_uses;  // variable read by dynamic[index]
};

class RouteFinder {
 public:
  RouteFinder(const std::vector<ConfigFile>& files, const std::vector<std::string>& app_backends,
              const std::map<std::string, std::string>& map_texts, const std::map<std::string, std::string>* env)
      : app_backends_(app_backends), map_texts_(map_texts), env_(env), config_count_(files.size()) {
    for (const auto& file : files) file_paths_.push_back(file.path);
  }

  void read(const ConfigFile& file, std::size_t file_index) {
    file_index_ = file_index;
    file_ = &file;
    in_proxy_ = false;
    in_defaults_ = false;
    int condition_depth = 0;
    for (const ConfigLine& line : split_config_lines(file.text)) {
      if (line.words.empty()) continue;
      const std::string& keyword = line.words[0].value;
      if (keyword == ".if") ++condition_depth;
      if (keyword == ".endif" && condition_depth > 0) --condition_depth;
      if (keyword.rfind('.', 0) == 0) continue;  // .if .elif .else .endif .notice ...
      if (is_section_keyword(keyword)) {
        end_section();
        start_section(line);
        continue;
      }
      if (in_proxy_) read_proxy_line(line, condition_depth > 0);
      else if (in_defaults_) read_defaults_line(line, condition_depth > 0);
    }
    end_section();
  }

  AppRoutes finish() {
    // Routes in load order: by file, then line; map entries (file index past the configs) last.
    std::vector<std::size_t> order(found_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::tie(route_rank_[a], found_[a].line_number) < std::tie(route_rank_[b], found_[b].line_number);
    });
    std::vector<std::size_t> position(found_.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      position[order[i]] = i;
      result_.routes.push_back(found_[order[i]]);
    }
    for (auto& entry : result_.entry_points) {
      for (auto& index : entry.routes) index = position[index];
      std::sort(entry.routes.begin(), entry.routes.end());
    }
    return std::move(result_);
  }

  void add_backend_name(const ConfigLine& line) {
    const std::string& keyword = line.words[0].value;
    if ((keyword == "backend" || keyword == "listen") && line.words.size() > 1 &&
        !contains(result_.backends, line.words[1].value)) {
      result_.backends.push_back(line.words[1].value);
    }
  }

 private:
  bool is_app_backend(const std::string& name) const { return contains(app_backends_, name); }

  Route route_of(const ConfigLine& line, RouteKind kind, const std::string& section) const {
    Route route;
    route.kind = kind;
    route.file = file_->path;
    route.line_number = line.number;
    route.line = std::string(line.text);
    route.section = section;
    route.backend = line.words[1].value;
    route.backend_begin = line.words[1].begin;
    route.backend_end = line.words[1].end;
    if (kind == RouteKind::kUseBackend) route.condition = raw_words_from(line, 2);
    return route;
  }

  UnsupportedRoute unsupported(const ConfigLine& line, std::string why) const {
    return UnsupportedRoute{file_->path, line.number, std::string(line.text), std::move(why)};
  }

  void start_section(const ConfigLine& line) {
    add_backend_name(line);
    const std::string& keyword = line.words[0].value;
    if (keyword == "defaults") {
      in_defaults_ = true;
      defaults_ = Defaults{};
      defaults_.name = line.words.size() > 1 && line.words[1].value != "from" ? line.words[1].value : "";
      defaults_label_ = section_label(line);
      if (const auto parent = find_defaults(from_name(line))) {
        defaults_.has_default = parent->has_default;
        defaults_.default_route = parent->default_route;
        defaults_.default_backend = parent->default_backend;
      }
      return;
    }
    if (keyword != "frontend" && keyword != "listen") return;
    in_proxy_ = true;
    proxy_ = Proxy{};
    proxy_.label = section_label(line);
    proxy_.file = file_->path;
    proxy_.line_number = line.number;
    const std::string from = from_name(line);
    proxy_.inherited = from.empty() ? last_defaults_ : find_defaults(from);
  }

  std::optional<Defaults> find_defaults(const std::string& name) const {
    if (name.empty()) return std::nullopt;
    const auto found = std::find_if(all_defaults_.rbegin(), all_defaults_.rend(),
                                    [&name](const Defaults& defaults) { return defaults.name == name; });
    if (found == all_defaults_.rend()) return std::nullopt;
    return *found;
  }

  void read_defaults_line(const ConfigLine& line, bool conditional) {
    if (line.words[0].value != "default_backend" || line.words.size() < 2) return;
    defaults_.has_default = true;
    defaults_.default_backend = line.words[1].value;
    defaults_.default_route.reset();
    if (line.words[1].value.find("${") != std::string::npos) {
      if (auto why = from_environment(line.words[1].value); !why.empty()) {
        result_.unsupported.push_back(unsupported(line, why));
      }
      return;
    }
    if (!is_app_backend(line.words[1].value)) return;
    if (conditional) {
      result_.unsupported.push_back(unsupported(line, inside_if()));
      return;
    }
    defaults_.default_route = route_of(line, RouteKind::kDefaultBackend, defaults_label_);
  }

  // Why a backend written with an environment variable ("${NAME}") cannot be switched, when it
  // leads (or may lead) to the app; "" when it is known to lead elsewhere.
  std::string from_environment(const std::string& backend) const {
    std::string resolved;
    std::size_t at = 0;
    while (at < backend.size()) {
      const auto open = backend.find("${", at);
      if (open == std::string::npos) {
        resolved += backend.substr(at);
        break;
      }
      resolved += backend.substr(at, open - at);
      const auto close = backend.find('}', open);
      const std::string name =
          backend.substr(open + 2, close == std::string::npos ? std::string::npos : close - open - 2);
      const auto value = env_ ? env_->find(name) : decltype(env_->end()){};
      if (env_ == nullptr || value == env_->end()) {
        return "the backend comes from the environment variable " + name +
               ", whose value in the running HAProxy is not known here (show env on the stats socket), so it may "
               "be the app's backend; write the backend name in the line";
      }
      resolved += value->second;
      at = close == std::string::npos ? backend.size() : close + 1;
    }
    if (!is_app_backend(resolved)) return "";
    return "the backend comes from an environment variable (" + backend + " = " + resolved +
           "), which a switch cannot change; write the backend name in the line";
  }

  // `http-request set-var(txn.be) EXPR`: remembers EXPR for the variable (a use_backend
  // %[var(txn.be)] anywhere in the section reads it: rules run before use_backend).
  void note_set_var(const ConfigLine& line) {
    for (std::size_t i = 1; i < line.words.size(); ++i) {
      const std::string& word = line.words[i].value;
      if (word.rfind("set-var(", 0) != 0 || word.back() != ')') continue;
      proxy_.set_vars[word.substr(8, word.size() - 9)] = raw_words_from(line, i + 1);
      return;
    }
  }

  // The variables `var(NAME)` an expression reads.
  static std::vector<std::string> variables_in(const std::string& expression) {
    std::vector<std::string> names;
    for (auto at = expression.find("var("); at != std::string::npos; at = expression.find("var(", at + 4)) {
      const auto close = expression.find_first_of(",)", at + 4);
      if (close != std::string::npos) names.push_back(expression.substr(at + 4, close - at - 4));
    }
    return names;
  }

  // Whether an expression could produce one of the app's backend names: a map lookup, the names, or
  // the start they share.
  bool could_name_app(const std::string& expression) const {
    if (map_call_in(expression)) return true;
    const std::string shared = shared_prefix(app_backends_);
    if (shared.size() >= 3 && expression.find(shared) != std::string::npos) return true;
    return std::any_of(app_backends_.begin(), app_backends_.end(),
                       [&](const std::string& name) { return expression.find(name) != std::string::npos; });
  }

  static std::string inside_if() {
    return "it is inside a .if block, whose condition bluegreen-mcp does not evaluate; move the line out of the "
           "block (or set the condition aside) so every switch can see and change it";
  }

  void read_proxy_line(const ConfigLine& line, bool conditional) {
    const std::string& keyword = line.words[0].value;
    if (keyword == "bind" && line.words.size() > 1) {
      proxy_.binds.push_back(line.words[1].value);
      return;
    }
    if (keyword == "http-request" || keyword == "tcp-request" || keyword == "http-response") {
      note_set_var(line);
      return;
    }
    if ((keyword != "default_backend" && keyword != "use_backend") || line.words.size() < 2) return;
    const auto kind = keyword == "default_backend" ? RouteKind::kDefaultBackend : RouteKind::kUseBackend;
    if (kind == RouteKind::kDefaultBackend) proxy_.has_own_default = true;
    const std::string& backend = line.words[1].value;
    if (backend.find("${") != std::string::npos) {
      if (auto why = from_environment(backend); !why.empty()) {
        proxy_.dynamic.push_back(unsupported(line, why));
        proxy_.names_app_backend = true;  // it leads to the app, or may: refused wherever it is
      }
      return;
    }
    if (backend.find("%[") != std::string::npos) {
      read_dynamic(line, conditional);
      return;
    }
    if (!is_app_backend(backend)) return;
    if (conditional) {
      result_.unsupported.push_back(unsupported(line, inside_if()));
      return;
    }
    proxy_.routes.push_back(route_of(line, kind, proxy_.label));
  }

  void read_dynamic(const ConfigLine& line, bool conditional) {
    const std::string& backend = line.words[1].value;
    bool names_app = false;
    for (const auto& name : app_backends_) names_app = names_app || backend.find(name) != std::string::npos;
    // `%[str(shop_),concat(...)]` builds the name from the part the app's backends share.
    const std::string shared = shared_prefix(app_backends_);
    names_app = names_app || (shared.size() >= 3 && backend.find(shared) != std::string::npos);
    const auto call = map_call_in(backend);
    if (!call && !conditional) {
      for (const auto& name : variables_in(backend)) proxy_.var_uses.emplace_back(name, proxy_.dynamic.size());
    }
    if (!call || conditional) {
      proxy_.names_app_backend = proxy_.names_app_backend || names_app;
      proxy_.dynamic.push_back(
          unsupported(line, conditional
                                ? inside_if()
                                : "the backend is computed at run time (" + backend +
                                      ") in a way bluegreen-mcp cannot follow: only a literal backend name or a "
                                      "map lookup (use_backend %[...,map(FILE)]) can be switched. Route the app with "
                                      "default_backend/use_backend NAME or through a map"));
      return;
    }
    proxy_.lookups.push_back(MapLookup{call->file, file_->path, line.number, std::string(line.text), proxy_.label});
    if (is_app_backend(call->default_value)) {
      proxy_.names_app_backend = true;
      proxy_.dynamic.push_back(
          unsupported(line,
                      "the map lookup's default (" + call->default_value +
                          ") is one of the app's backends: a switch would have to edit the expression and reload. Put "
                          "the app's key in the map " +
                          call->file + " instead, or make the default another backend"));
    }
  }

  void end_section() {
    if (in_defaults_) {
      all_defaults_.push_back(defaults_);
      last_defaults_ = defaults_;
      in_defaults_ = false;
    }
    if (!in_proxy_) return;
    in_proxy_ = false;
    EntryPoint entry{proxy_.label, proxy_.file, proxy_.line_number, proxy_.binds, {}};
    for (auto& route : proxy_.routes) entry.routes.push_back(add_route(std::move(route), file_index_));
    if (!proxy_.has_own_default && proxy_.inherited && proxy_.inherited->default_route) {
      const auto& inherited = *proxy_.inherited->default_route;
      entry.routes.push_back(add_route(inherited, rank_of_file(inherited.file)));
    }
    for (const auto& lookup : proxy_.lookups) {
      result_.map_lookups.push_back(lookup);
      add_map_routes(lookup.map, entry);
    }
    bool from_app_variable = false;
    for (const auto& [name, index] : proxy_.var_uses) {
      const auto set = proxy_.set_vars.find(name);
      if (set == proxy_.set_vars.end() || !could_name_app(set->second)) continue;
      from_app_variable = true;
      proxy_.dynamic[index].why =
          "the backend comes from the variable " + name + ", set from `" + set->second +
          "`, which may name the app's backend; bluegreen-mcp can switch only a literal backend name or a map "
          "lookup in the use_backend line itself (use_backend %[...,map(FILE)])";
    }
    std::sort(entry.routes.begin(), entry.routes.end());
    entry.routes.erase(std::unique(entry.routes.begin(), entry.routes.end()), entry.routes.end());
    if (!entry.routes.empty() || proxy_.names_app_backend || from_app_variable) {
      for (auto& line : proxy_.dynamic) result_.unsupported.push_back(std::move(line));
    }
    if (!entry.routes.empty()) result_.entry_points.push_back(std::move(entry));
  }

  void add_map_routes(const std::string& map, EntryPoint& entry) {
    const auto text = map_texts_.find(map);
    if (text == map_texts_.end()) {
      if (!contains(result_.missing_maps, map)) result_.missing_maps.push_back(map);
      return;
    }
    if (!contains(map_order_, map)) map_order_.push_back(map);
    const std::size_t rank =
        config_count_ +
        static_cast<std::size_t>(std::find(map_order_.begin(), map_order_.end(), map) - map_order_.begin());
    for (const auto& item : parse_map(text->second)) {
      if (!is_app_backend(item.value)) continue;
      Route route;
      route.kind = RouteKind::kMapEntry;
      route.file = map;
      route.line_number = item.line_number;
      route.line = item.line;
      route.backend = item.value;
      route.map_key = item.key;
      route.backend_begin = item.value_begin;
      route.backend_end = item.value_end;
      entry.routes.push_back(add_route(std::move(route), rank));
    }
  }

  std::size_t rank_of_file(const std::string& path) const {
    const auto it = std::find(file_paths_.begin(), file_paths_.end(), path);
    return static_cast<std::size_t>(it - file_paths_.begin());
  }

  // The route's index in found_, adding it when it is not there yet (a defaults line or a map
  // entry shared by several entry points is one route).
  std::size_t add_route(Route route, std::size_t rank) {
    for (std::size_t i = 0; i < found_.size(); ++i) {
      if (found_[i].file == route.file && found_[i].line_number == route.line_number && found_[i].kind == route.kind) {
        return i;
      }
    }
    found_.push_back(std::move(route));
    route_rank_.push_back(rank);
    return found_.size() - 1;
  }

 private:
  const std::vector<std::string>& app_backends_;
  const std::map<std::string, std::string>& map_texts_;
  const std::map<std::string, std::string>* env_;
  std::vector<std::string> file_paths_;
  std::size_t config_count_ = 0;
  AppRoutes result_;
  std::vector<Route> found_;
  std::vector<std::size_t> route_rank_;
  std::vector<std::string> map_order_;
  const ConfigFile* file_ = nullptr;
  std::size_t file_index_ = 0;
  bool in_proxy_ = false;
  bool in_defaults_ = false;
  Proxy proxy_;
  Defaults defaults_;
  std::string defaults_label_;
  std::vector<Defaults> all_defaults_;
  std::optional<Defaults> last_defaults_;
};

bool is_backend_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

std::string printable(std::string_view text) {
  std::string shown;
  for (const char c : text.substr(0, 80)) shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return shown;
}

// Where line `number` (1-based) of `text` starts; npos when there is no such line.
std::size_t line_offset(std::string_view text, std::size_t number) {
  std::size_t offset = 0;
  for (std::size_t n = 1; n < number; ++n) {
    const auto newline = text.find('\n', offset);
    if (newline == std::string_view::npos) return std::string_view::npos;
    offset = newline + 1;
  }
  return offset < text.size() ? offset : std::string_view::npos;
}

}  // namespace

AppRoutes find_routes(const std::vector<ConfigFile>& files, const std::vector<std::string>& app_backends,
                      const std::map<std::string, std::string>& map_texts,
                      const std::map<std::string, std::string>* env) {
  RouteFinder finder(files, app_backends, map_texts, env);
  for (std::size_t i = 0; i < files.size(); ++i) finder.read(files[i], i);
  return finder.finish();
}

std::vector<MapEntry> parse_map(std::string_view text) {
  std::vector<MapEntry> entries;
  std::size_t number = 0;
  std::size_t offset = 0;
  while (offset < text.size()) {
    ++number;
    const auto newline = text.find('\n', offset);
    std::string_view line =
        text.substr(offset, newline == std::string_view::npos ? text.size() - offset : newline - offset);
    offset = newline == std::string_view::npos ? text.size() : newline + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto key_begin = line.find_first_not_of(" \t");
    if (key_begin == std::string_view::npos || line[key_begin] == '#') continue;
    const auto key_end = std::min(line.find_first_of(" \t", key_begin), line.size());
    const auto value_begin = line.find_first_not_of(" \t", key_end);
    MapEntry entry;
    entry.line_number = number;
    entry.line = std::string(line);
    entry.key = std::string(line.substr(key_begin, key_end - key_begin));
    if (value_begin != std::string_view::npos) {
      const auto value_end = line.find_last_not_of(" \t") + 1;
      entry.value = std::string(line.substr(value_begin, value_end - value_begin));
      entry.value_begin = value_begin;
      entry.value_end = value_end;
    } else {
      entry.value_begin = entry.value_end = line.size();
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

bluegreen::Result<std::vector<FileChange>> rewrite_routes(const std::vector<ConfigFile>& files,
                                                          const std::map<std::string, std::string>& map_texts,
                                                          const AppRoutes& routes, std::string_view new_backend) {
  if (new_backend.empty() || !std::all_of(new_backend.begin(), new_backend.end(), is_backend_name_char)) {
    return bluegreen::Error{"backend name `" + printable(new_backend) +
                            "` is not acceptable; expected letters, digits and . _ : - (at least one character)"};
  }
  if (!contains(routes.backends, std::string(new_backend))) {
    std::string known;
    for (const auto& name : routes.backends) known += (known.empty() ? "" : ", ") + name;
    return bluegreen::Error{"backend `" + std::string(new_backend) +
                            "` is not defined in the HAProxy configuration (no `backend " + std::string(new_backend) +
                            "` or `listen " + std::string(new_backend) + "` section in any of its files; defined: " +
                            (known.empty() ? std::string("none") : known) + "); refusing to point traffic at it"};
  }
  // Each file's text, and the routes in it from the last line up, so earlier offsets stay valid.
  std::vector<FileChange> changes;
  const auto change_for = [&](const std::string& path, bool is_map) -> bluegreen::Result<FileChange*> {
    for (auto& change : changes) {
      if (change.path == path && change.is_map == is_map) return &change;
    }
    const std::string* text = nullptr;
    if (is_map) {
      if (const auto it = map_texts.find(path); it != map_texts.end()) text = &it->second;
    } else {
      for (const auto& file : files) text = file.path == path ? &file.text : text;
    }
    if (text == nullptr) return bluegreen::Error{"the text of " + path + " was not read"};
    changes.push_back(FileChange{path, is_map, *text, *text, {}});
    return &changes.back();
  };
  std::vector<const Route*> ordered;
  for (const auto& route : routes.routes) ordered.push_back(&route);
  std::sort(ordered.begin(), ordered.end(),
            [](const Route* a, const Route* b) { return a->line_number > b->line_number; });
  for (const Route* route : ordered) {
    if (route->backend == new_backend) continue;
    auto change = change_for(route->file, route->kind == RouteKind::kMapEntry);
    if (!change) return change.error();
    FileChange& file = **change;
    const auto offset = line_offset(file.before, route->line_number);
    if (offset == std::string::npos || file.before.compare(offset, route->line.size(), route->line) != 0) {
      return bluegreen::Error{file.path + " line " + std::to_string(route->line_number) +
                              " is no longer the route that was found (`" + trimmed_line(route->line) +
                              "`): the file changed; read it again"};
    }
    // A quoted name stays quoted ("blue" becomes "green"); the name itself needs no escaping.
    const std::string raw = route->line.substr(route->backend_begin, route->backend_end - route->backend_begin);
    const bool quoted = raw.size() >= 2 && (raw.front() == '"' || raw.front() == '\'') && raw.back() == raw.front() &&
                        raw.find(raw.front(), 1) == raw.size() - 1;
    const std::string word = quoted ? raw.front() + std::string(new_backend) + raw.back() : std::string(new_backend);
    file.after.replace(offset + route->backend_begin, route->backend_end - route->backend_begin, word);
    file.lines.insert(file.lines.begin(), route->line_number);
  }
  // Files in the order given: configs first, then maps.
  std::stable_sort(changes.begin(), changes.end(), [&](const FileChange& a, const FileChange& b) {
    const auto rank = [&](const FileChange& c) {
      if (c.is_map) return files.size();
      for (std::size_t i = 0; i < files.size(); ++i) {
        if (files[i].path == c.path) return i;
      }
      return files.size();
    };
    return rank(a) < rank(b);
  });
  return changes;
}

}  // namespace bluegreen::haproxy
