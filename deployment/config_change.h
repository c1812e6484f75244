#pragma once
// The change a switch makes to HAProxy's configuration: every route of the app (app_routing.h)
// rewritten to the new colour's backend, as one file changed (candidate, validation, swap, backup
// and restore are per file: lb_scripts.h). Shown line by line in the plan the human approves.
//
// Thread-safety: pure functions.

#include "config/config.h"
#include "deployment/lb_snapshot.h"

#include <cstddef>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct LineChange {
  std::size_t number = 0;  // 1-based, in ConfigChange::file
  std::string section;     // where the line is: "frontend https_in", "defaults", "map key shop"
  std::string now;         // the whole line as it is (no terminator)
  std::string after;       // the same line after the switch
};

struct ConfigChange {
  std::string file;                   // the configuration file that changes (or the map file)
  bool is_map = false;                // a map file: switched at run time, no reload (map_switch.h)
  std::vector<std::string> map_keys;  // is_map: the keys of the app's entries
  std::string before;                 // its whole text now
  std::string after;                  // its whole text after the switch
  std::vector<LineChange> lines;      // each changed line, in file order
  std::vector<std::string> files;     // the effective configuration it belongs to, in load order
};

// The change that makes every route of the app in `snapshot` (read, routes found) select `to`.
// Errors (with what to do): the routes were not read; the new backend is not defined; the routes
// are in more than one file (config files, or a config file and a map: the message names each
// file); nothing would change.
bluegreen::Result<ConfigChange> plan_config_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                   state::Color to);

// Whether `files` (the effective configuration, re-read) routes every route of the app to
// `expected`: "" when so, else what it routes to instead (for messages).
std::string routing_mismatch(const config::AppConfig& app, const std::vector<haproxy::ConfigFile>& files,
                             const std::map<std::string, std::string>& map_texts, state::Color expected);

}  // namespace bluegreen::deployment
