#include "deployment/switch_recovery.h"

#include "deployment/app_routing.h"
#include "deployment/config_change.h"
#include "deployment/lb_scripts.h"
#include "deployment/routing_check.h"

#include <algorithm>

namespace bluegreen::deployment {
namespace {

// Is the backup this switch's original? With the backup in place of the switched file, every
// route of the app must select `from`, and rewriting them to `to` must give the live file.
std::string backup_problem(Services& services, const config::AppConfig& app, const LbSnapshot& snapshot) {
  const auto& activity = *snapshot.activity;
  const std::string file = switched_config_file(app, activity);
  const std::string backup_file = backup_path(file);
  const auto backup = read_lb_file(services, app, backup_file);
  if (!backup) return "cannot read " + backup_file + ": " + backup.error().message;
  LbSnapshot before;
  before.config_list = snapshot.config_list;
  before.map_texts = snapshot.map_texts;
  bool found = false;
  for (const auto& config : snapshot.config_files) {
    found = found || config.path == file;
    before.config_files.push_back(config.path == file ? haproxy::ConfigFile{file, *backup} : config);
  }
  if (!found) return file + " is not one of the files HAProxy loads now";
  interpret_routing(app, before);
  if (before.selected != activity.from)
    return backup_file + " does not select " + state::to_upper_string(activity.from);
  const auto change = plan_config_change(app, before, activity.color);
  const auto live = std::find_if(snapshot.config_files.begin(), snapshot.config_files.end(),
                                 [&](const haproxy::ConfigFile& config) { return config.path == file; });
  if (!change || change->file != file || change->after != live->text) {
    return backup_file + " is not the config this switch started from (the live file differs from it in more "
                         "than the app's routes)";
  }
  return "";
}

}  // namespace

RecoveryOutcome roll_back_interrupted_switch(Services& services, const config::AppConfig& app,
                                             const LbSnapshot& snapshot, bool emergency) {
  RecoveryOutcome outcome;
  const auto& activity = *snapshot.activity;
  const std::string from = state::to_upper_string(activity.from);
  if (!snapshot.routes || !snapshot.selected) {
    outcome.text = "cannot roll back the interrupted switch: " + snapshot.live_problem;
    return outcome;
  }
  if (*snapshot.selected == activity.color) {
    if (const auto problem = backup_problem(services, app, snapshot); !problem.empty()) {
      outcome.text = "cannot roll back the interrupted switch: " + problem + ". Nothing was changed. Look at " +
                     switched_config_file(app, activity) + " on " + app.load_balancer.ssh +
                     ", put the version that should run in place, reload HAProxy (" + lb_reload_command(app) +
                     ") and remove " + activity_path(app);
      return outcome;
    }
    if (const auto restored =
            run_on_lb(services.executor, app, restore_config_script(app, switched_config_file(app, activity)));
        !restored || !restored->succeeded()) {
      outcome.text = "cannot roll back the interrupted switch: putting " +
                     backup_path(switched_config_file(app, activity)) + " back failed (" + command_output(restored) +
                     ")";
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
  std::vector<std::string> files;
  for (const auto& config : snapshot.config_files) files.push_back(config.path);
  const auto check =
      verify_routing(services, app, RoutingExpectation{activity.from, reloads, emergency, files, std::nullopt}, {});
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
