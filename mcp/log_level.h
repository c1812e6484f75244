#pragma once
// MCP log levels (RFC 5424 severities, as used by logging/setLevel and notifications/message).

#include <optional>
#include <string>
#include <string_view>

namespace bluegreen::mcp {

enum class LogLevel { kDebug, kInfo, kNotice, kWarning, kError, kCritical, kAlert, kEmergency };

std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view to_string(LogLevel level);

}  // namespace bluegreen::mcp
