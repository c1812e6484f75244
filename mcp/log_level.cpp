#include "mcp/log_level.h"

#include <array>
#include <utility>

namespace bluegreen::mcp {
namespace {
constexpr std::array<std::pair<LogLevel, std::string_view>, 8> kNames{{
    {LogLevel::kDebug, "debug"},
    {LogLevel::kInfo, "info"},
    {LogLevel::kNotice, "notice"},
    {LogLevel::kWarning, "warning"},
    {LogLevel::kError, "error"},
    {LogLevel::kCritical, "critical"},
    {LogLevel::kAlert, "alert"},
    {LogLevel::kEmergency, "emergency"},
}};
}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  for (const auto& [level, level_name] : kNames) {
    if (level_name == name) return level;
  }
  return std::nullopt;
}

std::string_view to_string(LogLevel level) {
  for (const auto& [candidate, name] : kNames) {
    if (candidate == level) return name;
  }
  return "info";
}

}  // namespace bluegreen::mcp
