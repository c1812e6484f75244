#include "deployment/live_confirmation.h"

#include "deployment/app_routing.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_scripts.h"
#include "remote/shell_command.h"

#include <array>
#include <cmath>
#include <ctime>
#include <sstream>

namespace bluegreen::deployment {
namespace {

using state::Color;

// A change this many seconds after the workers' estimated start still counts as loaded: the
// estimate is late by up to ~2 s (whole-second uptimes and boot time), and a switch swaps the
// file only moments before it reloads.
constexpr std::int64_t kSlackSeconds = 1;

std::string utc_text(std::int64_t epoch_s) {
  const std::time_t t = epoch_s;
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buffer{};
  std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer.data();
}

std::string upper(Color color) { return state::to_upper_string(color); }

std::string switch_in_progress(const LbSnapshot& snapshot) {
  const auto& activity = *snapshot.activity;
  if (snapshot.activity_running) {
    return "a switch is in progress on the load balancer (" + activity.describe() +
           "). Which colour serves users is changing; check again when it has finished";
  }
  return "a switch was started on the load balancer (" + activity.describe() +
         ") and whether it is still running could not be checked, so which colour serves users is not known. "
         "Check again in a moment";
}

std::string interrupted_switch_text(const config::AppConfig& app, const LbSnapshot& snapshot) {
  const auto& activity = *snapshot.activity;
  const auto& lb = app.load_balancer;
  const std::string from = upper(activity.from);
  const std::string product = config::product_name(lb.type);
  std::string by_hand = "on " + lb.ssh + ": ";
  if (file_selects(snapshot) != activity.from) {
    for (const auto& file : switched_config_files(app, activity)) {
      by_hand += "cp -p " + backup_path(app, file) + " " + file + " (only if that backup selects " + from + "), ";
    }
  }
  by_hand += lb_reload_command(app) + ", then rm -f " + activity_path(app);
  return "AN INTERRUPTED SWITCH was found: " + activity.describe() +
         ". Its server stopped before it finished: " + interrupted_stage(snapshot, product) + ". " + product +
         "'s configuration may not be what " + product +
         " runs, so no colour is called live and deploys are "
         "refused. To resolve it, call switch_traffic: its plan first rolls the interrupted switch back (puts " +
         from + "'s config back, reloads " + product + " and verifies " + from + "), then switches " + from + " → " +
         upper(activity.color) + " with your approval. Or roll it back by hand (" + by_hand +
         ") and check get_deployment_status";
}

}  // namespace

// nginx reads its files when its workers start too (at start, and at each reload: nginx(8)).
std::string nginx_not_loaded_text(const config::AppConfig& app, const LbSnapshot& snapshot, std::int64_t started) {
  const auto& lb = app.load_balancer;
  const std::string selects = snapshot.selected ? upper(*snapshot.selected) : "an unknown upstream";
  const std::string changed = snapshot.config_modified_path.empty() ? lb.nginx_config : snapshot.config_modified_path;
  return "nginx has not loaded its configuration: " + changed + " was changed at " +
         utc_text(*snapshot.config_modified_s) + ", after the running nginx workers started (" + utc_text(started) +
         "). The files select " + selects +
         ", but nginx still runs the version it loaded before, so users may be on either colour. Deploys and "
         "switches are refused until this is resolved. If the files are what should run: on " +
         lb.ssh + ", check them (nginx -t -c " + lb.nginx_config + ") and reload nginx (" + lb_reload_command(app) +
         "). If not: put back the version nginx runs (as it was before this change), then reload. Then check "
         "get_deployment_status";
}

std::string haproxy_not_loaded_text(const config::AppConfig& app, const LbSnapshot& snapshot, std::int64_t started) {
  const auto& lb = app.load_balancer;
  const std::string selects = snapshot.selected ? upper(*snapshot.selected) : "an unknown backend";
  std::vector<std::string> files;
  for (const auto& file : snapshot.config_files) files.push_back(file.path);
  const std::string changed = snapshot.config_modified_path.empty() ? lb.haproxy_config : snapshot.config_modified_path;
  return "HAProxy has not loaded its configuration: " + changed + " was changed at " +
         utc_text(*snapshot.config_modified_s) + ", after the running HAProxy workers started (" + utc_text(started) +
         "). The file selects " + selects +
         ", but HAProxy still runs the version it loaded before, so users may be on either colour. Deploys and "
         "switches are refused until this is resolved. If the file is what should run: on " +
         lb.ssh + ", check it (" + validate_command_for(app, files, "", lb.haproxy_config) + ") and reload HAProxy (" +
         lb_reload_command(app) +
         "). If not: put back the version HAProxy runs (as it was before this change), then reload. Then check "
         "get_deployment_status";
}

std::optional<std::int64_t> parse_boot_time(const std::string& proc_stat) {
  std::istringstream lines(proc_stat);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("btime ", 0) != 0) continue;
    const std::string digits = line.substr(6);
    if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) break;
    return std::stoll(digits);
  }
  return std::nullopt;
}

std::optional<double> parse_uptime(const std::string& proc_uptime) {
  std::istringstream in(proc_uptime);
  double seconds = -1;
  if (!(in >> seconds) || !std::isfinite(seconds) || seconds < 0) return std::nullopt;
  return seconds;
}

std::optional<std::int64_t> workers_started_s(const LbSnapshot& snapshot) {
  if (!snapshot.processes || !snapshot.processes->current_worker_uptime_s || !snapshot.boot_time_s ||
      !snapshot.uptime_s) {
    return std::nullopt;
  }
  // The uptime is whole seconds rounded down, so this is never earlier than the real start.
  return *snapshot.boot_time_s + static_cast<std::int64_t>(*snapshot.uptime_s) -
         *snapshot.processes->current_worker_uptime_s;
}

bool switch_recorded(const LbSnapshot& snapshot) {
  return snapshot.activity && snapshot.activity->kind == ActivityKind::kSwitch && snapshot.state &&
         snapshot.state->generation > snapshot.activity->generation;
}

bool interrupted_switch(const LbSnapshot& snapshot) {
  return snapshot.activity && snapshot.activity->kind == ActivityKind::kSwitch && snapshot.activity_running == false &&
         !switch_recorded(snapshot);
}

bool interrupted_deploy(const LbSnapshot& snapshot) {
  return snapshot.activity && snapshot.activity->kind == ActivityKind::kDeploy && snapshot.activity_running == false;
}

bool deploy_running_unknown(const LbSnapshot& snapshot) {
  return snapshot.activity && snapshot.activity->kind == ActivityKind::kDeploy && !snapshot.activity_running;
}

std::optional<Activity> interrupted_deploy_of(const LbSnapshot& snapshot) {
  if (!snapshot.activity) return std::nullopt;
  if (interrupted_deploy(snapshot)) return snapshot.activity;
  if (snapshot.activity->replaced.empty()) return std::nullopt;
  auto replaced = parse_activity(snapshot.activity->replaced);
  if (!replaced || replaced->kind != ActivityKind::kDeploy) return std::nullopt;
  return std::move(replaced.value());
}

state::DeployRecord interrupted_deploy_record(const Activity& deploy) {
  state::DeployRecord record;
  record.timestamp = deploy.since;
  record.color = deploy.color;
  record.ref = deploy.ref;
  record.outcome = "interrupted";
  record.extra["client"] = deploy.client;
  record.extra["error"] = "the server running the deploy stopped" + (deploy.step.empty() ? "" : " at " + deploy.step) +
                          "; the host may be half deployed";
  return record;
}

std::optional<state::Color> file_selects(const LbSnapshot& snapshot) {
  return snapshot.source_selects ? snapshot.source_selects : snapshot.selected;
}

std::string interrupted_stage(const LbSnapshot& snapshot, const std::string& product) {
  const auto& activity = *snapshot.activity;
  std::optional<bool> reloaded;
  if (snapshot.processes && activity.reloads_before) {
    // A restarted HAProxy (another master) counts its reloads from 0, and loaded the file afresh.
    const bool restarted = activity.master_pid != 0 && snapshot.processes->master_pid != activity.master_pid;
    reloaded = restarted || snapshot.processes->reloads > *activity.reloads_before;
  }
  const auto in_file = file_selects(snapshot);
  // Caddy: what runs (`selected`) tells whether the swapped file was loaded.
  if (snapshot.source_selects && snapshot.selected) reloaded = *snapshot.selected == *snapshot.source_selects;
  if (!in_file) return "what the config file selects now cannot be told";
  if (*in_file == activity.color) {
    if (!reloaded)
      return "the config was swapped (it selects " + upper(activity.color) + "); whether " + product +
             " was reloaded is unknown";
    return *reloaded ? "the config was swapped (it selects " + upper(activity.color) + ") and " + product +
                           " reloaded, but the switch was neither verified nor recorded"
                     : "the config was swapped (it selects " + upper(activity.color) + ") but " + product +
                           " was not reloaded, so users are still on " + upper(activity.from);
  }
  if (reloaded == true && !snapshot.source_selects) {
    return "the config selects " + upper(activity.from) + " again and " + product +
           " was reloaded since the switch started (a rollback may not have finished)";
  }
  return "the config was not swapped (it still selects " + upper(activity.from) + ")";
}

std::string live_unconfirmed(const config::AppConfig& app, const LbSnapshot& snapshot) {
  if (!snapshot.activity_problem.empty()) {
    return snapshot.activity_problem + " (" + activity_path(app) + " on " + app.load_balancer.ssh +
           "), so whether a switch was left halfway is not known and no colour is called live. Look at the file; if "
           "no deploy or switch is running, remove it (rm -f " +
           activity_path(app) + ") and check get_deployment_status";
  }
  const auto& kind = lb_kind(app);
  if (auto problem = kind.not_running_problem(app, snapshot); !problem.empty()) return problem;
  if (snapshot.activity && snapshot.activity->kind == ActivityKind::kSwitch && !switch_recorded(snapshot)) {
    return snapshot.activity_running == false ? interrupted_switch_text(app, snapshot) : switch_in_progress(snapshot);
  }
  if (const auto started = workers_started_s(snapshot);
      started && snapshot.config_modified_s && *snapshot.config_modified_s > *started + kSlackSeconds) {
    return kind.not_loaded_text(app, snapshot, *started);
  }
  return map_runtime_problem(app, snapshot);
}

void confirm_live(const config::AppConfig& app, LbSnapshot& snapshot) {
  if (!snapshot.selected) return;
  if (auto why = live_unconfirmed(app, snapshot); !why.empty()) {
    snapshot.live.reset();
    snapshot.live_problem = std::move(why);
    return;
  }
  snapshot.live = snapshot.selected;
}

}  // namespace bluegreen::deployment
