#pragma once
// The activity record: a small JSON file on the load balancer, beside the app's lock file
// (`<lockFile>.activity`), saying what a deploy or switch of the app is doing right now. It is
// written under the app's lock when the operation starts (a switch: before its config swap; a
// deploy: at each step) and removed when the operation ends, whatever the outcome.
//
// Why a file: the lock (flock, remote/executor.h HeldProcess) ends with the server that holds it,
// but what that server was doing must outlive it. A record whose lock is free belongs to a server
// that died (or lost its connection) in the middle: an interrupted switch (the HAProxy config may
// be swapped and not reloaded: nothing may trust the file until it is resolved) or an interrupted
// deploy (the standby may be half deployed). A record whose lock is held is an operation in
// progress, which status shows (which step, since when, by whom).
//
// Thread-safety: value types and pure functions.

#include "config/config.h"
#include "state/deployment_state.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::deployment {

enum class ActivityKind { kDeploy, kSwitch };

struct Activity {
  ActivityKind kind = ActivityKind::kDeploy;
  std::string app;
  std::string client;           // clientInfo.name of the MCP client that asked
  std::string since;            // when the operation started (UTC ISO 8601, state::utc_timestamp())
  std::int64_t server_pid = 0;  // bluegreen-mcp's pid, on the machine it runs on
  std::string step;             // the step running now, e.g. "step 3/6: install"
  std::string step_since;       // when that step started
  // A deploy: the colour deployed to and the git ref. A switch: from and to (`color` is `to`).
  state::Color color = state::Color::kBlue;
  state::Color from = state::Color::kBlue;
  std::string ref;
  std::uint64_t generation = 0;       // a switch: the state file's generation it started from
  std::optional<int> reloads_before;  // a switch: HAProxy's reload counter before its reload
  int master_pid = 0;                 // a switch: the pid of HAProxy's master then (0: not known)
  // A switch: the HAProxy configuration and map files it changes (each one's backup is beside it);
  // empty in records written before there could be several: loadBalancer.haproxyConfig's first.
  std::vector<std::string> config_files;
  // The record of an interrupted operation that this one replaced (its JSON text), kept so it is
  // not lost: a switch that finds an interrupted deploy's record carries it until the state
  // file records that deploy.
  std::string replaced;

  [[nodiscard]] nlohmann::json to_json() const;
  // One line for people: "switch BLUE → GREEN by claude-code since 2026-...; at step 3/6: ...".
  [[nodiscard]] std::string describe() const;
};

// The HAProxy files a switch's record says it changes: Activity::config_files, or for older
// records loadBalancer.haproxyConfig's first file.
std::vector<std::string> switched_config_files(const config::AppConfig& app, const Activity& activity);

// Parses a record as written by Activity::to_json(). Error (kFailed) naming what is wrong.
bluegreen::Result<Activity> parse_activity(const std::string& text);

// `<lockFile>.activity` on the app's load balancer.
std::string activity_path(const config::AppConfig& app);

// Replaces the record atomically (a new temp file in the same directory, then rename(2), which
// replaces a symlink itself and never writes through it). Exit 0: written;
// state::kSymlinkRefusedExit: the record is a symbolic link (stderr says so); other: not written.
std::string write_activity_script(const config::AppConfig& app, const Activity& activity);

// Removes the record (no error when there is none).
std::string remove_activity_script(const config::AppConfig& app);

// Asks whether the app's lock is held right now, without waiting and without taking it for
// longer than the test: `flock -n` on the lock file, only when the activity record exists (the
// answer matters only then). Exit kLockFreeExit: free (nobody holds it; the test held it for an
// instant), or there is no record; kLockHeldExit: held by another process; other: unknown.
inline constexpr int kLockFreeExit = 0;
inline constexpr int kLockHeldExit = 75;
std::string lock_held_script(const config::AppConfig& app);

}  // namespace bluegreen::deployment
