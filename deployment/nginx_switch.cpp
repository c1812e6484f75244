#include "deployment/nginx_switch.h"

#include "common/text.h"
#include "deployment/app_routing.h"
#include "deployment/nginx_snapshot.h"
#include "nginx/config_dump.h"
#include "nginx/config_parse.h"
#include "nginx/routes.h"
#include "remote/shell_command.h"

#include <algorithm>

namespace bluegreen::deployment {
namespace {

using std::chrono::milliseconds;

std::vector<nginx::ConfigFile> nginx_files(const std::vector<haproxy::ConfigFile>& files) {
  std::vector<nginx::ConfigFile> out;
  for (const auto& file : files) out.push_back({file.path, file.text});
  return out;
}

std::string listing_problem(const bluegreen::Result<remote::CommandResult>& ran) {
  if (!ran) return ran.error().message;
  return ran->summary() + (ran->err.tail.empty() ? "" : ": " + bluegreen::tail_of(ran->err.tail, 400));
}

}  // namespace

bluegreen::Result<ConfigChange> plan_nginx_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                  state::Color to) {
  const auto& lb = app.load_balancer;
  if (!snapshot.routes || snapshot.config_files.empty()) {
    return bluegreen::Error{"nginx's configuration was not read: " + snapshot.live_problem};
  }
  const auto files = nginx_files(snapshot.config_files);
  const auto routes = nginx::find_routes(files, {lb.blue_backend, lb.green_backend});
  auto changes = nginx::rewrite_routes(files, routes, backend_of(app, to));
  if (!changes) return changes.error();
  if (changes->empty()) {
    return bluegreen::Error{"every route of app " + app.name + " already selects " + state::to_upper_string(to)};
  }
  ConfigChange out;
  for (const auto& file : snapshot.config_files) out.files.push_back(file.path);
  for (auto& change : *changes) {
    FileEdit edit;
    const auto real = snapshot.config_list.real_paths.find(change.path);
    edit.file = real == snapshot.config_list.real_paths.end() ? change.path : real->second;
    edit.before = std::move(change.before);
    edit.after = std::move(change.after);
    for (const auto number : change.lines) {
      std::string context;
      for (const auto& route : routes.routes) {
        if (route.file == change.path && route.line_number == number) context = route.context;
      }
      edit.lines.push_back(LineChange{number, context, bluegreen::line_text(edit.before, number),
                                      bluegreen::line_text(edit.after, number)});
    }
    out.edits.push_back(std::move(edit));
  }
  return out;
}

std::optional<std::vector<int>> nginx_current_workers(Services& services, const config::AppConfig& app) {
  const auto ran = run_on_lb(services.executor, app, nginx_listing_script(app, false));
  if (!ran || !ran->succeeded()) return std::nullopt;
  const auto processes = nginx_processes(parse_nginx_listing(ran->out.tail));
  if (!processes) return std::nullopt;
  return processes->current_worker_pids;
}

std::string wait_for_nginx_reload(Services& services, const config::AppConfig& app, const std::vector<int>& before,
                                  std::chrono::steady_clock::time_point deadline, const std::stop_token& stop,
                                  bool& cancelled, std::string& seen) {
  std::string last;
  while (services.time.now() < deadline) {
    if (stop.stop_requested()) {
      cancelled = true;
      return "the switch was cancelled while waiting for nginx's new workers" + (last.empty() ? "" : " (" + last + ")");
    }
    const auto ran = run_on_lb(services.executor, app, nginx_listing_script(app, false));
    const auto processes = ran && ran->succeeded() ? nginx_processes(parse_nginx_listing(ran->out.tail)) : std::nullopt;
    if (processes) {
      const auto& now = processes->current_worker_pids;
      const bool old_left = std::any_of(now.begin(), now.end(), [&](int pid) {
        return std::find(before.begin(), before.end(), pid) != before.end();
      });
      if (!now.empty() && !old_left) {
        seen = "nginx master " + std::to_string(processes->master_pid) + " runs new workers (" +
               std::to_string(now.front()) + (now.size() > 1 ? ", ..." : "") + ")";
        return "";
      }
      last =
          now.empty() ? "no current worker" : "worker " + std::to_string(now.front()) + " is still the one from before";
    } else {
      last = ran && ran->succeeded() ? "no nginx master runs with the pid in " + app.load_balancer.pid_file
                                     : listing_problem(ran);
    }
    (void)services.time.sleep_for(milliseconds(20), stop);
  }
  return "nginx did not start new workers after the reload (" + last +
         "): its master rejected the new configuration, or it was not reloaded; nginx's error log says which";
}

std::string nginx_routing_mismatch(Services& services, const config::AppConfig& app, state::Color expected) {
  const auto& lb = app.load_balancer;
  remote::CommandOptions options;
  options.deadline = lb.command_timeout;
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  options.host_timeout = false;
  const auto dump = services.executor.run(lb.ssh, nginx_dump_command(app), options);
  if (!dump || !dump->succeeded()) return "`nginx -T` fails now: " + listing_problem(dump);
  auto files = nginx::split_config_dump(dump->out.tail);
  if (!files) return files.error().message;
  const auto routes = nginx::find_routes(*files, {lb.blue_backend, lb.green_backend});
  if (routes.entry_points.empty()) return "no server block routes to the app any more";
  std::string wrong;
  for (const auto& route : routes.routes) {
    if (route.app_upstream != backend_of(app, expected)) {
      wrong +=
          (wrong.empty() ? "" : "; ") + route.file + ":" + std::to_string(route.line_number) + " `" + route.line + "`";
    }
  }
  return wrong.empty() ? "" : "still routing to " + state::to_upper_string(state::other(expected)) + ": " + wrong;
}

}  // namespace bluegreen::deployment
