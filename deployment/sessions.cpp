#include "deployment/sessions.h"

#include "deployment/lb_kind.h"
#include "haproxy/config_lines.h"

namespace bluegreen::deployment {

ColourSessions add_sessions(const std::vector<ColourSessions>& parts) {
  ColourSessions sum;
  sum.known = !parts.empty();
  for (const auto& part : parts) {
    sum.known = sum.known && part.known;
    sum.current += part.current;
    sum.in_old_workers += part.in_old_workers;
    sum.old_workers_known = sum.old_workers_known && part.old_workers_known;
    sum.total += part.total;
  }
  return sum;
}

ColourSessions colour_sessions(const config::AppConfig& app, const LbSnapshot& snapshot, state::Color color) {
  ColourSessions sessions;
  if (!snapshot.servers || !lb_kind(app).counts_sessions()) return sessions;
  sessions.known = true;
  const std::string& backend = backend_of(app, color);
  for (const auto& row : *snapshot.servers) {
    if (row.backend == backend && row.server == "BACKEND") {
      sessions.current = row.current_sessions;
      sessions.total = row.total_sessions;
    }
  }
  for (const auto& row : snapshot.old_worker_servers) {
    if (row.backend == backend && row.server == "BACKEND") sessions.in_old_workers += row.current_sessions;
  }
  sessions.old_workers_known = snapshot.old_workers_problem.empty();
  return sessions;
}

std::string sessions_text(const ColourSessions& sessions) {
  if (!sessions.known) return "unknown";
  std::string text = std::to_string(sessions.open()) + " open";
  if (sessions.in_old_workers > 0)
    text += " (" + std::to_string(sessions.in_old_workers) + " in HAProxy's old workers)";
  if (!sessions.old_workers_known) text += " (an old worker did not answer: maybe more)";
  return text + ", " + std::to_string(sessions.total) + " since the last reload";
}

void read_old_worker_sessions(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot) {
  const auto& lb = app.load_balancer;
  if (!snapshot.processes || snapshot.processes->old_worker_pids.empty() || !lb.master_socket) return;
  for (const int pid : snapshot.processes->old_worker_pids) {
    const auto reply =
        query_haproxy_socket(executor, app, *lb.master_socket, "@!" + std::to_string(pid) + " show stat");
    auto rows = reply ? haproxy::parse_show_stat(*reply, haproxy::StatRows::servers_and_backends)
                      : bluegreen::Result<std::vector<haproxy::ServerStatus>>(reply.error());
    if (!rows) {
      snapshot.old_workers_problem += (snapshot.old_workers_problem.empty() ? "" : "; ") + std::string("old worker ") +
                                      std::to_string(pid) + ": " + rows.error().message;
      continue;
    }
    snapshot.old_worker_servers.insert(snapshot.old_worker_servers.end(), rows->begin(), rows->end());
  }
}

ColourSessions read_colour_sessions(remote::Executor& executor, const config::AppConfig& app, state::Color color) {
  const auto& lb = app.load_balancer;
  LbSnapshot snapshot;
  if (!lb.stats_socket) return {};
  const auto stats = query_haproxy_socket(executor, app, *lb.stats_socket, "show stat");
  auto rows = stats ? haproxy::parse_show_stat(*stats, haproxy::StatRows::servers_and_backends)
                    : bluegreen::Result<std::vector<haproxy::ServerStatus>>(stats.error());
  if (!rows) return {};
  snapshot.servers = std::move(rows.value());
  if (lb.master_socket) {
    const auto proc = query_haproxy_socket(executor, app, *lb.master_socket, "show proc");
    auto processes = proc ? haproxy::parse_show_proc(*proc) : bluegreen::Result<haproxy::ProcessInfo>(proc.error());
    if (processes) {
      snapshot.processes = processes.value();
      read_old_worker_sessions(executor, app, snapshot);
    } else {
      snapshot.old_workers_problem = "HAProxy's master socket did not answer: " + processes.error().message;
    }
  }
  return colour_sessions(app, snapshot, color);
}

std::string hard_stop_after(const LbSnapshot& snapshot) {
  std::string value;
  for (const auto& file : snapshot.config_files) {
    bool in_global = false;
    for (const auto& line : haproxy::split_config_lines(file.text)) {
      if (line.words.empty()) continue;
      if (haproxy::is_section_keyword(line.words[0].value)) in_global = line.words[0].value == "global";
      else if (in_global && line.words[0].value == "hard-stop-after" && line.words.size() > 1)
        value = line.words[1].value;
    }
  }
  return value;
}

}  // namespace bluegreen::deployment
