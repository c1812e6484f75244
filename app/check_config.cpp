#include "app/check_config.h"

#include "common/text.h"

#include "deployment/app_routing.h"
#include "deployment/frontend_check.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_pair.h"
#include "deployment/lb_snapshot.h"
#include "deployment/pools.h"
#include "deployment/services.h"
#include "deployment/shared_routes.h"
#include "remote/http_probe.h"
#include "remote/ssh_executor.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <iomanip>
#include <optional>
#include <vector>

namespace bluegreen::app {
namespace {

struct Row {
  std::string app, role, check, target;
  bool ok = false;
  bool warning = false;
  std::string result;
};

// The route, user, port, where the host key was found and how the login succeeded: what the ssh
// config resolved to, so a wrong bastion, key or known_hosts file shows here first.
Row ssh_row(remote::SshExecutor& executor, const std::string& app, const std::string& role, const std::string& host) {
  const auto started = std::chrono::steady_clock::now();
  auto connected = executor.connect(host);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  if (!connected) return {app, role, "ssh", host, false, false, connected.error().message};
  // A login is not enough: the login shell must run commands (a .bashrc that exits or hangs
  // breaks every deploy step and, without SFTP, every read).
  remote::CommandOptions options;
  options.deadline = std::chrono::seconds(10);
  options.host_timeout = false;
  const auto ran = executor.run(host, "true", options);
  if (!ran || !ran->succeeded()) {
    const std::string why = !ran ? ran.error().message
                                 : ran->summary() + (ran->err.tail.empty() ? "" : ": " + trim_trailing(ran->err.tail));
    return {app,
            role,
            "ssh",
            host,
            false,
            false,
            "login ok, but a command cannot run there (" + why +
                "): check the login shell's startup files (~/.bashrc) on the host"};
  }
  const auto& facts = connected.value();
  std::string result = facts.endpoint + " " + facts.route + "; host key in " + facts.known_hosts + "; login by " +
                       facts.auth + " (" + std::to_string(ms) + " ms)";
  for (const auto& note : facts.notes) result += "\n" + std::string(66, ' ') + "ssh config: " + note;
  return {app, role, "ssh", host, true, false, result};
}

Row health_row(const std::string& app, const std::string& role, const std::string& url) {
  const auto report = remote::probe_health(url, std::chrono::seconds(5));
  return {app, role, "health", url, report.healthy(), false, report.summary()};
}

// Can a switch's verification through the frontend tell the colours apart? By the colour the
// health JSON names, or else by commit or version (deployment/frontend_check.h).
// `selected`: the colour the load balancer's config selects, when known: the frontend must answer from it.
Row verification_row(const config::AppConfig& app, const std::string& url, std::optional<state::Color> selected) {
  const auto is_server_url = [&url](const config::Pool& pool) {
    return std::any_of(pool.servers.begin(), pool.servers.end(),
                       [&url](const config::HostConfig& server) { return server.health_url == url; });
  };
  if (is_server_url(app.blue) || is_server_url(app.green)) {
    return {app.name,
            "lb",
            "verification",
            url,
            false,
            false,
            "loadBalancer.verifyUrl is a host's own health URL, not the load balancer's frontend, so it always "
            "answers from that host and a switch could never be verified; point it at the frontend (" +
                std::string(config::product_name(app.load_balancer.type)) + "'s listening address)"};
  }
  constexpr auto kTimeout = std::chrono::seconds(5);
  auto blue =
      std::async(std::launch::async, [&] { return remote::probe_health(app.blue.front().health_url, kTimeout); });
  auto green =
      std::async(std::launch::async, [&] { return remote::probe_health(app.green.front().health_url, kTimeout); });
  const auto view = deployment::frontend_view(url, remote::probe_health(url, kTimeout), blue.get(), green.get());
  if (!view.report.healthy()) {
    return {app.name,
            "lb",
            "verification",
            url,
            true,
            true,
            "cannot check: the frontend does not answer healthy (" + view.report.summary() + ")"};
  }
  if (!view.indistinct.empty()) return {app.name, "lb", "verification", url, false, false, view.indistinct};
  if (selected && view.color != selected) {
    const std::string product = config::product_name(app.load_balancer.type);
    return {app.name,
            "lb",
            "verification",
            url,
            false,
            false,
            "the frontend answers from " + std::string(state::to_upper_string(*view.color)) + " (told by " +
                view.identified_by + ") while " + product + "'s config selects " +
                std::string(state::to_upper_string(*selected)) + ": verifyUrl may not go through " + product +
                ", the app may report the wrong colour, or " + product +
                " has not loaded its config (see the live backend row)"};
  }
  return {app.name,
          "lb",
          "verification",
          url,
          true,
          false,
          "tells the colours apart by " + view.identified_by + " (answered by " +
              std::string(state::to_upper_string(*view.color)) + ")"};
}

// What the load balancer says: the live backend, the state file and HAProxy's sockets.
// Returns the colour the config file selects, when known.
std::optional<state::Color> lb_rows(remote::SshExecutor& executor, const config::AppConfig& app,
                                    std::vector<Row>& rows) {
  const auto store = deployment::store_for(executor, app);
  const auto snapshot = deployment::read_lb_snapshot(executor, app, store);
  const auto& lb = app.load_balancer;
  std::string files;
  for (const auto& file : snapshot.config_files) files += (files.empty() ? "" : " ") + file.path;
  const auto& kind = deployment::lb_kind(app);
  const std::string product = kind.product();
  const std::string& main_config = kind.main_config(lb);
  const std::string live_row = std::string("live ") + kind.pool_word();
  if (!snapshot.config_files.empty()) {
    rows.push_back({app.name, "lb", product + " files", files, true, !snapshot.config_list.notes.empty(),
                    "from " + snapshot.config_list.source +
                        (snapshot.config_list.notes.empty() ? "" : "; " + snapshot.config_list.notes.front())});
  }
  if (snapshot.live) {
    std::string entries;
    for (const auto& entry : snapshot.routes->entry_points) {
      entries += (entries.empty() ? "" : "\n") + deployment::describe_entry_point(app, *snapshot.routes, entry);
    }
    rows.push_back({app.name, "lb", live_row, main_config, true, false,
                    std::string(state::to_upper_string(*snapshot.live)) + ": " + entries});
  } else {
    rows.push_back({app.name, "lb", live_row, main_config, false, false, snapshot.live_problem});
  }
  for (auto& row : kind.prerequisite_rows(executor, app, snapshot)) {
    rows.push_back(
        {app.name, "lb", std::move(row.check), std::move(row.target), row.ok, row.warning, std::move(row.result)});
  }
  switch (snapshot.state_status) {
    case deployment::StateFileStatus::kOk:
      rows.push_back({app.name, "lb", "state file", lb.state_file, true, false,
                      "PROD=" + std::string(state::to_upper_string(snapshot.state->prod)) + ", " +
                          std::to_string(snapshot.state->switch_count) + " switches, generation " +
                          std::to_string(snapshot.state->generation)});
      break;
    case deployment::StateFileStatus::kMissing:
      rows.push_back({app.name, "lb", "state file", lb.state_file, true, true,
                      "not created yet (the first deploy or switch creates it)"});
      break;
    default: rows.push_back({app.name, "lb", "state file", lb.state_file, false, false, snapshot.state_problem});
  }
  if (lb.stats_socket) {
    std::string servers;
    if (snapshot.servers) {
      for (const auto& s : *snapshot.servers) {
        if (s.server != "BACKEND")
          servers += (servers.empty() ? "" : ", ") + s.backend + "/" + s.server + " " + s.status;
      }
    }
    rows.push_back({app.name, "lb", "stats socket", *lb.stats_socket, snapshot.servers.has_value(), false,
                    snapshot.servers ? servers : snapshot.servers_problem});
    for (const auto color : {state::Color::kBlue, state::Color::kGreen}) {
      const auto& pool = deployment::pool_of(app, color);
      if (!snapshot.servers || !pool.named()) continue;
      const auto drift = deployment::pool_membership_drift(app, snapshot, color);
      std::string joined;
      for (const auto& line : drift) joined += (joined.empty() ? "" : "\n") + line;
      rows.push_back(
          {app.name, std::string(state::to_string(color)), "pool", deployment::backend_of(app, color), drift.empty(),
           false, drift.empty() ? std::to_string(pool.size()) + " server(s), the same as HAProxy's backend" : joined});
    }
  }
  if (lb.master_socket) {
    rows.push_back({app.name, "lb", "master socket", *lb.master_socket, snapshot.processes.has_value(), false,
                    snapshot.processes ? "master pid " + std::to_string(snapshot.processes->master_pid) + ", " +
                                             std::to_string(snapshot.processes->reloads) + " reloads"
                                       : snapshot.processes_problem});
  }
  return snapshot.selected;
}

// How a human can approve the app's switches (approval.required, approval.channels), and who is
// left without a way: a warning, not a failure, as it is the operator's choice.
Row approval_row(const config::Config& config, const config::AppConfig& app) {
  const auto& approval = app.approval;
  Row row{app.name, "app", "approval", "channels: " + bluegreen::join(approval.channels), true, true, ""};
  if (auto conflict = deployment::shared_route_conflict(config, app); !conflict.empty()) {
    row.ok = false;
    row.result = conflict.substr(conflict.find("apps "));
  } else if (!approval.required) {
    row.result = "approval.required is false: switches run without a human";
  } else if (!approval.emergency_requires_approval) {
    row.result = "approval.emergencyRequiresApproval is false: any client can move traffic without a human by "
                 "calling switch_traffic with emergency=true";
  } else if (!approval.allows("token")) {
    std::vector<std::string> can;
    if (approval.allows("elicitation")) can.emplace_back("MCP form elicitation");
    if (approval.allows("url")) can.emplace_back("MCP URL-mode elicitation");
    if (approval.allows("app")) can.emplace_back("MCP Apps");
    row.result = "only clients with " + bluegreen::join(can, " or ") +
                 " can approve switches; in the others switch_traffic refuses (no token is issued or accepted)";
  } else if (!approval.allows("elicitation") && !approval.allows("url") && !approval.allows("app")) {
    row.result = "every approval is a token the model passes on, even in clients that could ask the human "
                 "directly: add \"elicitation\", \"url\" and/or \"app\"";
  } else {
    row.warning = false;
    row.result =
        std::string(approval.allows("elicitation") ? "clients with form elicitation ask the human directly; " : "") +
        (approval.allows("url") ? "clients with URL-mode elicitation send the human to an approval page on "
                                  "127.0.0.1; "
                                : "") +
        (approval.allows("app") ? "clients that render MCP Apps show the plan in the deployment panel; " : "") +
        "others get a single-use token";
  }
  return row;
}

}  // namespace

int run_check_config(const config::Config& config, const std::string& path, std::ostream& out) {
  out << "bluegreen-mcp check-config: " << path << "\nconfiguration: valid, " << config.apps.size() << " app"
      << (config.apps.size() == 1 ? "" : "s") << "\n\n";
  if (config.apps.empty()) {
    out << "No apps are configured: add an \"apps\" section (see config/bluegreen.example.json).\n";
    return 1;
  }
  remote::SshExecutor executor(remote::SshSettings{config.ssh.config_file, config.ssh.known_hosts_file,
                                                   config.ssh.identity_files, config.ssh.connect_timeout});
  std::vector<Row> rows;
  for (const auto& app : config.apps) {
    // Independent checks run at once; each host's SSH check first opens the session the others reuse.
    // A pool's servers are named by their haproxyServer in the role column.
    std::vector<std::pair<std::future<Row>, std::future<Row>>> server_checks;
    for (const auto* pool : {&app.blue, &app.green}) {
      for (const auto& server : pool->servers) {
        const std::string role =
            pool->size() == 1 ? (pool == &app.blue ? "blue" : "green") : deployment::server_label(server);
        server_checks.emplace_back(std::async(std::launch::async,
                                              [&, role] { return ssh_row(executor, app.name, role, server.ssh); }),
                                   std::async(std::launch::async,
                                              [&, role] { return health_row(app.name, role, server.health_url); }));
      }
    }
    // Every load balancer (one, or each of a pair: roles lb1, lb2, ...), each through its view.
    const auto views = deployment::lb_views(app);
    std::vector<std::future<Row>> lb_ssh;
    for (const auto& view : views) {
      lb_ssh.push_back(
          std::async(std::launch::async, [&] { return ssh_row(executor, app.name, "lb", view.load_balancer.ssh); }));
    }
    for (auto& [ssh, health] : server_checks) {
      rows.push_back(ssh.get());
      rows.push_back(health.get());
    }
    for (std::size_t i = 0; i < views.size(); ++i) {
      const std::size_t first = rows.size();
      const Row lb_row = lb_ssh[i].get();
      rows.push_back(lb_row);
      if (lb_row.ok) {
        const auto selected = lb_rows(executor, views[i], rows);
        for (const auto& url : views[i].load_balancer.verify_urls) {  // every entry point's URL
          rows.push_back(health_row(app.name, "lb", url));
          rows.push_back(verification_row(views[i], url, selected));
        }
      }
      if (views.size() > 1) {
        for (std::size_t r = first; r < rows.size(); ++r) rows[r].role = "lb" + std::to_string(i + 1);
      }
    }
    rows.push_back(approval_row(config, app));
  }

  std::size_t failures = 0;
  out << std::left << std::setw(10) << "app" << std::setw(7) << "role" << std::setw(15) << "check" << std::setw(34)
      << "target"
      << "result\n";
  for (const auto& row : rows) {
    if (!row.ok) ++failures;
    out << std::setw(10) << row.app << std::setw(7) << row.role << std::setw(15) << row.check << std::setw(34)
        << row.target << (row.ok ? (row.warning ? "⚠️  " : "✅ ") : "❌ ") << row.result << "\n";
  }
  out << "\n" << (failures == 0 ? "All checks passed." : std::to_string(failures) + " check(s) failed.") << "\n";
  return failures == 0 ? 0 : 1;
}

}  // namespace bluegreen::app
