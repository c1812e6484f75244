#pragma once
// The server's configuration file (--config FILE): a JSON object.
//
// Recognised now: "logLevel" and "logFile" (command-line flags override them). The deployment
// settings (apps, hosts, load balancer) join this file with the deployment tools. Unknown keys are
// refused, so a typo never silently changes behaviour.
//
// Thread-safety: pure functions.

#include "common/result.h"

#include <optional>
#include <string>

namespace config {

struct ServerConfig {
  std::optional<std::string> log_level;
  std::optional<std::string> log_file;
};

// Reads and validates `path`. Errors name the file and the bad field.
bluegreen::Result<ServerConfig> load_server_config(const std::string& path);

// Validates already-read text; `origin` names it in error messages.
bluegreen::Result<ServerConfig> parse_server_config(const std::string& text, const std::string& origin);

}  // namespace config
