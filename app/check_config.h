#pragma once
// `bluegreen-mcp check-config`: after the configuration validated, checks every host for real
// and prints a table. Returns the process exit status (0 all passed, 1 something failed).

#include "config/config.h"

#include <ostream>

namespace bluegreen::app {

int run_check_config(const config::Config& config, const std::string& path, std::ostream& out);

}  // namespace bluegreen::app
