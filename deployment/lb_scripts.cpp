#include "deployment/lb_scripts.h"

#include "common/base64.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_snapshot.h"
#include "deployment/nginx_snapshot.h"
#include "remote/shell_command.h"
#include "state/state_store.h"

namespace bluegreen::deployment {

using remote::shell_quote;

namespace {

// What to do when the live config is a link (e.g. /etc/haproxy/haproxy.cfg -> a file a
// configuration manager owns): a switch would replace the link with a regular file (rename) or
// write through it behind its manager's back, so it refuses.
std::string live_link_advice(const config::AppConfig& app, const std::string& file) {
  const auto& lb = app.load_balancer;
  const std::string where =
      lb.type == config::LbType::kCaddy ? "in loadBalancer." + std::string(lb.caddyfile ? "caddyfile" : "autosave") +
                                              " of app " + app.name + " and where Caddy is started from it"
      : lb.type == config::LbType::kNginx ? "in nginx's include (or -c) that loads it"
                                          : "for a configuration file, in HAProxy's -f arguments (and "
                                            "loadBalancer.haproxyConfig of app " +
                                                app.name + "); for a map, in the configuration's map() lookups";
  return "A switch replaces the file by renaming a new one over it, which would turn the link into a regular file, "
         "and it never writes through a link, so the switch stopped before any change. Make " +
         file + " a regular file, or use the file the link points to (readlink -f " + file +
         ") in its place: " + where + ". Then request a new plan.";
}

// `set -e`, the file variables every script uses, the file-safety helpers, and the symlink checks
// of the live config, the backup and (`with_candidate`) the candidate.
std::string prologue(const config::AppConfig& app, const std::string& file, bool with_candidate) {
  return "set -e; cfg=" + shell_quote(file) + "; cand=" + shell_quote(candidate_path(app, file)) +
         "; backup=" + shell_quote(backup_path(app, file)) + "; restore=" + shell_quote(restore_temp_path(app, file)) +
         "; " + state::file_safety_shell_functions() + "bg_no_symlink \"$cfg\" " +
         shell_quote(live_link_advice(app, file)) + "; bg_no_symlink \"$backup\"; " +
         (with_candidate ? "bg_no_symlink \"$cand\"; " : "");
}

}  // namespace

std::string candidate_path(const std::string& file) { return file + ".bluegreen-candidate"; }
std::string backup_path(const std::string& file) { return file + ".bluegreen-backup"; }
std::string candidate_path(const config::AppConfig& app) { return candidate_path(app.load_balancer.haproxy_config); }

namespace {

// `file` with `suffix` added, where the kind hides backups (nginx) also with a dot in front of its name.
std::string beside(const config::AppConfig& app, const std::string& file, const std::string& suffix) {
  if (!lb_kind(app).hides_backups()) return file + suffix;
  const auto slash = file.rfind('/');
  const auto name = slash == std::string::npos ? file : file.substr(slash + 1);
  return file.substr(0, slash == std::string::npos ? 0 : slash + 1) + (name.rfind('.', 0) == 0 ? "" : ".") + name +
         suffix;
}

}  // namespace

std::string candidate_path(const config::AppConfig& app, const std::string& file) {
  return beside(app, file, ".bluegreen-candidate");
}
std::string backup_path(const config::AppConfig& app, const std::string& file) {
  return beside(app, file, ".bluegreen-backup");
}
std::string restore_temp_path(const config::AppConfig& app, const std::string& file) {
  return beside(app, file, ".bluegreen-restore");
}
std::string backup_path(const config::AppConfig& app) { return backup_path(app.load_balancer.haproxy_config); }

// nginx's validation: the candidates bind-mounted over their files in a private mount namespace.
std::string nginx_validate_command(const config::AppConfig& app, const std::map<std::string, std::string>& candidates) {
  std::string mounts;
  for (const auto& [file, candidate] : candidates) {
    mounts += "mount --bind " + shell_quote(candidate) + " " + shell_quote(file) + " && ";
  }
  auto placeholders = lb_placeholders(app);
  const std::string check = remote::substitute_placeholders(app.load_balancer.validate_command, placeholders);
  return without_pid_file_side_effect(app, "unshare --mount --propagation private sh -c " +
                                               shell_quote(mounts + "{ " + check + "; }"));
}

std::string validate_command_for(const config::AppConfig& app, const std::vector<std::string>& files,
                                 const std::map<std::string, std::string>& candidates) {
  return lb_kind(app).validate_command(app, files, candidates);
}

std::string haproxy_validate_command(const config::AppConfig& app, const std::vector<std::string>& files,
                                     const std::map<std::string, std::string>& candidates) {
  std::string command = app.load_balancer.validate_command;
  std::string all;
  std::string first_candidate;
  for (const auto& file : files) {
    const auto replaced = candidates.find(file);
    const std::string& path = replaced == candidates.end() ? file : replaced->second;
    if (replaced != candidates.end() && first_candidate.empty()) first_candidate = replaced->second;
    all += std::string(all.empty() ? "" : " ") + "-f " + shell_quote(path);
  }
  if (first_candidate.empty() && !candidates.empty()) first_candidate = candidates.begin()->second;
  if (files.empty()) all = "-f " + shell_quote(first_candidate);
  const std::string pattern = "-f {config}";
  for (auto at = command.find(pattern); at != std::string::npos; at = command.find(pattern, at + all.size())) {
    command.replace(at, pattern.size(), all);
  }
  auto placeholders = lb_placeholders(app);
  placeholders["config"] = first_candidate;
  return remote::substitute_placeholders(command, placeholders);
}

std::string validate_command_for(const config::AppConfig& app, const std::vector<std::string>& files,
                                 const std::string& changed, const std::string& candidate) {
  return validate_command_for(app, files, std::map<std::string, std::string>{{changed, candidate}});
}

std::string validate_candidate_script(const config::AppConfig& app, const std::string& file,
                                      const std::vector<std::string>& files, const std::string& candidate_text,
                                      bool validate_it) {
  return write_candidate_script(app, file, candidate_text,
                                validate_it ? validate_command_for(app, files, file, candidate_path(app, file)) : "");
}

std::string write_candidate_script(const config::AppConfig& app, const std::string& file,
                                   const std::string& candidate_text, const std::string& validate_command) {
  const std::string validate = validate_command.empty() ? ":" : validate_command;
  // Runs first in a switch, under the lock: temp files of earlier, interrupted switches are stale.
  return prologue(app, file, true) +
         "rm -f -- \"$cand\".tmp.* \"$backup\".tmp.* \"$restore\" \"$restore\".* "
         "2>/dev/null || :; c=$(bg_new_temp \"$cand.tmp\"); trap 'rm -f -- \"$c\"' EXIT; printf '%s' " +
         shell_quote(bluegreen::base64_encode(candidate_text)) +
         " | base64 -d | bg_fill \"$c\"; mv -f -- \"$c\" \"$cand\"; trap - EXIT; if ! out=$( { " + validate +
         "; } 2>&1 ); then printf '%s\\n' \"$out\"; rm -f \"$cand\"; exit " + std::to_string(kCandidateInvalidExit) +
         "; fi";
}

std::string swap_config_script(const config::AppConfig& app, const std::string& file,
                               const std::string& expected_live_text) {
  return prologue(app, file, true) + "if ! printf '%s' " + shell_quote(bluegreen::base64_encode(expected_live_text)) +
         " | base64 -d | cmp -s - \"$cfg\"; then rm -f \"$cand\"; exit " + std::to_string(kLiveConfigChangedExit) +
         "; fi; b=$(bg_new_temp \"$backup.tmp\"); trap 'rm -f -- \"$b\"' EXIT; cp -p -- \"$cfg\" \"$b\"; "
         "sync \"$b\"; cmp -s -- \"$cfg\" \"$b\"; [ -s \"$b\" ]; mv -f -- \"$b\" \"$backup\"; trap - EXIT; "
         "chown --reference=\"$cfg\" -- \"$cand\" 2>/dev/null || :; chmod --reference=\"$cfg\" -- \"$cand\"; "
         "mv -f \"$cand\" \"$cfg\"; sync \"$cfg\"";
}

std::string restore_config_script(const config::AppConfig& app, const std::string& file) {
  return prologue(app, file, false) +
         "if [ ! -s \"$backup\" ]; then printf 'REFUSED: the backup %s is missing or empty, so it was not restored; "
         "the live config is unchanged.\\n' \"$backup\" >&2; exit 1; fi; r=$(bg_new_temp \"$restore\"); "
         "trap 'rm -f -- \"$r\"' EXIT; cp -p -- \"$backup\" \"$r\"; touch -- \"$r\"; sync \"$r\"; "
         "cmp -s -- \"$backup\" \"$r\"; mv -f -- \"$r\" \"$cfg\"; trap - EXIT; sync \"$cfg\"";
}

std::string remove_candidate_script(const std::string& file) { return "rm -f " + shell_quote(candidate_path(file)); }
std::string remove_candidate_script(const config::AppConfig& app, const std::string& file) {
  return "rm -f " + shell_quote(candidate_path(app, file));
}

}  // namespace bluegreen::deployment
