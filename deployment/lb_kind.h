#pragma once
// The load-balancer seam: everything the deployment layer does differently per loadBalancer.type,
// behind one interface. The tools, the approval gate, the lock, the state file, the audit log, the
// frontend probes and the shape of every result stay shared; a kind answers what differs:
//  - its words for messages (product, what a colour's pool is called, where routes live);
//  - reading its truth into an LbSnapshot (which colour every route of the app selects, its
//    processes, its own view of the servers);
//  - planning a switch (the change that makes every route select the other colour), validating
//    it, watching the reload take, verifying the routing, and the texts for what it cannot do.
//
// Every kind changes its configuration by replacing files (candidate, backup, atomic swap, reload:
// lb_scripts.h, config_swap.h) and plans a ConfigChange of files: HAProxy's and nginx's
// configuration, Caddy's Caddyfile (loaded through its admin API by `caddy reload`,
// caddy_switch.h). A setup a kind cannot switch (Caddy without a Caddyfile) says so through
// switch_refusal(), so a switch never does half of a file swap on it.
//
// Thread-safety: kinds are stateless singletons; every member is const and reentrant.

#include "common/result.h"
#include "config/config.h"
#include "deployment/config_change.h"
#include "deployment/lb_snapshot.h"
#include "deployment/routing_check.h"
#include "deployment/services.h"
#include "remote/executor.h"

#include <cstdint>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// One row of check-config's table that a kind adds (its prerequisites): check name, what was
// checked, whether it passed (a warning passes with a note).
struct LbCheckRow {
  std::string check;   // "nginx master", "caddy binary"
  std::string target;  // a path or socket
  bool ok = false;
  bool warning = false;
  std::string result;
};

class LbKind {
 public:
  virtual ~LbKind() = default;
  LbKind() = default;
  LbKind(const LbKind&) = delete;
  LbKind& operator=(const LbKind&) = delete;
  LbKind(LbKind&&) = delete;
  LbKind& operator=(LbKind&&) = delete;

  [[nodiscard]] virtual config::LbType type() const = 0;
  // "HAProxy", "nginx", "Caddy": for messages.
  [[nodiscard]] const char* product() const { return config::product_name(type()); }

  // --- words for messages --------------------------------------------------------------------
  // What backends.blue/green name: "backend" (HAProxy), "upstream" (nginx), "upstreams" (Caddy).
  [[nodiscard]] virtual const char* pool_word() const = 0;
  // Where the app's routes are, as SPLIT ROUTING names them: "HAProxy's entry points".
  [[nodiscard]] virtual const char* entry_points_phrase() const = 0;
  // The word before an entry point's addresses: " bind " / " listen ".
  [[nodiscard]] virtual const char* bind_word() const = 0;
  // How a person checks and reloads it by hand, after "check with `": "haproxy -c`, reload HAProxy".
  [[nodiscard]] virtual std::string check_and_reload_hint() const = 0;
  // The command a plan names for validation: "haproxy -c", "nginx -t".
  [[nodiscard]] virtual const char* validate_word() const = 0;
  // The file (or socket) that stands for the configuration in messages and status's
  // haproxy.config: haproxyConfig's first file, nginxConfig, ...
  [[nodiscard]] virtual const std::string& main_config(const config::LoadBalancerConfig& lb) const = 0;
  // Values for the placeholders of the LB's commands ({config}, ...).
  [[nodiscard]] virtual std::map<std::string, std::string> placeholders(const config::LoadBalancerConfig& lb) const = 0;
  // The name under which the LB's own view lists `server` (LbSnapshot::servers' server field):
  // haproxyServer for HAProxy (and nginx, which has no such view yet), the dial address for Caddy.
  // "": not named (a colour's only server is then matched to its only row).
  [[nodiscard]] virtual const std::string& server_name(const config::HostConfig& server) const {
    return server.haproxy_server;
  }
  // The switch's step names, in order, as progress shows them (traffic_switch.h).
  [[nodiscard]] virtual const std::vector<std::string>& switch_steps() const = 0;

  // --- reading its truth ---------------------------------------------------------------------
  // Its configuration files are read with the state file in the snapshot's one SFTP exchange
  // (HAProxy); false: read_truth reads them (nginx runs `nginx -T`).
  [[nodiscard]] virtual bool files_read_with_state() const = 0;
  // Fills what the shared read does not: routes, selected or live_problem, processes, servers.
  // Called once per app after the shared read, before live confirmation. Never fails: what could
  // not be read is said in the snapshot's *_problem fields.
  virtual void read_truth(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot) const = 0;
  // The app's routes in snapshot.config_files (already read) into snapshot.routes and
  // selected or live_problem (switch recovery re-interprets backups with it).
  virtual void interpret_routing(const config::AppConfig& app, LbSnapshot& snapshot) const = 0;
  // Whether its reloads are counted (status shows haproxy.reloads).
  [[nodiscard]] virtual bool counts_reloads() const = 0;
  // Whether its view of the servers counts sessions per backend (HAProxy's `show stat` BACKEND
  // rows; Caddy lists active requests per upstream only).
  [[nodiscard]] virtual bool counts_sessions() const { return false; }
  // Whether pool membership (the configured servers against the LB's) is compared.
  [[nodiscard]] virtual bool compares_pools() const = 0;
  // Why the live colour cannot be trusted beyond what the shared checks see (a load balancer that
  // is not running), or "".
  [[nodiscard]] virtual std::string not_running_problem(const config::AppConfig& app,
                                                        const LbSnapshot& snapshot) const = 0;
  // The text when the configuration on disk changed after the running workers started (`started`,
  // s since the epoch): it is not what serves users.
  [[nodiscard]] virtual std::string not_loaded_text(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                    std::int64_t started) const = 0;
  // check-config's rows for its prerequisites beyond the shared ones (may be empty).
  [[nodiscard]] virtual std::vector<LbCheckRow> prerequisite_rows(remote::Executor& executor,
                                                                  const config::AppConfig& app,
                                                                  const LbSnapshot& snapshot) const = 0;

  // --- switching -----------------------------------------------------------------------------
  // Why this version cannot switch the app on this kind at all ("" when it can). Checked before
  // any plan.
  [[nodiscard]] virtual std::string switch_refusal(const config::AppConfig& /*app*/) const { return ""; }
  // The change that makes every route of the app in `snapshot` select `to`.
  [[nodiscard]] virtual bluegreen::Result<ConfigChange> plan_change(const config::AppConfig& app,
                                                                    const LbSnapshot& snapshot,
                                                                    state::Color to) const = 0;
  // The command that validates the effective configuration `files` with `candidates` (file ->
  // candidate path) in place of their files.
  [[nodiscard]] virtual std::string validate_command(const config::AppConfig& app,
                                                     const std::vector<std::string>& files,
                                                     const std::map<std::string, std::string>& candidates) const = 0;
  // After the validate command accepted the staged candidates: the kind's own check that they
  // change exactly what the plan shows. "" when they do (the default), else why not; the switch is
  // then refused as an invalid candidate.
  [[nodiscard]] virtual std::string check_candidates(Services& /*services*/, const config::AppConfig& /*app*/,
                                                     const ConfigChange& /*change*/) const {
    return "";
  }
  // The files an interrupted switch (snapshot.activity, read under the lock) had already
  // replaced, to be restored from their backups; an Error when a backup cannot be trusted to be
  // that switch's original (nothing is restored then). The default re-interprets the backups with
  // interpret_routing (switch_recovery.h: interrupted_file_swaps).
  [[nodiscard]] virtual bluegreen::Result<std::vector<std::string>> interrupted_swaps(Services& services,
                                                                                      const config::AppConfig& app,
                                                                                      const LbSnapshot& snapshot) const;
  // Whether the candidate and backup files beside a config are dot files (so a wildcard include
  // such as nginx's `include sites-enabled/*` never loads them).
  [[nodiscard]] virtual bool hides_backups() const = 0;
  // What a reload is later compared against, read just before it: the current workers (nginx),
  // nullopt where the kind does not watch workers.
  [[nodiscard]] virtual std::optional<std::vector<int>> workers_before_reload(Services& services,
                                                                              const config::AppConfig& app) const = 0;
  // The same from a snapshot taken before the change.
  [[nodiscard]] virtual std::optional<std::vector<int>> workers_in(const LbSnapshot& snapshot) const = 0;
  // After a reload: it took, every route selects expected.color, every verifyUrl answers from it.
  [[nodiscard]] virtual RoutingCheck verify(Services& services, const config::AppConfig& app,
                                            const RoutingExpectation& expected, const std::stop_token& stop) const = 0;
};

// The kind for `type`; never null. Thread-safe.
const LbKind& lb_kind(config::LbType type);
// The kind of the app's (first) load balancer.
const LbKind& lb_kind(const config::AppConfig& app);

// The kinds' implementations (haproxy_kind.cpp, nginx_kind.cpp, caddy_kind.cpp), for lb_kind().
const LbKind& haproxy_kind();
const LbKind& nginx_kind();
const LbKind& caddy_kind();

}  // namespace bluegreen::deployment
