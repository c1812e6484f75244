#include "deployment/deploy_report.h"

#include "deployment/lb_snapshot.h"
#include "deployment/pools.h"
#include "deployment/status.h"

#include <iomanip>
#include <sstream>

namespace bluegreen::deployment {
namespace {

using nlohmann::json;

std::string step_table(const std::vector<StepRow>& rows) {
  std::ostringstream table;
  table << " #  " << std::left << std::setw(14) << "step" << std::setw(12) << "result"
        << "time\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const std::string icon = r.status == "ok" ? "✅ " : r.status == "skipped" || r.status == "not run" ? "⏭ " : "❌ ";
    table << std::right << std::setw(2) << i + 1 << "  " << std::left << std::setw(14) << r.name << icon
          << std::setw(10) << r.status
          << (r.duration_ms > 0 || r.status == "ok" ? std::to_string(r.duration_ms) + " ms" : "")
          << (r.exit_code && r.status != "ok" ? "  exit " + std::to_string(*r.exit_code) : "") << "\n";
    if (!r.detail.empty() && r.status != "ok" && r.status != "not run") {
      std::istringstream detail(r.detail);
      for (std::string line; std::getline(detail, line);) table << "      | " << line << "\n";
    }
  }
  return table.str();
}

// A pool's deploy: one line per server, then each server's step table (or why it has none).
std::string servers_text(const DeployFacts& facts) {
  std::ostringstream text;
  text << "Servers:\n";
  for (const auto& server : facts.servers) {
    const std::string icon = server.status == "ok" ? "✅" : server.status == "not started" ? "⏭" : "❌";
    text << "  " << icon << " " << std::left << std::setw(12) << server_label(*server.server) << std::setw(12)
         << server.status << server.server->address;
    if (server.commit) text << "  commit " << short_commit(*server.commit);
    if (server.version) text << "  version " << *server.version;
    if (server.duration_ms > 0) text << "  " << server.duration_ms << " ms";
    text << "\n";
  }
  for (const auto& server : facts.servers) {
    if (server.rows.empty()) continue;
    text << "\n" << server_label(*server.server) << " (" << server.server->ssh << "):\n" << step_table(server.rows);
  }
  return text.str();
}

std::string report_text(const config::AppConfig& app, const DeployFacts& facts, bool ok) {
  const std::string target = state::to_upper_string(facts.target);
  const std::string where = pool_addresses(pool_of(app, facts.target));
  std::ostringstream text;
  if (facts.cancelled) {
    text << "⏹ DEPLOY TO " << target
         << " CANCELLED. The running remote command was stopped and the lock released.\n\n";
  } else if (facts.failed) {
    text << "❌ DEPLOY TO " << target << " (" << where << ") FAILED: " << facts.failure << "\n\n";
  } else {
    text << "✅ Deployment to " << target << " (" << where << ") completed successfully!\n\n";
  }
  text << (facts.servers.size() == 1 ? step_table(facts.servers.front().rows) : servers_text(facts)) << "\nRef "
       << facts.ref;
  if (facts.commit) text << " -> commit " << short_commit(*facts.commit);
  if (facts.version) text << ", version " << *facts.version;
  text << "; took " << facts.duration_ms << " ms\n";
  if (!facts.record_problem.empty())
    text << "\n⚠️ The deploy could not be recorded in the state file: " << facts.record_problem << "\n";
  if (!facts.audit_problem.empty())
    text << "\n⚠️ The deploy is not in the audit log: " << facts.audit_problem << "\n";
  text << "\nPROD " << state::to_upper_string(facts.live) << " was not touched and still serves traffic.\n";
  if (ok) {
    text << "✅ STANDBY is ready for traffic switch. Next: switch_traffic (it asks for approval first).";
  } else if (facts.servers.size() > 1 && !facts.cancelled) {
    text << "❌ STANDBY " << target
         << " is NOT READY: not every server has the new code running healthy. Fix the cause above and run "
            "deploy_to_standby "
            "again (every server is deployed again); do not switch traffic to "
         << target << ".";
  } else if (!facts.cancelled) {
    text << "Fix the cause above and run deploy_to_standby again; do not switch traffic to " << target << ".";
  }
  return text.str();
}

json steps_json(const std::vector<StepRow>& rows) {
  json steps = json::array();
  for (const auto& r : rows) {
    json s{{"name", r.name}, {"status", r.status}, {"durationMs", r.duration_ms}};
    if (r.exit_code) s["exitCode"] = *r.exit_code;
    if (!r.detail.empty()) s["detail"] = r.detail;
    steps.push_back(s);
  }
  return steps;
}

}  // namespace

std::string deploy_outcome_name(const DeployFacts& facts) {
  return facts.cancelled ? "cancelled" : (facts.failed ? "failed" : "ok");
}

DeployOutcome deploy_refused(const std::string& why, const std::string& app) {
  DeployOutcome outcome;
  outcome.text = "❌ DEPLOY NOT STARTED: " + why + "\n\nNothing was changed on any host.";
  outcome.structured = {{"ok", false}, {"app", app}, {"error", why}, {"steps", json::array()}};
  return outcome;
}

DeployOutcome deploy_report(const config::AppConfig& app, const DeployFacts& facts) {
  DeployOutcome outcome;
  outcome.ok = !facts.failed && !facts.cancelled && facts.record_problem.empty();
  outcome.cancelled = facts.cancelled;
  outcome.text = report_text(app, facts, outcome.ok);
  if (!facts.warning.empty()) outcome.text += "\n\n⚠️ " + facts.warning;
  json servers = json::array();
  for (const auto& server : facts.servers) {
    servers.push_back({{"server", server_label(*server.server)},
                       {"ssh", server.server->ssh},
                       {"ip", server.server->address},
                       {"status", server.status},
                       {"commit", server.commit ? json(*server.commit) : json(nullptr)},
                       {"version", server.version ? json(*server.version) : json(nullptr)},
                       {"durationMs", server.duration_ms},
                       {"steps", steps_json(server.rows)}});
    if (!server.failure.empty()) servers.back()["error"] = server.failure;
  }
  const auto& pool = pool_of(app, facts.target);
  outcome.structured = {{"ok", outcome.ok},
                        {"app", app.name},
                        {"target", {{"server", state::to_upper_string(facts.target)}, {"ip", pool.front().address}}},
                        {"prod", state::to_upper_string(facts.live)},
                        {"ref", facts.ref},
                        {"commit", facts.commit ? json(*facts.commit) : json(nullptr)},
                        {"version", facts.version ? json(*facts.version) : json(nullptr)},
                        {"outcome", deploy_outcome_name(facts)},
                        {"steps", facts.servers.size() == 1 ? steps_json(facts.servers.front().rows) : json::array()},
                        {"servers", servers},
                        {"durationMs", facts.duration_ms}};
  if (!facts.failure.empty()) outcome.structured["error"] = facts.failure;
  if (!facts.record_problem.empty()) outcome.structured["recordProblem"] = facts.record_problem;
  if (!facts.audit_problem.empty()) outcome.structured["auditProblem"] = facts.audit_problem;
  if (!facts.warning.empty()) outcome.structured["warning"] = facts.warning;
  return outcome;
}

}  // namespace bluegreen::deployment
