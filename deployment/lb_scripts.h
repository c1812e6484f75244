#pragma once
// The shell scripts a traffic switch runs on the load balancer, built in one place so each can be
// unit-tested and checked with `sh -n` (tests/unit/lb_scripts_test.cpp).
//
// Files beside the live config (all on the LB, same directory, so `mv` is an atomic rename):
//   <config>.bluegreen-candidate  the rewritten config, validated before it replaces the live one
//   <config>.bluegreen-backup     the config as it was before the last swap (restore copies it back)
//   <config>.bluegreen-restore    a short-lived copy of the backup, renamed over the live config
// Every value in a script is POSIX-single-quoted (remote::shell_quote); file contents travel
// base64-encoded, so any byte is safe. Only the operator's own validate command is pasted as
// shell, with {config} pointing at the candidate.
//
// Thread-safety: pure functions.

#include "config/config.h"

#include <string>

namespace bluegreen::deployment {

// Exit statuses the scripts use to say which refusal applies (anything else is a failure of the
// script itself, e.g. a full disk).
inline constexpr int kCandidateInvalidExit = 10;   // the validate command rejected the candidate
inline constexpr int kLiveConfigChangedExit = 11;  // the live config is not what the plan was made from

std::string candidate_path(const config::AppConfig& app);
std::string backup_path(const config::AppConfig& app);

// Writes `candidate_text` to the candidate path and runs the app's validate command on it
// (`haproxy -c -f {config}`). Exit 0: valid, the candidate stays for swap_config_script. Exit
// kCandidateInvalidExit: invalid; the validator's output is printed on stdout and the candidate
// removed. Other: the candidate could not be written (it may be partly there).
std::string validate_candidate_script(const config::AppConfig& app, const std::string& candidate_text);

// Replaces the live config with the validated candidate, atomically (rename), after copying the
// live file to the backup path (both fsynced), but only while the live file still holds exactly
// `expected_live_text`; otherwise removes the candidate and exits kLiveConfigChangedExit.
std::string swap_config_script(const config::AppConfig& app, const std::string& expected_live_text);

// Puts the backup back over the live config atomically (copy beside it, then rename) and fsyncs
// it. Exit 0: restored; other: the live config is unchanged or (copy failed midway) still the
// candidate.
std::string restore_config_script(const config::AppConfig& app);

// Removes a leftover candidate (never read by HAProxy; best effort).
std::string remove_candidate_script(const config::AppConfig& app);

}  // namespace bluegreen::deployment
