#pragma once
// One look at the load balancer, in a single SSH round trip: the HAProxy config (and from it the
// colour HAProxy routes to), the state file, and, when configured, HAProxy's runtime view of its
// servers (stats socket) and processes (master socket).
//
// HAProxy's config is the truth about which colour is live; the state file is the record. When
// the live colour cannot be determined, `live` is empty and `live_problem` says why: callers
// that change anything must refuse then, never guess.
//
// Thread-safety: read_lb_snapshot is reentrant.

#include "config/config.h"
#include "haproxy/config_file.h"
#include "haproxy/runtime_api.h"
#include "remote/executor.h"
#include "state/state_store.h"

#include <optional>
#include <string>
#include <vector>

namespace deployment {

enum class StateFileStatus { kOk, kMissing, kCorrupt, kUnreadable };

struct LbSnapshot {
  std::string unreachable;  // non-empty: the LB could not be reached; nothing else is known

  std::optional<std::string> haproxy_text;
  std::optional<haproxy::LiveSelection> selection;
  std::optional<state::Color> live;  // what HAProxy routes to
  std::string live_problem;          // why `live` is empty

  StateFileStatus state_status = StateFileStatus::kUnreadable;
  std::optional<state::DeploymentState> state;
  std::string state_problem;

  std::optional<std::vector<haproxy::ServerStatus>> servers;  // with BACKEND rows
  std::string servers_problem;
  std::optional<haproxy::ProcessInfo> processes;
  std::string processes_problem;

  [[nodiscard]] std::uint64_t generation() const { return state ? state->generation : 0; }
};

// `line` without leading and trailing blanks, for messages.
std::string trim_blanks(const std::string& line);

// Maps a backend name to its colour for `app`, if it is one of the two.
std::optional<state::Color> color_of_backend(const config::AppConfig& app, const std::string& backend);
const std::string& backend_of(const config::AppConfig& app, state::Color color);
haproxy::Selector selector_of(const config::AppConfig& app);

// Shell text for `echo CMD | socat` against a runtime socket, with its own short timeout.
std::string socket_command(const std::string& socket_path, const std::string& command);

// `with_processes`: also ask the master socket (`show proc`), which a switch needs to verify its
// reload; status leaves it out (each socket round trip costs a few milliseconds on the LB).
LbSnapshot read_lb_snapshot(remote::Executor& executor, const config::AppConfig& app, const state::StateStore& store,
                            bool with_processes = true);

// The same for several apps on one load balancer (all `apps` share load_balancer.ssh), still in
// one round trip: files and sockets that apps share are read once. `stores[i]` belongs to `apps[i]`.
std::vector<LbSnapshot> read_lb_snapshots(remote::Executor& executor, const std::vector<const config::AppConfig*>& apps,
                                          const std::vector<const state::StateStore*>& stores, bool with_processes);

}  // namespace deployment
