#include "deployment/status.h"

#include "deployment/app_routing.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_pair.h"
#include "deployment/live_confirmation.h"
#include "deployment/pools.h"

#include <sstream>

// StatusReport's two renderings: the JSON (structuredContent) and the text the assistant reads.
namespace bluegreen::deployment {
namespace {

using nlohmann::json;

std::string haproxy_view_text(const ColourStatus& colour) {
  if (colour.haproxy_servers.empty()) return colour.haproxy_backend_status;
  std::string text;
  for (const auto& server : colour.haproxy_servers) {
    if (!text.empty()) text += ", ";
    text += server.server + " " + server.status + (server.check_status.empty() ? "" : " (" + server.check_status + ")");
  }
  return text;
}

// One server as HAProxy's `show stat` reports it: {name, status, check, currentSessions, totalSessions}.
json haproxy_server_json(const haproxy::ServerStatus& s) {
  return {{"name", s.server},
          {"status", s.status},
          {"check", s.check_status},
          {"currentSessions", s.current_sessions},
          {"totalSessions", s.total_sessions}};
}

json optional_json(const std::optional<std::string>& value) { return value ? json(*value) : json(nullptr); }

// One server of a colour: {name, ssh, ip, healthy, status, healthUrl, httpStatus, latencyMs,
// version, reportedCommit, deployedCommit, deployedCommitProblem?, haproxy{status, check,
// currentSessions, totalSessions}|null}.
json server_json(const HostStatus& host) {
  const bool healthy = host.health.healthy();
  json j{{"name", server_label(*host.host)},
         {"ssh", host.host->ssh},
         {"ip", host.host->address},
         {"healthy", healthy},
         {"status", healthy ? "✅ UP" : "❌ DOWN (" + host.health.summary() + ")"},
         {"healthUrl", host.host->health_url},
         {"httpStatus", host.health.status},
         {"latencyMs", host.health.latency.count()},
         {"version", optional_json(host.health.version)},
         {"reportedCommit", optional_json(host.health.commit)},
         {"deployedCommit", optional_json(host.deployed_commit)}};
  if (!host.git_problem.empty()) j["deployedCommitProblem"] = host.git_problem;
  j["haproxy"] = host.haproxy_server ? haproxy_server_json(*host.haproxy_server) : json(nullptr);
  return j;
}

// A colour as the seed shows a host (server, ip, healthy, status, healthUrl, version, commits:
// the first server's for one server; for a pool the colour's: healthy when every server is, the
// version and commit when they agree, "mixed" flags when not), plus healthyServers, servers[],
// sessions and haproxyView.
json colour_json(const ColourStatus& colour, bool is_prod) {
  const auto& first = colour.front();
  const bool pool = colour.servers.size() > 1;
  const std::size_t up = colour.healthy_count();
  const bool healthy = up == colour.servers.size();
  std::string status = healthy ? (is_prod ? "✅ ONLINE" : "✅ READY") : "❌ DOWN (" + first.health.summary() + ")";
  if (pool) {
    const std::string count = std::to_string(up) + "/" + std::to_string(colour.servers.size()) + " healthy";
    status = healthy ? status + " (" + count + ")" : (up == 0 ? "❌ DOWN (" : "⚠️ DEGRADED (") + count + ")";
  }
  if (!is_prod && healthy && !colour.not_ready.empty()) status = "❌ NOT READY (" + colour.not_ready + ")";
  json j{{"server", state::to_upper_string(colour.color)},
         {"ip", first.host->address},
         {"healthy", healthy},
         {"healthyServers", up},
         {"status", status},
         {"healthUrl", first.host->health_url},
         {"httpStatus", first.health.status},
         {"latencyMs", first.health.latency.count()},
         {"version", pool ? optional_json(colour.version()) : optional_json(first.health.version)},
         {"versionMixed", colour.version_mixed()},
         {"reportedCommit", optional_json(first.health.commit)},
         {"deployedCommit", pool ? optional_json(colour.commit()) : optional_json(first.deployed_commit)},
         {"commitMixed", colour.commit_mixed()}};
  if (!first.git_problem.empty()) j["deployedCommitProblem"] = first.git_problem;
  json servers = json::array();
  for (const auto& host : colour.servers) servers.push_back(server_json(host));
  j["servers"] = servers;
  if (colour.sessions.known) {
    j["sessions"] = {{"open", colour.sessions.open()},
                     {"current", colour.sessions.current},
                     {"inOldWorkers", colour.sessions.in_old_workers},
                     {"total", colour.sessions.total},
                     {"drained", colour.sessions.open() == 0 && colour.sessions.old_workers_known}};
  }
  if (!colour.haproxy_servers.empty() || !colour.haproxy_backend_status.empty()) {
    json view = json::array();
    for (const auto& s : colour.haproxy_servers) view.push_back(haproxy_server_json(s));
    j["haproxyView"] = {{"backendStatus", colour.haproxy_backend_status}, {"servers", view}};
  }
  return j;
}

// The line of one server in a pool's text.
std::string server_line(const HostStatus& h, const std::string& product) {
  std::ostringstream line;
  line << "  - " << server_label(*h.host) << " (" << h.host->address << ")  "
       << (h.health.healthy() ? "✅ UP" : "❌ DOWN: " + h.health.summary());
  if (h.health.version) line << "  version " << *h.health.version;
  if (h.deployed_commit) line << "  commit " << short_commit(*h.deployed_commit);
  if (h.haproxy_server) {
    line << "  [" << product << ": " << h.haproxy_server->status
         << (h.haproxy_server->check_status.empty() ? "" : " (" + h.haproxy_server->check_status + ")") << ", "
         << h.haproxy_server->current_sessions << " sessions]";
  } else if (!h.host->haproxy_server.empty()) {
    line << "  [HAProxy: no server " << h.host->haproxy_server << "]";
  }
  return line.str();
}

// A colour's line ("PROD:    BLUE (127.0.0.1)  ✅ ONLINE  version ..."), then one line per server
// for a pool.
std::string colour_lines(const std::string& role, const ColourStatus& c, bool is_prod) {
  std::ostringstream line;
  const auto& first = c.front();
  const bool pool = c.servers.size() > 1;
  const std::size_t up = c.healthy_count();
  line << role << state::to_upper_string(c.color);
  const bool not_ready = !is_prod && !c.not_ready.empty() && up == c.servers.size();
  if (!pool) {
    line << " (" << first.host->address << ")  "
         << (not_ready                ? "❌ NOT READY (" + c.not_ready + ")"
             : first.health.healthy() ? (is_prod ? "✅ ONLINE" : "✅ READY")
                                      : "❌ DOWN: " + first.health.summary());
    if (first.health.version) line << "  version " << *first.health.version;
    if (first.deployed_commit) line << "  commit " << short_commit(*first.deployed_commit);
    if (!first.commit_subject.empty()) line << " \"" << first.commit_subject << "\"";
  } else {
    const std::string count = std::to_string(up) + "/" + std::to_string(c.servers.size()) + " healthy";
    line << " (" << c.servers.size() << " servers)  "
         << (not_ready                ? "❌ NOT READY (" + c.not_ready + ") " + count
             : up == c.servers.size() ? (is_prod ? "✅ ONLINE " : "✅ READY ") + count
                                      : (up == 0 ? "❌ DOWN " : "⚠️ DEGRADED ") + count);
    if (const auto version = c.version()) line << "  version " << *version;
    else if (c.version_mixed()) line << "  version MIXED";
    if (const auto commit = c.commit()) line << "  commit " << short_commit(*commit);
    else if (c.commit_mixed()) line << "  commit MIXED";
  }
  const std::string view = haproxy_view_text(c);
  if (!view.empty() && !pool) line << "  [" << c.lb_product << ": " << view << "]";
  if (pool && !c.haproxy_backend_status.empty()) line << "  [HAProxy backend: " << c.haproxy_backend_status << "]";
  if (c.sessions.known) line << "  sessions: " << sessions_text(c.sessions);
  if (pool) {
    for (const auto& host : c.servers) line << "\n" << server_line(host, c.lb_product);
  }
  return line.str();
}

}  // namespace

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

// One load balancer for loadBalancers[]: {ssh, routesTo (blue|green|null), problem?, stateFile
// {prod, generation}|null, frontend{url, answeredBy}|null}.
json lb_json(const std::string& ssh, const LbSnapshot& snapshot, const std::optional<FrontendView>& frontend) {
  json j{{"ssh", ssh}, {"routesTo", snapshot.live ? json(state::to_string(*snapshot.live)) : json(nullptr)}};
  if (!snapshot.live) j["problem"] = snapshot.live_problem;
  j["stateFile"] = snapshot.state ? json{{"prod", state::to_string(snapshot.state->prod)},
                                         {"generation", snapshot.state->generation}}
                                  : json(nullptr);
  j["frontend"] = frontend
                      ? json{{"url", frontend->url},
                             {"answeredBy", frontend->color ? json(state::to_string(*frontend->color)) : json(nullptr)}}
                      : json(nullptr);
  return j;
}

// "haproxy": the load balancer's view whatever its type (the key clients and seeds/004 read):
// {type, config, host, files[], filesFrom, backend, line?, lineNumber?, entryPoints[], notes?,
// status, masterPid?, reloads? (HAProxy), workers?, oldWorkers?, frontend?, hardStopAfter?,
// statsUrl?, publicUrl?}.
json lb_view_json(const config::AppConfig& app, const StatusReport& report) {
  const auto& lb = report.lb;
  const auto& drift = report.drift;
  const auto& frontend = report.frontend;
  const auto& kind = lb_kind(app);
  json haproxy{{"type", config::to_string(app.load_balancer.type)},
               {"config", kind.main_config(app.load_balancer)},
               {"host", app.load_balancer.ssh}};
  add_routing_json(app, lb, haproxy);
  haproxy["status"] = lb.live ? (drift.empty() ? "✅ OPERATIONAL" : "⚠️ OPERATIONAL WITH DRIFT") : "❌ UNKNOWN";
  if (lb.processes) {
    haproxy["masterPid"] = lb.processes->master_pid;
    if (kind.counts_reloads()) haproxy["reloads"] = lb.processes->reloads;  // nginx counts none
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
  return haproxy;
}

}  // namespace

std::vector<const LbSnapshot*> StatusReport::lb_snapshots() const {
  std::vector<const LbSnapshot*> all{&lb};
  for (const auto& other : other_lbs) all.push_back(&other.lb);
  return all;
}

json StatusReport::to_json(const config::AppConfig& app) const {
  json j{{"app", app_name}};
  j["liveColorKnown"] = lb.live.has_value();
  if (lb.live) {
    j["current"] = {{"prod", colour_json(colour(*lb.live), true)},
                    {"standby", colour_json(colour(state::other(*lb.live)), false)}};
  } else {
    j["current"] = nullptr;
    j["problem"] = lb.live_problem;
    j["hosts"] = {{"blue", colour_json(blue, false)}, {"green", colour_json(green, false)}};
  }
  j["haproxy"] = lb_view_json(app, *this);
  json lbs = json::array({lb_json(app.load_balancer.ssh, lb, frontend)});
  for (const auto& other : other_lbs) lbs.push_back(lb_json(other.ssh, other.lb, other.frontend));
  j["loadBalancers"] = lbs;

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
  const auto& kind = lb_kind(app);
  const std::string product = kind.product();
  out << "DEPLOYMENT STATUS: " << app_name << "\n\n";
  if (lb.activity && lb.activity_running == true && lb.activity->kind == ActivityKind::kDeploy) {
    out << "⏳ DEPLOY IN PROGRESS: " << lb.activity->describe() << "\n\n";
  }
  if (lb.live) {
    out << colour_lines("PROD:    ", colour(*lb.live), true) << "\n";
    out << colour_lines("STANDBY: ", colour(state::other(*lb.live)), false) << "\n\n";
    out << product << ": routes to " << kind.pool_word() << " \"" << backend_of(app, *lb.live) << "\"  "
        << (drift.empty() ? "✅ OPERATIONAL" : "⚠️ OPERATIONAL WITH DRIFT") << "\n";
    out << routing_text(app, lb);
    if (!other_lbs.empty()) {
      out << "Load balancers (" << other_lbs.size() + 1 << ", switched together):\n  - "
          << lb_position(app.load_balancer.ssh, lb) << "\n";
      for (const auto& other : other_lbs) out << "  - " << lb_position(other.ssh, other.lb) << "\n";
    }
  } else {
    out << "❌ WHICH COLOUR IS LIVE IS UNKNOWN: " << lb.live_problem << "\n"
        << "Deploys and switches are refused until this is fixed (nothing is assumed).\n\n";
    out << colour_lines("BLUE:    ", blue, false) << "\n" << colour_lines("GREEN:   ", green, false) << "\n";
  }
  if (lb.processes && !kind.counts_reloads()) {
    out << product << " processes: master " << lb.processes->master_pid << ", "
        << lb.processes->current_worker_pids.size() << " worker(s)";
    if (!lb.processes->old_worker_pids.empty()) {
      out << ", " << lb.processes->old_worker_pids.size() << " old worker(s) finishing connections";
    }
    out << "\n";
  } else if (lb.processes) {
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
  if (app.load_balancer.stats_url) out << product << " stats: " << *app.load_balancer.stats_url << "\n";
  if (!drift.empty()) {
    out << "\n⚠️ DRIFT:\n";
    for (const auto& d : drift) out << "- " << d << "\n";
  }
  if (!warnings.empty()) {
    out << "\nNotes:\n";
    for (const auto& w : warnings) out << "- " << w << "\n";
  }
  if (lb.live && drift.empty()) {
    const auto& standby = colour(state::other(*lb.live));
    out << "\nNext: deploy_to_standby puts new code on " << state::to_upper_string(standby.color)
        << (kind.switch_refusal(app).empty()
                ? "; switch_traffic then asks for approval before moving traffic.\n"
                : "; switch_traffic is not supported for this " + product + " setup yet (switch by hand).\n");
  }
  return out.str();
}

}  // namespace bluegreen::deployment
