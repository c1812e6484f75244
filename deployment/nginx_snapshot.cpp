#include "deployment/nginx_snapshot.h"

#include "common/text.h"
#include "deployment/app_routing.h"
#include "nginx/config_dump.h"
#include "nginx/config_parse.h"
#include "remote/shell_command.h"

#include <algorithm>
#include <cctype>
#include <future>
#include <map>
#include <sstream>

namespace bluegreen::deployment {
namespace {

constexpr std::size_t kDumpCap = std::size_t{8} * 1024 * 1024;

// nginx compares upstream names without regard to case.
bool same_name(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string file_list(const LbSnapshot& snapshot) {
  std::string files;
  for (const auto& file : snapshot.config_files) files += (files.empty() ? "" : ", ") + file.path;
  return files;
}

// `nginx -T` and the listing script, at once.
struct NginxReads {
  bluegreen::Result<remote::CommandResult> dump = bluegreen::Error("not run");
  bluegreen::Result<remote::CommandResult> listing = bluegreen::Error("not run");
};

NginxReads run_reads(remote::Executor& executor, const config::AppConfig& app) {
  const auto& lb = app.load_balancer;
  remote::CommandOptions options;
  options.deadline = lb.command_timeout;
  options.output_cap_bytes = kDumpCap;
  options.host_timeout = false;  // both end by themselves
  const std::string dump_command = nginx_dump_command(app);
  auto listing = std::async(std::launch::async, [&executor, &lb, options, script = nginx_listing_script(app)] {
    return executor.run(lb.ssh, script, options);
  });
  NginxReads reads;
  reads.dump = executor.run(lb.ssh, dump_command, options);
  reads.listing = listing.get();
  return reads;
}

// The dump's files, cut exactly by the listing's sizes when it has one for every file (else at
// the header lines); "" or why they could not be read.
std::string take_files(const remote::CommandResult& dump, const NginxListing& listing, LbSnapshot& snapshot) {
  std::map<std::string, std::size_t> sizes;
  for (const auto& file : listing.files) sizes[file.path] = file.size;
  auto files = nginx::split_config_dump(dump.out.tail, sizes);
  if (!files && !sizes.empty()) files = nginx::split_config_dump(dump.out.tail);
  if (!files) return files.error().message;
  for (auto& file : *files) snapshot.config_files.push_back({std::move(file.path), std::move(file.text)});
  snapshot.config_list.real_paths = listing.real_paths;
  for (const auto& file : listing.files) {
    const auto latest = std::max(file.modified_s, file.changed_s);
    if (!snapshot.config_modified_s || latest > *snapshot.config_modified_s) {
      snapshot.config_modified_s = latest;
      snapshot.config_modified_path = file.path;
    }
  }
  return "";
}

}  // namespace

std::string without_pid_file_side_effect(const config::AppConfig& app, const std::string& command) {
  return "pidf=" + remote::shell_quote(app.load_balancer.pid_file) + "; [ -s \"$pidf\" ] || nopid=1; " + command +
         "\nrc=$?; if [ -n \"$nopid\" ] && [ -f \"$pidf\" ] && [ ! -s \"$pidf\" ]; then rm -f -- \"$pidf\"; fi; exit "
         "$rc";
}

std::string nginx_dump_command(const config::AppConfig& app) {
  return without_pid_file_side_effect(app, "PATH=$PATH:/usr/sbin:/sbin; nginx -T -c " +
                                               remote::shell_quote(app.load_balancer.nginx_config));
}

std::optional<std::string> master_config_file(const NginxListing& listing) {
  if (listing.master_command.empty()) return std::nullopt;
  std::istringstream words(listing.master_command);
  std::string word;
  while (words >> word) {
    if (word == "-c" && (words >> word)) return word;
    if (word.rfind("-c", 0) == 0 && word.size() > 2) return word.substr(2);
  }
  return std::string("/etc/nginx/nginx.conf");
}

std::string nginx_listing_script(const config::AppConfig& app, bool with_files) {
  const auto& lb = app.load_balancer;
  // /proc/PID/task/*/children needs CONFIG_PROC_CHILDREN (Debian's kernels have it); ps otherwise.
  std::string script =
      "LC_ALL=C; export LC_ALL; PATH=$PATH:/usr/sbin:/sbin\n"
      "conf=" +
      remote::shell_quote(lb.nginx_config) + "; pidf=" + remote::shell_quote(lb.pid_file) + "\n" +
      R"SH(read -r up _ </proc/uptime && echo "uptime $up"
echo "ticks $(getconf CLK_TCK)"
m=$(cat -- "$pidf" 2>/dev/null | head -n 1)
echo "pidfile ${m:--}"
case $m in ''|*[!0-9]*) ;; *)
  if [ -r "/proc/$m/stat" ] && [ "$(cat /proc/$m/comm 2>/dev/null)" = nginx ]; then
    echo "master $m"
    echo "mastercmd $(tr '\0' ' ' <"/proc/$m/cmdline" 2>/dev/null)"
    if [ -e "/proc/$m/task/$m/children" ]; then kids=$(cat /proc/$m/task/*/children 2>/dev/null)
    else kids=$(ps -o pid= --ppid "$m" 2>/dev/null); fi
    for c in $kids; do
      s=$(cut -d' ' -f22 "/proc/$c/stat" 2>/dev/null) || continue
      echo "child $c $s $(tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null)"
    done
  fi;;
esac
)SH" +
      std::string(
          with_files
              ? R"SH(nginx -T -c "$conf" 2>/dev/null | sed -n 's/^# configuration file \(.*\):$/\1/p' | while IFS= read -r f; do
  stat -L -c 'file %s %Y %Z %n' -- "$f" 2>/dev/null
  r=$(readlink -f -- "$f" 2>/dev/null) && [ "$r" != "$f" ] && printf 'real %s\t%s\n' "$f" "$r"
done
true
)SH"
              : "");
  // Its nginx -T runs beside nginx_dump_command's, so both go through the one guard.
  return with_files ? without_pid_file_side_effect(app, script) : script;
}

NginxListing parse_nginx_listing(const std::string& text) {
  NginxListing listing;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string kind;
    words >> kind;
    if (kind == "uptime") {
      double up = 0;
      if (words >> up) listing.uptime_s = up;
    } else if (kind == "ticks") {
      words >> listing.ticks_per_second;
    } else if (kind == "pidfile") {
      words >> listing.pid_file_text;
    } else if (kind == "mastercmd") {
      std::getline(words >> std::ws, listing.master_command);
      listing.master_command = bluegreen::trim_trailing(listing.master_command);
    } else if (kind == "master") {
      int pid = 0;
      if (words >> pid) listing.master_pid = pid;
    } else if (kind == "child") {
      NginxListing::Child child;
      if (!(words >> child.pid >> child.start_ticks)) continue;
      std::getline(words >> std::ws, child.title);
      child.title = bluegreen::trim_trailing(child.title);
      listing.children.push_back(std::move(child));
    } else if (kind == "real") {
      std::string rest;
      std::getline(words >> std::ws, rest);
      if (const auto tab = rest.find('\t'); tab != std::string::npos) {
        listing.real_paths[rest.substr(0, tab)] = rest.substr(tab + 1);
      }
    } else if (kind == "file") {
      NginxListing::File file;
      if (!(words >> file.size >> file.modified_s >> file.changed_s)) continue;
      std::getline(words >> std::ws, file.path);
      listing.files.push_back(std::move(file));
    }
  }
  return listing;
}

std::optional<haproxy::ProcessInfo> nginx_processes(const NginxListing& listing) {
  if (!listing.master_pid) return std::nullopt;
  haproxy::ProcessInfo info;
  info.master_pid = *listing.master_pid;
  std::optional<std::uint64_t> oldest;
  for (const auto& child : listing.children) {
    if (child.title.find("worker process") == std::string::npos) continue;  // cache manager, loader
    if (child.title.find("is shutting down") != std::string::npos) {
      info.old_worker_pids.push_back(child.pid);
      continue;
    }
    info.current_worker_pids.push_back(child.pid);
    if (!oldest || child.start_ticks < *oldest) oldest = child.start_ticks;
  }
  if (oldest && listing.uptime_s && listing.ticks_per_second > 0) {
    const double started = static_cast<double>(*oldest) / static_cast<double>(listing.ticks_per_second);
    if (*listing.uptime_s >= started) {
      info.current_worker_uptime_s = static_cast<std::int64_t>(*listing.uptime_s - started);
    }
  }
  return info;
}

haproxy::AppRoutes as_app_routes(const nginx::AppRoutes& routes) {
  haproxy::AppRoutes out;
  for (const auto& route : routes.routes) {
    haproxy::Route r;
    r.kind = haproxy::RouteKind::kUseBackend;
    r.file = route.file;
    r.line_number = route.line_number;
    r.line = route.line;
    r.section = route.context;
    r.backend = route.app_upstream;
    out.routes.push_back(std::move(r));
  }
  for (const auto& entry : routes.entry_points) {
    haproxy::EntryPoint e;
    e.section = entry.server_names.empty() ? "server" : "server " + entry.server_names.front();
    e.file = entry.file;
    e.line_number = entry.line_number;
    e.binds = entry.listens;
    e.routes = entry.routes;
    out.entry_points.push_back(std::move(e));
  }
  for (const auto& line : routes.unsupported)
    out.unsupported.push_back({line.file, line.line_number, line.line, line.why});
  for (const auto& upstream : routes.upstreams) out.backends.push_back(upstream.name);
  return out;
}

void interpret_nginx_routing(const config::AppConfig& app, LbSnapshot& snapshot) {
  const auto& lb = app.load_balancer;
  std::vector<nginx::ConfigFile> files;
  for (const auto& file : snapshot.config_files) files.push_back({file.path, file.text});
  const auto found = nginx::find_routes(files, {lb.blue_backend, lb.green_backend});
  snapshot.routes = as_app_routes(found);
  const auto& routes = *snapshot.routes;
  if (!found.problems.empty()) {
    snapshot.live_problem = "cannot read nginx's configuration: " + found.problems.front();
    return;
  }
  if (!routes.unsupported.empty()) {
    snapshot.live_problem =
        "nginx's configuration routes to app " + app.name + " in ways bluegreen-mcp cannot switch safely:";
    for (const auto& line : routes.unsupported) {
      snapshot.live_problem +=
          "\n  - " + line.file + ":" + std::to_string(line.line_number) + " `" + line.line + "`: " + line.why;
    }
    return;
  }
  if (routes.entry_points.empty()) {
    snapshot.live_problem = "no proxy_pass in nginx's configuration names the blue upstream \"" + lb.blue_backend +
                            "\" or the green upstream \"" + lb.green_backend + "\" configured for app " + app.name +
                            " (files nginx loads: " + file_list(snapshot) +
                            "). Check loadBalancer.backends and loadBalancer.nginxConfig";
    return;
  }
  for (const auto& route : routes.routes) {
    const bool defined = std::any_of(found.upstreams.begin(), found.upstreams.end(),
                                     [&](const nginx::Upstream& u) { return same_name(u.name, route.backend); });
    if (!defined) {
      snapshot.live_problem = route_location(route) + " `" + route.line + "` names upstream \"" + route.backend +
                              "\", which no file nginx loads defines, so nginx resolves it as a host name. "
                              "Define the upstream or correct the line, then ask for status again";
      return;
    }
  }
  select_colour(app, routes, snapshot);
}

void read_nginx(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot) {
  const auto& lb = app.load_balancer;
  snapshot.config_list.paths = {lb.nginx_config};
  snapshot.config_list.source = "nginx -T";
  const auto reads = run_reads(executor, app);
  const auto listing =
      reads.listing && reads.listing->succeeded() ? parse_nginx_listing(reads.listing->out.tail) : NginxListing{};
  if (auto processes = nginx_processes(listing)) {
    snapshot.processes = std::move(processes);
  } else {
    snapshot.processes_problem = !reads.listing ? "cannot read nginx's processes: " + reads.listing.error().message
                                                : "no nginx master runs with the pid in " + lb.pid_file +
                                                      " (it holds \"" + listing.pid_file_text +
                                                      "\"): nginx is not running, or loadBalancer.pidFile is not "
                                                      "where it writes its pid (the `pid` directive of " +
                                                      lb.nginx_config + ")";
  }
  if (!reads.dump) {
    snapshot.live_problem = "cannot ask nginx for its configuration on " + lb.ssh + ": " + reads.dump.error().message;
    return;
  }
  if (const auto running = master_config_file(listing); running && *running != lb.nginx_config) {
    snapshot.live_problem = "the running nginx master (pid " + std::to_string(*listing.master_pid) + ") runs " +
                            *running + " (\"" + listing.master_command + "\"), but loadBalancer.nginxConfig is " +
                            lb.nginx_config +
                            ": what it routes cannot be read from the files configured, so no colour is called "
                            "live. Set nginxConfig to " +
                            *running + ", or restart nginx with -c " + lb.nginx_config;
    return;
  }
  if (!reads.dump->succeeded()) {
    snapshot.live_problem = "`nginx -T -c " + lb.nginx_config + "` fails on " + lb.ssh + " (" + reads.dump->summary() +
                            "): " + bluegreen::tail_of(reads.dump->err.tail, 1500) +
                            "\nThe configuration on disk does not pass nginx's own check, so what nginx would load "
                            "is unknown; the running nginx keeps what it loaded before. Fix the files (nginx -t), "
                            "then ask for status again";
    return;
  }
  if (auto why = take_files(*reads.dump, listing, snapshot); !why.empty()) {
    snapshot.live_problem = why;
    return;
  }
  interpret_nginx_routing(app, snapshot);
}

}  // namespace bluegreen::deployment
