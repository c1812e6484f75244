#pragma once
// MCP protocol revisions this server speaks, and the negotiation rule of the initialize handshake.

#include <array>
#include <string_view>

namespace bluegreen::mcp {

// Newest first.
inline constexpr std::array<std::string_view, 2> kSupportedProtocolVersions{"2025-11-25", "2025-06-18"};
inline constexpr std::string_view kLatestProtocolVersion = kSupportedProtocolVersions.front();

// The client's requested version when we support it, otherwise our newest one (the client then
// decides whether it can continue).
inline std::string_view negotiate_protocol_version(std::string_view requested) {
  for (const auto supported : kSupportedProtocolVersions) {
    if (supported == requested) return supported;
  }
  return kLatestProtocolVersion;
}

}  // namespace bluegreen::mcp
