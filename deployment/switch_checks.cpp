#include "deployment/switch_checks.h"

#include "deployment/lb_kind.h"
#include "deployment/live_confirmation.h"
#include "deployment/traffic_switch.h"

#include <algorithm>

#include <unistd.h>

namespace bluegreen::deployment {

state::DeploymentState next_state(const config::AppConfig& app, const LbSnapshot& snapshot, const SwitchPlan& plan,
                                  const std::string& client, std::uint64_t generation,
                                  const std::optional<Activity>& interrupted_deploy) {
  state::DeploymentState next = snapshot.state.value_or(state::DeploymentState{});
  if (interrupted_deploy) next.deploys.push_back(interrupted_deploy_record(*interrupted_deploy));
  const std::string timestamp = state::utc_timestamp();
  next.prod = plan.to;
  next.switch_count += 1;
  next.last_switch = timestamp;
  state::SwitchRecord record;
  record.timestamp = timestamp;
  record.from = plan.from;
  record.to = plan.to;
  record.emergency = plan.emergency;
  record.extra["client"] = client;
  next.history.push_back(record);
  next.trim(app.history_limit);
  next.generation = generation + 1;
  return next;
}

PlanCheck plan_no_longer_holds(Services& services, const config::AppConfig& app, const SwitchPlan& plan,
                               const LbSnapshot& snapshot, std::optional<FrontendView> frontend,
                               std::uint64_t generation) {
  if (!snapshot.live) return {snapshot.live_problem, std::nullopt};
  if (auto mismatch = frontend_mismatch(app, snapshot, settle_frontend(services, app, snapshot, std::move(frontend)));
      !mismatch.empty()) {
    return {mismatch, std::nullopt};
  }
  if (*snapshot.live != plan.from) {
    return {"the live colour changed since the plan was made (" +
                std::string(config::product_name(app.load_balancer.type)) + " now routes to " +
                state::to_upper_string(*snapshot.live) +
                "); the approval is void. Check status and request a new plan.",
            snapshot.live};
  }
  if (snapshot.state_status == StateFileStatus::kCorrupt || snapshot.state_status == StateFileStatus::kUnreadable) {
    return {snapshot.state_problem, plan.from};
  }
  if (generation != plan.generation) {
    return {"the state file changed since the plan was made (generation " + std::to_string(generation) +
                ", plan made at " + std::to_string(plan.generation) + "); the approval is void. Request a new plan.",
            plan.from};
  }
  if (app.load_balancer.master_socket && !snapshot.processes) {
    return {snapshot.processes_problem +
                ". Without HAProxy's master socket a reload cannot be confirmed, so nothing was "
                "changed. Check HAProxy on " +
                app.load_balancer.ssh + ", then request a new plan.",
            plan.from};
  }
  return {"", plan.from};
}

Activity switch_activity(const config::AppConfig& app, const SwitchPlan& plan, const std::string& client,
                         const LbSnapshot& snapshot, const ConfigChange& change) {
  Activity activity;
  activity.kind = ActivityKind::kSwitch;
  activity.app = app.name;
  activity.client = client;
  activity.since = state::utc_timestamp();
  activity.server_pid = ::getpid();
  activity.step = switch_steps(app.load_balancer.type)[2];
  activity.step_since = activity.since;
  activity.from = plan.from;
  activity.color = plan.to;
  activity.generation = snapshot.generation();
  if (snapshot.processes) {
    activity.reloads_before = snapshot.processes->reloads;
    activity.master_pid = snapshot.processes->master_pid;
  }
  for (const auto& edit : change.edits) activity.config_files.push_back(edit.file);
  if (auto deploy = interrupted_deploy_of(snapshot)) activity.replaced = deploy->to_json().dump();
  return activity;
}

const std::vector<std::string>& switch_steps(config::LbType type) { return lb_kind(type).switch_steps(); }

std::string lines_no_longer_approved(const SwitchPlan& plan, const std::vector<const ConfigChange*>& changes) {
  const auto now = bound_lines(changes);
  if (now == plan.lines) return "";
  std::string first;
  for (const auto& line : plan.lines) {
    if (std::find(now.begin(), now.end(), line) == now.end()) {
      first = "the plan showed \"" + line + "\", which the switch would no longer make";
      break;
    }
  }
  for (const auto& line : now) {
    if (!first.empty()) break;
    if (std::find(plan.lines.begin(), plan.lines.end(), line) == plan.lines.end()) {
      first = "the switch would now also make \"" + line + "\", which the plan did not show";
    }
  }
  return "the configuration changed since the plan was made: " + first +
         ". The approval is void and nothing was changed. Request a new plan and show it to the human.";
}

}  // namespace bluegreen::deployment
