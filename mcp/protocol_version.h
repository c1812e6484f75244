#pragma once
// MCP protocol revisions this server speaks, the negotiation rule of the initialize handshake, and
// what each revision lets the server send.
//
// Every revision of the `initialize` era is spoken (specification, "Lifecycle" > "Version
// Negotiation" of each): 2024-11-05, 2025-03-26, 2025-06-18 and 2025-11-25. What the server sends
// depends on the negotiated one: a field a revision's schema does not have is left out for a
// client that negotiated it (an older client may validate strictly or mis-read it), and the
// results stay complete in their text.
//
// Thread-safety: constants and pure functions.

#include <array>
#include <string_view>

namespace bluegreen::mcp {

// Newest first.
inline constexpr std::array<std::string_view, 4> kSupportedProtocolVersions{"2025-11-25", "2025-06-18", "2025-03-26",
                                                                            "2024-11-05"};
inline constexpr std::string_view kLatestProtocolVersion = kSupportedProtocolVersions.front();

// Revisions of the stateless era (2026-07-28 on): never negotiated by initialize (which answers a
// request for one with kLatestProtocolVersion), only claimed per request in `_meta`
// (mcp/request_meta.h) and offered by server/discover.
inline constexpr std::array<std::string_view, 1> kModernProtocolVersions{"2026-07-28"};

// The client's requested version when we support it, otherwise our newest one (the client then
// decides whether it can continue).
inline std::string_view negotiate_protocol_version(std::string_view requested) {
  for (const auto supported : kSupportedProtocolVersions) {
    if (supported == requested) return supported;
  }
  return kLatestProtocolVersion;
}

// What a revision's schema (schema/<version>/schema.ts) has, among what this server sends.
struct ProtocolFeatures {
  // Tool.annotations (readOnlyHint, destructiveHint, idempotentHint, openWorldHint, title):
  // 2025-03-26 on.
  bool tool_annotations = true;
  // ProgressNotification.params.message: 2025-03-26 on.
  bool progress_message = true;
  // Tool.outputSchema and CallToolResult.structuredContent: 2025-06-18 on.
  bool structured_output = true;
  // The `completions` capability (completion/complete itself is in 2024-11-05 too): 2025-03-26 on.
  bool completions = true;
  // `title` of Tool, Prompt and Implementation (serverInfo): 2025-06-18 on.
  bool titles = true;
  // elicitation/create (form mode): 2025-06-18 on, and only to a client that declares the
  // `elicitation` capability.
  bool elicitation = true;
  // elicitation/create in URL mode and notifications/elicitation/complete: 2025-11-25 on, and only
  // to a client that declares `elicitation.url`.
  bool url_elicitation = true;
};

// The features of `version`, one of kSupportedProtocolVersions (any later string gets all of them).
// Versions are dates in ISO form, so they compare as strings.
// 2026-07-28 has every feature above; what it removes (server requests, sessions) is handled by
// mcp::Peer::modern, not here.
constexpr ProtocolFeatures features_of(std::string_view version) {
  ProtocolFeatures features;
  features.tool_annotations = version >= "2025-03-26";
  features.progress_message = version >= "2025-03-26";
  features.completions = version >= "2025-03-26";
  features.structured_output = version >= "2025-06-18";
  features.titles = version >= "2025-06-18";
  features.elicitation = version >= "2025-06-18";
  features.url_elicitation = version >= "2025-11-25";
  return features;
}

}  // namespace bluegreen::mcp
