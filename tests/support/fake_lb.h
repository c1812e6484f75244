#pragma once
// FakeLb: a simulated blue/green site (load balancer + both app hosts) for unit tests of the
// deployment layer, built on ScriptedExecutor.
//
// Simulates, on the LB (app.load_balancer.ssh):
//  - the files: haproxy.cfg, its .bluegreen-candidate / -backup / -restore siblings, the state
//    file and its temp files, the lock owner file and the audit log, all in the executor's
//    in-memory file system (so read_files sees exactly what the scripts wrote);
//  - the scripts deployment/lb_scripts.cpp and state/state_store.cpp send, recognised by stable
//    fragments of their text (validate, swap, restore, remove candidate, state read, prepare,
//    commit, discard, audit, lock-owner read) and the app's reload command (lb_reload_command);
//    base64 payloads are decoded as `base64 -d` would;
//  - the lock (hold() with flock): exclusive for as long as the handle lives, busy otherwise;
//    lose_lock() makes the holder's process die (alive() false), as a dropped connection does;
//  - the LB's clock (lb_now(), whole seconds, moved only by advance_clock()): files written get it
//    as their modification time, /proc/stat and /proc/uptime tell it, and a reload starts the
//    workers at it;
//  - the activity record (write, remove) and the `flock -n` test of the lock (held while a
//    hold() handle lives; asked only where there is a record, as the script does);
//  - HAProxy's master socket (`show proc` in HAProxy 2.6's format: reload counter, current and
//    old worker pids, the workers' uptime) and stats socket (`show stat` CSV with each colour's server and BACKEND
//    rows), and the colour the *running* HAProxy serves, which changes only on a successful
//    reload of a config that selects a known backend;
//  - HAProxy's running maps (map-based routing, `use_backend %[str(KEY),map(FILE)]`): each map
//    file the config looks up is loaded at construction and at every reload, and the stats socket
//    answers `show map`, `prepare map`, `add map` (with a payload), `commit map` and `set map` as
//    HAProxy 2.6 does (tests/unit/haproxy_fixtures/*map*.txt). A commit replaces the running map
//    at once; where the config routes the app through a map, the colour served follows the running
//    map's entry for the app's key (start_with_map_layout() sets such a site up).
// On each app host (app.blue.ssh / app.green.ssh): the deployed commit (.git/HEAD in appDir and
// `git log -1`), and deploy steps (`cd <appDir> && ...`), which succeed unless a test adds a
// rule for them (newer rules win).
// probe(): the health URLs of both colours (per-colour HostHealth: up/down, flapping, version,
// reported commit) and the frontend verifyUrl, which answers with the running colour as the
// lab app's JSON health does ({"color", "version", "commit"}).
//
// Failure switches: faults() (see LbFaults): each step can be made to fail once, always, or
// after N good occurrences (Fault).
//
// Thread-safety: all methods may be called from several threads at once (status fans out the
// LB read, git reads and probes on threads; a switch probes the standby while it takes the
// lock). The simulation's state is behind one mutex; faults() must be set before the operation
// under test starts, or changed through update_faults() while it runs.

#include "config/config.h"
#include "deployment/activity_record.h"
#include "deployment/health_gate.h"
#include "deployment/lb_scripts.h"
#include "deployment/lb_snapshot.h"
#include "haproxy/config_file.h"
#include "haproxy/routes.h"
#include "haproxy/runtime_api.h"
#include "remote/shell_command.h"
#include "state/deployment_state.h"
#include "tests/support/scripted_executor.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace testing_support {
using namespace bluegreen;  // NOLINT(google-build-using-namespace): test support

// Decodes standard base64 (RFC 4648, padding optional), as `base64 -d` does; stops at the first
// character outside the alphabet. common/base64.h only encodes.
inline std::string base64_decode(std::string_view text) {
  std::string out;
  unsigned value = 0;
  int bits = -8;
  for (const char c : text) {
    int digit = -1;
    if (c >= 'A' && c <= 'Z') digit = c - 'A';
    else if (c >= 'a' && c <= 'z') digit = c - 'a' + 26;
    else if (c >= '0' && c <= '9') digit = c - '0' + 52;
    else if (c == '+') digit = 62;
    else if (c == '/') digit = 63;
    else break;
    value = ((value << 6U) | static_cast<unsigned>(digit)) & 0xFFFFFFU;
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((value >> static_cast<unsigned>(bits)) & 0xFFU);
      bits -= 8;
    }
  }
  return out;
}

// The POSIX single-quoted word starting at `text[at]` (remote::shell_quote's output, with its
// '\'' sequences), unquoted; nullopt when there is none.
inline std::optional<std::string> unquote_at(const std::string& text, std::size_t at) {
  if (at >= text.size() || text[at] != '\'') return std::nullopt;
  std::string out;
  std::size_t i = at + 1;
  while (true) {
    const auto close = text.find('\'', i);
    if (close == std::string::npos) return std::nullopt;
    out += text.substr(i, close - i);
    if (text.compare(close, 4, "'\\''") == 0) {
      out += '\'';
      i = close + 4;
      continue;
    }
    return out;
  }
}

// The quoted word right after the first `marker` in `text`.
inline std::optional<std::string> quoted_after(const std::string& text, const std::string& marker,
                                               std::size_t from = 0) {
  const auto at = text.find(marker, from);
  if (at == std::string::npos) return std::nullopt;
  return unquote_at(text, at + marker.size());
}

// When a failure switch fires: after `skip` occurrences that behave normally, `times` that fail
// (negative: every one after that).
struct Fault {
  int skip = 0;
  int times = 0;

  static Fault once() { return {0, 1}; }
  static Fault always() { return {0, -1}; }
  static Fault after(int good, int failing = -1) { return {good, failing}; }

  // Consumes one occurrence; true when it fails.
  bool fire() {
    if (skip > 0) {
      --skip;
      return false;
    }
    if (times == 0) return false;
    if (times > 0) --times;
    return true;
  }
};

struct LbFaults {
  Fault validation;            // the validate command rejects the candidate (exit 10; the script removes it)
  Fault candidate_write;       // writing the candidate fails (exit 1; its temp file is removed, no candidate)
  Fault live_changed;          // someone edits the live config just before the swap script compares it (exit 11)
  Fault swap;                  // the swap fails after its check (exit 1, "Read-only file system"; candidate stays)
  Fault reload;                // the reload command fails (exit 1); HAProxy unchanged
  Fault reload_no_effect;      // the reload command exits 0 but HAProxy does not reload (counter does not move)
  Fault reload_keeps_colour;   // HAProxy reloads (counter moves) but keeps serving the colour it served
  Fault state_read;            // reading the state file fails (exit 1, "Input/output error")
  Fault prepare;               // writing the state temp file fails (disk full; the script's trap removes it)
  Fault commit;                // renaming the temp file over the state file fails (temp stays)
  Fault audit;                 // appending to the audit log fails
  Fault restore;               // putting the backup back fails (live config unchanged)
  Fault activity_write;        // writing the activity record fails (disk full)
  bool master_silent = false;  // the master socket does not answer (deadline exceeded)
  bool frontend_wrong_colour = false;  // the frontend answers from the colour HAProxy does NOT run
  bool frontend_down = false;          // the frontend does not answer
  bool lock_busy = false;              // another holder keeps the lock
  // The LB becomes unreachable (every call an Error) from its Nth call on (1-based; 0: never) ...
  int unreachable_from_call = 0;
  // ... or from the first run() on the LB whose command contains this fragment ("" : never).
  std::string unreachable_from_command;

  // --- HAProxy's running maps (the stats socket) ---
  bool stats_silent = false;      // the stats socket does not answer any request (deadline exceeded)
  Fault map_silent;               // the stats socket does not answer a map request (show/prepare/add/commit/set map)
  Fault map_commit;               // `commit map` refused ("Version number out of range.": another client committed
                                  // a newer version); the add before it succeeds, the running map is unchanged
  Fault map_reverted;             // the commit succeeds, then another client (an agent syncing the map) puts the
                                  // previous entries back at once: the running map ends as it was
  Fault map_commit_keeps_colour;  // the commit succeeds but the frontend keeps serving the colour it served
};

// What one app host's health endpoint answers.
struct HostHealth {
  bool up = true;
  bool flapping = false;                       // healthy on odd-numbered probes only
  std::optional<std::string> reported_commit;  // default: the deployed commit (.git/HEAD)
  std::string version = "1.4.2";
  bool names_colour = true;  // false: the health JSON has no "color" (told apart only by commit or version)
};

inline const std::string kBlueCommit = "b1ec0b1ec0b1ec0b1ec0b1ec0b1ec0b1ec0b1ec0";
inline const std::string kGreenCommit = "9ee09ee09ee09ee09ee09ee09ee09ee09ee09ee0";

// An app like the lab's (tests/lab/bluegreen-mcp.json.in), with fixed addresses; `edit` may
// change the JSON before it is parsed (e.g. remove verifyUrl).
inline config::AppConfig test_app(const std::function<void(nlohmann::json&)>& edit = {}) {
  nlohmann::json app = nlohmann::json::parse(R"({
    "hosts": {
      "blue":  {"ssh": "lab-blue",  "address": "127.0.99.1", "healthUrl": "http://127.0.99.1:8080/health", "appDir": "/srv/app", "service": "shop"},
      "green": {"ssh": "lab-green", "address": "127.0.99.2", "healthUrl": "http://127.0.99.2:8080/health", "appDir": "/srv/app", "service": "shop"}
    },
    "loadBalancer": {
      "ssh": "lab-lb",
      "haproxyConfig": "/etc/haproxy/haproxy.cfg",
      "section": "frontend fe_app",
      "directive": "default_backend",
      "backends": {"blue": "blue", "green": "green"},
      "validateCommand": "haproxy -c -f {config}",
      "reloadCommand": "echo reload | socat -t 2 - UNIX-CONNECT:{masterSocket}",
      "statsSocket": "/run/haproxy/admin.sock",
      "masterSocket": "/run/haproxy/master.sock",
      "verifyUrl": "http://127.0.99.3:80/health",
      "stateFile": "/var/lib/bluegreen/shop.json",
      "auditLog": "/var/lib/bluegreen/audit.log",
      "publicUrl": "http://127.0.99.3/",
      "statsUrl": "http://127.0.99.3:8404/"
    },
    "deploy": {
      "defaultRef": "origin/main",
      "steps": [
        {"name": "backup", "when": "createBackup", "timeoutSeconds": 60, "run": "tar -czf /srv/backup.tgz ."},
        {"name": "pull", "when": "pullGithub", "timeoutSeconds": 60, "run": "git fetch --prune origin && git checkout --force --detach {ref}"},
        {"name": "install", "timeoutSeconds": 60, "run": "./install-deps"},
        {"name": "migrate", "when": "runMigrations", "timeoutSeconds": 60, "run": "./migrate"},
        {"name": "build", "timeoutSeconds": 60, "run": "./build"},
        {"name": "restart", "timeoutSeconds": 60, "run": "./appctl restart {service}"}
      ]
    },
    "healthGate": {"timeoutSeconds": 30, "intervalMs": 200, "consecutiveSuccesses": 3, "requestTimeoutMs": 2000},
    "approval": {"required": true, "tokenTtlSeconds": 300, "emergencyRequiresApproval": true},
    "lockWaitSeconds": 5,
    "historyLimit": 50
  })");
  if (edit) edit(app);
  auto parsed = config::parse_config(nlohmann::json{{"apps", {{"shop", app}}}}.dump(), "test_app", "/root");
  if (!parsed) throw std::runtime_error("test_app: " + parsed.error().message);
  return parsed->apps.front();
}

// HAProxy's config as in tests/lab/haproxy.cfg.in, fe_app routing to `backend`.
inline std::string haproxy_cfg(const std::string& backend) {
  return "global\n"
         "    stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners\n"
         "    hard-stop-after 30s\n\n"
         "defaults\n"
         "    mode http\n"
         "    timeout connect 2s\n"
         "    timeout client 30s\n"
         "    timeout server 30s\n\n"
         "frontend fe_app\n"
         "    bind 127.0.99.3:80\n"
         "    default_backend " +
         backend +
         "\n\n"
         "backend blue\n"
         "    option httpchk GET /health\n"
         "    server blue 127.0.99.1:8080 check inter 500ms fall 2 rise 2\n\n"
         "backend green\n"
         "    option httpchk GET /health\n"
         "    server green 127.0.99.2:8080 check inter 500ms fall 2 rise 2\n";
}

inline std::string haproxy_cfg(state::Color live) { return haproxy_cfg(std::string(state::to_string(live))); }

// --- map-based routing ----------------------------------------------------------------------

// The map file of the map layout (as in the e2e map case, tests/e2e/haproxy_layouts_e2e_test.mjs).
inline const std::string kMapPath = "/etc/haproxy/bluegreen.map";

// HAProxy's config routing fe_app through a map: `use_backend %[str(KEY),map(MAP)]`, with a
// `fallback` backend as the default (serving neither colour), and blue and green defined (green
// left out when `with_green` is false).
inline std::string haproxy_map_cfg(const std::string& map = kMapPath, const std::string& key = "shop",
                                   bool with_green = true) {
  std::string text = haproxy_cfg(std::string("fallback"));
  const auto at = text.find("    default_backend fallback\n");
  text.insert(at, "    use_backend %[str(" + key + "),map(" + map + ")]\n");
  if (!with_green) text = text.substr(0, text.find("backend green\n"));
  return text + "\nbackend fallback\n    http-request return status 503 content-type text/plain string \"no app\"\n";
}

// The map file of the map layout: the app's key on `backend`, and another app's entry.
inline std::string map_file(const std::string& backend) {
  return "# app -> live backend\nshop " + backend + "\nblog fallback\n";
}
inline std::string map_file(state::Color live) { return map_file(std::string(state::to_string(live))); }

// test_app() for a site routed through a map: no section/directive (the routes are found, and a
// map entry is not a default_backend line); `edit` as for test_app.
inline config::AppConfig map_test_app(const std::function<void(nlohmann::json&)>& edit = {}) {
  return test_app([&edit](nlohmann::json& app) {
    app["loadBalancer"].erase("section");
    app["loadBalancer"].erase("directive");
    if (edit) edit(app);
  });
}

class FakeLb {
 public:
  // A site where HAProxy's config selects `live` and HAProxy runs it, both hosts healthy, and
  // (when `state_file`) a state file agreeing with it: switchCount 3, generation 7.
  explicit FakeLb(const config::AppConfig& app, state::Color live = state::Color::kBlue, bool state_file = true)
      : app_(app), lb_(app.load_balancer.ssh), running_(live) {
    executor_.set_host_clock(lb_, worker_started_ - 60);  // the files are older than the running workers
    write_clock_files();
    executor_.set_file(lb_, cfg_path(), haproxy_cfg(live));
    if (state_file) {
      state::DeploymentState initial;
      initial.prod = live;
      initial.switch_count = 3;
      initial.last_switch = "2026-11-01T10:00:00.000Z";
      initial.generation = 7;
      set_state(initial);
    }
    for (const auto* pool : {&app.blue, &app.green}) {
      for (const auto& host : pool->servers) {
        executor_.set_file(host.ssh, git_head_path(host), (pool == &app.blue ? kBlueCommit : kGreenCommit) + "\n");
      }
    }
    executor_.set_host_clock(lb_, lb_now_);
    load_running_maps(true);
    install();
  }
  FakeLb(const FakeLb&) = delete;
  FakeLb& operator=(const FakeLb&) = delete;
  FakeLb(FakeLb&&) = delete;
  FakeLb& operator=(FakeLb&&) = delete;
  ~FakeLb() = default;

  ScriptedExecutor& executor() { return executor_; }
  const config::AppConfig& app() const { return app_; }

  // Set before the operation under test starts (no lock: the test thread is alone then).
  LbFaults& faults() { return faults_; }
  // Changes faults while an operation runs (from an observer or a FakeTime hook).
  void update_faults(const std::function<void(LbFaults&)>& change) {
    std::lock_guard lock(mutex_);
    change(faults_);
  }

  // --- the LB's files -----------------------------------------------------------------------

  std::string cfg_path() const { return app_.load_balancer.haproxy_config; }
  std::string config_text() const { return executor_.file(lb_, cfg_path()).value_or(""); }
  void set_config_text(std::string text) { executor_.set_file(lb_, cfg_path(), std::move(text)); }
  std::optional<std::string> candidate() const { return executor_.file(lb_, deployment::candidate_path(app_)); }
  std::optional<std::string> backup() const { return executor_.file(lb_, deployment::backup_path(app_)); }
  // The colour haproxy.cfg selects (nullopt when it selects neither backend).
  std::optional<state::Color> config_colour() const {
    auto selection = haproxy::find_live_backend(config_text(), haproxy::Selector{app_.load_balancer.section,
                                                                                 app_.load_balancer.directive,
                                                                                 app_.load_balancer.condition});
    if (!selection) return std::nullopt;
    return deployment::color_of_backend(app_, selection->backend);
  }

  std::optional<std::string> state_text() const { return executor_.file(lb_, app_.load_balancer.state_file); }
  void set_state_text(std::string text) { executor_.set_file(lb_, app_.load_balancer.state_file, std::move(text)); }
  void set_state(const state::DeploymentState& record) { set_state_text(state::serialize_state(record)); }
  // The state file parsed (nullopt when missing; throws when corrupt: a test bug).
  std::optional<state::DeploymentState> state() const {
    const auto text = state_text();
    if (!text) return std::nullopt;
    auto parsed = state::parse_state(*text);
    if (!parsed) throw std::runtime_error("FakeLb: the state file does not parse: " + parsed.error().message);
    return parsed.value();
  }

  // Files a refused or finished operation must not leave: candidate, restore copy, state temp files.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const auto& path : executor_.paths(lb_)) {
      if (path.find(".bluegreen-candidate") != std::string::npos ||
          path.find(".bluegreen-restore") != std::string::npos || path.find(".tmp.") != std::string::npos) {
        out.push_back(path);
      }
    }
    return out;
  }

  // The audit log's lines, parsed.
  std::vector<nlohmann::json> audit_lines() const {
    std::vector<nlohmann::json> lines;
    const auto text = executor_.file(lb_, app_.load_balancer.audit_log).value_or("");
    std::size_t at = 0;
    while (at < text.size()) {
      const auto end = text.find('\n', at);
      const std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
      if (!line.empty()) lines.push_back(nlohmann::json::parse(line, nullptr, false));
      if (end == std::string::npos) break;
      at = end + 1;
    }
    return lines;
  }

  // --- the LB's clock -------------------------------------------------------------------------

  std::int64_t lb_now() const {
    std::lock_guard lock(mutex_);
    return lb_now_;
  }
  // Time passes on the LB: files written afterwards are newer than the running workers.
  void advance_clock(std::int64_t seconds) {
    std::lock_guard lock(mutex_);
    lb_now_ += seconds;
    executor_.set_host_clock(lb_, lb_now_);
    write_clock_files();
  }

  // The `flock -n` question about the lock fails (flock missing, no permission).
  void fail_lock_question(bool fails) {
    std::lock_guard lock(mutex_);
    lock_question_fails_ = fails;
  }

  std::optional<std::string> activity_text() const { return executor_.file(lb_, deployment::activity_path(app_)); }
  void set_activity(const deployment::Activity& activity) {
    executor_.set_file(lb_, deployment::activity_path(app_), activity.to_json().dump() + "\n");
  }

  // --- HAProxy --------------------------------------------------------------------------------

  state::Color running() const {
    std::lock_guard lock(mutex_);
    return running_;
  }
  // What the running HAProxy serves, independently of the file (a reload that never happened).
  void set_running(state::Color color) {
    std::lock_guard lock(mutex_);
    running_ = color;
  }
  int reloads() const {
    std::lock_guard lock(mutex_);
    return reloads_;
  }
  // Someone reloads HAProxy by hand: new workers start now with the config file as it is.
  void reload_by_hand() {
    std::lock_guard lock(mutex_);
    ++reloads_;
    old_workers_.push_back(worker_);
    worker_ = 2000 + reloads_;
    worker_started_ = lb_now_;
    if (const auto colour = config_colour()) running_ = *colour;
    load_running_maps(true);
  }
  // Open sessions of `color` in the current worker's `show stat` and, summed over them, in the old
  // workers' (`@!<pid> show stat` on the master socket).
  void set_sessions(state::Color color, long long current, long long in_old_workers = 0) {
    std::lock_guard lock(mutex_);
    sessions_[color] = current;
    old_sessions_[color] = in_old_workers;
  }
  // HAProxy's own check status of `color`'s server ("UP", "DOWN", "UP 1/2", ...) in `show stat`.
  void set_server_status(state::Color color, std::string status) {
    std::lock_guard lock(mutex_);
    server_status_[color] = std::move(status);
  }
  // The lock's holder process dies (its connection dropped): AppLock::held() turns false.
  void lose_lock() {
    std::lock_guard lock(mutex_);
    *lock_lost_ = true;
  }
  bool lock_held() const {
    std::lock_guard lock(mutex_);
    return *lock_taken_;
  }
  int locks_taken() const {
    std::lock_guard lock(mutex_);
    return locks_taken_;
  }

  // --- HAProxy's running maps (map-based routing) ---------------------------------------------

  // HAProxy (re)started with `files` (path -> content, e.g. haproxy.cfg and a map file): they are
  // written older than the running workers, which then run them: the colour served, the running
  // maps. No reload is counted (reloads() unchanged).
  void start_with(const std::map<std::string, std::string>& files) {
    std::lock_guard lock(mutex_);
    executor_.set_host_clock(lb_, worker_started_ - 60);
    for (const auto& [path, text] : files) executor_.set_file(lb_, path, text);
    executor_.set_host_clock(lb_, lb_now_);
    if (const auto colour = config_colour()) running_ = *colour;
    load_running_maps(true);
  }
  // The map layout (haproxy_map_cfg(), map_file() with `live`'s backend), as HAProxy started with
  // it: the app's colour comes from the running map. Use with map_test_app().
  void start_with_map_layout(state::Color live) {
    start_with({{cfg_path(), haproxy_map_cfg()}, {kMapPath, map_file(deployment::backend_of(app_, live))}});
  }

  std::optional<std::string> map_text(const std::string& map = kMapPath) const { return executor_.file(lb_, map); }
  void set_map_text(std::string text, const std::string& map = kMapPath) {
    executor_.set_file(lb_, map, std::move(text));
  }
  std::optional<std::string> map_backup(const std::string& map = kMapPath) const {
    return executor_.file(lb_, deployment::backup_path(map));
  }
  // The running map's entries as "key value" lines ("shop blue\nblog fallback\n"); nullopt when
  // HAProxy has not loaded `map`.
  std::optional<std::string> running_map(const std::string& map = kMapPath) const {
    std::lock_guard lock(mutex_);
    const auto found = running_maps_.find(map);
    if (found == running_maps_.end()) return std::nullopt;
    std::string text;
    for (const auto& entry : found->second) text += entry.key + " " + entry.value + "\n";
    return text;
  }
  // A `set map MAP KEY VALUE` by hand (not written to the file); returns HAProxy's answer ("\n":
  // done).
  std::string set_running_map_entry(const std::string& key, const std::string& value,
                                    const std::string& map = kMapPath) {
    std::lock_guard lock(mutex_);
    return map_request("set map " + map + " " + key + " " + value, {});
  }
  // Commits that replaced a running map (prepare/add/commit map), failed ones not counted.
  int map_commits() const {
    std::lock_guard lock(mutex_);
    return map_commits_;
  }
  // Every map request the stats socket answered, one per command ("prepare map /etc/...").
  std::vector<std::string> map_log() const {
    std::lock_guard lock(mutex_);
    return map_log_;
  }

  // --- the app hosts ------------------------------------------------------------------------

  void set_health(state::Color color, HostHealth health) {
    std::lock_guard lock(mutex_);
    health_[color] = std::move(health);
  }
  int probes_of(state::Color color) const {
    std::lock_guard lock(mutex_);
    return probe_counts_.count(color) != 0 ? probe_counts_.at(color) : 0;
  }
  // The colour's first server (its only one unless it is a pool).
  const config::HostConfig& host_config(state::Color color) const {
    return (color == state::Color::kBlue ? app_.blue : app_.green).front();
  }
  // One server of a pool answers differently from its colour (by its healthUrl).
  void set_server_health(const config::HostConfig& server, HostHealth health) {
    std::lock_guard lock(mutex_);
    server_health_[server.health_url] = std::move(health);
  }
  // HAProxy's backend of `color` lists these server names instead of the configured ones (pool
  // drift); each is UP unless set_server_status_of says otherwise.
  void set_backend_servers(state::Color color, std::vector<std::string> names) {
    std::lock_guard lock(mutex_);
    backend_servers_[color] = std::move(names);
  }
  // HAProxy's check status of one named server ("DOWN", "MAINT", ...).
  void set_server_status_of(const std::string& name, std::string status) {
    std::lock_guard lock(mutex_);
    server_status_by_name_[name] = std::move(status);
  }

  // The health probe for Services: both hosts' health URLs and the frontend verifyUrl.
  deployment::Probe probe() {
    return [this](const std::string& url, std::chrono::milliseconds) { return answer_probe(url); };
  }

 private:
  static std::string git_head_path(const config::HostConfig& host) { return host.app_dir + "/.git/HEAD"; }

  enum class Script {
    kNone,
    kValidate,
    kSwap,
    kRestore,
    kReload,
    kStateRead,
    kPrepare,
    kCommit,
    kRemove,
    kAudit,
    kLockOwner,
    kActivityWrite,
    kLockHeld,
    kChangeTimes
  };

  Script classify(const std::string& command) const {
    if (command.find("f=" + remote::shell_quote(deployment::activity_path(app_))) != std::string::npos &&
        command.find("| base64 -d | bg_fill \"$t\"") != std::string::npos) {
      return Script::kActivityWrite;
    }
    if (command == deployment::lock_held_script(app_)) return Script::kLockHeld;
    if (command.rfind("for f in ", 0) == 0 && command.find("stat -L -c %Z") != std::string::npos) {
      return Script::kChangeTimes;
    }
    if (command.find("| base64 -d | bg_fill \"$c\"") != std::string::npos) return Script::kValidate;
    if (command.find("| base64 -d | cmp -s - \"$cfg\"") != std::string::npos) return Script::kSwap;
    if (command.find("bg_new_temp \"$restore\"") != std::string::npos) return Script::kRestore;
    if (command == deployment::lb_reload_command(app_)) return Script::kReload;
    if (command.find("BLUEGREEN-NO-STATE-FILE") != std::string::npos) return Script::kStateRead;
    if (command.find("| base64 -d | bg_fill \"$t\"") != std::string::npos) return Script::kPrepare;
    if (command.find("&& mv -f '") != std::string::npos && command.find("&& sync '") != std::string::npos)
      return Script::kCommit;
    if (command.rfind("rm -f '", 0) == 0) return Script::kRemove;
    if (command.find("printf '%s\\n' ") != std::string::npos &&
        command.find("oflag=append,nofollow") != std::string::npos)
      return Script::kAudit;
    if (command.rfind("cat '", 0) == 0 && command.find(".owner' 2>/dev/null") != std::string::npos)
      return Script::kLockOwner;
    return Script::kNone;
  }

  void install() {
    executor_.on_match([this](const std::string& host,
                              const std::string& command) { return host == lb_ && classify(command) != Script::kNone; },
                       [this](const std::string&, const std::string& command) { return lb_script(command); });
    std::vector<const config::HostConfig*> hosts;
    for (const auto* pool : {&app_.blue, &app_.green}) {
      for (const auto& server : pool->servers) hosts.push_back(&server);
    }
    for (const auto* host : hosts) {
      // Deploy steps succeed unless a test adds a rule (newer rules win).
      executor_.on_match(
          [ssh = host->ssh, dir = host->app_dir](const std::string& h, const std::string& command) {
            return h == ssh && command.rfind("cd " + remote::shell_quote(dir) + " && ", 0) == 0;
          },
          [](const std::string&, const std::string&) -> ScriptedExecutor::Reply { return ok_with(); });
      executor_.on_match(
          [ssh = host->ssh](const std::string& h, const std::string& command) {
            return h == ssh && command.find("exec git log -1 --format=") != std::string::npos;
          },
          [this, host](const std::string&, const std::string&) -> ScriptedExecutor::Reply {
            auto head = executor_.file(host->ssh, git_head_path(*host)).value_or("");
            while (!head.empty() && head.back() == '\n') head.pop_back();
            return ok_with(head + "\n2026-11-20T09:00:00+00:00\nRelease " + head.substr(0, 7) + "\n");
          });
    }
    executor_.on_socket(lb_, *app_.load_balancer.master_socket,
                        [this](const std::string& request) { return master(request); });
    if (app_.load_balancer.stats_socket) {
      executor_.on_socket(lb_, *app_.load_balancer.stats_socket,
                          [this](const std::string& request) { return stats(request); });
    }
    executor_.on_hold([this](const std::string& host, const std::string& command) { return take_lock(host, command); });
    executor_.set_interceptor([this](const Call& call) { return intercept(call); });
  }

  std::optional<bluegreen::Error> intercept(const Call& call) {
    if (call.host != lb_) return std::nullopt;
    std::lock_guard lock(mutex_);
    ++lb_calls_;
    if (!unreachable_) {
      if (faults_.unreachable_from_call > 0 && lb_calls_ >= faults_.unreachable_from_call) unreachable_ = true;
      if (!faults_.unreachable_from_command.empty() && call.kind == CallKind::kRun &&
          call.command.find(faults_.unreachable_from_command) != std::string::npos) {
        unreachable_ = true;
      }
    }
    if (unreachable_) return unreachable_error(lb_);
    return std::nullopt;
  }

  class LockHandle final : public remote::HeldProcess {
   public:
    LockHandle(std::mutex& mutex, std::shared_ptr<bool> taken, std::shared_ptr<bool> lost)
        : mutex_(mutex), taken_(std::move(taken)), lost_(std::move(lost)) {}
    ~LockHandle() override {
      std::lock_guard lock(mutex_);
      *taken_ = false;
    }
    LockHandle(const LockHandle&) = delete;
    LockHandle& operator=(const LockHandle&) = delete;
    LockHandle(LockHandle&&) = delete;
    LockHandle& operator=(LockHandle&&) = delete;
    bool alive() override {
      std::lock_guard lock(mutex_);
      return !*lost_;
    }

   private:
    std::mutex& mutex_;
    std::shared_ptr<bool> taken_;
    std::shared_ptr<bool> lost_;
  };

  bluegreen::Result<std::unique_ptr<remote::HeldProcess>> take_lock(const std::string& host,
                                                                    const std::string& command) {
    if (host != lb_ || command.find("flock -x -E 75") == std::string::npos) {
      return bluegreen::Error{"FakeLb: unexpected hold() on " + host + ": " + command};
    }
    std::lock_guard lock(mutex_);
    if (faults_.lock_busy || *lock_taken_) {
      return bluegreen::Error{"the command exited with status 75 before it was ready",
                              bluegreen::ErrorCode::kFailedPrecondition, 75};
    }
    *lock_taken_ = true;
    *lock_lost_ = false;
    ++locks_taken_;
    // The holder, as the real command writes it to the owner file.
    const auto sh = command.rfind(" sh '");
    if (const auto holder = sh == std::string::npos ? std::nullopt : unquote_at(command, sh + 4)) {
      executor_.set_file(lb_, app_.load_balancer.lock_file + ".owner", *holder + "\n");
    }
    return std::unique_ptr<remote::HeldProcess>(std::make_unique<LockHandle>(mutex_, lock_taken_, lock_lost_));
  }

  ScriptedExecutor::Reply lb_script(const std::string& command) {
    std::lock_guard lock(mutex_);
    const auto& lbc = app_.load_balancer;
    const std::string file = script_file(command);  // haproxy.cfg, or the map file of a map switch
    const std::string cand = deployment::candidate_path(file);
    switch (classify(command)) {
      case Script::kValidate: {
        const auto payload = quoted_after(command, "printf '%s' ");
        if (faults_.candidate_write.fire()) return exit_with(1, "", "dd: error writing: No space left on device");
        executor_.set_file(lb_, cand, base64_decode(payload.value_or("")));
        if (faults_.validation.fire()) {
          executor_.remove_file(lb_, cand);
          return exit_with(deployment::kCandidateInvalidExit,
                           "[ALERT]    (4242) : config : parsing [" + cand + ":12] : unknown keyword 'frobnicate'\n");
        }
        return ok_with("Configuration file is valid\n");
      }
      case Script::kSwap: {
        const auto expected = base64_decode(quoted_after(command, "printf '%s' ").value_or(""));
        if (faults_.live_changed.fire()) {
          executor_.set_file(lb_, file,
                             executor_.file(lb_, file).value_or("") +
                                 "# edited by hand while the switch was prepared\n");
        }
        if (executor_.file(lb_, file) != expected) {
          executor_.remove_file(lb_, cand);
          return exit_with(deployment::kLiveConfigChangedExit);
        }
        if (faults_.swap.fire()) return exit_with(1, "", "mv: cannot move '" + cand + "': Read-only file system");
        const auto candidate_text = executor_.file(lb_, cand);
        if (!candidate_text) return exit_with(1, "", "cp: cannot stat '" + cand + "': No such file or directory");
        executor_.set_file(lb_, deployment::backup_path(file), expected);
        executor_.set_file(lb_, file, *candidate_text);
        executor_.remove_file(lb_, cand);
        return ok_with();
      }
      case Script::kRestore: {
        if (faults_.restore.fire()) return exit_with(1, "", "cp: error writing: Input/output error");
        const auto backup_text = executor_.file(lb_, deployment::backup_path(file));
        if (!backup_text) return exit_with(1, "", "cp: cannot stat backup: No such file or directory");
        executor_.set_file(lb_, file, *backup_text);
        return ok_with();
      }
      case Script::kReload: {
        if (faults_.reload.fire())
          return exit_with(1, "",
                           "2026/11/30 12:00:00 socat[77] E connect(5, AF=1 \"" + *lbc.master_socket +
                               "\", 26): Connection refused");
        if (faults_.reload_no_effect.fire()) return ok_with();
        ++reloads_;
        old_workers_.push_back(worker_);
        worker_ = 2000 + reloads_;
        worker_started_ = lb_now_;
        const bool follows = !faults_.reload_keeps_colour.fire();
        if (follows) {
          if (const auto colour = config_colour()) running_ = *colour;
        }
        load_running_maps(follows);
        return ok_with();
      }
      case Script::kStateRead: {
        if (!executor_.is_unseen() && faults_.state_read.fire())
          return exit_with(1, "", "cat: " + lbc.state_file + ": Input/output error");
        const auto text = executor_.file(lb_, lbc.state_file);
        return ok_with(text ? *text : "BLUEGREEN-NO-STATE-FILE\n");
      }
      case Script::kPrepare: {
        const auto payload = quoted_after(command, "printf '%s' ");
        if (!payload) return exit_with(2, "", "FakeLb: cannot parse the prepare script");
        // As the script does under the lock: earlier temp files are stale.
        for (const auto& path : executor_.paths(lb_)) {
          if (path.rfind(lbc.state_file + ".tmp.", 0) == 0) executor_.remove_file(lb_, path);
        }
        if (faults_.prepare.fire()) return exit_with(1, "", "dd: error writing: No space left on device");
        const std::string temp = lbc.state_file + ".tmp.fake" + std::to_string(++temp_files_);
        executor_.set_file(lb_, temp, base64_decode(*payload));
        return ok_with(temp + "\n");
      }
      case Script::kCommit: {
        const auto mv = command.find("&& mv -f '") + 9;
        const auto from = unquote_at(command, mv);
        const auto to = from ? quoted_after(command, "' ", mv) : std::nullopt;
        if (!from || !to) return exit_with(2, "", "FakeLb: cannot parse the commit");
        if (faults_.commit.fire()) return exit_with(1, "", "mv: cannot move '" + *from + "': Read-only file system");
        const auto text = executor_.file(lb_, *from);
        if (!text) return exit_with(1, "", "mv: cannot stat '" + *from + "': No such file or directory");
        executor_.set_file(lb_, *to, *text);
        executor_.remove_file(lb_, *from);
        return ok_with();
      }
      case Script::kRemove: {
        for (std::size_t at = 6; at < command.size() && command[at] == '\'';) {
          const auto path = unquote_at(command, at);
          if (!path) break;
          executor_.remove_file(lb_, *path);
          at = command.find('\'', at + 1 + path->size()) + 2;
        }
        return ok_with();
      }
      case Script::kAudit: {
        const auto line = quoted_after(command, "printf '%s\\n' ");
        if (!line || command.find("dd of=" + remote::shell_quote(lbc.audit_log)) == std::string::npos) {
          return exit_with(2, "", "FakeLb: cannot parse the audit command");
        }
        if (faults_.audit.fire())
          return exit_with(1, "", "sh: 1: cannot create " + lbc.audit_log + ": Read-only file system");
        executor_.set_file(lb_, lbc.audit_log, executor_.file(lb_, lbc.audit_log).value_or("") + *line + "\n");
        return ok_with();
      }
      case Script::kActivityWrite: {
        const auto payload = quoted_after(command, "printf '%s' ");
        if (!payload) return exit_with(2, "", "FakeLb: cannot parse the activity write");
        if (faults_.activity_write.fire()) return exit_with(1, "", "base64: write error: No space left on device");
        executor_.set_file(lb_, deployment::activity_path(app_), base64_decode(*payload));
        return ok_with();
      }
      case Script::kChangeTimes: {
        const auto changed = executor_.changed(lb_, cfg_path());
        return ok_with(changed ? std::to_string(*changed) + "\n" : "-\n");
      }
      case Script::kLockHeld: {  // asked only where there is a record, as the script does
        if (lock_question_fails_) return exit_with(1, "", "flock: /var/lib/bluegreen/shop.lock: Permission denied");
        const bool recorded = executor_.file(lb_, deployment::activity_path(app_)).has_value();
        return exit_with(recorded && *lock_taken_ ? deployment::kLockHeldExit : deployment::kLockFreeExit);
      }
      case Script::kLockOwner: {
        const auto owner = executor_.file(lb_, lbc.lock_file + ".owner");
        return owner ? ok_with(*owner) : exit_with(1);
      }
      case Script::kNone: break;
    }
    return exit_with(127, "", "FakeLb: unknown script");
  }

  bluegreen::Result<std::string> master(const std::string& request) {
    std::lock_guard lock(mutex_);
    if (faults_.master_silent) {
      return bluegreen::Error{"no answer from " + *app_.load_balancer.master_socket + " within 2000 ms",
                              bluegreen::ErrorCode::kDeadlineExceeded};
    }
    if (request.rfind("@!", 0) == 0) {  // `@!<pid> show stat`: an old worker's own counters
      const auto pid = std::stoi(request.substr(2));
      if (std::find(old_workers_.begin(), old_workers_.end(), pid) == old_workers_.end() ||
          request.find(" show stat\n") == std::string::npos) {
        return std::string("Unknown command.\n");
      }
      return stat_csv(old_sessions_);
    }
    if (request != "show proc\n") return std::string("Unknown command.\n");
    std::string text = "#<PID>          <type>          <reloads>       <uptime>        <version>\n";
    text += "1000            master          " + std::to_string(reloads_) +
            " [failed: 0]   0d01h00m00s     2.6.12-1+deb12u4\n";
    text += "# workers\n" + std::to_string(worker_) + "            worker          0               " +
            proc_uptime(lb_now_ - worker_started_) + "     2.6.12-1+deb12u4\n";
    text += "# old workers\n";
    for (const int pid : old_workers_) {
      text += std::to_string(pid) + "            worker          1               0d00h20m00s     2.6.12-1+deb12u4\n";
    }
    text += "# programs\n\n";
    return text;
  }

  // HAProxy 2.6's `show proc` uptime: "0d00h10m00s".
  static std::string proc_uptime(std::int64_t seconds) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%lldd%02lldh%02lldm%02llds", static_cast<long long>(seconds / 86400),
                  static_cast<long long>(seconds / 3600 % 24), static_cast<long long>(seconds / 60 % 60),
                  static_cast<long long>(seconds % 60));
    return text.data();
  }

  // /proc/stat's boot time and /proc/uptime as the LB's clock says. Requires mutex_ (or the
  // constructor).
  void write_clock_files() {
    executor_.set_file(lb_, "/proc/stat", "cpu  1 2 3 4\nbtime " + std::to_string(kBootTime) + "\nprocesses 9\n");
    executor_.set_file(lb_, "/proc/uptime", std::to_string(lb_now_ - kBootTime) + ".25 100.00\n");
  }

  bluegreen::Result<std::string> stats(const std::string& request) {
    std::lock_guard lock(mutex_);
    const auto silent = [this] {
      return bluegreen::Error{"no answer from " + *app_.load_balancer.stats_socket + " within 2000 ms",
                              bluegreen::ErrorCode::kDeadlineExceeded};
    };
    if (faults_.stats_silent) return silent();
    if (is_map_request(request)) {
      if (!executor_.is_unseen() && faults_.map_silent.fire()) return silent();
      return map_requests(request);
    }
    if (request != "show stat\n") return std::string("Unknown command.\n");
    return stat_csv(sessions_);
  }

  // `show stat` with `open` current sessions per colour. Requires mutex_.
  std::string stat_csv(const std::map<state::Color, long long>& open) {
    std::string text = "# pxname,svname,qcur,scur,stot,status,check_status\nfe_app,FRONTEND,,0,10,OPEN,\n";
    for (const auto color : {state::Color::kBlue, state::Color::kGreen}) {
      const std::string backend = deployment::backend_of(app_, color);
      const std::string colour_status = server_status_.count(color) != 0 ? server_status_.at(color) : "UP";
      std::vector<std::string> names;
      if (backend_servers_.count(color) != 0) {
        names = backend_servers_.at(color);
      } else {
        for (const auto& server : deployment::pool_of(app_, color).servers) {
          names.push_back(server.haproxy_server.empty() ? backend : server.haproxy_server);
        }
      }
      const std::string scur = std::to_string(open.count(color) != 0 ? open.at(color) : 0);
      bool any_up = false;
      for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string status =
            server_status_by_name_.count(names[i]) != 0 ? server_status_by_name_.at(names[i]) : colour_status;
        any_up = any_up || status.rfind("UP", 0) == 0;
        text += backend + "," + names[i] + ",0," + (i == 0 ? scur : "0") + ",5," + status + "," +
                (status.rfind("UP", 0) == 0 ? "L7OK" : "L4CON") + "\n";
      }
      text += backend + ",BACKEND,0," + scur + ",5," + (any_up ? "UP" : "DOWN") + ",\n";
    }
    return text;
  }

  // What `color`'s health endpoint answers now; `count`: a probe of the host itself (not through
  // the frontend). Requires mutex_.
  remote::HealthReport host_report(state::Color color, const std::string& url, bool count = true) {
    const auto& pool = deployment::pool_of(app_, color);
    const config::HostConfig* server = &pool.front();
    for (const auto& candidate : pool.servers) {
      if (candidate.health_url == url) server = &candidate;
    }
    auto& health = server_health_.count(url) != 0 ? server_health_[url] : health_[color];
    const int n = count ? ++probe_counts_[color] : probe_counts_[color] + 1;
    remote::HealthReport report;
    report.url = url;
    report.latency = std::chrono::milliseconds(2);
    const bool up = health.up && (!health.flapping || n % 2 == 1);
    if (!up) {
      report.status = health.up ? 503 : 0;
      if (health.up) report.body_excerpt = "{\"status\":\"starting\"}";
      else report.error = "connection refused";
      return report;
    }
    auto head = executor_.file(server->ssh, git_head_path(*server)).value_or("");
    while (!head.empty() && head.back() == '\n') head.pop_back();
    report.status = 200;
    report.version = health.version;
    report.commit = health.reported_commit.value_or(head);
    nlohmann::json body{{"status", "ok"}, {"version", *report.version}, {"commit", *report.commit}};
    if (health.names_colour) {
      report.color = std::string(state::to_string(color));
      body["color"] = *report.color;
    }
    report.body_excerpt = body.dump();
    return report;
  }

  remote::HealthReport answer_probe(const std::string& url) {
    std::lock_guard lock(mutex_);
    for (const auto color : {state::Color::kBlue, state::Color::kGreen}) {
      for (const auto& server : deployment::pool_of(app_, color).servers) {
        if (url == server.health_url) return host_report(color, url);
      }
    }
    if (app_.load_balancer.verify_url && url == *app_.load_balancer.verify_url) {
      if (faults_.frontend_down) {
        remote::HealthReport report;
        report.url = url;
        report.error = "connection refused";
        return report;
      }
      if (serving_fallback_) {  // the default backend (`fallback`) answers: neither colour
        remote::HealthReport report;
        report.url = url;
        report.status = 503;
        report.body_excerpt = "no app";
        return report;
      }
      const auto serving = faults_.frontend_wrong_colour ? state::other(running_) : running_;
      auto report = host_report(serving, url, false);
      if (report.healthy()) return report;
      report.status = 503;  // HAProxy answers for a backend that does not
      report.error.clear();
      report.body_excerpt = "<html><body><h1>503 Service Unavailable</h1>";
      return report;
    }
    remote::HealthReport report;
    report.url = url;
    report.error = "FakeLb: no such URL";
    return report;
  }

  // --- HAProxy's running maps ---------------------------------------------------------------

  // The file a switch script works on (its `cfg=`): haproxy.cfg, or a map file.
  std::string script_file(const std::string& command) const {
    return quoted_after(command, "set -e; cfg=").value_or(cfg_path());
  }

  static bool is_map_request(const std::string& request) {
    for (const char* verb : {"show map ", "prepare map ", "add map ", "commit map ", "set map "}) {
      if (request.rfind(verb, 0) == 0) return true;
    }
    return false;
  }

  // Loads every map haproxy.cfg looks up from its file, as HAProxy does when its workers start
  // (a map whose file is missing is not loaded), and finds the map the app is routed through
  // (`use_backend %[str(KEY),map(FILE)]`). `follow`: the colour served follows the running map.
  // Requires mutex_ (or the constructor).
  void load_running_maps(bool follow) {
    running_maps_.clear();
    map_versions_.clear();
    next_map_version_.clear();  // new workers number versions afresh
    map_route_.reset();
    const auto routes = haproxy::find_routes({{cfg_path(), config_text()}},
                                             {app_.load_balancer.blue_backend, app_.load_balancer.green_backend});
    loaded_backends_ = routes.backends;
    for (const auto& lookup : routes.map_lookups) {
      if (const auto text = executor_.file(lb_, lookup.map)) {
        auto& entries = running_maps_[lookup.map];
        for (const auto& entry : haproxy::parse_map(*text)) entries.push_back({entry.key, entry.value});
      }
      const auto str = lookup.line.find("%[str(");
      const auto close = str == std::string::npos ? str : lookup.line.find(')', str);
      if (!map_route_ && close != std::string::npos) {
        map_route_ = std::pair(lookup.map, lookup.line.substr(str + 6, close - str - 6));
      }
    }
    serving_fallback_ = false;
    if (follow) follow_running_map();
  }

  // Where the config routes the app through a map, the frontend serves what the running map's
  // entry for the app's key names; an entry missing, or naming a backend that is not defined or
  // is neither colour, sends the request to the default backend (`fallback`: 503). Requires mutex_.
  void follow_running_map() {
    if (!map_route_) return;
    const auto map = running_maps_.find(map_route_->first);
    std::optional<std::string> value;
    if (map != running_maps_.end()) {
      for (const auto& entry : map->second) {
        if (entry.key == map_route_->second) value = entry.value;
      }
    }
    const auto colour = value ? deployment::color_of_backend(app_, *value) : std::nullopt;
    const bool defined =
        value && std::find(loaded_backends_.begin(), loaded_backends_.end(), *value) != loaded_backends_.end();
    serving_fallback_ = !colour || !defined;
    if (!serving_fallback_) running_ = *colour;
  }

  // A request on the stats socket whose commands are map commands: each answered in turn, as
  // HAProxy's CLI does (an empty line ends a command's answer; `<<` at the end of a line starts a
  // payload, which an empty line ends). Requires mutex_.
  std::string map_requests(const std::string& request) {
    std::vector<std::string> lines;
    for (std::size_t at = 0; at < request.size();) {
      const auto end = std::min(request.find('\n', at), request.size());
      lines.push_back(request.substr(at, end - at));
      at = end + 1;
    }
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::string command = lines[i];
      std::optional<std::vector<std::string>> payload;
      if (command.size() >= 3 && command.compare(command.size() - 3, 3, " <<") == 0) {
        command.resize(command.size() - 3);
        payload.emplace();
        while (++i < lines.size() && !lines[i].empty()) payload->push_back(lines[i]);
      }
      out += map_request(command, payload);
    }
    return out;
  }

  // One map command, split: its verb ("show", "prepare", ...), the version ("@N") when given, the
  // map file, and the words after it.
  struct MapCommand {
    std::string verb;
    std::optional<unsigned long long> version;
    std::string file;
    std::vector<std::string> rest;
  };

  static std::vector<std::string> words_of(const std::string& command) {
    std::vector<std::string> words;
    for (std::size_t at = command.find_first_not_of(' '); at != std::string::npos;
         at = command.find_first_not_of(' ', at)) {
      const auto end = std::min(command.find(' ', at), command.size());
      words.push_back(command.substr(at, end - at));
      at = end;
    }
    return words;
  }

  // One command's answer. Requires mutex_.
  std::string map_request(const std::string& command, const std::optional<std::vector<std::string>>& payload) {
    const auto words = words_of(command);
    if (words.empty()) {
      return "Unknown command. Please enter one of the following commands only :\n  help : full commands list\n\n";
    }
    map_log_.push_back(command);
    if (words.size() < 3 || words[1] != "map") return "Unknown command.\n\n";
    MapCommand map{words[0], std::nullopt, "", {}};
    std::size_t file_at = 2;
    if (words[2].size() > 1 && words[2][0] == '@') {  // optional (for commit: required)
      map.version = std::stoull(words[2].substr(1));
      file_at = 3;
    }
    if (file_at >= words.size()) return "Missing map identifier.\n\n";
    map.file = words[file_at];
    map.rest.assign(words.begin() + static_cast<std::ptrdiff_t>(file_at) + 1, words.end());
    const auto running = running_maps_.find(map.file);
    if (running == running_maps_.end()) return "Unknown map identifier. Please use #<id> or <file>.\n\n";
    if (map.verb == "show") return show_map(running->second);
    if (map.verb == "prepare") {
      const auto next = ++next_map_version_[map.file];
      map_versions_[map.file][next];
      return "New version created: " + std::to_string(next) + "\n\n";
    }
    if (map.verb == "add") return add_map(map, payload, running->second);
    if (map.verb == "commit") return commit_map(map, running->second);
    if (map.verb == "set" && !map.version && map.rest.size() == 2)
      return set_map(map.rest[0], map.rest[1], running->second);
    return "Unknown command.\n\n";
  }

  // `show map`: one "<id> <key> <value>" line per entry (the id a pointer), then an empty line.
  static std::string show_map(const std::vector<haproxy::RuntimeMapEntry>& entries) {
    std::string out;
    std::size_t id = 0x55d0c2f0a1b0;
    for (const auto& entry : entries) {
      std::array<char, 24> hex{};
      std::snprintf(hex.data(), hex.size(), "0x%zx", id);
      out += std::string(hex.data()) + " " + entry.key + " " + entry.value + "\n";
      id += 0x40;
    }
    return out + "\n";
  }

  // `add map [@V] FILE KEY VALUE` or `add map [@V] FILE <<` with "key value" lines: into version V
  // (seen only once committed), or without a version into the running map. Requires mutex_.
  std::string add_map(const MapCommand& map, const std::optional<std::vector<std::string>>& payload,
                      std::vector<haproxy::RuntimeMapEntry>& running) {
    if (map.version && *map.version > next_map_version_[map.file]) {
      return "Version number in the future, please use 'prepare map' before.\n\n";
    }
    std::vector<haproxy::RuntimeMapEntry> added;
    if (payload) {
      for (const auto& line : *payload) {
        const auto blank = line.find_first_of(" \t");
        const auto value = blank == std::string::npos ? blank : line.find_first_not_of(" \t", blank);
        if (value == std::string::npos) return "Missing value for key '" + line + "'.\n\n";
        added.push_back({line.substr(0, blank), line.substr(value)});
      }
    } else if (map.rest.size() == 2) {
      added.push_back({map.rest[0], map.rest[1]});
    } else {
      return "'add map' expects three parameters (map identifier, key and value) or one parameter (map "
             "identifier) and a payload\n\n";
    }
    auto& into = map.version ? map_versions_[map.file][*map.version] : running;
    into.insert(into.end(), added.begin(), added.end());
    if (!map.version) follow_running_map();
    return "\n";
  }

  // `commit map @V FILE`: version V becomes the running map at once; it and older versions are
  // dropped. Requires mutex_.
  std::string commit_map(const MapCommand& map, std::vector<haproxy::RuntimeMapEntry>& running) {
    if (!map.version) return "Missing version number.\n\n";
    auto& versions = map_versions_[map.file];
    const auto pending = versions.find(*map.version);
    if (pending == versions.end() || faults_.map_commit.fire()) return "Version number out of range.\n\n";
    const auto before = running;
    running = pending->second;
    versions.erase(versions.begin(), std::next(pending));
    ++map_commits_;
    if (faults_.map_reverted.fire()) running = before;
    if (!faults_.map_commit_keeps_colour.fire()) follow_running_map();
    return "\n";
  }

  // `set map FILE KEY VALUE`: the running map only. Requires mutex_.
  std::string set_map(const std::string& key, const std::string& value,
                      std::vector<haproxy::RuntimeMapEntry>& running) {
    bool found = false;
    for (auto& entry : running) {
      if (entry.key == key) {
        entry.value = value;
        found = true;
      }
    }
    if (!found) return "entry not found.\n\n";
    follow_running_map();
    return "\n";
  }

  const config::AppConfig& app_;
  const std::string lb_;
  ScriptedExecutor executor_;
  mutable std::mutex mutex_;
  LbFaults faults_;
  state::Color running_;
  static constexpr std::int64_t kBootTime = 1'790'000'000;
  std::int64_t lb_now_ = kBootTime + 86'400;
  bool lock_question_fails_ = false;             // a day after boot
  std::int64_t worker_started_ = lb_now_ - 600;  // the workers have run for 10 minutes
  int reloads_ = 0;
  int worker_ = 2000;
  std::vector<int> old_workers_;
  std::map<state::Color, std::string> server_status_;
  std::map<state::Color, long long> sessions_;      // open sessions in the current worker
  std::map<state::Color, long long> old_sessions_;  // in the old workers
  std::map<state::Color, HostHealth> health_;
  std::map<std::string, HostHealth> server_health_;  // by healthUrl: a pool server unlike its colour
  std::map<state::Color, std::vector<std::string>> backend_servers_;
  std::map<std::string, std::string> server_status_by_name_;
  std::map<state::Color, int> probe_counts_;
  std::shared_ptr<bool> lock_taken_ = std::make_shared<bool>(false);
  std::shared_ptr<bool> lock_lost_ = std::make_shared<bool>(false);
  int locks_taken_ = 0;
  int temp_files_ = 0;
  int lb_calls_ = 0;
  bool unreachable_ = false;
  // HAProxy's running maps: entries by map file as written in the config; versions prepared and
  // not yet committed (by number); the last version number given out; the map and key the
  // loaded config routes the app through; the backends the loaded config defines.
  std::map<std::string, std::vector<haproxy::RuntimeMapEntry>> running_maps_;
  std::map<std::string, std::map<unsigned long long, std::vector<haproxy::RuntimeMapEntry>>> map_versions_;
  std::map<std::string, unsigned long long> next_map_version_;
  std::optional<std::pair<std::string, std::string>> map_route_;
  std::vector<std::string> loaded_backends_;
  bool serving_fallback_ = false;  // the running map sends the app's key to the default backend
  int map_commits_ = 0;
  std::vector<std::string> map_log_;
};

}  // namespace testing_support
