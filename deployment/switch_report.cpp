#include "deployment/switch_report.h"

#include "deployment/lb_kind.h"
#include "deployment/lb_scripts.h"
#include "deployment/lb_snapshot.h"
#include "deployment/pools.h"

#include <sstream>

namespace bluegreen::deployment {
namespace {

using nlohmann::json;

// What the state file records after a rollback.
std::string state_file_note(const SwitchPlan& plan, const RollbackReport& rollback) {
  if (!rollback.state_uncertain) return "The state file still records PROD=" + state::to_upper_string(plan.from) + ".";
  return "The state file was replaced but could not be confirmed: it may already record PROD=" +
         state::to_upper_string(plan.to) +
         " for this switch. get_deployment_status shows what it records and any "
         "drift; the next deploy or switch rewrites it from HAProxy's routing.";
}

// What the user must know and do when the way back did not finish.
std::string unverified_rollback_text(const config::AppConfig& app, const SwitchPlan& plan, const std::string& failure,
                                     const RollbackReport& rollback) {
  const std::string previous = state::to_upper_string(plan.from);
  const std::string product = config::product_name(app.load_balancer.type);
  if (rollback.reloaded) {
    return "❌ TRAFFIC SWITCH FAILED; THE ROLLBACK IS NOT VERIFIED: " + failure + ".\n\nThen " + rollback.text + ".\n" +
           state_file_note(plan, rollback) + " Run get_deployment_status now: it shows which colour " + product +
           " routes to and any drift.";
  }
  const auto& lb = app.load_balancer;
  const std::vector<std::string> files =
      rollback.config_files.empty() ? std::vector<std::string>{lb_kind(app).main_config(lb)} : rollback.config_files;
  std::string file;  // for messages: the files, comma-separated
  std::string copy_back;
  for (const auto& path : files) {
    file += (file.empty() ? "" : ", ") + path;
    copy_back += (copy_back.empty() ? "" : "; ") + std::string("cp -p ") + backup_path(app, path) + " " + path;
  }
  const std::string where =
      rollback.restored
          ? " selects " + previous + " again, but " + product + " may still run the config selecting " +
                state::to_upper_string(plan.to)
          : " may select " + state::to_upper_string(plan.to) + ", and " + product + " may or may not have reloaded it";
  return "❌ TRAFFIC SWITCH FAILED AND THE ROLLBACK FAILED — ACTION NEEDED: " + failure + ".\n\nThen " + rollback.text +
         ".\n\nWhat " + product + " serves now is uncertain: " + file + " on " + lb.ssh + where + ". " +
         state_file_note(plan, rollback) + "\n\nNext: once " + lb.ssh +
         " is reachable, run get_deployment_status; it reports what " + product +
         " routes to and how the state file differs. To put " + previous + " back by hand: on " + lb.ssh + ", " +
         copy_back + " and reload " + product + " (" + lb_reload_command(app) + ").";
}

}  // namespace

SwitchOutcome switch_refused(const std::string& why, const SwitchPlan& plan, std::optional<state::Color> routes_to) {
  SwitchOutcome outcome;
  outcome.text = "❌ TRAFFIC SWITCH NOT DONE: " + why + "\n\nNothing was changed" +
                 (routes_to ? ": the load balancer still routes to " + state::to_upper_string(*routes_to) + "."
                            : " by this switch.");
  outcome.structured = {{"switched", false},
                        {"rolledBack", false},
                        {"app", plan.app},
                        {"from", state::to_string(plan.from)},
                        {"to", state::to_string(plan.to)},
                        {"error", why}};
  return outcome;
}

SwitchOutcome switch_rolled_back(const config::AppConfig& app, const SwitchPlan& plan, const std::string& failure,
                                 const RollbackReport& rollback) {
  SwitchOutcome outcome;
  outcome.rolled_back = rollback.reloaded;
  if (rollback.verified) {
    outcome.text = "❌ TRAFFIC SWITCH FAILED AND WAS ROLLED BACK: " + failure + ".\n\nThen " + rollback.text + ".\n" +
                   state_file_note(plan, rollback) + " Check get_deployment_status before trying again.";
  } else {
    outcome.text = unverified_rollback_text(app, plan, failure, rollback);
  }
  outcome.structured = {{"switched", false},
                        {"rolledBack", rollback.reloaded},
                        {"rollbackVerified", rollback.verified},
                        {"app", app.name},
                        {"from", state::to_string(plan.from)},
                        {"to", state::to_string(plan.to)},
                        {"error", failure},
                        {"restore", rollback.text}};
  return outcome;
}

SwitchOutcome switch_completed(const config::AppConfig& app, const SwitchPlan& plan, const CompletedSwitch& done) {
  const auto& lb = app.load_balancer;
  const auto& to_pool = pool_of(app, plan.to);
  const auto& from_pool = pool_of(app, plan.from);
  SwitchOutcome outcome;
  outcome.switched = true;
  std::ostringstream text;
  text << "✅ TRAFFIC SWITCH COMPLETE!" << (plan.emergency ? " (emergency mode)" : "") << "\n\n"
       << "New PROD: " << state::to_upper_string(plan.to) << " (" << pool_addresses(to_pool) << ")\n"
       << "New STANDBY: " << state::to_upper_string(plan.from) << " (" << pool_addresses(from_pool) << ")\n\n"
       << "Switch #" << done.switch_number << " completed at " << done.completed_at << " in " << done.total_ms
       << " ms\nVerified: " << done.verified << "\n";
  const std::string old = state::to_upper_string(plan.from);
  if (done.old_sessions.known && done.old_sessions.open() > 0) {
    text << "\n⏳ " << old << " is draining: " << sessions_text(done.old_sessions)
         << ". Long-lived connections finish on " << old
         << (done.hard_stop_after.empty() || done.old_sessions.in_old_workers == 0
                 ? ""
                 : " (HAProxy's old workers hold them; it cuts what is left " + done.hard_stop_after +
                       " after the reload)")
         << "; deploy to " << old << " once get_deployment_status shows it drained (0 open).\n";
  } else if (done.old_sessions.known) {
    text << "\n" << old << " has drained (no open sessions): a deploy to it cuts no one off.\n";
  }
  if (lb.public_url) text << "\nProduction URL: " << *lb.public_url;
  if (lb.stats_url) text << "\n" << config::product_name(lb.type) << " Stats: " << *lb.stats_url;
  text << "\n\nTo roll back, call switch_traffic again (a new approval is needed).";
  outcome.text = text.str();
  outcome.structured = {{"switched", true},
                        {"rolledBack", false},
                        {"app", app.name},
                        {"from", state::to_string(plan.from)},
                        {"to", state::to_string(plan.to)},
                        {"prod", {{"server", state::to_upper_string(plan.to)}, {"ip", to_pool.front().address}}},
                        {"standby", {{"server", state::to_upper_string(plan.from)}, {"ip", from_pool.front().address}}},
                        {"switchNumber", done.switch_number},
                        {"completedAt", done.completed_at},
                        {"emergency", plan.emergency},
                        {"verified", done.verified},
                        {"timings", done.timings}};
  if (done.old_sessions.known) {
    outcome.structured["oldProdSessions"] = {{"open", done.old_sessions.open()},
                                             {"inOldWorkers", done.old_sessions.in_old_workers},
                                             {"drained", done.old_sessions.open() == 0}};
  }
  return outcome;
}

}  // namespace bluegreen::deployment
