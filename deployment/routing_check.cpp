#include "deployment/routing_check.h"

#include "deployment/config_change.h"
#include "deployment/frontend_check.h"
#include "deployment/haproxy_files.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_snapshot.h"
#include "deployment/map_switch.h"
#include "deployment/nginx_switch.h"

#include <algorithm>
#include <vector>

namespace bluegreen::deployment {
namespace {

using std::chrono::milliseconds;

// One step of the verification: ok, or a failure (with cancelled set when `stop` cut it short).
struct Finding {
  bool ok = false;
  bool cancelled = false;
  std::string text;
};

Finding wait_for_reload(Services& services, const config::AppConfig& app, std::optional<int> reloads_before,
                        TimeSource::TimePoint deadline, const std::stop_token& stop) {
  const auto& lb = app.load_balancer;
  if (!reloads_before) {
    // The reload count before was unknown, so a reload cannot be confirmed; the master must at
    // least answer, or HAProxy is not in a state anyone should call verified.
    auto info = master_processes(services, app);
    if (!info)
      return {false, false,
              "HAProxy's master socket " + *lb.master_socket + " does not answer (" + info.error().message + ")"};
    return {true, false, ""};
  }
  std::string last;
  while (services.time.now() < deadline) {
    if (stop.stop_requested()) {
      return {false, true,
              "the switch was cancelled while waiting for HAProxy to report the reload" +
                  (last.empty() ? std::string() : " (" + last + ")")};
    }
    auto info = master_processes(services, app);
    if (info && info->reloads > *reloads_before) {
      if (info->current_worker_pids.empty()) {
        return {false, false, "HAProxy's reload #" + std::to_string(info->reloads) + " left no worker running"};
      }
      return {true, false,
              "master reports reload #" + std::to_string(info->reloads) + ", workers " +
                  std::to_string(info->current_worker_pids.front())};
    }
    // The socket refuses briefly after a reload: keep looking until the deadline.
    last = info ? "reload count still " + std::to_string(info->reloads) : info.error().message;
    (void)services.time.sleep_for(milliseconds(10), stop);
  }
  return {false, false, "HAProxy did not report a completed reload (" + last + ")"};
}

Finding config_file_selects(Services& services, const config::AppConfig& app, const RoutingExpectation& expected) {
  auto paths = expected.files;
  if (paths.empty()) {
    auto list = list_config_files(services.executor, app);
    if (!list.problem.empty()) return {false, false, "cannot tell which files HAProxy loads: " + list.problem};
    paths = std::move(list.paths);
  }
  const std::size_t config_count = paths.size();
  if (expected.change) {
    for (const auto& edit : expected.change->edits) {
      if (edit.is_map) paths.push_back(edit.file);
    }
  }
  remote::CommandOptions options;
  options.deadline = app.load_balancer.command_timeout;
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto read = services.executor.read_files(app.load_balancer.ssh, paths, options);
  if (!read || read->size() != paths.size()) {
    return {false, false,
            "cannot re-read HAProxy's configuration: " + (read ? "too few results" : read.error().message)};
  }
  std::vector<haproxy::ConfigFile> files;
  std::map<std::string, std::string> maps;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const auto& file = (*read)[i];
    if (file.missing || !file.problem.empty()) {
      return {false, false,
              "cannot re-read " + paths[i] + ": " + (file.missing ? "No such file or directory" : file.problem)};
    }
    if (i >= config_count) maps[paths[i]] = file.content;
    else files.push_back({paths[i], file.content});
  }
  // Maps the configuration looks backends up in, not read yet (a switch of config files only, or
  // the recovery of an interrupted switch): one more read.
  std::vector<std::string> more;
  for (const auto& lookup : haproxy::find_routes(files, {}).map_lookups) {
    if (maps.count(lookup.map) == 0 && std::find(more.begin(), more.end(), lookup.map) == more.end()) {
      more.push_back(lookup.map);
    }
  }
  if (!more.empty()) {
    auto extra = services.executor.read_files(app.load_balancer.ssh, more, options);
    if (!extra || extra->size() != more.size()) {
      return {false, false, "cannot re-read HAProxy's maps: " + (extra ? "too few results" : extra.error().message)};
    }
    for (std::size_t i = 0; i < more.size(); ++i) {
      if (!(*extra)[i].missing && (*extra)[i].problem.empty()) maps[more[i]] = (*extra)[i].content;
    }
  }
  if (const auto wrong = routing_mismatch(app, files, maps, expected.color); !wrong.empty()) {
    return {false, false,
            "HAProxy's configuration does not route app " + app.name + " to " + state::to_upper_string(expected.color) +
                " after the switch: " + wrong};
  }
  return {true, false, "every route of the app selects " + state::to_upper_string(expected.color)};
}

// Three answers in a row from `expected` through the frontend. New connections reach the new
// workers within milliseconds of a reload; a few seconds is generous.
Finding frontend_serves(Services& services, const config::AppConfig& app, const std::string& url,
                        const RoutingExpectation& expected, const std::stop_token& stop) {
  const auto deadline = services.time.now() + (expected.frontend_advisory ? milliseconds(2000) : milliseconds(5000));
  int streak = 0;
  remote::HealthReport last;
  // An app whose health JSON names no colour is told by commit or version: the hosts' own
  // answers, asked once.
  std::optional<std::pair<remote::HealthReport, remote::HealthReport>> hosts;
  while (streak < 3 && services.time.now() < deadline && !stop.stop_requested()) {
    last = services.probe(url, app.health_gate.request_timeout);
    if (last.healthy() && !(last.color && state::parse_color(*last.color)) && !hosts) {
      hosts.emplace(services.probe(app.blue.front().health_url, app.health_gate.request_timeout),
                    services.probe(app.green.front().health_url, app.health_gate.request_timeout));
    }
    const remote::HealthReport none;
    const bool right =
        identify_colour(last, hosts ? hosts->first : none, hosts ? hosts->second : none) == expected.color;
    streak = right ? streak + 1 : 0;
    if (streak < 3) (void)services.time.sleep_for(milliseconds(right ? 5 : 20), stop);
  }
  const std::string colour = state::to_upper_string(expected.color);
  if (streak >= 3) return {true, false, url + " answers from " + colour + " (" + last.summary() + ")"};
  const std::string problem = "requests through " + url + " do not reach " + colour + " (last: " + last.summary() +
                              (last.color ? ", colour " + *last.color : ", no colour reported") + ")";
  if (stop.stop_requested()) {  // a cancel wins, even in an emergency: the switch is rolled back
    return {false, true,
            "the switch was cancelled before requests through " + url + " were seen reaching " + colour +
                " (last: " + last.summary() + ")"};
  }
  // In an emergency the standby may fail HAProxy's checks too; HAProxy did switch (its master
  // confirmed the reload and the file selects the new colour), which is what was asked, so this
  // is reported rather than undone.
  if (expected.frontend_advisory) return {true, false, "⚠️ " + problem};
  return {false, false, problem};
}

}  // namespace

bluegreen::Result<std::string> read_lb_file(Services& services, const config::AppConfig& app, const std::string& path) {
  const auto& lb = app.load_balancer;
  remote::CommandOptions options;
  options.deadline = lb.command_timeout;
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto read = services.executor.read_files(lb.ssh, {path}, options);
  if (!read) return read.error();
  if (read->size() != 1) return bluegreen::Error{"no result"};
  if (read->front().missing) return bluegreen::Error{"No such file or directory"};
  if (!read->front().problem.empty()) return bluegreen::Error{read->front().problem};
  return std::move(read->front().content);
}

bluegreen::Result<haproxy::ProcessInfo> master_processes(Services& services, const config::AppConfig& app) {
  auto reply = query_haproxy_socket(services.executor, app, *app.load_balancer.master_socket, "show proc");
  if (!reply) return reply.error();
  return haproxy::parse_show_proc(*reply);
}

std::optional<int> current_reloads(Services& services, const config::AppConfig& app) {
  if (!app.load_balancer.master_socket) return std::nullopt;
  auto info = master_processes(services, app);
  return info ? std::optional<int>(info->reloads) : std::nullopt;
}

namespace {

// nginx: its new workers, then `nginx -T` routes every route to the expected colour.
Finding nginx_took(Services& services, const config::AppConfig& app, const RoutingExpectation& expected,
                   const std::stop_token& stop) {
  const auto& lb = app.load_balancer;
  const auto deadline = services.time.now() + std::max(milliseconds(10000), lb.command_timeout);
  bool cancelled = false;
  std::string seen;
  const auto failure = wait_for_nginx_reload(services, app, expected.workers_before.value_or(std::vector<int>{}),
                                             deadline, stop, cancelled, seen);
  if (!failure.empty()) return {false, cancelled, failure};
  if (const auto wrong = nginx_routing_mismatch(services, app, expected.color); !wrong.empty()) {
    return {false, false,
            "nginx's configuration does not route app " + app.name + " to " + state::to_upper_string(expected.color) +
                " after the switch: " + wrong};
  }
  return {true, false, seen + "; every route of the app selects " + state::to_upper_string(expected.color)};
}

}  // namespace

RoutingCheck verify_routing(Services& services, const config::AppConfig& app, const RoutingExpectation& expected,
                            const std::stop_token& stop) {
  return lb_kind(app).verify(services, app, expected, stop);
}

RoutingCheck verify_nginx_routing(Services& services, const config::AppConfig& app, const RoutingExpectation& expected,
                                  const std::stop_token& stop) {
  const auto took = nginx_took(services, app, expected, stop);
  if (!took.ok) return {false, took.cancelled, took.text};
  return verify_frontends(services, app, expected, stop, took.text);
}

RoutingCheck verify_frontends(Services& services, const config::AppConfig& app, const RoutingExpectation& expected,
                              const std::stop_token& stop, std::string seen) {
  RoutingCheck check{true, false, std::move(seen)};
  for (const auto& url : app.load_balancer.verify_urls) {
    const auto frontend = frontend_serves(services, app, url, expected, stop);
    if (!frontend.ok) return {false, frontend.cancelled, frontend.text};
    if (!frontend.text.empty()) check.detail += "; " + frontend.text;
  }
  return check;
}

RoutingCheck verify_haproxy_routing(Services& services, const config::AppConfig& app,
                                    const RoutingExpectation& expected, const std::stop_token& stop) {
  const auto& lb = app.load_balancer;
  std::vector<std::string> seen;
  const auto add = [&seen](const Finding& finding) {
    if (!finding.text.empty()) seen.push_back(finding.text);
  };
  if (expected.change && expected.change->map_only()) {
    for (const auto& edit : expected.change->edits) {
      if (const auto wrong =
              running_map_mismatch(services.executor, app, edit.file, edit.map_keys, backend_of(app, expected.color));
          !wrong.empty()) {
        return {false, false, wrong};
      }
      add({true, false,
           "HAProxy's running map " + edit.file + " routes to " + state::to_upper_string(expected.color) +
               " (no reload)"});
    }
  } else if (lb.master_socket) {
    const auto deadline = services.time.now() + std::max(milliseconds(10000), lb.command_timeout);
    const auto reload = wait_for_reload(services, app, expected.reloads_before, deadline, stop);
    if (!reload.ok) return {false, reload.cancelled, reload.text};
    add(reload);
  }
  const auto file = config_file_selects(services, app, expected);
  if (!file.ok) return {false, false, file.text};
  add(file);
  for (const auto& url : lb.verify_urls) {
    const auto frontend = frontend_serves(services, app, url, expected, stop);
    if (!frontend.ok) return {false, frontend.cancelled, frontend.text};
    add(frontend);
  }
  RoutingCheck check{true, false, ""};
  for (const auto& text : seen) check.detail += (check.detail.empty() ? "" : "; ") + text;
  return check;
}

}  // namespace bluegreen::deployment
