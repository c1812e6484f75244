#include "deployment/lb_snapshot.h"

#include "common/text.h"
#include "deployment/app_routing.h"
#include "deployment/lb_kind.h"
#include "deployment/live_confirmation.h"
#include "deployment/sessions.h"
#include "haproxy/config_lines.h"

#include "remote/shell_command.h"

#include <algorithm>
#include <future>
#include <map>
#include <sstream>

#include <unistd.h>

namespace bluegreen::deployment {
namespace {

// What one socket query gave: the reply, or why there is none.
struct SocketRead {
  std::string output;
  bool ok = false;
};

// The answers to the lock questions that rode along with the files, by question; empty when they
// did not run (the files came over SFTP).
using LockAnswers = std::map<std::string, remote::CommandResult>;

// HAProxy answers on its sockets in well under a millisecond. A socket silent this long (a stopped
// or overloaded HAProxy) is reported instead of holding the whole read; socat, used before, gave
// up 2 s after sending the request too.
constexpr std::chrono::milliseconds kSocketDeadline{2000};

// The start of a problem text (the first lines say what is wrong), for a message.
std::string trimmed(std::string text) {
  text = bluegreen::trim_trailing(std::move(text));
  return text.size() > 400 ? text.substr(0, 400) + "..." : text;
}

}  // namespace

std::string trim_blanks(const std::string& line) { return haproxy::trimmed_line(line); }

std::optional<state::Color> color_of_backend(const config::AppConfig& app, const std::string& backend) {
  if (backend == app.load_balancer.blue_backend) return state::Color::kBlue;
  if (backend == app.load_balancer.green_backend) return state::Color::kGreen;
  return std::nullopt;
}

const config::Pool& pool_of(const config::AppConfig& app, state::Color color) {
  return color == state::Color::kBlue ? app.blue : app.green;
}

const std::string& backend_of(const config::AppConfig& app, state::Color color) {
  return color == state::Color::kBlue ? app.load_balancer.blue_backend : app.load_balancer.green_backend;
}

std::map<std::string, std::string> lb_placeholders(const config::AppConfig& app) {
  return lb_kind(app).placeholders(app.load_balancer);
}

std::string lb_reload_command(const config::AppConfig& app) {
  return remote::substitute_placeholders(app.load_balancer.reload_command, lb_placeholders(app));
}

bluegreen::Result<remote::CommandResult> run_on_lb(remote::Executor& executor, const config::AppConfig& app,
                                                   const std::string& command) {
  remote::CommandOptions options;
  options.deadline = app.load_balancer.command_timeout;
  return executor.run(app.load_balancer.ssh, command, options);
}

std::string command_output(const bluegreen::Result<remote::CommandResult>& result) {
  if (!result) return result.error().message;
  std::string text = bluegreen::tail_of(result->err.tail + result->out.tail, 1500);
  return text.empty() ? result->summary() : text;
}

bluegreen::Result<std::string> query_haproxy_socket(remote::Executor& executor, const config::AppConfig& app,
                                                    const std::string& socket_path, const std::string& command) {
  remote::CommandOptions options;
  options.deadline = std::min(app.load_balancer.command_timeout, kSocketDeadline);
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto reply = executor.query_unix_socket(app.load_balancer.ssh, socket_path, command + "\n", options);
  if (!reply) return reply.error();
  return std::move(reply->text);
}

namespace {

constexpr const char* kProcStat = "/proc/stat";
constexpr const char* kProcUptime = "/proc/uptime";

void read_clock(const std::map<std::string, remote::FileRead>& files, LbSnapshot& snapshot) {
  const auto& stat = files.at(kProcStat);
  const auto& uptime = files.at(kProcUptime);
  snapshot.boot_time_s = parse_boot_time(stat.content);
  snapshot.uptime_s = parse_uptime(uptime.content);
  if (!snapshot.boot_time_s || !snapshot.uptime_s) {
    const auto& failed = snapshot.boot_time_s ? uptime : stat;
    snapshot.clock_problem =
        std::string("cannot read the load balancer's clock from ") + (snapshot.boot_time_s ? kProcUptime : kProcStat) +
        ": " +
        (failed.missing ? "No such file or directory"
                        : (failed.problem.empty() ? "not in the expected form" : trimmed(failed.problem)));
  }
}

void read_activity(const remote::FileRead& file, LbSnapshot& snapshot) {
  if (file.missing) return;
  if (!file.problem.empty()) {
    snapshot.activity_problem = "cannot read the activity record: " + trimmed(file.problem);
    return;
  }
  auto activity = parse_activity(file.content);
  if (!activity) {
    snapshot.activity_problem = activity.error().message;
    return;
  }
  snapshot.activity = std::move(activity.value());
}

// Each path's status-change time (s since the epoch, following a link as the reads do); a path
// that cannot be stat'ed is left out.
std::map<std::string, std::int64_t> read_change_times(remote::Executor& executor, const std::string& host,
                                                      const std::vector<std::string>& paths,
                                                      std::chrono::milliseconds timeout) {
  std::string script = "for f in";
  for (const auto& path : paths) script += " " + remote::shell_quote(path);
  script += "; do stat -L -c %Z -- \"$f\" 2>/dev/null || echo -; done";
  remote::CommandOptions options;
  options.deadline = timeout;
  options.host_timeout = false;  // stat ends by itself
  const auto ran = executor.run(host, script, options);
  std::map<std::string, std::int64_t> times;
  if (!ran || !ran->succeeded()) return times;
  std::istringstream lines(ran->out.tail);
  std::string line;
  for (const auto& path : paths) {
    if (!std::getline(lines, line)) break;
    if (!line.empty() && line.size() <= 18 && line.find_first_not_of("0123456789") == std::string::npos) {
      times[path] = std::stoll(line);
    }
  }
  return times;
}

// Is the operation of an activity record still running (its lock held by someone)? The answer that
// rode along with the files (no SFTP), else one short command on the LB, only when there is a
// record.
void ask_whether_running(remote::Executor& executor, const config::AppConfig& app, const LockAnswers& answers,
                         LbSnapshot& snapshot) {
  const std::string question = lock_held_script(app);
  bluegreen::Result<remote::CommandResult> asked = bluegreen::Error{"not asked"};
  if (const auto answer = answers.find(question); answer != answers.end()) {
    asked = answer->second;
  } else {
    remote::CommandOptions options;
    options.deadline = app.load_balancer.command_timeout;
    options.host_timeout = false;  // flock -n never waits
    asked = executor.run(app.load_balancer.ssh, question, options);
  }
  if (asked && asked->exit_status == kLockHeldExit) {
    snapshot.activity_running = true;
  } else if (asked && asked->exit_status == kLockFreeExit) {
    snapshot.activity_running = false;
  } else if (asked) {
    snapshot.activity_running_problem = "asking the lock (flock -n on " + app.load_balancer.lock_file +
                                        ") ended with " + asked->summary() +
                                        (asked->err.tail.empty() ? "" : ": " + asked->err.tail);
  } else {
    snapshot.activity_running_problem = "asking the lock failed: " + asked.error().message;
  }
}

// Whether the operation of the app's activity record (if any) is running: known without asking
// when the caller holds the lock or the record is this server's own running operation.
void find_whether_running(remote::Executor& executor, const config::AppConfig& app, const SnapshotOptions& options,
                          const LockAnswers& answers, LbSnapshot& snapshot) {
  if (!snapshot.activity) return;
  if (options.lock_is_ours) {
    snapshot.activity_running = false;
  } else if (options.own_activities && snapshot.activity->server_pid == ::getpid() &&
             options.own_activities->contains(app.name, snapshot.activity->since)) {
    snapshot.activity_running = true;  // this server's own operation, running now
  } else {
    ask_whether_running(executor, app, answers, snapshot);
  }
}

// The app's HAProxy files as read (all of them, or live_problem says which could not be), and
// what they say about its routing.
void read_routing(const config::AppConfig& app, const std::map<std::string, remote::FileRead>& files,
                  LbSnapshot& snapshot) {
  const auto& lb = app.load_balancer;
  if (!snapshot.config_list.problem.empty()) {
    snapshot.live_problem = "cannot tell which files HAProxy loads on " + lb.ssh + ": " + snapshot.config_list.problem;
    return;
  }
  // A map file changes on every map switch without a reload (its entries are set at run time),
  // so it does not count as configuration HAProxy has not loaded; its entries are compared with
  // HAProxy's running map instead.
  const auto take = [&](const std::string& path, bool is_map) -> const remote::FileRead* {
    const auto& file = files.at(path);
    if (file.missing || !file.problem.empty()) {
      snapshot.live_problem = "cannot read the HAProxy file " + path + " on " + lb.ssh + ": " +
                              (file.missing ? std::string("No such file or directory") : trimmed(file.problem));
      if (file.missing && !is_map && snapshot.config_list.source.rfind("HAProxy", 0) == 0) {
        snapshot.live_problem += ". The running HAProxy loaded it at its last reload, so it runs a configuration "
                                 "that is no longer on disk: put the file back, or, if removing it was intended, "
                                 "check the rest with haproxy -c and reload HAProxy; then ask for status again";
      }
      return nullptr;
    }
    if (!is_map && file.modified_epoch_s &&
        (!snapshot.config_modified_s || *file.modified_epoch_s > *snapshot.config_modified_s)) {
      snapshot.config_modified_s = file.modified_epoch_s;
      snapshot.config_modified_path = path;
    }
    return &file;
  };
  for (const auto& path : snapshot.config_list.paths) {
    const auto* file = take(path, false);
    if (file == nullptr) return;
    snapshot.config_files.push_back(haproxy::ConfigFile{path, file->content});
  }
  for (const auto& lookup : haproxy::find_routes(snapshot.config_files, {}).map_lookups) {
    if (files.count(lookup.map) == 0 || snapshot.map_texts.count(lookup.map) != 0) continue;
    const auto* map = take(lookup.map, true);
    if (map == nullptr) return;
    snapshot.map_texts[lookup.map] = map->content;
  }
  interpret_routing(app, snapshot);
}

// Interprets what was read for one app.
LbSnapshot interpret(const config::AppConfig& app, const state::StateStore& store, bool with_processes,
                     const std::map<std::string, remote::FileRead>& files, std::map<std::string, SocketRead>& sockets,
                     ConfigFileList config_list) {
  const auto& lb = app.load_balancer;
  LbSnapshot snapshot;
  snapshot.config_list = std::move(config_list);

  // HAProxy's routing: the truth (other kinds read theirs in LbKind::read_truth).
  if (lb_kind(app).files_read_with_state()) read_routing(app, files, snapshot);

  // The state file: the record.
  const auto& state_file = files.at(lb.state_file);
  if (!state_file.problem.empty()) {
    snapshot.state_status = StateFileStatus::kUnreadable;
    snapshot.state_problem = "cannot read the state file " + lb.state_file + ": " + trimmed(state_file.problem);
  } else if (auto parsed = state_file.missing ? bluegreen::Result<std::optional<state::DeploymentState>>(std::nullopt)
                                              : store.parse_read(state_file.content);
             !parsed) {
    snapshot.state_status = StateFileStatus::kCorrupt;
    snapshot.state_problem = parsed.error().message;
  } else if (!parsed->has_value()) {
    snapshot.state_status = StateFileStatus::kMissing;
    snapshot.state_problem = "there is no state file " + lb.state_file +
                             " yet; the next deploy or switch creates it from what " + config::product_name(lb.type) +
                             " routes to";
  } else {
    snapshot.state_status = StateFileStatus::kOk;
    snapshot.state = std::move(**parsed);
  }

  read_clock(files, snapshot);
  read_activity(files.at(activity_path(app)), snapshot);

  if (lb.stats_socket) {
    const auto& stats = sockets["stats:" + *lb.stats_socket];
    auto servers = haproxy::parse_show_stat(stats.output, haproxy::StatRows::servers_and_backends);
    if (stats.ok && servers) {
      snapshot.servers = std::move(servers.value());
    } else {
      snapshot.servers_problem = "cannot read HAProxy's stats socket " + *lb.stats_socket + ": " +
                                 (servers ? trimmed(stats.output) : servers.error().message);
    }
  }
  if (lb.master_socket && with_processes) {
    const auto& proc = sockets["proc:" + *lb.master_socket];
    auto processes = haproxy::parse_show_proc(proc.output);
    if (proc.ok && processes) {
      snapshot.processes = processes.value();
    } else {
      snapshot.processes_problem = "cannot read HAProxy's master socket " + *lb.master_socket + ": " +
                                   (processes ? trimmed(proc.output) : processes.error().message);
    }
  }
  return snapshot;
}

}  // namespace

namespace {

// What one look at a load balancer reads for `apps`: each distinct file once, each distinct socket
// asked once, however many apps share them. `lock_questions` ride along with the files where they
// are read with a command (no SFTP), so that look starts one process on the LB.
struct LbReads {
  std::vector<std::string> paths;
  std::map<std::string, std::pair<std::string, std::string>> queries;  // name -> (socket, command)
  std::vector<std::string> configs;                                    // for their status-change times
  std::vector<std::string> lock_questions;  // lock_held_script of each app whose lock is not the caller's
  std::chrono::milliseconds timeout{0};
};

LbReads plan_reads(const std::vector<const config::AppConfig*>& apps, const SnapshotOptions& options,
                   const std::vector<ConfigFileList>& lists) {
  LbReads reads;
  const auto add = [&](std::vector<std::string>& into, const std::string& path) {
    if (std::find(into.begin(), into.end(), path) == into.end()) into.push_back(path);
  };
  reads.timeout = apps.front()->load_balancer.command_timeout;
  for (std::size_t i = 0; i < apps.size(); ++i) {
    const auto* app = apps[i];
    const auto& lb = app->load_balancer;
    for (const auto& path : lists[i].paths) {
      add(reads.paths, path);
      add(reads.configs, path);
    }
    add(reads.paths, lb.state_file);
    add(reads.paths, activity_path(*app));
    if (!options.lock_is_ours) add(reads.lock_questions, lock_held_script(*app));
    if (lb.stats_socket) reads.queries.emplace("stats:" + *lb.stats_socket, std::pair(*lb.stats_socket, "show stat"));
    if (lb.master_socket && options.with_processes) {
      reads.queries.emplace("proc:" + *lb.master_socket, std::pair(*lb.master_socket, "show proc"));
    }
    reads.timeout = std::max(reads.timeout, lb.command_timeout);
  }
  add(reads.paths, kProcStat);
  add(reads.paths, kProcUptime);
  return reads;
}

// The configs' status-change times (ctime): a modification time can be set into the past (cp -p,
// touch -d, rsync -a, tar), a status-change time cannot. `cat` reads it with the file; SFTP does
// not carry it, so then it takes one short command, unless `cache` knows it for the content and
// modification time just read.
std::map<std::string, std::int64_t> change_times_of(remote::Executor& executor, const std::string& host,
                                                    const LbReads& reads,
                                                    const std::map<std::string, remote::FileRead>& files,
                                                    ChangeTimeCache* cache) {
  std::map<std::string, std::int64_t> times;
  std::vector<std::string> unknown;
  for (const auto& path : reads.configs) {
    const auto& file = files.at(path);
    if (file.missing || !file.problem.empty()) continue;
    if (file.changed_epoch_s) {
      if (cache) cache->store(host, path, file.content, file.modified_epoch_s, *file.changed_epoch_s);
      times[path] = *file.changed_epoch_s;
      continue;
    }
    const auto known = cache ? cache->find(host, path, file.content, file.modified_epoch_s) : std::nullopt;
    if (known) times[path] = *known;
    else unknown.push_back(path);
  }
  if (unknown.empty()) return times;
  for (auto& [path, ctime] : read_change_times(executor, host, unknown, reads.timeout)) {
    const auto& file = files.at(path);
    if (cache) cache->store(host, path, file.content, file.modified_epoch_s, ctime);
    times[path] = ctime;
  }
  return times;
}

// The effective configuration's files of each app (apps with the same haproxyConfig and stats
// socket share one list).
std::vector<ConfigFileList> config_lists(remote::Executor& executor,
                                         const std::vector<const config::AppConfig*>& apps) {
  std::map<std::pair<std::vector<std::string>, std::string>, ConfigFileList> known;
  std::vector<ConfigFileList> lists;
  for (const auto* app : apps) {
    const auto& lb = app->load_balancer;
    if (!lb_kind(*app).files_read_with_state()) {  // nginx: `nginx -T` lists its files (nginx_snapshot.h)
      lists.emplace_back();
      continue;
    }
    const auto key = std::pair(lb.haproxy_configs, lb.stats_socket.value_or(""));
    auto found = known.find(key);
    if (found == known.end()) found = known.emplace(key, list_config_files(executor, *app)).first;
    lists.push_back(found->second);
  }
  return lists;
}

// Reads the map files the apps' configs look backends up in (a second read, only where there are
// map lookups) into `files`. Returns why the LB could not be read, or "".
std::string read_maps(remote::Executor& executor, const std::string& host, const std::vector<ConfigFileList>& lists,
                      const LbReads& reads, std::map<std::string, remote::FileRead>& files) {
  std::vector<std::string> maps;
  for (const auto& list : lists) {
    std::vector<haproxy::ConfigFile> configs;
    for (const auto& path : list.paths) {
      if (const auto& file = files.at(path); !file.missing && file.problem.empty()) {
        configs.push_back({path, file.content});
      }
    }
    for (const auto& lookup : haproxy::find_routes(configs, {}).map_lookups) {
      if (files.count(lookup.map) == 0 && std::find(maps.begin(), maps.end(), lookup.map) == maps.end()) {
        maps.push_back(lookup.map);
      }
    }
  }
  if (maps.empty()) return "";
  remote::CommandOptions options;
  options.deadline = reads.timeout;
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto read = executor.read_files(host, maps, options);
  if (!read) return read.error().message;
  if (read->size() != maps.size()) return "reading the map files on " + host + " returned too few results";
  for (std::size_t i = 0; i < maps.size(); ++i) {
    files.emplace(maps[i], std::move(read.value()[i]));
  }
  return "";
}

// The latest status-change time of the snapshot's HAProxy files counts as their change too.
void apply_change_times(const std::map<std::string, std::int64_t>& change_times, LbSnapshot& snapshot) {
  if (!snapshot.config_modified_s) return;
  const auto consider = [&](const std::string& path) {
    const auto ctime = change_times.find(path);
    if (ctime != change_times.end() && ctime->second > *snapshot.config_modified_s) {
      snapshot.config_modified_s = ctime->second;
      snapshot.config_modified_path = path;
    }
  };
  for (const auto& file : snapshot.config_files) consider(file.path);
}

std::vector<LbSnapshot> unreachable_snapshots(std::size_t count, const std::string& why) {
  std::vector<LbSnapshot> snapshots(count);
  for (auto& snapshot : snapshots) {
    snapshot.unreachable = why;
    snapshot.live_problem = "the load balancer cannot be reached, so which colour is live is unknown: " + why;
    snapshot.state_problem = snapshot.live_problem;
  }
  return snapshots;
}

}  // namespace

std::vector<LbSnapshot> read_lb_snapshots(remote::Executor& executor, const std::vector<const config::AppConfig*>& apps,
                                          const std::vector<const state::StateStore*>& stores,
                                          SnapshotOptions options) {
  if (apps.empty()) return {};
  const auto& first = apps.front()->load_balancer;
  const auto lists = config_lists(executor, apps);
  auto reads = plan_reads(apps, options, lists);

  // Over SSH without starting anything on the LB for the files (SFTP) and the sockets (forwarded
  // by sshd; the executor falls back to cat and socat where the LB's sshd does not allow that).
  // Where the files are read with cat, the lock questions run in the same process.
  remote::CommandOptions read_options;
  read_options.deadline = reads.timeout;
  read_options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  remote::Piggyback piggyback;
  piggyback.commands = reads.lock_questions;
  auto read = executor.read_files(first.ssh, reads.paths, read_options, &piggyback);
  if (read && (read->size() != reads.paths.size() ||
               (piggyback.ran && piggyback.results.size() != reads.lock_questions.size()))) {
    read = bluegreen::Error{"reading files on " + first.ssh + " returned " + std::to_string(read->size()) +
                            " results for " + std::to_string(reads.paths.size()) + " files and " +
                            std::to_string(piggyback.results.size()) + " answers for " +
                            std::to_string(reads.lock_questions.size()) + " commands"};
  }
  if (!read) return unreachable_snapshots(apps.size(), read.error().message);
  std::map<std::string, remote::FileRead> files;
  for (std::size_t i = 0; i < reads.paths.size(); ++i) files.emplace(reads.paths[i], std::move(read.value()[i]));
  LockAnswers lock_answers;
  for (std::size_t i = 0; piggyback.ran && i < reads.lock_questions.size(); ++i) {
    lock_answers.emplace(reads.lock_questions[i], std::move(piggyback.results[i]));
  }
  if (auto maps = read_maps(executor, first.ssh, lists, reads, files); !maps.empty()) {
    return unreachable_snapshots(apps.size(), maps);
  }
  const auto change_times = change_times_of(executor, first.ssh, reads, files, options.change_times);

  std::map<std::string, SocketRead> sockets;
  for (const auto& [name, query] : reads.queries) {
    auto reply = query_haproxy_socket(executor, *apps.front(), query.first, query.second);
    sockets[name] = reply ? SocketRead{std::move(reply.value()), true} : SocketRead{reply.error().message, false};
  }

  std::vector<LbSnapshot> snapshots;
  for (std::size_t i = 0; i < apps.size(); ++i) {
    auto snapshot = interpret(*apps[i], *stores[i], options.with_processes, files, sockets, lists[i]);
    lb_kind(*apps[i]).read_truth(executor, *apps[i], snapshot);
    apply_change_times(change_times, snapshot);
    read_old_worker_sessions(executor, *apps[i], snapshot);
    read_runtime_maps(executor, *apps[i], snapshot);
    find_whether_running(executor, *apps[i], options, lock_answers, snapshot);
    confirm_live(*apps[i], snapshot);
    snapshots.push_back(std::move(snapshot));
  }
  return snapshots;
}

LbSnapshot read_lb_snapshot(remote::Executor& executor, const config::AppConfig& app, const state::StateStore& store,
                            SnapshotOptions options) {
  return std::move(read_lb_snapshots(executor, {&app}, {&store}, options).front());
}

}  // namespace bluegreen::deployment
