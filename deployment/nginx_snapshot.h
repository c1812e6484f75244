#pragma once
// The nginx half of a look at a load balancer (lb_snapshot.h, for apps whose loadBalancer.type is
// nginx): which files nginx loads and what they say about the app's routing, whether the running
// nginx loaded them, and its master and workers. Two commands run at once over the LB's SSH
// connection:
//  - `nginx -T -c <nginxConfig>`: every file nginx loads, as it would load them now
//    (nginx/config_dump.h); its exit status says whether they pass `nginx -t`;
//  - a short script reading /proc (the master from pidFile, its children's titles and start times,
//    the LB's uptime and clock tick) and `stat` of each file the dump names (sizes to cut the
//    dump exactly, modification and status-change times).
// The routes found (nginx/routes.h) are put in the snapshot's haproxy::AppRoutes shape (an entry
// point per `server` block, a route per proxy_pass), and the processes in haproxy::ProcessInfo's
// (the master, current workers, old workers still finishing connections, and how long the oldest
// current worker has run), so the rest of the deployment layer (live confirmation, SPLIT ROUTING,
// status) reads nginx as it reads HAProxy. nginx counts no reloads: ProcessInfo::reloads is 0.
//
// Thread-safety: reentrant.

#include "config/config.h"
#include "deployment/lb_snapshot.h"
#include "nginx/routes.h"
#include "remote/executor.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// What the /proc and stat script printed (nginx_listing_script).
struct NginxListing {
  std::optional<double> uptime_s;  // the LB's /proc/uptime
  long ticks_per_second = 0;       // getconf CLK_TCK
  std::optional<int> master_pid;   // from pidFile, when that process exists
  std::string master_command;      // its command line (title: "nginx: master process /usr/sbin/nginx -c F")
  std::string pid_file_text;       // what pidFile held ("-": nothing)
  struct Child {
    int pid = 0;
    std::uint64_t start_ticks = 0;  // /proc/PID/stat field 22: clock ticks after boot
    std::string title;              // its command line: "nginx: worker process", "... is shutting down"
  };
  std::vector<Child> children;
  struct File {
    std::string path;
    std::size_t size = 0;
    std::int64_t modified_s = 0;  // mtime, s since the epoch
    std::int64_t changed_s = 0;   // ctime
  };
  std::vector<File> files;
  std::map<std::string, std::string> real_paths;  // a path as nginx includes it -> readlink -f, where they differ
};

// `command` (nginx -t or -T) run so that it leaves no pid file behind: nginx's test mode creates
// the `pid` file when it is missing (an empty one, which a later `nginx -s reload` refuses as an
// invalid PID), so an empty pidFile is removed again when there was none, or an empty one, before
// (an empty one counts as none: two of these running side by side see each other's). Keeps the
// command's exit status.
std::string without_pid_file_side_effect(const config::AppConfig& app, const std::string& command);

// `nginx -T -c <nginxConfig>`, as run on the LB (without_pid_file_side_effect).
std::string nginx_dump_command(const config::AppConfig& app);

// The script, for `app` (its nginxConfig and pidFile). `with_files` false: /proc only (no
// `nginx -T`), to watch a reload.
std::string nginx_listing_script(const config::AppConfig& app, bool with_files = true);

// Parses the script's output. Lines it does not know are ignored; nothing fails.
NginxListing parse_nginx_listing(const std::string& text);

// haproxy::ProcessInfo from a listing: master_pid, current workers ("nginx: worker process"), old
// workers ("... is shutting down"), and current_worker_uptime_s: how long the OLDEST current
// worker has run (a worker nginx restarts after a crash runs the configuration the master loaded
// before, so only the oldest tells when it was loaded). nullopt without a master.
std::optional<haproxy::ProcessInfo> nginx_processes(const NginxListing& listing);

// The main configuration file the master runs with: its `-c` argument, else Debian's compiled-in
// /etc/nginx/nginx.conf; nullopt when the command line is not known.
std::optional<std::string> master_config_file(const NginxListing& listing);

// nginx/routes.h's result in the snapshot's shape: an entry point per `server` block ("server
// shop.example.test" or "server" when it has no server_name; binds = its listen addresses), a
// route per proxy_pass (kind kUseBackend, its context as the section, the upstream as the
// backend), unsupported lines as they are.
haproxy::AppRoutes as_app_routes(const nginx::AppRoutes& routes);

// nginx's counterpart of app_routing.h's interpret_routing: the app's routes in
// snapshot.config_files (nginx/routes.h) into snapshot.routes, and snapshot.selected or
// live_problem (lines that cannot be switched, no route, an undefined upstream, SPLIT ROUTING).
void interpret_nginx_routing(const config::AppConfig& app, LbSnapshot& snapshot);

// Fills snapshot's routing and process fields for an nginx app (config_files, routes, selected or
// live_problem, config_modified_s/path, processes or processes_problem) by running the two
// commands on its load balancer with its command deadline.
void read_nginx(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot);

}  // namespace bluegreen::deployment
