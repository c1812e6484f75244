#pragma once
// A switch's change to HAProxy's files (config_change.h) carried out on the load balancer, file by
// file with the scripts of lb_scripts.h, so that it is all or nothing:
//  - stage: every file's candidate is written beside it; the configuration files are validated
//    once, together (`haproxy -c` over the whole effective configuration with every changed file
//    replaced by its candidate), by the last configuration file's script;
//  - swap: each file, in order, is backed up and replaced by its candidate (atomic rename) while it
//    still holds what the plan was made from; a failure part way says how many were swapped, so
//    the caller restores exactly those;
//  - apply: one reload when a configuration file changed (map files were swapped first, so the
//    reload loads them too), else each running map replaced with no reload (map_switch.h);
//  - restore: the backups put back over the files swapped, then applied the same way.
//
// Thread-safety: reentrant; must run under the app's lock.

#include "config/config.h"
#include "deployment/config_change.h"
#include "deployment/services.h"

#include <cstddef>
#include <string>

namespace bluegreen::deployment {

// Writes every candidate and validates the set, then runs the kind's own check of the candidates
// (LbKind::check_candidates; Caddy: they adapt to the planned configuration). The result: the
// last script's (its exit status kCandidateInvalidExit when the validator rejected the set, with
// its output; 0 when valid), or, when the kind's check fails, exit kCandidateInvalidExit with its
// words as the output (the candidates removed), or the first failing script's, or the Error that
// stopped it.
bluegreen::Result<remote::CommandResult> stage_candidates(Services& services, const config::AppConfig& app,
                                                          const ConfigChange& change);

// Removes every edit's candidate (best effort: never read by HAProxy).
void remove_candidates(Services& services, const config::AppConfig& app, const ConfigChange& change);

struct SwapOutcome {
  std::size_t swapped = 0;    // the first `swapped` edits now hold their new text (their backups the old)
  bool uncertain = false;     // whether edit `swapped` was replaced too could not be read back
  bool live_changed = false;  // edit `swapped` did not hold what the plan was made from (refused there)
  bool symlink = false;       // edit `swapped` (or its backup or candidate) is a symbolic link (refused)
  std::string failure;        // "" when every edit was swapped; else what failed, for messages
  [[nodiscard]] bool ok() const { return failure.empty(); }
};

// Swaps every edit in order, stopping at the first that fails. A failure whose reply was lost is
// resolved by reading the file back (its old text: not swapped; its new text: swapped).
SwapOutcome swap_edits(Services& services, const config::AppConfig& app, const ConfigChange& change);

// Makes HAProxy run the files as they are now: the reload command when a configuration file
// changed, else every map edit's running map set to its `after` (forward) or `before` text.
// Returns "" or what failed.
std::string apply_change(Services& services, const config::AppConfig& app, const ConfigChange& change, bool forward);

// Puts back the backups of the first `count` edits (restore_config_script each). Returns "" or
// the first failure (the edits before it are restored).
std::string restore_edits(Services& services, const config::AppConfig& app, const ConfigChange& change,
                          std::size_t count);

// "/etc/haproxy/haproxy.cfg" or "/etc/haproxy/a.cfg, /etc/haproxy/b.map" for messages.
std::string edited_files(const ConfigChange& change);

}  // namespace bluegreen::deployment
