#pragma once
// The shell scripts a traffic switch runs on the load balancer, built in one place so each can be
// unit-tested and checked with `sh -n` (tests/unit/lb_scripts_test.cpp).
//
// Files beside the live config file a switch changes (all on the LB, same directory, so `mv` is an
// atomic rename):
//   <config>.bluegreen-candidate  the rewritten config, validated before it replaces the live one
//   <config>.bluegreen-backup     the config as it was before the last swap (restore copies it back)
//   <config>.bluegreen-restore.*  a short-lived copy of the backup, renamed over the live config
// Every value in a script is POSIX-single-quoted (remote::shell_quote); file contents travel
// base64-encoded, so any byte is safe. Only the operator's own validate command is pasted as
// shell, with {config} pointing at the candidate.
//
// Files are never written through a symbolic link (state::file_safety_shell_functions): every
// script refuses, exit state::kSymlinkRefusedExit with "REFUSED: <file> is a symbolic link to
// <target> ..." on stderr, when the live config or the backup (and, for validate and swap, the
// candidate) is a link. A live config that is a link (haproxy.cfg -> a managed file) is refused
// rather than replaced by a regular file or written through; the message says to point
// haproxyConfig at the link's target. New content goes to a fresh temp file beside its target
// (mktemp, O_EXCL; written with O_NOFOLLOW or cp), is fsynced and renamed over the target:
// rename(2) replaces a link planted after the check, never its target.
//
// Thread-safety: pure functions.

#include "config/config.h"

#include <map>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// Exit statuses the scripts use to say which refusal applies (anything else is a failure of the
// script itself, e.g. a full disk).
inline constexpr int kCandidateInvalidExit = 10;   // the validate command rejected the candidate
inline constexpr int kLiveConfigChangedExit = 11;  // the live config is not what the plan was made from

// Beside `file` (one file of HAProxy's configuration: the one a switch changes). Their names do
// not end in ".cfg", so HAProxy never loads them from a `-f` directory.
std::string candidate_path(const std::string& file);
std::string backup_path(const std::string& file);
// Beside `file` for the app's type of load balancer: HAProxy's names above; for nginx the same
// names with a dot in front of the file's name (/etc/nginx/sites-enabled/.app.conf.bluegreen-backup),
// because nginx's `include dir/*` loads every file of a directory except those whose name starts
// with a dot (glob(3), as ngx_open_glob calls it). restore_temp_path: the short-lived copy a
// restore renames over the file.
std::string candidate_path(const config::AppConfig& app, const std::string& file);
std::string backup_path(const config::AppConfig& app, const std::string& file);
std::string restore_temp_path(const config::AppConfig& app, const std::string& file);
// Beside loadBalancer.haproxyConfig's first file.
std::string candidate_path(const config::AppConfig& app);
std::string backup_path(const config::AppConfig& app);

// The app's validateCommand for the effective configuration `files` (load order) with `changed`
// read from `candidate` instead: `-f {config}` becomes one `-f FILE` per file (each quoted), so
// `haproxy -c` sees everything HAProxy loads; any other {config} is `candidate`. With no
// `files`, `-f {config}` is `-f candidate`.
// nginx (`nginx -t` checks the whole configuration, never one file): the validateCommand, with
// {config} the main file (nginxConfig), runs in a private mount namespace where each candidate is
// bind-mounted over the file it replaces (`unshare --mount`: root on the LB, util-linux), so nginx
// reads exactly what it would load after the swap and nothing else changes.
std::string validate_command_for(const config::AppConfig& app, const std::vector<std::string>& files,
                                 const std::string& changed, const std::string& candidate);
// The same with several files replaced (`candidates`: file -> candidate path); a lone {config} is
// the first candidate in load order.
std::string validate_command_for(const config::AppConfig& app, const std::vector<std::string>& files,
                                 const std::map<std::string, std::string>& candidates);
// The kinds' own halves of validate_command_for (lb_kind.h): HAProxy's `-f` list with the
// candidates in place; nginx's bind mounts in a private mount namespace.
std::string haproxy_validate_command(const config::AppConfig& app, const std::vector<std::string>& files,
                                     const std::map<std::string, std::string>& candidates);
std::string nginx_validate_command(const config::AppConfig& app, const std::map<std::string, std::string>& candidates);

// Writes `candidate_text` to the candidate path (temp file, rename) and runs the app's validate
// command on it (`haproxy -c -f {config}`). It runs first in a switch, under the lock, so it also
// removes temp files interrupted switches left (<candidate>.tmp.*, <backup>.tmp.*, restore copies).
// Exit 0: valid, the candidate stays for swap_config_script. Exit kCandidateInvalidExit: invalid;
// the validator's output is printed on stdout and the candidate removed. Exit
// state::kSymlinkRefusedExit: a file is a link (nothing written). Other: the candidate could not
// be written (no partial candidate is left; an older one may be).
// `file` is the configuration file the switch changes; `files` the effective configuration it is
// one of (validated together: validate_command_for).
// `validate` false (a map file, which HAProxy reads only at run time or a reload): the candidate
// is written and nothing else runs.
std::string validate_candidate_script(const config::AppConfig& app, const std::string& file,
                                      const std::vector<std::string>& files, const std::string& candidate_text,
                                      bool validate = true);
// The same with the validation command given (validate_command_for, for several changed files);
// "" writes the candidate only.
std::string write_candidate_script(const config::AppConfig& app, const std::string& file,
                                   const std::string& candidate_text, const std::string& validate_command);

// Replaces the live config with the validated candidate, atomically (rename), after copying the
// live file to the backup path (both fsynced), but only while the live file still holds exactly
// `expected_live_text`; otherwise removes the candidate and exits kLiveConfigChangedExit. The
// backup is written to a temp file, fsynced, compared with the live file (so it is never empty
// or partial, e.g. on a full disk) and only then renamed over the previous backup; if that fails
// the live config is not touched. The candidate gets the live file's mode and (where allowed:
// root) owner first (chmod/chown --reference, GNU coreutils), so a switch never widens a file's
// permissions or takes it from the user the load balancer writes it as (Caddy's autosave). Exit
// state::kSymlinkRefusedExit: a file is a link.
std::string swap_config_script(const config::AppConfig& app, const std::string& file,
                               const std::string& expected_live_text);

// Puts the backup back over the live config atomically (copy beside it, compare, then rename) and
// fsyncs it. The restored file keeps the backup's mode and owner but gets the current time as its
// modification time, so until HAProxy reloads it, it counts as a file HAProxy has not loaded
// (live_confirmation.h). Refuses a missing or empty backup and a backup or live config that is a link. Exit 0:
// restored; other: the live config is unchanged.
std::string restore_config_script(const config::AppConfig& app, const std::string& file);

// Removes a leftover candidate (never read by HAProxy; best effort); with the app, its type's name.
std::string remove_candidate_script(const std::string& file);
std::string remove_candidate_script(const config::AppConfig& app, const std::string& file);

}  // namespace bluegreen::deployment
