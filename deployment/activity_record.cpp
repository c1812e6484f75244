#include "deployment/activity_record.h"

#include "common/base64.h"
#include "remote/shell_command.h"
#include "state/state_store.h"

namespace bluegreen::deployment {

using nlohmann::json;
using remote::shell_quote;

json Activity::to_json() const {
  json j{{"action", kind == ActivityKind::kSwitch ? "switch" : "deploy"},
         {"app", app},
         {"client", client},
         {"since", since},
         {"serverPid", server_pid},
         {"step", step},
         {"stepSince", step_since}};
  if (kind == ActivityKind::kSwitch) {
    j["from"] = state::to_string(from);
    j["to"] = state::to_string(color);
    j["generation"] = generation;
    j["reloadsBefore"] = reloads_before ? json(*reloads_before) : json(nullptr);
    j["masterPid"] = master_pid;
    if (!config_files.empty()) j["configFiles"] = config_files;
  } else {
    j["color"] = state::to_string(color);
    j["ref"] = ref;
  }
  if (!replaced.empty()) j["replaced"] = json::parse(replaced, nullptr, false);
  return j;
}

std::string Activity::describe() const {
  std::string text = kind == ActivityKind::kSwitch
                         ? "switch " + state::to_upper_string(from) + " → " + state::to_upper_string(color)
                         : "deploy of " + ref + " to " + state::to_upper_string(color);
  text += " by " + (client.empty() ? std::string("an unknown client") : client) + " since " + since;
  if (!step.empty()) text += "; at " + step + (step_since.empty() ? "" : " (since " + step_since + ")");
  return text;
}

namespace {

bluegreen::Result<state::Color> color_field(const json& j, const char* name) {
  const auto found = j.find(name);
  if (found == j.end() || !found->is_string()) return Error{std::string("\"") + name + "\" is missing"};
  auto color = state::parse_color(found->get<std::string>());
  if (!color) return Error{std::string("\"") + name + "\" is not blue or green"};
  return *color;
}

std::string string_field(const json& j, const char* name) {
  const auto found = j.find(name);
  return found != j.end() && found->is_string() ? found->get<std::string>() : std::string();
}

}  // namespace

std::vector<std::string> switched_config_files(const config::AppConfig& app, const Activity& activity) {
  if (activity.config_files.empty()) return {app.load_balancer.haproxy_config};
  return activity.config_files;
}

bluegreen::Result<Activity> parse_activity(const std::string& text) {
  const auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Error{"the activity record is not a JSON object"};
  Activity activity;
  const std::string action = string_field(j, "action");
  if (action != "switch" && action != "deploy")
    return Error{"the activity record's \"action\" is not switch or deploy"};
  activity.kind = action == "switch" ? ActivityKind::kSwitch : ActivityKind::kDeploy;
  activity.app = string_field(j, "app");
  activity.client = string_field(j, "client");
  activity.since = string_field(j, "since");
  activity.step = string_field(j, "step");
  activity.step_since = string_field(j, "stepSince");
  if (const auto replaced = j.find("replaced"); replaced != j.end() && replaced->is_object()) {
    activity.replaced = replaced->dump();
  }
  if (const auto pid = j.find("serverPid"); pid != j.end() && pid->is_number_integer()) {
    activity.server_pid = pid->get<std::int64_t>();
  }
  auto color = color_field(j, activity.kind == ActivityKind::kSwitch ? "to" : "color");
  if (!color) return Error{"the activity record's " + color.error().message};
  activity.color = *color;
  if (activity.kind == ActivityKind::kDeploy) {
    activity.ref = string_field(j, "ref");
    return activity;
  }
  auto from = color_field(j, "from");
  if (!from) return Error{"the activity record's " + from.error().message};
  activity.from = *from;
  if (const auto generation = j.find("generation"); generation != j.end() && generation->is_number_unsigned()) {
    activity.generation = generation->get<std::uint64_t>();
  }
  if (const auto reloads = j.find("reloadsBefore"); reloads != j.end() && reloads->is_number_integer()) {
    activity.reloads_before = reloads->get<int>();
  }
  if (const auto master = j.find("masterPid"); master != j.end() && master->is_number_integer()) {
    activity.master_pid = master->get<int>();
  }
  if (const auto files = j.find("configFiles"); files != j.end() && files->is_array()) {
    for (const auto& file : *files) {
      if (file.is_string()) activity.config_files.push_back(file.get<std::string>());
    }
  }
  return activity;
}

std::string activity_path(const config::AppConfig& app) { return app.load_balancer.lock_file + ".activity"; }

std::string write_activity_script(const config::AppConfig& app, const Activity& activity) {
  // A fresh temp file (never an existing file or a link), filled without following a link, then
  // renamed over the record; a record that is a link is refused (state/state_store.h's helpers).
  return "set -e; f=" + shell_quote(activity_path(app)) + "; " + state::file_safety_shell_functions() +
         "bg_no_symlink \"$f\"; t=$(bg_new_temp \"$f.tmp\"); trap 'rm -f -- \"$t\"' EXIT; printf '%s' " +
         shell_quote(bluegreen::base64_encode(activity.to_json().dump() + "\n")) +
         " | base64 -d | bg_fill \"$t\"; mv -f -- \"$t\" \"$f\"; trap - EXIT";
}

std::string remove_activity_script(const config::AppConfig& app) { return "rm -f " + shell_quote(activity_path(app)); }

std::string lock_held_script(const config::AppConfig& app) {
  // No record: nothing to ask about (this also runs, piggybacked on a read, where it is not yet
  // known whether there is one), so no flock process. No lock file: nobody can hold it. Never
  // create one here, and never follow a symlink.
  const std::string lock = shell_quote(app.load_balancer.lock_file);
  return "if [ -e " + shell_quote(activity_path(app)) + " ] && [ -f " + lock + " ] && [ ! -L " + lock +
         " ]; then exec flock -n -E " + std::to_string(kLockHeldExit) + " " + lock + " true; fi; exit " +
         std::to_string(kLockFreeExit);
}

}  // namespace bluegreen::deployment
