#include "deployment/switch_recovery.h"

#include "deployment/lb_scripts.h"
#include "deployment/routing_check.h"

namespace bluegreen::deployment {
namespace {

// Is the backup this switch's original? Its line rewritten to `to` must give the live file.
std::string backup_problem(Services& services, const config::AppConfig& app, const LbSnapshot& snapshot) {
  const auto& activity = *snapshot.activity;
  remote::CommandOptions options;
  options.deadline = app.load_balancer.command_timeout;
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto read = services.executor.read_files(app.load_balancer.ssh, {backup_path(app)}, options);
  if (!read || read->size() != 1) return "cannot read " + backup_path(app) + (read ? "" : ": " + read.error().message);
  const auto& backup = read->front();
  if (backup.missing || !backup.problem.empty()) {
    return "cannot read " + backup_path(app) + ": " + (backup.missing ? "No such file or directory" : backup.problem);
  }
  auto selection = haproxy::find_live_backend(backup.content, selector_of(app));
  if (!selection || color_of_backend(app, selection->backend) != activity.from) {
    return backup_path(app) + " does not select " + state::to_upper_string(activity.from);
  }
  auto rewritten = haproxy::rewrite_live_backend(backup.content, selector_of(app), backend_of(app, activity.color));
  if (!rewritten || *rewritten != *snapshot.haproxy_text) {
    return backup_path(app) + " is not the config this switch started from (the live file differs from it in more "
                              "than the selecting line)";
  }
  return "";
}

}  // namespace

RecoveryOutcome roll_back_interrupted_switch(Services& services, const config::AppConfig& app,
                                             const LbSnapshot& snapshot, bool emergency) {
  RecoveryOutcome outcome;
  const auto& activity = *snapshot.activity;
  const std::string from = state::to_upper_string(activity.from);
  if (!snapshot.haproxy_text || !snapshot.selected) {
    outcome.text = "cannot roll back the interrupted switch: " + snapshot.live_problem;
    return outcome;
  }
  if (*snapshot.selected == activity.color) {
    if (const auto problem = backup_problem(services, app, snapshot); !problem.empty()) {
      outcome.text = "cannot roll back the interrupted switch: " + problem + ". Nothing was changed. Look at " +
                     app.load_balancer.haproxy_config + " on " + app.load_balancer.ssh +
                     ", put the version that should run in place, reload HAProxy (" + lb_reload_command(app) +
                     ") and remove " + activity_path(app);
      return outcome;
    }
    if (const auto restored = run_on_lb(services.executor, app, restore_config_script(app));
        !restored || !restored->succeeded()) {
      outcome.text = "cannot roll back the interrupted switch: putting " + backup_path(app) + " back failed (" +
                     command_output(restored) + ")";
      return outcome;
    }
    outcome.restored = true;
  }
  const auto reloads = current_reloads(services, app);
  if (const auto reload = run_on_lb(services.executor, app, lb_reload_command(app)); !reload || !reload->succeeded()) {
    outcome.text = "rolling back the interrupted switch: " +
                   std::string(outcome.restored ? "the previous config was put back, but " : "") +
                   "reloading HAProxy failed (" + command_output(reload) + ")";
    return outcome;
  }
  const auto check = verify_routing(services, app, RoutingExpectation{activity.from, reloads, emergency}, {});
  if (!check.ok) {
    outcome.text = "rolling back the interrupted switch: HAProxy was reloaded, but routing to " + from +
                   " could not be verified: " + check.detail +
                   ". get_deployment_status shows what HAProxy runs now and the commands to resolve it by hand";
    return outcome;
  }
  outcome.ok = true;
  outcome.text =
      "the interrupted switch (" + activity.describe() + ") was rolled back: " +
      (outcome.restored ? "the config selecting " + from + " was put back, " : "the config selects " + from + ", ") +
      "HAProxy reloaded and verified (" + check.detail + ")";
  return outcome;
}

}  // namespace bluegreen::deployment
