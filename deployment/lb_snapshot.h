#pragma once
// One look at the load balancer over its SSH connection: the HAProxy config (and from it the
// colour HAProxy routes to) and the state file (Executor::read_files), and, when configured,
// HAProxy's runtime view of its servers (stats socket) and processes (master socket)
// (Executor::query_unix_socket). With SshExecutor nothing starts on the LB for this: the files
// come over SFTP and sshd forwards the sockets (cat and socat where the LB's sshd does not allow;
// then one `cat` command carries every other question too).
//
// HAProxy's config is the truth about which colour is live; the state file is the record. When
// the live colour cannot be determined, `live` is empty and `live_problem` says why: callers
// that change anything must refuse then, never guess.
//
// Thread-safety: read_lb_snapshot is reentrant.

#include "config/config.h"
#include "deployment/activity_record.h"
#include "deployment/change_time_cache.h"
#include "deployment/haproxy_files.h"
#include "deployment/own_activities.h"
#include "haproxy/config_file.h"
#include "haproxy/routes.h"
#include "haproxy/runtime_api.h"
#include "remote/executor.h"
#include "state/state_store.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::deployment {

enum class StateFileStatus { kOk, kMissing, kCorrupt, kUnreadable };

struct LbSnapshot {
  std::string unreachable;  // non-empty: the LB could not be reached; nothing else is known

  // HAProxy's effective configuration (deployment/haproxy_files.h): its files, in load order, and
  // the map files its map lookups name; empty when they could not all be read (live_problem says
  // why).
  ConfigFileList config_list;
  std::vector<haproxy::ConfigFile> config_files;
  std::map<std::string, std::string> map_texts;
  // Every entry point and route of the app in them (deployment/app_routing.h), once read.
  std::optional<haproxy::AppRoutes> routes;
  std::optional<state::Color> selected;  // the one colour every route selects
  // What HAProxy routes to: `selected`, once nothing says the running HAProxy may not run that
  // file (deployment/live_confirmation.h).
  std::optional<state::Color> live;
  std::string live_problem;  // why `live` is empty
  // Caddy (deployment/caddy_snapshot.h): the JSON of GET /config/, the configuration it runs; and,
  // when loadBalancer.caddyfile is its source of truth (then config_files holds that file), why the
  // file does not adapt to exactly that configuration ("" when it does): a restart or reload of
  // Caddy would change what it runs, so a switch is refused until they agree.
  std::string running_config;
  std::string source_problem;
  // Caddy: the colour its source file selects, which differs from `selected` (what runs) when the
  // file was changed and not loaded (an interrupted switch's swap); nullopt when not read or split.
  // Other kinds: nullopt (their files are what `selected` comes from).
  std::optional<state::Color> source_selects;

  // For telling whether the running HAProxy loaded the files: when one last changed (the latest of
  // their modification times and status-change times, which cp -p or touch -d cannot set back),
  // and the LB's clock (boot time from /proc/stat, seconds since boot from /proc/uptime), all in
  // seconds since the epoch or since boot, by the LB's own clock.
  std::optional<std::int64_t> config_modified_s;
  std::string config_modified_path;  // the file that changed last
  std::optional<std::int64_t> boot_time_s;
  std::optional<double> uptime_s;
  std::string clock_problem;  // why the LB's clock could not be read

  // The app's activity record (deployment/activity_record.h), when there is one, and whether its
  // lock is held now: true (another holder: in progress), false (free, or held by the caller: the
  // record is left over from an interrupted operation), nullopt (could not be asked).
  std::optional<Activity> activity;
  std::string activity_problem;  // an unreadable or unparsable record
  std::optional<bool> activity_running;
  std::string activity_running_problem;  // why activity_running is nullopt while there is a record

  StateFileStatus state_status = StateFileStatus::kUnreadable;
  std::optional<state::DeploymentState> state;
  std::string state_problem;

  std::optional<std::vector<haproxy::ServerStatus>> servers;  // with BACKEND rows
  std::string servers_problem;
  std::optional<haproxy::ProcessInfo> processes;
  std::string processes_problem;
  // The `show stat` rows of each old worker (processes->old_worker_pids) that answered, with
  // BACKEND rows (deployment/sessions.h); a worker that did not answer is named in the problem.
  std::vector<haproxy::ServerStatus> old_worker_servers;
  // The running HAProxy's entries of each map file that routes the app (`show map FILE` on the
  // stats socket), by path; a map that could not be asked is named in runtime_maps_problem.
  std::map<std::string, std::vector<haproxy::RuntimeMapEntry>> runtime_maps;
  std::string runtime_maps_problem;
  std::string old_workers_problem;

  [[nodiscard]] std::uint64_t generation() const { return state ? state->generation : 0; }
};

// `line` without leading and trailing blanks, for messages.
std::string trim_blanks(const std::string& line);

// Maps a backend name to its colour for `app`, if it is one of the two.
std::optional<state::Color> color_of_backend(const config::AppConfig& app, const std::string& backend);
const std::string& backend_of(const config::AppConfig& app, state::Color color);
// The app's servers of `color` (blue or green; pools.h says more about pools).
const config::Pool& pool_of(const config::AppConfig& app, state::Color color);

// Values for the placeholders of the LB's commands: {config}, {masterSocket}, {statsSocket}.
std::map<std::string, std::string> lb_placeholders(const config::AppConfig& app);

// The app's reload command with its placeholders filled in.
std::string lb_reload_command(const config::AppConfig& app);

// Runs `command` on the app's load balancer with its command deadline (load_balancer.commandTimeout,
// enforced on the LB too). The executor's result: an Error when the LB cannot be reached.
bluegreen::Result<remote::CommandResult> run_on_lb(remote::Executor& executor, const config::AppConfig& app,
                                                   const std::string& command);

// A remote command's output for a message: the last 1500 bytes of its stderr and stdout, its
// summary ("exit 1 in 12 ms") when it printed nothing, or the Error's message.
std::string command_output(const bluegreen::Result<remote::CommandResult>& result);

// Sends `command` (one line, e.g. "show proc") to one of HAProxy's runtime sockets on the app's
// load balancer and returns the reply: through Executor::query_unix_socket, so no process starts
// on the LB where its sshd forwards the socket. HAProxy answers at once, so the deadline is short
// (2 s at most); a silent or missing socket is an Error that says why.
bluegreen::Result<std::string> query_haproxy_socket(remote::Executor& executor, const config::AppConfig& app,
                                                    const std::string& socket_path, const std::string& command);

// How read_lb_snapshot looks.
struct SnapshotOptions {
  // Also ask the master socket (`show proc`): a switch needs it to verify its reload, and status
  // shows the master's pid, reloads and workers, or that it does not answer (a stopped or hung
  // master makes that query wait for its 2 s deadline).
  bool with_processes = true;
  // The caller holds the app's lock: an activity record found is then left over from an
  // interrupted operation (nothing else can be running), and the lock is not asked about.
  bool lock_is_ours = false;
  // Where the configs' status-change times are remembered (status); nullptr: always ask the LB
  // (deploys and switches, which act on the answer).
  ChangeTimeCache* change_times = nullptr;
  // The operations this server runs: an activity record of one of them (same app, start time and
  // server pid) is running without asking the LB. nullptr: always ask.
  const OwnActivities* own_activities = nullptr;
};

// Everything is read in one SFTP exchange (the config, the state file, the activity record,
// /proc/stat and /proc/uptime); then, unless options.change_times knows it for this very content
// and modification time, one short command reads the config's status-change time (`stat`; SFTP
// does not carry it); then the sockets are asked. Only when an activity record exists is one
// more command run (`flock -n` on the lock file: is its operation still running?).
//
// Where the LB has no SFTP, the files are read with `cat` in one command that also reads their
// status-change times and asks the lock (only where a record exists, unless the caller holds it),
// so a look starts one process on the LB; the sockets are still forwarded by sshd (socat, one
// process per socket, only where the LB's sshd refuses that too).
LbSnapshot read_lb_snapshot(remote::Executor& executor, const config::AppConfig& app, const state::StateStore& store,
                            SnapshotOptions options = {});

// The same for several apps on one load balancer (all `apps` share load_balancer.ssh), in one read
// of all their files: files and sockets that apps share are read once. `stores[i]` belongs to `apps[i]`.
std::vector<LbSnapshot> read_lb_snapshots(remote::Executor& executor, const std::vector<const config::AppConfig*>& apps,
                                          const std::vector<const state::StateStore*>& stores, SnapshotOptions options);

}  // namespace bluegreen::deployment
