#include "deployment/switch_recovery.h"

#include "deployment/app_routing.h"
#include "deployment/config_change.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_scripts.h"
#include "deployment/routing_check.h"

#include <algorithm>
#include <map>

namespace bluegreen::deployment {
namespace {

// The files of the interrupted switch that were already replaced: those in which a route of the
// app selects the switch's `to` colour.
// A file as a switch edits it: nginx's path resolved through a link (haproxy_files.h's real_paths).
const std::string& edited_path(const LbSnapshot& snapshot, const std::string& path) {
  const auto real = snapshot.config_list.real_paths.find(path);
  return real == snapshot.config_list.real_paths.end() ? path : real->second;
}

std::vector<std::string> swapped_files(const config::AppConfig& app, const LbSnapshot& snapshot) {
  const auto& activity = *snapshot.activity;
  std::vector<std::string> swapped;
  for (const auto& file : switched_config_files(app, activity)) {
    const bool moved =
        std::any_of(snapshot.routes->routes.begin(), snapshot.routes->routes.end(), [&](const haproxy::Route& route) {
          return edited_path(snapshot, route.file) == file && route_colour(app, route) == activity.color;
        });
    if (moved) swapped.push_back(file);
  }
  return swapped;
}

// Are the backups of `swapped` this switch's originals? With each backup in place of its file,
// every route of the app must select `from`, and rewriting them to `to` must give each live file.
std::string backup_problem(Services& services, const config::AppConfig& app, const LbSnapshot& snapshot,
                           const std::vector<std::string>& swapped) {
  const auto& activity = *snapshot.activity;
  LbSnapshot before;
  before.config_list = snapshot.config_list;
  before.config_files = snapshot.config_files;
  before.map_texts = snapshot.map_texts;
  std::map<std::string, std::string> live;
  for (const auto& file : swapped) {
    const auto backup = read_lb_file(services, app, backup_path(app, file));
    if (!backup) return "cannot read " + backup_path(app, file) + ": " + backup.error().message;
    bool found = false;
    for (auto& config : before.config_files) {
      if (edited_path(snapshot, config.path) != file) continue;
      live[file] = config.text;
      config.text = *backup;
      found = true;
    }
    if (const auto map = before.map_texts.find(file); map != before.map_texts.end()) {
      live[file] = map->second;
      map->second = *backup;
      found = true;
    }
    if (!found) return file + " is not one of the files " + config::product_name(app.load_balancer.type) + " loads now";
  }
  lb_kind(app).interpret_routing(app, before);
  if (before.selected != activity.from) {
    return "the backups (" + backup_path(app, swapped.front()) + (swapped.size() > 1 ? ", ..." : "") +
           ") do not select " + state::to_upper_string(activity.from);
  }
  const auto change = plan_config_change(app, before, activity.color);
  if (!change) return change.error().message;
  for (const auto& file : swapped) {
    const bool matches = std::any_of(change->edits.begin(), change->edits.end(), [&](const FileEdit& edit) {
      return edit.file == file && edit.after == live[file];
    });
    if (!matches) {
      return backup_path(app, file) +
             " is not the file this switch started from (the live file differs from it in more "
             "than the app's routes)";
    }
  }
  return "";
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

}  // namespace

bluegreen::Result<std::vector<std::string>> interrupted_file_swaps(Services& services, const config::AppConfig& app,
                                                                   const LbSnapshot& snapshot) {
  auto swapped = swapped_files(app, snapshot);
  if (swapped.empty()) return swapped;
  if (auto problem = backup_problem(services, app, snapshot, swapped); !problem.empty()) {
    return bluegreen::Error{std::move(problem)};
  }
  return swapped;
}

RecoveryOutcome roll_back_interrupted_switch(Services& services, const config::AppConfig& app,
                                             const LbSnapshot& snapshot, bool emergency) {
  RecoveryOutcome outcome;
  const auto& activity = *snapshot.activity;
  const std::string from = state::to_upper_string(activity.from);
  if (!snapshot.routes || snapshot.config_files.empty()) {
    outcome.text = "cannot roll back the interrupted switch: " + snapshot.live_problem;
    return outcome;
  }
  const auto swaps = lb_kind(app).interrupted_swaps(services, app, snapshot);
  if (!swaps) {
    outcome.text = "cannot roll back the interrupted switch: " + swaps.error().message +
                   ". Nothing was changed. Look at " + joined(switched_config_files(app, activity)) + " on " +
                   app.load_balancer.ssh + ", put the version that should run in place, reload " +
                   config::product_name(app.load_balancer.type) + " (" + lb_reload_command(app) + ") and remove " +
                   activity_path(app);
    return outcome;
  }
  const auto& swapped = *swaps;
  if (!swapped.empty()) {
    for (const auto& file : swapped) {
      if (const auto restored = run_on_lb(services.executor, app, restore_config_script(app, file));
          !restored || !restored->succeeded()) {
        outcome.text = "cannot roll back the interrupted switch: putting " + backup_path(app, file) + " back failed (" +
                       command_output(restored) + ")";
        return outcome;
      }
    }
    outcome.restored = true;
  }
  const auto reloads = current_reloads(services, app);
  const auto workers = lb_kind(app).workers_before_reload(services, app);
  if (const auto reload = run_on_lb(services.executor, app, lb_reload_command(app)); !reload || !reload->succeeded()) {
    outcome.text = "rolling back the interrupted switch: " +
                   std::string(outcome.restored ? "the previous config was put back, but " : "") + "reloading " +
                   config::product_name(app.load_balancer.type) + " failed (" + command_output(reload) + ")";
    return outcome;
  }
  std::vector<std::string> files;
  for (const auto& config : snapshot.config_files) files.push_back(config.path);
  const auto check =
      verify_routing(services, app, RoutingExpectation{activity.from, reloads, emergency, files, nullptr, workers}, {});
  if (!check.ok) {
    outcome.text = "rolling back the interrupted switch: " + std::string(config::product_name(app.load_balancer.type)) +
                   " was reloaded, but routing to " + from + " could not be verified: " + check.detail +
                   ". get_deployment_status shows what it runs now and the commands to resolve it by hand";
    return outcome;
  }
  outcome.ok = true;
  outcome.text =
      "the interrupted switch (" + activity.describe() + ") was rolled back: " +
      (outcome.restored ? "the config selecting " + from + " was put back, " : "the config selects " + from + ", ") +
      config::product_name(app.load_balancer.type) + " reloaded and verified (" + check.detail + ")";
  return outcome;
}

LbSnapshot read_settled_snapshot(Services& services, const config::AppConfig& app, const state::StateStore& store,
                                 state::Color standby, const std::stop_token& stop) {
  const auto in_transition = [&app, standby](const LbSnapshot& snapshot) {
    if (!snapshot.servers) return false;
    return std::any_of(snapshot.servers->begin(), snapshot.servers->end(), [&](const haproxy::ServerStatus& server) {
      return server.backend == backend_of(app, standby) && server.server != "BACKEND" &&
             server.status.find('/') != std::string::npos;
    });
  };
  const auto settle_until = services.time.now() + std::chrono::seconds(10);
  LbSnapshot snapshot;
  do {
    snapshot = read_lb_snapshot(services.executor, app, store, SnapshotOptions{true, true});
  } while (in_transition(snapshot) && services.time.now() < settle_until &&
           services.time.sleep_for(std::chrono::milliseconds(250), stop));
  return snapshot;
}

}  // namespace bluegreen::deployment
