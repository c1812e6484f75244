#include "config/config.h"

#include "config/fields.h"

#include "remote/shell_command.h"
#include "remote/ssh_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace bluegreen::config {

const char* to_string(LbType type) {
  return type == LbType::kNginx ? "nginx" : type == LbType::kCaddy ? "caddy" : "haproxy";
}
const char* product_name(LbType type) {
  return type == LbType::kNginx ? "nginx" : type == LbType::kCaddy ? "Caddy" : "HAProxy";
}

namespace {

using bluegreen::Error;
using nlohmann::json;

constexpr std::size_t kMaxErrorsShown = 30;

void ssh_destination(Fields& fields, const std::string& key, std::string& target) {
  auto value = fields.text(key, true);
  if (!value) return;
  if (auto valid = remote::check_ssh_destination(*value); !valid) {
    fields.error(key,
                 "must be an ssh config alias or [user@]host[:port], got \"" + *value + "\": " + valid.error().message);
    return;
  }
  target = *value;
}

HostConfig parse_host(const json& object, const std::string& path, std::vector<std::string>& errors,
                      const std::string& home) {
  Fields f(object, path, errors, home);
  HostConfig host;
  ssh_destination(f, "ssh", host.ssh);
  host.address = f.text("address", true).value_or("");
  host.health_url = f.url("healthUrl", true).value_or("");
  host.app_dir = f.path_value("appDir", true, false).value_or("");
  host.service = f.text("service", false).value_or("app");
  if (auto valid = remote::validate_name(host.service, f.path("service")); !valid) {
    errors.push_back(valid.error().message);
  }
  host.haproxy_server = f.text("haproxyServer", false).value_or("");
  host.upstream = host.address;
  if (auto upstream = f.text("upstream", false)) {
    host.upstream = *upstream;
    if (upstream->empty() || upstream->find_first_of(" \t{}") != std::string::npos) {
      f.error("upstream", "must be the address Caddy dials for this server (host:port), got \"" + *upstream + "\"");
    }
  }
  return host;
}

// hosts.blue / hosts.green: one server object, or a non-empty list of them (a pool), each naming
// its HAProxy server, the names different.
Pool parse_pool(const json& value, const std::string& path, std::vector<std::string>& errors, const std::string& home) {
  Pool pool;
  if (!value.is_array()) {
    pool.servers.push_back(parse_host(value, path, errors, home));
    return pool;
  }
  if (value.empty()) {
    errors.push_back(path + ": must be a server object or a non-empty list of them");
    return pool;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string where = path + "[" + std::to_string(i) + "]";
    pool.servers.push_back(parse_host(value[i], where, errors, home));
    const auto& name = pool.servers.back().haproxy_server;
    if (value.size() > 1 && name.empty() && value[i].is_object()) {
      errors.push_back(where + ".haproxyServer: is required when a colour has several servers (the name of its "
                               "`server` line in the colour's HAProxy backend, as `show stat` lists it)");
    } else if (!name.empty() && !names.insert(name).second) {
      errors.push_back(where + ".haproxyServer: \"" + name + "\" is used twice");
    }
  }
  return pool;
}

// No two servers of an app may be the same checkout (ssh destination and app directory): a deploy
// to one colour would change the other.
void check_distinct_servers(const AppConfig& app, const std::string& path, std::vector<std::string>& errors) {
  std::map<std::pair<std::string, std::string>, std::string> seen;
  for (const auto* pool : {&app.blue, &app.green}) {
    const std::string colour = pool == &app.blue ? "blue" : "green";
    for (std::size_t i = 0; i < pool->size(); ++i) {
      const auto& server = pool->servers[i];
      if (server.ssh.empty() || server.app_dir.empty()) continue;
      const std::string where =
          path + ".hosts." + colour + (pool->size() > 1 ? "[" + std::to_string(i) + "]" : std::string());
      // "/srv/app/" and "/srv//app" are "/srv/app".
      std::string dir;
      for (const char c : server.app_dir) {
        if (c != '/' || dir.empty() || dir.back() != '/') dir += c;
      }
      while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      const auto [it, fresh] = seen.emplace(std::pair{server.ssh, dir}, where);
      if (!fresh) {
        errors.push_back(where + ": the same server and appDir as " + it->second + " (" + server.ssh + ":" +
                         server.app_dir + "); every server of an app needs its own checkout");
      }
    }
  }
}

// loadBalancer.type, and the keys that belong to the other type refused by name.
void parse_lb_type(Fields& f, LoadBalancerConfig& lb) {
  const std::string type = f.text("type", false).value_or("haproxy");
  if (type == "nginx") {
    lb.type = LbType::kNginx;
  } else if (type == "caddy") {
    lb.type = LbType::kCaddy;
  } else if (type != "haproxy") {
    f.error("type", "must be \"haproxy\", \"nginx\" or \"caddy\", got \"" + type + "\"");
  }
  const auto refuse = [&](std::initializer_list<const char*> keys, const char* owner) {
    for (const char* key : keys) {
      if (f.find(key) != nullptr) {
        f.error(key, std::string("applies to ") + owner + " only, and loadBalancer.type is \"" + type + "\"");
      }
    }
  };
  if (lb.type != LbType::kHaproxy) {
    refuse({"haproxyConfig", "section", "directive", "condition", "statsSocket", "masterSocket"}, "HAProxy");
  }
  if (lb.type == LbType::kNginx) {
    lb.nginx_config = f.path_value("nginxConfig", false, false).value_or(lb.nginx_config);
    lb.pid_file = f.path_value("pidFile", false, false).value_or(lb.pid_file);
  } else {
    refuse({"nginxConfig", "pidFile"}, "nginx");
  }
  if (lb.type == LbType::kCaddy) {
    lb.admin_socket = f.path_value("adminSocket", true, false).value_or("");
    lb.caddyfile = f.path_value("caddyfile", false, false);
    lb.autosave = f.path_value("autosave", false, false);
    if (lb.caddyfile && lb.autosave) {
      f.error("autosave", "give caddyfile (Caddy runs a Caddyfile) or autosave (Caddy runs its autosaved JSON, "
                          "caddy run --resume), not both");
    }
  } else {
    refuse({"adminSocket", "caddyfile", "autosave"}, "Caddy");
  }
}

void parse_load_balancer(const json& object, const std::string& path, std::vector<std::string>& errors,
                         const std::string& home, LoadBalancerConfig& lb) {
  Fields f(object, path, errors, home);
  parse_lb_type(f, lb);
  ssh_destination(f, "ssh", lb.ssh);
  if (auto configs = f.path_list("haproxyConfig")) {
    lb.haproxy_configs = std::move(*configs);
    lb.haproxy_configs_set = true;
  }
  lb.haproxy_config = lb.haproxy_configs.front();
  lb.section = f.text("section", false).value_or("");
  if (!lb.section.empty()) {
    std::istringstream words(lb.section);
    std::string keyword, name, extra;
    words >> keyword >> name >> extra;
    if ((keyword != "frontend" && keyword != "listen") || name.empty() || !extra.empty()) {
      f.error("section", "must be \"frontend NAME\" or \"listen NAME\", got \"" + lb.section + "\"");
    }
  }
  lb.directive = f.text("directive", false).value_or("default_backend");
  if (lb.directive != "default_backend" && lb.directive != "use_backend") {
    f.error("directive", "must be \"default_backend\" or \"use_backend\"");
  }
  lb.condition = f.text("condition", false).value_or("");
  if (lb.directive == "default_backend" && !lb.condition.empty()) {
    f.error("condition", "only applies to use_backend");
  }
  if (const json* backends = f.find("backends")) {
    Fields b(*backends, f.path("backends"), errors, home);
    lb.blue_backend = b.text("blue", true).value_or("");
    lb.green_backend = b.text("green", true).value_or("");
  } else {
    lb.blue_backend = "blue";
    lb.green_backend = "green";
  }
  if (!lb.blue_backend.empty() && lb.blue_backend == lb.green_backend) {
    f.error("backends", "blue and green must name different backends");
  }
  lb.stats_socket = f.path_value("statsSocket", false, false);
  lb.master_socket = f.path_value("masterSocket", false, false);
  lb.verify_url = f.url("verifyUrl", false);
  if (auto urls = f.url_list("verifyUrls")) {
    if (lb.verify_url) f.error("verifyUrls", "give verifyUrl or verifyUrls, not both");
    lb.verify_urls = std::move(*urls);
  } else if (lb.verify_url) {
    lb.verify_urls = {*lb.verify_url};
  }
  if (!lb.verify_urls.empty()) lb.verify_url = lb.verify_urls.front();
  const bool nginx = lb.type == LbType::kNginx;
  const bool caddy = lb.type == LbType::kCaddy;
  // Caddy: its Caddyfile goes through the caddyfile adapter; its autosave is JSON already.
  const std::string adapter = lb.autosave ? "" : "--adapter caddyfile ";
  lb.validate_command = f.text("validateCommand", false)
                            .value_or(nginx   ? "nginx -t -q -c {config}"
                                      : caddy ? "caddy validate " + adapter + "--config {config}"
                                              : "haproxy -c -f {config}");
  if (lb.validate_command.find("{config}") == std::string::npos) {
    f.error("validateCommand", "must contain {config} (the candidate file to check)");
  }
  lb.reload_command =
      f.text("reloadCommand", false)
          .value_or(nginx              ? "nginx -c {config} -s reload"
                    : caddy            ? "caddy reload " + adapter + "--config {config} --address unix/{adminSocket}"
                    : lb.master_socket ? "echo reload | socat - UNIX-CONNECT:{masterSocket}"
                                       : "systemctl reload haproxy");
  lb.state_file = f.path_value("stateFile", true, false).value_or("");
  const std::string state_dir = lb.state_file.substr(0, lb.state_file.rfind('/'));
  lb.lock_file = f.path_value("lockFile", false, false).value_or(lb.state_file + ".lock");
  lb.audit_log = f.path_value("auditLog", false, false).value_or((state_dir.empty() ? "" : state_dir) + "/audit.log");
  lb.public_url = f.url("publicUrl", false);
  lb.stats_url = f.url("statsUrl", false);
  f.seconds("commandTimeoutSeconds", lb.command_timeout, 600);
}

// loadBalancer: one object, or a non-empty list of them; entries after the first take what they
// do not give from the first, except the URLs of its frontend (verifyUrl(s), publicUrl,
// statsUrl: each load balancer's own). Their ssh destinations and verify URLs must differ.
void parse_load_balancers(const json& value, const std::string& path, std::vector<std::string>& errors,
                          const std::string& home, AppConfig& app) {
  if (!value.is_array()) {
    app.load_balancers.emplace_back();
    parse_load_balancer(value, path, errors, home, app.load_balancers.back());
  } else if (value.empty() || !value.front().is_object()) {
    errors.push_back(path + ": must be a load balancer object or a non-empty list of them");
  } else {
    std::map<std::string, std::string> seen;
    std::map<std::string, std::string> seen_urls;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string where = path + "[" + std::to_string(i) + "]";
      json merged = value[i];
      if (i > 0 && value[i].is_object()) {
        merged = value.front();
        // A frontend's URLs are each load balancer's own: never inherited.
        for (const char* key : {"verifyUrl", "verifyUrls", "publicUrl", "statsUrl"}) merged.erase(key);
        for (const auto& [key, item] : value[i].items()) merged[key] = item;
      }
      app.load_balancers.emplace_back();
      parse_load_balancer(merged, where, errors, home, app.load_balancers.back());
      if (app.load_balancers.back().type != app.load_balancers.front().type) {
        errors.push_back(where + ".type: every load balancer of a pair must be of the same type (" +
                         to_string(app.load_balancers.front().type) + ", as " + path + "[0])");
      }
      for (const auto& url : app.load_balancers.back().verify_urls) {
        if (const auto [it, fresh] = seen_urls.emplace(url, where); !fresh) {
          errors.push_back(where + ".verifyUrls: " + url + " is also " + it->second +
                           "'s: each load balancer is verified through its own frontend");
        }
      }
      const auto& ssh = app.load_balancers.back().ssh;
      if (ssh.empty()) continue;
      if (const auto [it, fresh] = seen.emplace(ssh, where); !fresh) {
        errors.push_back(where + ".ssh: \"" + ssh + "\" is also " + it->second +
                         "'s: each load balancer of a pair is its own host (give it its own ssh)");
      }
    }
  }
  if (app.load_balancers.empty()) app.load_balancers.emplace_back();
  app.load_balancer = app.load_balancers.front();
}

std::vector<DeployStep> parse_steps(const json& array, const std::string& path, std::vector<std::string>& errors,
                                    const std::string& home) {
  std::vector<DeployStep> steps;
  if (!array.is_array() || array.empty()) {
    errors.push_back(path + ": must be a non-empty array of steps");
    return steps;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < array.size(); ++i) {
    Fields f(array[i], path + "[" + std::to_string(i) + "]", errors, home);
    DeployStep step;
    step.name = f.text("name", true).value_or("");
    if (!step.name.empty() && !names.insert(step.name).second) f.error("name", "\"" + step.name + "\" is used twice");
    step.run = f.text("run", true).value_or("");
    const std::string when = f.text("when", false).value_or("always");
    if (when == "always") step.when = StepCondition::kAlways;
    else if (when == "createBackup") step.when = StepCondition::kCreateBackup;
    else if (when == "pullGithub") step.when = StepCondition::kPullGithub;
    else if (when == "runMigrations") step.when = StepCondition::kRunMigrations;
    else f.error("when", "must be one of always, createBackup, pullGithub, runMigrations");
    f.seconds("timeoutSeconds", step.timeout, 86400);
    steps.push_back(std::move(step));
  }
  return steps;
}

AppConfig parse_app(const std::string& name, const json& object, std::vector<std::string>& errors,
                    const std::string& home) {
  const std::string path = "apps." + name;
  AppConfig app;
  app.name = name;
  if (auto valid = remote::validate_name(name, path); !valid) errors.push_back(valid.error().message);
  Fields f(object, path, errors, home);

  if (const json* hosts = f.find("hosts")) {
    Fields h(*hosts, f.path("hosts"), errors, home);
    if (const json* blue = h.find("blue")) app.blue = parse_pool(*blue, h.path("blue"), errors, home);
    else h.error("blue", "is required");
    if (const json* green = h.find("green")) app.green = parse_pool(*green, h.path("green"), errors, home);
    else h.error("green", "is required");
    check_distinct_servers(app, path, errors);
  } else {
    f.error("hosts", "is required (hosts.blue and hosts.green)");
  }
  if (const json* lb = f.find("loadBalancer")) {
    parse_load_balancers(*lb, f.path("loadBalancer"), errors, home, app);
  } else {
    f.error("loadBalancer", "is required");
  }
  if (const json* deploy = f.find("deploy")) {
    Fields d(*deploy, f.path("deploy"), errors, home);
    app.default_ref = d.text("defaultRef", false).value_or(app.default_ref);
    if (auto valid = remote::validate_git_ref(app.default_ref, d.path("defaultRef")); !valid) {
      errors.push_back(valid.error().message);
    }
    if (const json* steps = d.find("steps")) app.steps = parse_steps(*steps, d.path("steps"), errors, home);
    else d.error("steps", "is required");
    if (auto limit = d.integer("maxStandbySessions", 0, 1000000000)) app.max_standby_sessions = *limit;
    if (auto parallel = d.integer("maxParallel", 1, 1000)) app.max_parallel = static_cast<std::size_t>(*parallel);
  } else {
    f.error("deploy", "is required (deploy.steps)");
  }
  if (const json* gate = f.find("healthGate")) {
    Fields g(*gate, f.path("healthGate"), errors, home);
    g.seconds("timeoutSeconds", app.health_gate.timeout, 3600);
    g.millis("intervalMs", app.health_gate.interval, 50, 60000);
    if (auto n = g.integer("consecutiveSuccesses", 1, 100))
      app.health_gate.consecutive_successes = static_cast<int>(*n);
    g.millis("requestTimeoutMs", app.health_gate.request_timeout, 50, 60000);
    if (auto n = g.integer("minHealthy", 1, 1000)) {
      const std::size_t smallest = std::min(app.blue.size(), app.green.size());
      if (smallest > 0 && static_cast<std::size_t>(*n) > smallest) {
        g.error("minHealthy", "is " + std::to_string(*n) + " but a colour has only " + std::to_string(smallest) +
                                  " server" + (smallest == 1 ? "" : "s") + " (hosts.blue / hosts.green)");
      } else {
        app.health_gate.min_healthy = static_cast<std::size_t>(*n);
      }
    }
  }
  if (const json* approval = f.find("approval")) {
    Fields a(*approval, f.path("approval"), errors, home);
    app.approval.required = a.boolean("required").value_or(true);
    a.seconds("tokenTtlSeconds", app.approval.token_ttl, 86400);
    app.approval.emergency_requires_approval = a.boolean("emergencyRequiresApproval").value_or(true);
    std::set<std::string> seen;
    auto channels = a.string_list("channels", [&seen](const std::string& channel) -> std::string {
      if (channel != "elicitation" && channel != "url" && channel != "app" && channel != "token")
        return "must be \"elicitation\", \"url\", \"app\" or \"token\", got \"" + channel + "\"";
      return seen.insert(channel).second ? "" : "\"" + channel + "\" is listed twice";
    });
    if (channels) app.approval.channels = std::move(*channels);
  }
  f.seconds("lockWaitSeconds", app.lock_wait, 3600);
  if (auto limit = f.integer("historyLimit", 1, 100000)) app.history_limit = static_cast<std::size_t>(*limit);
  return app;
}

}  // namespace

bluegreen::Result<const AppConfig*> Config::find_app(const std::string& name) const {
  const std::string wanted = !name.empty() ? name : default_app.value_or(apps.size() == 1 ? apps.front().name : "");
  std::string names;
  for (const auto& app : apps) {
    if (app.name == wanted) return &app;
    names += (names.empty() ? "" : ", ") + app.name;
  }
  if (apps.empty()) return Error{"no apps are configured: add an \"apps\" section to the configuration file"};
  if (wanted.empty()) return Error{"several apps are configured (" + names + "): say which one with the app argument"};
  return Error{"unknown app \"" + wanted + "\"; configured apps: " + names};
}

bluegreen::Result<Config> parse_config(const std::string& text, const std::string& origin, const std::string& home) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    return Error{origin + ": not valid JSON (" + e.what() + ")"};
  }
  if (!document.is_object()) return Error{origin + ": the configuration must be a JSON object"};

  std::vector<std::string> errors;
  Config config;
  {
    Fields top(document, "", errors, home);
    if (auto level = top.text("logLevel", false)) {
      static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
      if (kLevels.count(*level) != 0) config.log_level = level;
      else top.error("logLevel", "must be one of trace, debug, info, warn, error, critical, off");
    }
    config.log_file = top.path_value("logFile", false, true);
    if (const json* ssh = top.find("ssh")) {
      Fields s(*ssh, "ssh", errors, home);
      config.ssh.config_file = s.path_value("configFile", false, true);
      config.ssh.known_hosts_file = s.path_value("knownHostsFile", false, true);
      if (const json* files = s.find("identityFiles")) {
        if (!files->is_array()) s.error("identityFiles", "must be an array of paths");
        else {
          for (std::size_t i = 0; i < files->size(); ++i) {
            const json& file = (*files)[i];
            std::string value = file.is_string() ? file.get<std::string>() : "";
            if (value.rfind("~/", 0) == 0) value = home + value.substr(1);
            if (auto valid = remote::validate_absolute_path(value, "ssh.identityFiles[" + std::to_string(i) + "]");
                !valid) {
              errors.push_back(valid.error().message);
            } else {
              config.ssh.identity_files.push_back(value);
            }
          }
        }
      }
      s.seconds("connectTimeoutSeconds", config.ssh.connect_timeout, 300);
    }
    config.default_app = top.text("defaultApp", false);
    if (const json* apps = top.find("apps")) {
      if (!apps->is_object()) top.error("apps", "must be an object mapping app names to their settings");
      else {
        for (const auto& [name, app] : apps->items()) config.apps.push_back(parse_app(name, app, errors, home));
      }
    }
  }
  if (config.default_app && errors.empty() && !config.find_app(*config.default_app)) {
    errors.push_back("defaultApp: \"" + *config.default_app + "\" is not one of the configured apps");
  }

  if (!errors.empty()) {
    std::string message =
        origin + ": " + std::to_string(errors.size()) + " problem" + (errors.size() == 1 ? "" : "s") + ":";
    for (std::size_t i = 0; i < errors.size() && i < kMaxErrorsShown; ++i) message += "\n  - " + errors[i];
    if (errors.size() > kMaxErrorsShown)
      message += "\n  ... and " + std::to_string(errors.size() - kMaxErrorsShown) + " more";
    return Error{message};
  }
  return config;
}

bluegreen::Result<Config> load_config(const std::string& path) {
  std::ifstream file(path);
  if (!file) return Error{path + ": cannot open the configuration file (check the path given to --config)"};
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Error{path + ": reading the configuration file failed"};
  const char* home = std::getenv("HOME");
  return parse_config(text.str(), path, home != nullptr ? home : "/root");
}

}  // namespace bluegreen::config
