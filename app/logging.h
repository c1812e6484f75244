#pragma once
// Process-wide logging setup: spdlog to stderr (stdout belongs to the MCP protocol) and,
// optionally, to a file.

#include "common/result.h"

#include <optional>
#include <string>

namespace bluegreen::app {

bluegreen::Status configure_logging(const std::string& level, const std::optional<std::string>& log_file);

}  // namespace bluegreen::app
