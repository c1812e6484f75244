#include "deployment/haproxy_files.h"

#include "deployment/lb_snapshot.h"
#include "remote/shell_command.h"

#include <algorithm>
#include <sstream>

namespace bluegreen::deployment {
namespace {

constexpr std::string_view kCfgEnv = "HAPROXY_CFGFILES=";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

std::string strip_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string join(const std::vector<std::string>& items) {
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : " ") + item;
  return joined;
}

// Expands the configured entries that may be directories with one command on the LB: "D\t<path>"
// then "f\t<name>" per regular file (or link to one) in it, "F\t<path>" for anything else.
ConfigFileList expand_configured(remote::Executor& executor, const config::AppConfig& app) {
  const auto& lb = app.load_balancer;
  ConfigFileList list;
  list.source = "loadBalancer.haproxyConfig";
  std::vector<std::string> unsure;
  for (const auto& entry : lb.haproxy_configs) {
    if (!ends_with(entry, ".cfg")) unsure.push_back(strip_trailing_slashes(entry));
  }
  if (unsure.empty()) {
    list.paths = lb.haproxy_configs;
    return list;
  }
  std::string script = "for p in";
  for (const auto& path : unsure) script += " " + remote::shell_quote(path);
  script += "; do if [ -d \"$p\" ]; then printf 'D\\t%s\\n' \"$p\"; (cd \"$p\" && for f in *; do [ -f \"$f\" ] && "
            "printf 'f\\t%s\\n' \"$f\"; done; :); else printf 'F\\t%s\\n' \"$p\"; fi; done";
  const auto ran = run_on_lb(executor, app, script);
  if (!ran || !ran->succeeded()) {
    list.problem = "cannot tell which files of " + join(unsure) + " HAProxy loads (asking " + lb.ssh +
                   " failed: " + command_output(ran) + ")";
    return list;
  }
  std::map<std::string, std::vector<std::string>> directories;
  std::istringstream lines(ran->out.tail);
  std::string line;
  std::string current;
  while (std::getline(lines, line)) {
    if (line.size() < 3 || line[1] != '\t') continue;
    if (line[0] == 'D') current = line.substr(2), directories[current];
    else if (line[0] == 'f' && !current.empty() && haproxy_loads_from_directory(line.substr(2)))
      directories[current].push_back(current + "/" + line.substr(2));
  }
  for (const auto& entry : lb.haproxy_configs) {
    const auto dir = directories.find(strip_trailing_slashes(entry));
    if (dir == directories.end()) {
      list.paths.push_back(entry);
      continue;
    }
    auto files = dir->second;
    std::sort(files.begin(), files.end());  // alphasort without a locale: byte order
    list.paths.insert(list.paths.end(), files.begin(), files.end());
  }
  return list;
}

// Files in the configured directories that the running HAProxy has not loaded (added since its last
// reload: the next reload loads them). Asked only where haproxyConfig lists a directory.
std::string unloaded_files(remote::Executor& executor, const config::AppConfig& app,
                           const std::vector<std::string>& loaded) {
  const auto& configured = app.load_balancer.haproxy_configs;
  if (std::all_of(configured.begin(), configured.end(), [](const std::string& e) { return ends_with(e, ".cfg"); })) {
    return "";
  }
  const auto expanded = expand_configured(executor, app);
  if (!expanded.problem.empty()) return expanded.problem;
  std::vector<std::string> added;
  for (const auto& file : expanded.paths) {
    if (std::find(loaded.begin(), loaded.end(), file) == loaded.end()) added.push_back(file);
  }
  if (added.empty()) return "";
  return join(added) + (added.size() == 1 ? " is" : " are") +
         " in HAProxy's configuration directory but not loaded by the running HAProxy (added since its last "
         "reload): the next reload loads " +
         (added.size() == 1 ? "it" : "them") +
         ", and a switch would reload. Check the file with haproxy -c and reload HAProxy, or remove it, then ask "
         "for status again";
}

}  // namespace

bool haproxy_loads_from_directory(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  const auto first = name.find(".cfg");
  return first != std::string_view::npos && first + 4 == name.size();
}

std::optional<std::map<std::string, std::string>> parse_show_env(std::string_view reply) {
  std::map<std::string, std::string> env;
  std::size_t start = 0;
  while (start < reply.size()) {
    const auto end = std::min(reply.find('\n', start), reply.size());
    const std::string_view line = reply.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const auto equals = line.find('=');
    if (equals == 0 || equals == std::string_view::npos) return std::nullopt;
    env.emplace(std::string(line.substr(0, equals)), std::string(line.substr(equals + 1)));
  }
  if (env.empty()) return std::nullopt;
  return env;
}

bluegreen::Result<std::vector<std::string>> parse_cfgfiles_env(std::string_view reply) {
  const auto env = parse_show_env(reply);
  const auto found = env ? env->find(std::string(kCfgEnv.substr(0, kCfgEnv.size() - 1))) : decltype(env->end()){};
  if (!env || found == env->end()) {
    std::string shown(reply.substr(0, 200));
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) shown.pop_back();
    return bluegreen::Error{env ? std::string("HAProxy's environment has no HAPROXY_CFGFILES")
                                : "HAProxy answered `" + shown + "`"};
  }
  const std::string_view value = found->second;
  std::vector<std::string> files;
  std::size_t start = 0;
  while (start <= value.size()) {
    const auto end = std::min(value.find(';', start), value.size());
    if (end > start) files.emplace_back(value.substr(start, end - start));
    start = end + 1;
  }
  if (files.empty()) return bluegreen::Error{"HAProxy lists no configuration file"};
  return files;
}

std::string configured_list_problem(const std::vector<std::string>& loaded,
                                    const std::vector<std::string>& configured) {
  std::vector<std::string> unexpected;
  for (const auto& file : loaded) {
    const bool listed = std::any_of(configured.begin(), configured.end(), [&](const std::string& entry) {
      return entry == file || strip_trailing_slashes(entry) == directory_of(file);
    });
    if (!listed) unexpected.push_back(file);
  }
  std::vector<std::string> missing;
  for (const auto& entry : configured) {
    const bool is_loaded_file = std::find(loaded.begin(), loaded.end(), entry) != loaded.end();
    const bool is_loaded_dir = std::any_of(loaded.begin(), loaded.end(), [&](const std::string& file) {
      return directory_of(file) == strip_trailing_slashes(entry);
    });
    if (!is_loaded_file && !is_loaded_dir && ends_with(entry, ".cfg")) missing.push_back(entry);
  }
  if (unexpected.empty() && missing.empty()) return "";
  std::string why = "the running HAProxy loaded " + join(loaded) + ", but loadBalancer.haproxyConfig lists " +
                    join(configured) + " (";
  if (!unexpected.empty()) why += "not configured: " + join(unexpected);
  if (!missing.empty()) why += std::string(unexpected.empty() ? "" : "; ") + "not loaded: " + join(missing);
  return why + "). Set loadBalancer.haproxyConfig to the files and directories HAProxy is started with (its -f "
               "arguments, in order), or remove it to use what HAProxy reports";
}

ConfigFileList list_config_files(remote::Executor& executor, const config::AppConfig& app) {
  const auto& lb = app.load_balancer;
  std::string note;
  std::optional<std::map<std::string, std::string>> env_seen;
  if (lb.stats_socket) {
    const auto reply = query_haproxy_socket(executor, app, *lb.stats_socket, "show env");
    auto loaded = reply ? parse_cfgfiles_env(*reply) : bluegreen::Result<std::vector<std::string>>(reply.error());
    const auto env = reply ? parse_show_env(*reply) : std::nullopt;
    env_seen = env;
    if (loaded &&
        std::all_of(loaded->begin(), loaded->end(), [](const std::string& p) { return p.rfind('/', 0) == 0; })) {
      ConfigFileList list;
      list.env = env;
      list.source = "HAProxy (show env HAPROXY_CFGFILES on " + *lb.stats_socket + ")";
      list.paths = std::move(loaded.value());
      if (lb.haproxy_configs_set) list.problem = configured_list_problem(list.paths, lb.haproxy_configs);
      if (list.problem.empty() && lb.haproxy_configs_set) list.problem = unloaded_files(executor, app, list.paths);
      if (!list.problem.empty()) list.paths.clear();
      return list;
    }
    note = loaded ? "HAProxy was started with relative configuration paths (" + join(*loaded) +
                        "), so the files come from loadBalancer.haproxyConfig"
                  : "HAProxy did not say which files it loaded (" + loaded.error().message +
                        "), so the files come from loadBalancer.haproxyConfig";
  }
  auto list = expand_configured(executor, app);
  if (!note.empty()) list.notes.push_back(note);
  list.env = env_seen;  // HAProxy's environment counts even when its file list could not be used
  return list;
}

}  // namespace bluegreen::deployment
