#pragma once
// The configuration file (--config FILE): server settings, SSH settings, and one or more apps
// that may share one HAProxy node (the seed's `app` parameter). See mcp_config.example.json and
// config/bluegreen.example.json for a documented example.
//
// parse_config() validates everything up front and reports every problem at once, each naming
// its field ("apps.shop.hosts.blue.healthUrl: ..."), so a server never starts half-configured.
// Unknown keys are errors: a typo must not silently change behaviour.
//
// Thread-safety: value types and pure functions (load_config reads one file).

#include "common/result.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::config {

using std::chrono::milliseconds;

struct SshOptions {
  std::optional<std::string> config_file;       // default: ~/.ssh/config and /etc/ssh/ssh_config
  std::optional<std::string> known_hosts_file;  // default: the ssh config's, else ~/.ssh/known_hosts
  std::vector<std::string> identity_files;
  milliseconds connect_timeout{10000};
};

// One app server of a colour (an entry of hosts.blue / hosts.green).
struct HostConfig {
  std::string ssh;         // ssh config alias or [user@]host[:port]
  std::string address;     // shown to the user
  std::string health_url;  // http(s) URL probed from where the server runs
  std::string app_dir;     // absolute path of the app checkout on the host
  std::string service;     // service name, available to steps as {service}
  // haproxyServer: the name of this server's `server` line in the colour's HAProxy backend
  // (HAProxy's `show stat` svname). Required when a colour has several servers; "" otherwise (the
  // backend's servers are then not matched against the configuration).
  std::string haproxy_server;
  // upstream: the address Caddy dials for this server ("host:port", as in its reverse_proxy's
  // upstreams), by which Caddy's routes are told apart by colour; default: `address`. Used with
  // loadBalancer.type caddy only.
  std::string upstream;
};

// The servers of one colour (hosts.blue / hosts.green: one server object, or a non-empty list of
// them, each with its own haproxyServer). After parse_config, `servers` is never empty.
struct Pool {
  std::vector<HostConfig> servers;

  [[nodiscard]] const HostConfig& front() const { return servers.front(); }
  [[nodiscard]] std::size_t size() const { return servers.size(); }
  // Whether every server names its HAProxy server (always so for pools of two or more).
  [[nodiscard]] bool named() const {
    for (const auto& server : servers) {
      if (server.haproxy_server.empty()) return false;
    }
    return true;
  }
};

enum class StepCondition { kAlways, kCreateBackup, kPullGithub, kRunMigrations };

struct DeployStep {
  std::string name;
  std::string run;  // trusted shell text; {ref} {appDir} {color} {service} {app} are substituted quoted
  StepCondition when = StepCondition::kAlways;
  milliseconds timeout{300000};
};

// loadBalancer.type: which load balancer routes the app: HAProxy (the default), nginx
// (deployment/nginx_snapshot.h, nginx_switch.h) or Caddy (deployment/caddy_snapshot.h,
// caddy_switch.h: switched through its Caddyfile; without one, switching is refused).
// deployment/lb_kind.h holds what differs between them.
enum class LbType { kHaproxy, kNginx, kCaddy };

// "haproxy", "nginx" or "caddy", as written in the configuration.
const char* to_string(LbType type);
// "HAProxy", "nginx" or "Caddy", for messages.
const char* product_name(LbType type);

struct LoadBalancerConfig {
  LbType type = LbType::kHaproxy;
  std::string ssh;
  // nginx only (type nginx): nginxConfig, the main configuration file the master runs with (its
  // -c; default Debian's /etc/nginx/nginx.conf); pidFile, where the master writes its pid (the
  // configuration's `pid` directive; default Debian's /run/nginx.pid).
  std::string nginx_config{"/etc/nginx/nginx.conf"};
  std::string pid_file{"/run/nginx.pid"};
  // Caddy only (type caddy): adminSocket (required), the absolute path of the unix socket of its
  // admin API (the `admin unix//PATH` global option), reached through the SSH connection to the
  // LB; caddyfile (optional, needed to switch), the Caddyfile Caddy runs, its source of truth: a
  // switch rewrites the app's upstreams in it and loads it (deployment/caddy_switch.h).
  std::string admin_socket;
  std::optional<std::string> caddyfile;
  // autosave (optional, instead of caddyfile): the JSON Caddy autosaves and resumes from (`caddy
  // run --resume`; Debian's caddy-api.service), its source of truth when it has no Caddyfile: a
  // switch writes the app's new upstreams there and loads it.
  std::optional<std::string> autosave;
  // haproxyConfig: the files and directories HAProxy loads (its `-f` arguments, in order; a string
  // or a list). Where HAProxy's stats socket answers `show env HAPROXY_CFGFILES`, the files it
  // loaded come from there, and a configured list must agree with them (haproxy_files.h).
  std::vector<std::string> haproxy_configs{"/etc/haproxy/haproxy.cfg"};
  bool haproxy_configs_set = false;  // haproxyConfig was given (else the default above)
  std::string haproxy_config;        // haproxy_configs.front(), for messages
  // Optional, from the time one line was switched: when `section` is set, the app's routes must
  // include that section's `directive` line (with `condition` for use_backend), else nothing is
  // switched. Every route of the app is switched either way (haproxy/routes.h).
  std::string section;    // "frontend fe_app" (keyword and name), or ""
  std::string directive;  // "default_backend" or "use_backend"
  std::string condition;  // for use_backend: "if is_app", or "" (unconditional)
  // backends: the app's blue and green backends (HAProxy) or upstreams (nginx).
  std::string blue_backend;
  std::string green_backend;
  std::string validate_command;  // {config} = candidate path (quoted)
  std::string reload_command;
  std::optional<std::string> stats_socket;   // admin socket: HAProxy's own view of the servers
  std::optional<std::string> master_socket;  // master CLI: reload verification (show proc)
  // URLs through the frontends whose JSON names the colour (verifyUrls, or one verifyUrl): every one
  // must answer from the new colour after a switch. verify_url is the first, when any.
  std::vector<std::string> verify_urls;
  std::optional<std::string> verify_url;
  std::string state_file;
  std::string lock_file;  // default: state_file + ".lock"
  std::string audit_log;  // default: <state dir>/audit.log
  std::optional<std::string> public_url;
  std::optional<std::string> stats_url;
  milliseconds command_timeout{15000};
};

struct HealthGateConfig {
  milliseconds timeout{60000};
  milliseconds interval{500};
  int consecutive_successes = 3;
  milliseconds request_timeout{2000};
  // healthGate.minHealthy: how many of the standby's servers must pass before traffic is switched
  // to it; 0 (the default) means every one. At most the smaller colour's server count.
  std::size_t min_healthy = 0;
};

struct ApprovalConfig {
  bool required = true;
  milliseconds token_ttl{300000};
  bool emergency_requires_approval = true;
  // approval.channels: how a human may approve a switch, in the configuration's order:
  // "elicitation" (the client asks the human in a form; the model never sees an answer it could
  // forge), "url" (the client shows the human a link to the approval page this server serves on
  // 127.0.0.1, web/approval_pages.h; URL-mode elicitation, MCP 2025-11-25) and "token" (the plan and
  // a single-use token go back through the model, which passes the token on once the human said
  // yes: it rests on the model's good behaviour), and "app" (a client that renders MCP Apps shows the
  // plan in the deployment panel, whose Approve and Reject buttons call a tool the host keeps from
  // the model). Without "token", no token is issued or accepted.
  std::vector<std::string> channels{"elicitation", "token"};
  [[nodiscard]] bool allows(std::string_view channel) const {
    return std::find(channels.begin(), channels.end(), channel) != channels.end();
  }
};

struct AppConfig {
  std::string name;
  Pool blue;
  Pool green;
  // loadBalancer: one load balancer, or a list of them (an HA pair: every one routes the app, and
  // a switch switches them all or none). `load_balancer` is the first (the one messages and the
  // single-LB code paths use); `load_balancers` holds every one in configuration order (size >= 1,
  // [0] equal to load_balancer). In a list, each entry after the first takes every key it does
  // not give from the first, except its frontend's URLs (verifyUrl(s), publicUrl, statsUrl: its
  // own or none); ssh destinations and verify URLs must differ between them.
  LoadBalancerConfig load_balancer;
  std::vector<LoadBalancerConfig> load_balancers;
  std::string default_ref = "origin/main";
  std::vector<DeployStep> steps;
  // deploy.maxStandbySessions: a deploy is refused while the standby colour still has more open
  // sessions than this in HAProxy (long-lived WebSocket or upload sessions a restart would cut);
  // unset: never refused for that, only warned about.
  std::optional<long long> max_standby_sessions;
  // deploy.maxParallel: how many of the standby's servers run the steps at once; 0 (the default)
  // means all of them.
  std::size_t max_parallel = 0;
  HealthGateConfig health_gate;
  ApprovalConfig approval;
  milliseconds lock_wait{10000};
  std::size_t history_limit = 50;
};

struct Config {
  std::optional<std::string> log_level;
  std::optional<std::string> log_file;
  SshOptions ssh;
  std::vector<AppConfig> apps;  // in file order
  std::optional<std::string> default_app;

  // The app named `name`, or the default app when `name` is empty (the only app, or
  // defaultApp). Error text lists the configured apps.
  [[nodiscard]] bluegreen::Result<const AppConfig*> find_app(const std::string& name) const;
};

// Validates already-read text; `origin` names it in error messages. `home` expands a leading ~.
bluegreen::Result<Config> parse_config(const std::string& text, const std::string& origin, const std::string& home);

// Reads and validates `path`.
bluegreen::Result<Config> load_config(const std::string& path);

}  // namespace bluegreen::config
