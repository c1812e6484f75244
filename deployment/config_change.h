#pragma once
// The change a switch makes to HAProxy's configuration: every route of the app (app_routing.h)
// rewritten to the new colour's backend, in every file that holds one (candidate, backup, swap and
// restore are per file: lb_scripts.h; validation is one `haproxy -c` over the whole set with every
// changed file replaced by its candidate). Shown line by line in the plan the human approves.
//
// How HAProxy takes it: when any configuration file changes, one reload (map files changed with it
// are swapped first, so the reload loads them too); when only map files change, no reload: each
// running map is replaced at run time (map_switch.h).
//
// Thread-safety: pure functions.

#include "config/config.h"
#include "deployment/lb_snapshot.h"

#include <cstddef>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct LineChange {
  std::size_t number = 0;  // 1-based, in FileEdit::file
  std::string section;     // where the line is: "frontend https_in", "defaults", "map key shop"
  std::string now;         // the whole line as it is (no terminator)
  std::string after;       // the same line after the switch
};

// One file a switch changes.
struct FileEdit {
  std::string file;                   // a configuration file, or a map file
  bool is_map = false;                // a map file
  std::vector<std::string> map_keys;  // is_map: the keys of the app's entries in it
  std::string before;                 // its whole text now
  std::string after;                  // its whole text after the switch
  std::vector<LineChange> lines;      // each changed line, in file order
};

struct ConfigChange {
  std::vector<FileEdit> edits;     // configuration files in load order, then map files
  std::vector<std::string> files;  // the effective configuration (configuration files, load order)
  // Caddy: the JSON (compact) its Caddyfile must adapt to after the switch: the running
  // configuration with the app's upstreams rewritten (caddy/config_json.h rewrite_proxies). The
  // candidate is checked against it before anything is swapped (caddy_switch.h).
  std::string running_after;

  // Only map files change: no reload, the running maps are replaced (map_switch.h).
  [[nodiscard]] bool map_only() const;
  // The configuration files that change (not maps), for `haproxy -c`.
  [[nodiscard]] std::vector<std::string> config_files_changed() const;
  // Every changed line, across files.
  [[nodiscard]] std::size_t line_count() const;
};

// What an approval binds of `changes` (one per load balancer): every changed line as
// "FILE:NUMBER: NOW => AFTER", sorted and without duplicates, so the same lines give the same list
// whatever order the edits come in (an interrupted switch's plan shows its lines as two edits; the
// switch, after rolling it back, makes them as one).
std::vector<std::string> bound_lines(const std::vector<const ConfigChange*>& changes);

// "sha256:" and the hex SHA-256 (FIPS 180-4, OpenSSL's EVP) of `lines` joined by "\n": what the
// plan shows and the audit log records of the lines an approval binds.
std::string lines_digest(const std::vector<std::string>& lines);

// The change that makes every route of the app in `snapshot` (read, routes found) select `to`.
// Errors (with what to do): the routes were not read; the new backend is not defined; nothing
// would change.
// Through the app's load-balancer kind (lb_kind.h).
bluegreen::Result<ConfigChange> plan_config_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                   state::Color to);
// HAProxy's half: every route (and map entry) of the app rewritten to the new backend.
bluegreen::Result<ConfigChange> plan_haproxy_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                    state::Color to);

// Whether `files` (the effective configuration, re-read) routes every route of the app to
// `expected`: "" when so, else what it routes to instead (for messages).
std::string routing_mismatch(const config::AppConfig& app, const std::vector<haproxy::ConfigFile>& files,
                             const std::map<std::string, std::string>& map_texts, state::Color expected);

}  // namespace bluegreen::deployment
