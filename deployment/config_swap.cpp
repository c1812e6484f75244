#include "deployment/config_swap.h"

#include "deployment/lb_kind.h"
#include "deployment/lb_scripts.h"
#include "deployment/lb_snapshot.h"
#include "deployment/map_switch.h"
#include "deployment/routing_check.h"
#include "state/state_store.h"

#include <map>

namespace bluegreen::deployment {

bluegreen::Result<remote::CommandResult> stage_candidates(Services& services, const config::AppConfig& app,
                                                          const ConfigChange& change) {
  std::map<std::string, std::string> candidates;
  for (const auto& edit : change.edits) {
    if (!edit.is_map) candidates[edit.file] = candidate_path(app, edit.file);
  }
  std::size_t last_config = change.edits.size();
  for (std::size_t i = 0; i < change.edits.size(); ++i) last_config = change.edits[i].is_map ? last_config : i;
  bluegreen::Result<remote::CommandResult> result = bluegreen::Error{"nothing to stage"};
  for (std::size_t i = 0; i < change.edits.size(); ++i) {
    const auto& edit = change.edits[i];
    const std::string validate = i == last_config ? validate_command_for(app, change.files, candidates) : "";
    result = run_on_lb(services.executor, app, write_candidate_script(app, edit.file, edit.after, validate));
    if (!result || !result->succeeded()) return result;
  }
  if (auto problem = lb_kind(app).check_candidates(services, app, change); !problem.empty()) {
    // Refused as an invalid candidate is (kCandidateInvalidExit: nothing left behind).
    remove_candidates(services, app, change);
    remote::CommandResult refused;
    refused.exit_status = kCandidateInvalidExit;
    refused.out.tail = std::move(problem);
    return refused;
  }
  return result;
}

void remove_candidates(Services& services, const config::AppConfig& app, const ConfigChange& change) {
  for (const auto& edit : change.edits)
    (void)run_on_lb(services.executor, app, remove_candidate_script(app, edit.file));
}

SwapOutcome swap_edits(Services& services, const config::AppConfig& app, const ConfigChange& change) {
  SwapOutcome outcome;
  for (const auto& edit : change.edits) {
    const auto swapped = run_on_lb(services.executor, app, swap_config_script(app, edit.file, edit.before));
    if (swapped && swapped->succeeded()) {
      ++outcome.swapped;
      continue;
    }
    if (swapped && swapped->exit_status == kLiveConfigChangedExit) {
      outcome.live_changed = true;
      outcome.failure = edit.file + " changed on the load balancer while the switch was being prepared";
      return outcome;
    }
    outcome.symlink = swapped && swapped->exit_status == state::kSymlinkRefusedExit;
    outcome.failure = "installing the new " + edit.file + " failed: " + command_output(swapped);
    if (outcome.symlink) return outcome;
    // Its `mv` may have run: the file decides.
    const auto live = read_lb_file(services, app, edit.file);
    if (live && *live == edit.after) ++outcome.swapped;
    else if (!live || *live != edit.before) outcome.uncertain = true;
    return outcome;
  }
  return outcome;
}

std::string apply_change(Services& services, const config::AppConfig& app, const ConfigChange& change, bool forward) {
  if (!change.map_only()) {
    const auto reload = run_on_lb(services.executor, app, lb_reload_command(app));
    return reload && reload->succeeded() ? ""
                                         : "reloading " + std::string(config::product_name(app.load_balancer.type)) +
                                               " failed: " + command_output(reload);
  }
  for (const auto& edit : change.edits) {
    if (auto problem = apply_running_map(services.executor, app, edit.file, forward ? edit.after : edit.before);
        !problem.empty()) {
      return "updating HAProxy's running map failed: " + problem;
    }
  }
  return "";
}

std::string restore_edits(Services& services, const config::AppConfig& app, const ConfigChange& change,
                          std::size_t count) {
  for (std::size_t i = 0; i < count && i < change.edits.size(); ++i) {
    const auto restored = run_on_lb(services.executor, app, restore_config_script(app, change.edits[i].file));
    if (!restored || !restored->succeeded()) {
      return "restoring " + change.edits[i].file + " failed (" + command_output(restored) + ")";
    }
  }
  return "";
}

std::string edited_files(const ConfigChange& change) {
  std::string files;
  for (const auto& edit : change.edits) files += (files.empty() ? "" : ", ") + edit.file;
  return files;
}

}  // namespace bluegreen::deployment
