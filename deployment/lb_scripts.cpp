#include "deployment/lb_scripts.h"

#include "common/base64.h"
#include "deployment/lb_snapshot.h"
#include "remote/shell_command.h"

namespace bluegreen::deployment {

using remote::shell_quote;

std::string candidate_path(const config::AppConfig& app) {
  return app.load_balancer.haproxy_config + ".bluegreen-candidate";
}

std::string backup_path(const config::AppConfig& app) { return app.load_balancer.haproxy_config + ".bluegreen-backup"; }

std::string validate_candidate_script(const config::AppConfig& app, const std::string& candidate_text) {
  auto placeholders = lb_placeholders(app);
  placeholders["config"] = candidate_path(app);
  const std::string validate = remote::substitute_placeholders(app.load_balancer.validate_command, placeholders);
  return "set -e; cand=" + shell_quote(candidate_path(app)) + "; printf '%s' " +
         shell_quote(bluegreen::base64_encode(candidate_text)) + " | base64 -d > \"$cand\"; if ! out=$( { " + validate +
         "; } 2>&1 ); then printf '%s\\n' \"$out\"; rm -f \"$cand\"; exit " + std::to_string(kCandidateInvalidExit) +
         "; fi";
}

std::string swap_config_script(const config::AppConfig& app, const std::string& expected_live_text) {
  return "set -e; cfg=" + shell_quote(app.load_balancer.haproxy_config) + "; cand=" + shell_quote(candidate_path(app)) +
         "; backup=" + shell_quote(backup_path(app)) + "; if ! printf '%s' " +
         shell_quote(bluegreen::base64_encode(expected_live_text)) +
         " | base64 -d | cmp -s - \"$cfg\"; then rm -f \"$cand\"; exit " + std::to_string(kLiveConfigChangedExit) +
         "; fi; cp -p \"$cfg\" \"$backup\"; sync \"$backup\"; mv -f \"$cand\" \"$cfg\"; sync \"$cfg\"";
}

std::string restore_config_script(const config::AppConfig& app) {
  const std::string& cfg = app.load_balancer.haproxy_config;
  return "set -e; cp -p " + shell_quote(backup_path(app)) + " " + shell_quote(cfg + ".bluegreen-restore") + "; mv -f " +
         shell_quote(cfg + ".bluegreen-restore") + " " + shell_quote(cfg) + "; sync " + shell_quote(cfg);
}

std::string remove_candidate_script(const config::AppConfig& app) {
  return "rm -f " + shell_quote(candidate_path(app));
}

}  // namespace bluegreen::deployment
