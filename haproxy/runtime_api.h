#pragma once
// Parsing what HAProxy's runtime API answers: `show stat` on the stats socket and `show proc` on
// the master socket (master-worker mode).
//
// Formats are those of HAProxy 2.6 (Debian 12), captured from a real instance; see
// tests/unit/haproxy_fixtures/. `show stat` columns are found by name from the header line, so
// the columns later versions add or reorder do not break the parser.
//
// Thread-safety: pure functions and value types.

#include "common/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::haproxy {

// One row of `show stat`: a server, or with StatRows::servers_and_backends also a backend's
// aggregate row (server == "BACKEND").
struct ServerStatus {
  std::string backend;  // pxname
  std::string server;   // svname
  // As HAProxy reports it: "UP", "DOWN", "MAINT", "DRAIN", "NOLB", "no check", and transitions
  // such as "UP 1/2" (up, one failed check of the two that would mark it down) or "DOWN 1/2".
  std::string status;
  std::string check_status;        // e.g. "L7OK", "L4CON", "L7STS"; empty when the server is not checked
  long long current_sessions = 0;  // scur
  long long total_sessions = 0;    // stot
};

enum class StatRows {
  servers_only,          // what traffic can reach: one row per server
  servers_and_backends,  // also each backend's aggregate row (server == "BACKEND"), whose status
                         // says whether the backend as a whole can serve
};

// Parses the CSV answer to `show stat`. The header line (`# pxname,svname,...`) must be present
// and name pxname, svname, status, check_status, scur and stot; fields quoted by HAProxy's CSV
// encoder are unquoted. FRONTEND rows are always skipped; BACKEND rows unless asked for.
// Errors: no header (the answer is quoted, e.g. "Permission denied" or "Unknown command"), a
// required column missing, a row too short or a session count that is not a number.
bluegreen::Result<std::vector<ServerStatus>> parse_show_stat(std::string_view csv,
                                                             StatRows rows = StatRows::servers_only);

// What the master CLI's `show proc` says about the processes of a master-worker HAProxy.
struct ProcessInfo {
  int master_pid = 0;
  int reloads = 0;                       // reloads the master has performed, failed ones included
  int failed_reloads = 0;                // of those, how many did not start a new worker (e.g. invalid config)
  std::vector<int> current_worker_pids;  // "# workers": serving with the newest loaded config
  std::vector<int> old_worker_pids;      // "# old workers": finishing connections from before a reload
  // How long the current workers have run, in whole seconds (the `<uptime>` column, "0d00h05m12s";
  // the youngest when there are several): they started with the config loaded at the last
  // successful reload. Unset when no current worker reports a readable uptime.
  std::optional<std::int64_t> current_worker_uptime_s;
};

// "1d02h03m04s" (HAProxy's `show proc` uptime) in seconds; nullopt for any other text.
std::optional<std::int64_t> parse_proc_uptime(std::string_view text);

// Parses the answer to `show proc`. External programs ("# programs") are ignored.
// Errors: no `#<PID>` header (the answer is quoted), no master row, or a row whose pid or reload
// count is not a number.
bluegreen::Result<ProcessInfo> parse_show_proc(std::string_view text);

// One entry of a map as the running HAProxy holds it.
struct RuntimeMapEntry {
  std::string key;
  std::string value;
};

// Parses the answer to `show map <file>` on the stats socket (HAProxy 2.6: one "<id> <key>
// <value>" line per entry, the id a pointer such as 0x55d0c2f0a1b0; then an empty line).
// Errors: any other answer, quoted (e.g. "Unknown map identifier. Please use #<id> or <file>."
// when HAProxy has not loaded that file as a map).
bluegreen::Result<std::vector<RuntimeMapEntry>> parse_show_map(std::string_view text);

// The version number in the answer to `prepare map <file>` ("New version created: 3").
// Errors: any other answer, quoted.
bluegreen::Result<unsigned long long> parse_prepare_map(std::string_view text);

// The request that fills version `version` of map `file` with `entries` and commits it, as one
// socket request: `add map @V FILE <<` with one "key value" line per entry and the empty line
// that ends the payload, then `commit map @V FILE` (HAProxy >= 2.4; tried on 2.6). The running
// map then holds exactly `entries`, atomically for requests. Keys and values must not contain
// line breaks or blanks (the caller's entries come from a map file: parse_map in routes.h). The
// request does not end in a line break: the socket query adds the one that ends the last command
// (an empty line after it would be a command of its own, which HAProxy answers with its help).
std::string add_and_commit_map_request(const std::string& file, unsigned long long version,
                                       const std::vector<RuntimeMapEntry>& entries);

// Whether the reply to add_and_commit_map_request reports success: HAProxy answers each command
// with an empty line when it succeeds and with a message when not. "" on success (an empty line
// for each of the two commands), else HAProxy's message, quoted, or, for a reply that ends before
// both commands are answered (empty, or one empty line), that the commit is not confirmed.
std::string map_commit_problem(std::string_view reply);

}  // namespace bluegreen::haproxy
