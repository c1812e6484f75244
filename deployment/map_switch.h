#pragma once
// Map-based routing switched without a reload (HAProxy's own recipe: `use_backend
// %[...,map(FILE)]`): the running map is replaced through the stats socket with `prepare map`,
// `add map @V FILE <<payload` and `commit map @V FILE`, so requests see the old entries or the new
// ones, never a mix, and no worker restarts. The map file on disk is switched too (lb_scripts.h,
// like a configuration file), so a later reload keeps the choice.
//
// Thread-safety: reentrant.

#include "config/config.h"
#include "remote/executor.h"

#include <string>
#include <vector>

namespace bluegreen::deployment {

// Makes HAProxy's running map `file` hold exactly the entries of `text` (a map file's content:
// haproxy::parse_map), with two requests on the app's stats socket. Returns "" on success, else
// what failed (no stats socket, the LB or socket unreachable, HAProxy's own message quoted, e.g.
// "Unknown map identifier" when HAProxy has not loaded `file` as a map). On failure the running
// map is unchanged: an uncommitted version is discarded by HAProxy at the next prepare.
std::string apply_running_map(remote::Executor& executor, const config::AppConfig& app, const std::string& file,
                              const std::string& text);

// "" when the running map `file` gives every key of `keys` the value `backend`, else which keys
// it does not (or why it could not be asked).
std::string running_map_mismatch(remote::Executor& executor, const config::AppConfig& app, const std::string& file,
                                 const std::vector<std::string>& keys, const std::string& backend);

}  // namespace bluegreen::deployment
