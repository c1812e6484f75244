#include "deployment/switch_leg.h"

#include "deployment/config_swap.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_scripts.h"
#include "deployment/live_confirmation.h"
#include "deployment/routing_check.h"

#include <map>

namespace bluegreen::deployment {

std::string apply_and_verify(Services& services, const SwitchPlan& plan, const LbSnapshot& snapshot, SwitchLeg& leg,
                             const std::stop_token& stop, bool& cancelled, long long& haproxy_step_ms) {
  const auto started = services.time.now();
  leg.applied = true;
  std::string failure = apply_change(services, *leg.view, leg.change, true);
  haproxy_step_ms = services.time.ms_since(started);
  if (!failure.empty()) return failure;
  RoutingExpectation expected{plan.to, std::nullopt, plan.emergency, leg.change.files, &leg.change, std::nullopt};
  if (snapshot.processes) expected.reloads_before = snapshot.processes->reloads;
  expected.workers_before = lb_kind(*leg.view).workers_in(snapshot);
  const auto check = verify_routing(services, *leg.view, expected, stop);
  cancelled = check.cancelled;
  if (check.ok) {
    leg.verified = check.detail;
    return "";
  }
  if (check.cancelled) return check.detail;
  return std::string(leg.change.map_only() ? "verification after the map change failed: "
                                           : "verification after the reload failed: ") +
         check.detail;
}

RollbackReport restore_leg(Services& services, const SwitchPlan& plan, const SwitchLeg& leg, bool state_uncertain) {
  const auto& app = *leg.view;
  const auto reloads = current_reloads(services, app);
  const auto workers = lb_kind(app).workers_before_reload(services, app);
  const std::string product = config::product_name(app.load_balancer.type);
  RollbackReport report;
  report.state_uncertain = state_uncertain;
  for (const auto& edit : leg.change.edits) report.config_files.push_back(edit.file);
  if (const auto problem = restore_edits(services, app, leg.change, leg.swapped); !problem.empty()) {
    report.text = "restoring the previous config failed too: " + problem;
    return report;
  }
  report.restored = true;
  if (const auto problem = apply_change(services, app, leg.change, false); !problem.empty()) {
    report.text = "the previous config was restored, but " + problem;
    return report;
  }
  report.reloaded = true;
  const auto check =
      verify_routing(services, app,
                     RoutingExpectation{plan.from, reloads, false, leg.change.files, &leg.change, workers}, {});
  report.verified = check.ok;
  report.text = check.ok
                    ? "the previous config was restored and " + product + " verified routing to " +
                          state::to_upper_string(plan.from) + " again (" + check.detail + ")"
                    : std::string(leg.change.map_only()
                                      ? "the previous map was restored in its file and in HAProxy's running map, but "
                                        "verification failed: "
                                      : "the previous config was restored and " + product +
                                            " reloaded, but verification failed: ") +
                          check.detail;
  return report;
}

RollbackReport merge_rollbacks(const std::vector<std::string>& ssh, const std::vector<RollbackReport>& reports) {
  if (reports.size() == 1) return reports.front();
  RollbackReport merged;
  merged.restored = merged.reloaded = merged.verified = !reports.empty();
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const auto& report = reports[i];
    merged.restored = merged.restored && report.restored;
    merged.reloaded = merged.reloaded && report.reloaded;
    merged.verified = merged.verified && report.verified;
    merged.state_uncertain = merged.state_uncertain || report.state_uncertain;
    merged.text += (merged.text.empty() ? "" : "; ") + std::string("on ") + ssh[i] + ": " + report.text;
    // The files to look at by hand: the first load balancer whose way back was not verified.
    if (!report.verified && merged.config_files.empty()) merged.config_files = report.config_files;
  }
  return merged;
}

std::string revert_recorded_state(const state::StateStore& store, const state::AppLock& lock, SwitchLeg& leg,
                                  state::DeploymentState before, std::uint64_t recorded, const std::string& where) {
  if (!leg.committed) return "";
  before.generation = recorded + 1;
  if (auto written = store.write(lock, before, recorded); !written) {
    return where + "its state file still records the switch (putting it back failed: " + written.error().message + ")";
  }
  leg.committed = false;
  return where +
         "its state file had recorded the switch and was put back (PROD=" + state::to_upper_string(before.prod) +
         ", generation " + std::to_string(before.generation) + ")";
}

std::string validate_text_of(const SwitchLeg& leg) {
  std::map<std::string, std::string> candidates;
  for (const auto& edit : leg.change.edits) {
    if (!edit.is_map) candidates[edit.file] = candidate_path(*leg.view, edit.file);
  }
  return validate_command_for(*leg.view, leg.change.files, candidates);
}

nlohmann::json rollback_positions(const std::vector<SwitchLeg>& legs, const std::vector<std::size_t>& touched,
                                  const std::vector<RollbackReport>& reports) {
  nlohmann::json positions = nlohmann::json::array();
  for (const auto& leg : legs) {
    positions.push_back({{"ssh", leg.view->load_balancer.ssh}, {"replaced", leg.swapped > 0}});
  }
  for (std::size_t k = 0; k < touched.size() && k < reports.size(); ++k) {
    positions[touched[k]]["restoredAndVerified"] = reports[k].verified;
  }
  return positions;
}

nlohmann::json switched_positions(const std::vector<SwitchLeg>& legs, state::Color to) {
  nlohmann::json positions = nlohmann::json::array();
  for (const auto& leg : legs) {
    positions.push_back({{"ssh", leg.view->load_balancer.ssh}, {"routesTo", state::to_string(to)}});
  }
  return positions;
}

}  // namespace bluegreen::deployment
