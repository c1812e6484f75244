#pragma once
// Which files make up HAProxy's effective configuration on an app's load balancer, in the order
// HAProxy loads them: what a status reads to find every route of the app (haproxy/routes.h), and
// what a switch validates its candidate with.
//
// Where the stats socket is configured and answers, HAProxy says it itself: `show env
// HAPROXY_CFGFILES` lists the files the running HAProxy loaded, `-f` directories expanded, in load
// order (HAProxy >= 2.3 sets it; the master's own copy, not the workers', is current after a
// reload). A configured loadBalancer.haproxyConfig must then agree with it. Otherwise the
// configured list is used: entries ending in ".cfg" are files; any other entry is asked on the LB
// (one short command) and, when it is a directory, expanded as HAProxy 2.6 expands `-f DIR`
// (haproxy_loads_from_directory, in C byte order of the names).
//
// Thread-safety: reentrant.

#include "config/config.h"
#include "remote/executor.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::deployment {

struct ConfigFileList {
  std::vector<std::string> paths;  // absolute, in load order; empty when `problem` is set
  std::string source;              // where the list came from, for status ("HAProxy (show env HAPROXY_CFGFILES)")
  std::string problem;             // why the list is not known or cannot be trusted, with what to do
  std::vector<std::string> notes;  // what else is worth knowing (e.g. why HAProxy's own list was not used)
  // The running HAProxy's environment (`show env`), when the stats socket answered: where a
  // backend written as "${NAME}" leads (haproxy/routes.h). Values are never shown except a
  // variable a route uses.
  std::optional<std::map<std::string, std::string>> env;
  // nginx: a file's path as nginx includes it -> the file it resolves to (readlink -f), where they
  // differ (Debian's sites-enabled/app.conf -> ../sites-available/app.conf). A switch edits the
  // file itself, so the link stays as it is.
  std::map<std::string, std::string> real_paths;
};

// Whether HAProxy 2.6 loads a directory entry named `name` for `-f DIR` (src/haproxy.c,
// tried on the binary): the name does not start with '.', and its first ".cfg" ends it
// ("x.cfg.cfg" is skipped). Subdirectories are never loaded; the caller checks the type.
bool haproxy_loads_from_directory(std::string_view name);

// The files in the HAPROXY_CFGFILES line of an answer to `show env` ("HAPROXY_CFGFILES=a;b\n",
// alone or among the other variables). Errors: no such line (the answer is quoted when it is not
// a list of variables, e.g. "Unknown command" or "Permission denied").
bluegreen::Result<std::vector<std::string>> parse_cfgfiles_env(std::string_view reply);

// The variables of an answer to `show env` (NAME=VALUE lines); nullopt when it is not such a list.
std::optional<std::map<std::string, std::string>> parse_show_env(std::string_view reply);

// Why the files HAProxy loaded (`loaded`) disagree with the configured haproxyConfig entries
// (files or directories), or "" when every loaded file is a configured file or in a configured
// directory (directly) and every configured file was loaded.
std::string configured_list_problem(const std::vector<std::string>& loaded, const std::vector<std::string>& configured);

// The effective configuration's files for `app`, asked as the header says, within the LB's
// command timeout. Never fails: an unreachable LB or socket is a problem or a note.
ConfigFileList list_config_files(remote::Executor& executor, const config::AppConfig& app);

}  // namespace bluegreen::deployment
