#include "deployment/status.h"

#include "deployment/app_routing.h"
#include "deployment/live_confirmation.h"
#include "deployment/standby_gate.h"

#include <algorithm>
#include <future>
#include <map>
#include <sstream>
#include <tuple>

namespace bluegreen::deployment {
namespace {

using nlohmann::json;
using state::Color;

void attach_haproxy_view(const config::AppConfig& app, const LbSnapshot& lb, HostStatus& host) {
  if (!lb.servers) return;
  const std::string& backend = backend_of(app, host.color);
  for (const auto& server : *lb.servers) {
    if (server.backend != backend) continue;
    if (server.server == "BACKEND") host.haproxy_backend_status = server.status;
    else host.haproxy_servers.push_back(server);
  }
}

std::string haproxy_view_text(const HostStatus& host) {
  if (host.haproxy_servers.empty()) return host.haproxy_backend_status;
  std::string text;
  for (const auto& server : host.haproxy_servers) {
    if (!text.empty()) text += ", ";
    text += server.server + " " + server.status + (server.check_status.empty() ? "" : " (" + server.check_status + ")");
  }
  return text;
}

json host_json(const HostStatus& host, bool is_prod) {
  const bool healthy = host.health.healthy();
  json j{{"server", state::to_upper_string(host.color)},
         {"ip", host.host->address},
         {"healthy", healthy},
         {"status", healthy ? (is_prod ? "✅ ONLINE" : "✅ READY") : "❌ DOWN (" + host.health.summary() + ")"},
         {"healthUrl", host.host->health_url},
         {"httpStatus", host.health.status},
         {"latencyMs", host.health.latency.count()},
         {"version", host.health.version ? json(*host.health.version) : json(nullptr)},
         {"reportedCommit", host.health.commit ? json(*host.health.commit) : json(nullptr)},
         {"deployedCommit", host.deployed_commit ? json(*host.deployed_commit) : json(nullptr)}};
  if (!host.git_problem.empty()) j["deployedCommitProblem"] = host.git_problem;
  if (host.sessions.known) {
    j["sessions"] = {{"open", host.sessions.open()},
                     {"current", host.sessions.current},
                     {"inOldWorkers", host.sessions.in_old_workers},
                     {"total", host.sessions.total},
                     {"drained", host.sessions.open() == 0 && host.sessions.old_workers_known}};
  }
  if (!host.haproxy_servers.empty() || !host.haproxy_backend_status.empty()) {
    json servers = json::array();
    for (const auto& s : host.haproxy_servers) {
      servers.push_back({{"name", s.server},
                         {"status", s.status},
                         {"check", s.check_status},
                         {"currentSessions", s.current_sessions},
                         {"totalSessions", s.total_sessions}});
    }
    j["haproxyView"] = {{"backendStatus", host.haproxy_backend_status}, {"servers", servers}};
  }
  return j;
}

}  // namespace

std::string short_commit(const std::string& commit) { return commit.substr(0, 8); }

namespace {

void fill_from(const bluegreen::Result<DeployedCommit>& commit, HostStatus& into) {
  if (!commit) {
    into.git_problem = commit.error().message;
    return;
  }
  into.deployed_commit = commit->hash;
  into.commit_date = commit->date;
  into.commit_subject = commit->subject;
}

}  // namespace

void fill_deployed_commit(Services& services, const config::HostConfig& host, std::chrono::milliseconds timeout,
                          HostStatus& into) {
  fill_from(read_deployed_commit(services.executor, *services.commits, host, timeout), into);
}

DeployedCommits read_deployed_commits_by_host(Services& services, const std::vector<const config::HostConfig*>& hosts,
                                              std::chrono::milliseconds timeout) {
  // One read per host, however many app directories it has; the hosts in parallel.
  std::map<std::string, std::vector<const config::HostConfig*>> by_ssh;
  for (const auto* host : hosts) {
    auto& dirs = by_ssh[host->ssh];
    const bool seen = std::any_of(dirs.begin(), dirs.end(), [&](const auto* d) { return d->app_dir == host->app_dir; });
    if (!seen) dirs.push_back(host);
  }
  std::vector<std::pair<const std::vector<const config::HostConfig*>*,
                        std::future<std::vector<bluegreen::Result<DeployedCommit>>>>>
      reads;
  for (const auto& [ssh, dirs] : by_ssh) {
    reads.emplace_back(&dirs, std::async(std::launch::async, [&services, &dirs = dirs, timeout] {
      return read_deployed_commits(services.executor, *services.commits, dirs, timeout);
    }));
  }
  DeployedCommits commits;
  for (auto& [dirs, future] : reads) {
    const auto results = future.get();
    for (std::size_t i = 0; i < dirs->size(); ++i) {
      fill_from(results[i], commits[{(*dirs)[i]->ssh, (*dirs)[i]->app_dir}]);
    }
  }
  return commits;
}

namespace {

// Drift and warnings, once everything about one app is known.
void assess(const config::AppConfig& app, StatusReport& report) {
  attach_haproxy_view(app, report.lb, report.blue);
  attach_haproxy_view(app, report.lb, report.green);
  report.blue.sessions = colour_sessions(app, report.lb, Color::kBlue);
  report.green.sessions = colour_sessions(app, report.lb, Color::kGreen);
  if (report.lb.live) {
    const auto& standby = report.host(state::other(*report.lb.live));
    if (standby.sessions.known && standby.sessions.open() > 0) {
      const auto stop_after = hard_stop_after(report.lb);
      report.warnings.push_back(
          "STANDBY " + state::to_upper_string(standby.color) +
          " is still draining: " + std::to_string(standby.sessions.open()) +
          " open sessions (long-lived connections from before the last switch). A deploy to it now would cut them; "
          "wait until status shows 0 open" +
          (stop_after.empty() ? std::string()
                              : " (HAProxy cuts what old workers still hold " + stop_after + " after a reload)") +
          ".");
    }
  }
  if (!report.lb.old_workers_problem.empty()) report.warnings.push_back(report.lb.old_workers_problem);

  // The running HAProxy contradicts its file: the file's colour is not what users get, so no
  // colour is presented as live.
  if (const auto mismatch = frontend_mismatch(app, report.lb, report.frontend); !mismatch.empty()) {
    report.lb.live.reset();
    report.lb.live_problem = mismatch;
  }
  // Drift: the record against the truth.
  const auto& lb_view = report.lb;
  if (lb_view.live && lb_view.state && lb_view.state->prod != *lb_view.live) {
    report.drift.push_back("The state file says PROD is " + state::to_upper_string(lb_view.state->prod) +
                           " but HAProxy routes to " + state::to_upper_string(*lb_view.live) +
                           ". HAProxy is what serves users, so " + state::to_upper_string(*lb_view.live) +
                           " is PROD. The next deploy or switch rewrites the state file from HAProxy's routing; if "
                           "someone edited HAProxy by hand, make sure that was intended.");
  }
  if (lb_view.live) {
    const auto& prod = report.host(*lb_view.live);
    if (!prod.haproxy_backend_status.empty() && prod.haproxy_backend_status.rfind("UP", 0) != 0) {
      report.drift.push_back("HAProxy's own health checks mark the live backend \"" + backend_of(app, *lb_view.live) +
                             "\" as " + prod.haproxy_backend_status + ": users may be getting errors. Check " +
                             state::to_upper_string(*lb_view.live) +
                             " now; if it cannot be fixed quickly, an emergency switch to " +
                             state::to_upper_string(state::other(*lb_view.live)) + " is the way back.");
    }
    if (!prod.health.healthy()) {
      report.warnings.push_back("PROD (" + state::to_upper_string(*lb_view.live) +
                                ") fails its health check: " + prod.health.summary());
    }
  }
  if (const auto deploy = interrupted_deploy_of(lb_view)) {
    report.drift.push_back("AN INTERRUPTED DEPLOY was found: " + deploy->describe() +
                           ". Its server stopped before it finished, so " + state::to_upper_string(deploy->color) +
                           " may be half deployed even if its health check passes. Deploy to it again "
                           "(deploy_to_standby); a switch to it is refused until a deploy succeeds (or is an "
                           "emergency).");
  }
  if (deploy_running_unknown(lb_view)) {
    report.drift.push_back("A DEPLOY RECORD was found (" + lb_view.activity->describe() +
                           ") and whether it is still running could not be checked (" +
                           lb_view.activity_running_problem + "), so " +
                           state::to_upper_string(lb_view.activity->color) +
                           " may be half deployed. Fix what stops the check; a switch to it is refused until then "
                           "(or is an emergency).");
  }
  if (!lb_view.activity_problem.empty()) report.warnings.push_back(lb_view.activity_problem);
  if (report.frontend && !report.frontend->indistinct.empty()) {
    report.warnings.push_back("switches are refused: " + report.frontend->indistinct);
  }
  if (app.load_balancer.master_socket && !lb_view.clock_problem.empty()) {
    report.warnings.push_back("whether HAProxy loaded its config file cannot be checked: " + lb_view.clock_problem);
  }
  if (!lb_view.servers_problem.empty()) report.warnings.push_back(lb_view.servers_problem);
  if (!lb_view.processes_problem.empty()) report.warnings.push_back(lb_view.processes_problem);
  for (const auto* host : {&report.blue, &report.green}) {
    if (!host->git_problem.empty()) report.warnings.push_back(host->git_problem);
  }
}

}  // namespace

std::vector<StatusReport> gather_status_all(Services& services, const std::vector<const config::AppConfig*>& apps) {
  // Everything at once, and everything shared read once: one SSH round trip per load balancer
  // (for all its apps), one git read per host (for all its app directories), one probe per health
  // URL.
  std::vector<state::StateStore> stores;
  for (const auto* app : apps) stores.push_back(store_for(services.executor, *app));

  std::map<std::string, std::vector<std::size_t>> by_lb;
  for (std::size_t i = 0; i < apps.size(); ++i) by_lb[apps[i]->load_balancer.ssh].push_back(i);
  std::vector<std::pair<std::vector<std::size_t>, std::future<std::vector<LbSnapshot>>>> lb_reads;
  for (const auto& [lb, indexes] : by_lb) {
    std::vector<const config::AppConfig*> group;
    std::vector<const state::StateStore*> group_stores;
    for (const auto i : indexes) {
      group.push_back(apps[i]);
      group_stores.push_back(&stores[i]);
    }
    lb_reads.emplace_back(indexes, std::async(std::launch::async, [&services, group, group_stores] {
                            return read_lb_snapshots(services.executor, group, group_stores,
                                                     SnapshotOptions{true, false, services.change_times.get(),
                                                                     services.own_activities.get()});
                          }));
  }

  std::map<std::string, std::future<remote::HealthReport>> probes;
  std::vector<const config::HostConfig*> app_hosts;
  std::chrono::milliseconds git_timeout{0};
  for (const auto* app : apps) {
    app_hosts.insert(app_hosts.end(), {&app->blue, &app->green});
    git_timeout = std::max(git_timeout, app->load_balancer.command_timeout);
    for (const auto* host : {&app->blue, &app->green}) {
      if (probes.count(host->health_url) == 0) {
        probes.emplace(host->health_url, std::async(std::launch::async, [&services, host, app] {
                         return services.probe(host->health_url, app->health_gate.request_timeout);
                       }));
      }
    }
    if (const auto& url = app->load_balancer.verify_url; url && probes.count(*url) == 0) {
      probes.emplace(*url, std::async(std::launch::async, [&services, url, app] {
        return services.probe(*url, app->health_gate.request_timeout);
      }));
    }
  }

  // While the LB reads and the probes run: each app host read once (its threads run in parallel).
  const auto git = read_deployed_commits_by_host(services, app_hosts, git_timeout);

  std::vector<StatusReport> reports(apps.size());
  for (auto& [indexes, future] : lb_reads) {
    auto snapshots = future.get();
    for (std::size_t k = 0; k < indexes.size(); ++k) reports[indexes[k]].lb = std::move(snapshots[k]);
  }
  std::map<std::string, remote::HealthReport> health;
  for (auto& [url, future] : probes) health.emplace(url, future.get());

  for (std::size_t i = 0; i < apps.size(); ++i) {
    const auto& app = *apps[i];
    auto& report = reports[i];
    report.app_name = app.name;
    for (auto [color, host_config, into] :
         {std::tuple{Color::kBlue, &app.blue, &report.blue}, std::tuple{Color::kGreen, &app.green, &report.green}}) {
      *into = git.at({host_config->ssh, host_config->app_dir});
      into->color = color;
      into->host = host_config;
      into->health = health.at(host_config->health_url);
    }
    if (const auto& url = app.load_balancer.verify_url) {
      report.frontend = settle_frontend(services, app, report.lb,
                                        frontend_view(*url, health.at(*url), health.at(app.blue.health_url),
                                                      health.at(app.green.health_url)));
    }
    assess(app, report);
  }
  return reports;
}

StatusReport gather_status(Services& services, const config::AppConfig& app) {
  return std::move(gather_status_all(services, {&app}).front());
}

namespace {

// HAProxy's files and the app's entry points, for status's JSON: haproxy.files[], filesFrom,
// backend (the one all routes select, or null), line/lineNumber (the first route's), and
// entryPoints[{section, file, line, binds[], serves (blue|green|null: its routes disagree),
// routes[{file, line, text, backend}]}].
void add_routing_json(const config::AppConfig& app, const LbSnapshot& lb, json& haproxy) {
  json files = json::array();
  for (const auto& file : lb.config_files) files.push_back(file.path);
  haproxy["files"] = files;
  haproxy["filesFrom"] = lb.config_list.source;
  haproxy["backend"] = lb.selected ? json(backend_of(app, *lb.selected)) : json(nullptr);
  json entries = json::array();
  if (lb.routes) {
    if (!lb.routes->routes.empty()) {
      haproxy["line"] = trim_blanks(lb.routes->routes.front().line);
      haproxy["lineNumber"] = lb.routes->routes.front().line_number;
    }
    for (const auto& entry : lb.routes->entry_points) {
      json routes = json::array();
      for (const auto index : entry.routes) {
        const auto& route = lb.routes->routes[index];
        routes.push_back({{"file", route.file},
                          {"line", route.line_number},
                          {"text", trim_blanks(route.line)},
                          {"backend", route.backend}});
      }
      const auto colour = entry_point_colour(app, *lb.routes, entry);
      entries.push_back({{"section", entry.section},
                         {"file", entry.file},
                         {"line", entry.line_number},
                         {"binds", entry.binds},
                         {"serves", colour ? json(state::to_string(*colour)) : json(nullptr)},
                         {"routes", routes}});
    }
  }
  haproxy["entryPoints"] = entries;
  if (!lb.config_list.notes.empty()) haproxy["notes"] = lb.config_list.notes;
}

// "  entry points (2): ..." lines for the text.
std::string routing_text(const config::AppConfig& app, const LbSnapshot& lb) {
  if (!lb.routes) return "";
  std::string text = "  Entry points (" + std::to_string(lb.routes->entry_points.size()) + "):\n";
  for (const auto& entry : lb.routes->entry_points) {
    text += "  - " + describe_entry_point(app, *lb.routes, entry) + "\n";
  }
  return text;
}

}  // namespace

json StatusReport::to_json(const config::AppConfig& app) const {
  json j{{"app", app_name}};
  j["liveColorKnown"] = lb.live.has_value();
  if (lb.live) {
    j["current"] = {{"prod", host_json(host(*lb.live), true)},
                    {"standby", host_json(host(state::other(*lb.live)), false)}};
  } else {
    j["current"] = nullptr;
    j["problem"] = lb.live_problem;
    j["hosts"] = {{"blue", host_json(blue, false)}, {"green", host_json(green, false)}};
  }
  json haproxy{{"config", app.load_balancer.haproxy_config}, {"host", app.load_balancer.ssh}};
  add_routing_json(app, lb, haproxy);
  haproxy["status"] = lb.live ? (drift.empty() ? "✅ OPERATIONAL" : "⚠️ OPERATIONAL WITH DRIFT") : "❌ UNKNOWN";
  if (lb.processes) {
    haproxy["masterPid"] = lb.processes->master_pid;
    haproxy["reloads"] = lb.processes->reloads;
    haproxy["workers"] = lb.processes->current_worker_pids;
    haproxy["oldWorkers"] = lb.processes->old_worker_pids;
  }
  if (frontend) {
    haproxy["frontend"] = {{"url", frontend->url},
                           {"answeredBy", frontend->color ? json(state::to_string(*frontend->color)) : json(nullptr)},
                           {"health", frontend->report.summary()}};
  }
  if (const auto stop_after = hard_stop_after(lb); !stop_after.empty()) haproxy["hardStopAfter"] = stop_after;
  if (app.load_balancer.stats_url) haproxy["statsUrl"] = *app.load_balancer.stats_url;
  if (app.load_balancer.public_url) haproxy["publicUrl"] = *app.load_balancer.public_url;
  j["haproxy"] = haproxy;

  json history{{"lastSwitch", nullptr}, {"totalSwitches", 0}, {"recent", json::array()}};
  json state_file{{"path", app.load_balancer.state_file}};
  switch (lb.state_status) {
    case StateFileStatus::kOk: state_file["status"] = "ok"; break;
    case StateFileStatus::kMissing: state_file["status"] = "missing"; break;
    case StateFileStatus::kCorrupt: state_file["status"] = "corrupt"; break;
    case StateFileStatus::kUnreadable: state_file["status"] = "unreadable"; break;
  }
  if (!lb.state_problem.empty()) state_file["problem"] = lb.state_problem;
  j["lastDeploy"] = nullptr;
  if (lb.state) {
    const auto& s = *lb.state;
    history["lastSwitch"] = s.last_switch ? json(*s.last_switch) : json(nullptr);
    history["totalSwitches"] = s.switch_count;
    for (std::size_t i = s.history.size() > 5 ? s.history.size() - 5 : 0; i < s.history.size(); ++i) {
      const auto& h = s.history[i];
      history["recent"].push_back({{"timestamp", h.timestamp},
                                   {"from", state::to_string(h.from)},
                                   {"to", state::to_string(h.to)},
                                   {"emergency", h.emergency}});
    }
    state_file["prod"] = state::to_string(s.prod);
    state_file["standby"] = state::to_string(s.standby());
    state_file["generation"] = s.generation;
    if (!s.deploys.empty()) {
      const auto& d = s.deploys.back();
      j["lastDeploy"] = {{"timestamp", d.timestamp},
                         {"color", state::to_string(d.color)},
                         {"ref", d.ref},
                         {"commit", d.commit},
                         {"outcome", d.outcome}};
    }
  }
  j["history"] = history;
  j["stateFile"] = state_file;
  j["activity"] = nullptr;
  if (lb.activity) {
    j["activity"] = lb.activity->to_json();
    j["activity"]["running"] = lb.activity_running ? json(*lb.activity_running) : json(nullptr);
    j["activity"]["interrupted"] = lb.activity_running == false && !switch_recorded(lb);
  }
  j["drift"] = drift;
  j["warnings"] = warnings;
  return j;
}

std::string StatusReport::to_text(const config::AppConfig& app) const {
  std::ostringstream out;
  const auto host_line = [](const std::string& role, const HostStatus& h, bool is_prod) {
    std::ostringstream line;
    line << role << state::to_upper_string(h.color) << " (" << h.host->address << ")  "
         << (h.health.healthy() ? (is_prod ? "✅ ONLINE" : "✅ READY") : "❌ DOWN: " + h.health.summary());
    if (h.health.version) line << "  version " << *h.health.version;
    if (h.deployed_commit) line << "  commit " << short_commit(*h.deployed_commit);
    if (!h.commit_subject.empty()) line << " \"" << h.commit_subject << "\"";
    const std::string view = haproxy_view_text(h);
    if (!view.empty()) line << "  [HAProxy: " << view << "]";
    if (h.sessions.known) line << "  sessions: " << sessions_text(h.sessions);
    return line.str();
  };

  out << "DEPLOYMENT STATUS: " << app_name << "\n\n";
  if (lb.activity && lb.activity_running == true && lb.activity->kind == ActivityKind::kDeploy) {
    out << "⏳ DEPLOY IN PROGRESS: " << lb.activity->describe() << "\n\n";
  }
  if (lb.live) {
    out << host_line("PROD:    ", host(*lb.live), true) << "\n";
    out << host_line("STANDBY: ", host(state::other(*lb.live)), false) << "\n\n";
    out << "HAProxy: routes to backend \"" << backend_of(app, *lb.live) << "\"  "
        << (drift.empty() ? "✅ OPERATIONAL" : "⚠️ OPERATIONAL WITH DRIFT") << "\n";
    out << routing_text(app, lb);
  } else {
    out << "❌ WHICH COLOUR IS LIVE IS UNKNOWN: " << lb.live_problem << "\n"
        << "Deploys and switches are refused until this is fixed (nothing is assumed).\n\n";
    out << host_line("BLUE:    ", blue, false) << "\n" << host_line("GREEN:   ", green, false) << "\n";
  }
  if (lb.processes) {
    out << "HAProxy processes: master " << lb.processes->master_pid << ", " << lb.processes->reloads << " reloads";
    if (!lb.processes->old_worker_pids.empty()) {
      out << ", " << lb.processes->old_worker_pids.size() << " old worker(s) finishing connections";
    }
    if (const auto stop_after = hard_stop_after(lb); !stop_after.empty())
      out << " (hard-stop-after " << stop_after << ")";
    out << "\n";
  }
  if (lb.state) {
    const auto& s = *lb.state;
    out << "State file: PROD=" << state::to_upper_string(s.prod) << ", " << s.switch_count << " switches, last switch "
        << s.last_switch.value_or("never") << " (generation " << s.generation << ")\n";
    if (!s.deploys.empty()) {
      const auto& d = s.deploys.back();
      out << "Last deploy: " << state::to_upper_string(d.color) << " ref " << d.ref
          << (d.commit.empty() ? "" : " commit " + short_commit(d.commit)) << " " << d.outcome << " at " << d.timestamp
          << "\n";
    }
  } else {
    out << "State file: " << lb.state_problem << "\n";
  }
  if (app.load_balancer.public_url) out << "Production URL: " << *app.load_balancer.public_url << "\n";
  if (app.load_balancer.stats_url) out << "HAProxy stats: " << *app.load_balancer.stats_url << "\n";
  if (!drift.empty()) {
    out << "\n⚠️ DRIFT:\n";
    for (const auto& d : drift) out << "- " << d << "\n";
  }
  if (!warnings.empty()) {
    out << "\nNotes:\n";
    for (const auto& w : warnings) out << "- " << w << "\n";
  }
  if (lb.live && drift.empty()) {
    const auto& standby = host(state::other(*lb.live));
    out << "\nNext: deploy_to_standby puts new code on " << state::to_upper_string(standby.color)
        << "; switch_traffic then asks for approval before moving traffic.\n";
  }
  return out.str();
}

}  // namespace bluegreen::deployment
