#pragma once
// Who a request comes from, as the server answers it (the "peer"), and how a request of protocol
// 2026-07-28 says so in its `_meta` envelope.
//
// Two eras share one server (MCP 2026-07-28 basic/versioning, "Backward Compatibility with
// Initialization-Based Versions"):
// - Legacy (2024-11-05 .. 2025-11-25): `initialize` fixes the revision, the client's capabilities
//   and its name for the connection (stdio) or the session (HTTP); every request's peer is that.
// - Modern (2026-07-28): a request whose params._meta holds "io.modelcontextprotocol/protocolVersion"
//   carries its own revision, capabilities, client name and log level (basic/index, "Per-request
//   protocol fields"); nothing is kept between such requests and none sets the session's state.
//   The server sends no request of its own to such a client (basic/patterns): no elicitation, so an
//   approval falls back to the panel or the token.
//
// Thread-safety: pure functions over values.

#include "mcp/log_level.h"
#include "mcp/protocol_version.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace bluegreen::mcp {

// The envelope's keys (2026-07-28 schema.ts, RequestMetaObject).
inline constexpr std::string_view kMetaProtocolVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view kMetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr std::string_view kMetaClientInfo = "io.modelcontextprotocol/clientInfo";
inline constexpr std::string_view kMetaLogLevel = "io.modelcontextprotocol/logLevel";
inline constexpr std::string_view kMetaServerInfo = "io.modelcontextprotocol/serverInfo";

// Error codes of 2026-07-28 (basic/index, "Error Codes").
namespace modern_error {
inline constexpr int kHeaderMismatch = -32020;              // HTTP headers disagree with the body
inline constexpr int kMissingClientCapability = -32021;     // a capability the request needs
inline constexpr int kUnsupportedProtocolVersion = -32022;  // data: {supported, requested}
}  // namespace modern_error

struct Peer {
  ProtocolFeatures features;                               // of the revision the request is answered in
  nlohmann::json capabilities = nlohmann::json::object();  // the client's declared capabilities
  std::string client_name;                                 // clientInfo.name, cut to kMaxClientNameBytes ("" if none)
  std::string client_version;                              // clientInfo.version, cut likewise
  bool modern = false;                                     // answered as 2026-07-28
  std::optional<LogLevel> log_level;                       // modern: the request's logLevel (none: no log lines)
};

// clientInfo strings are kept up to this many bytes, cut on a UTF-8 boundary.
inline constexpr std::size_t kMaxClientNameBytes = 200;

// What a request's params say of its era.
struct LegacyRequest {};
struct ModernRequest {
  Peer peer;
  std::string version;
};
struct EnvelopeError {
  int code = 0;  // -32602 or modern_error::kUnsupportedProtocolVersion
  std::string message;
  nlohmann::json data;
};
using RequestEra = std::variant<LegacyRequest, ModernRequest, EnvelopeError>;

// Legacy unless params._meta is an object holding the protocol-version claim. A present claim that
// is malformed, names an unsupported version, or lacks clientCapabilities is an error, never legacy
// (2026-07-28 basic/versioning; basic/index "Per-request protocol fields").
RequestEra classify_request(const nlohmann::json& params);

// Whether the peer may be asked to fill a form: a revision with elicitation (2025-06-18 on) whose
// client declared form mode (`{}` or a `form` member; 2025-11-25 client/elicitation). A legacy
// peer is sent elicitation/create; a modern one gets it inside an input_required result.
bool wants_form_elicitation(const Peer& peer);
// The same for URL mode: 2025-11-25 on, {"elicitation": {"url": {}}}. Never for a modern peer.
bool wants_url_elicitation(const Peer& peer);
// Whether the peer renders MCP Apps: capabilities.extensions["io.modelcontextprotocol/ui"].mimeTypes
// holds text/html;profile=mcp-app (compared as RFC 9110 section 8.3.1 says), in a revision with
// structuredContent (MCP Apps specification, "Client<>Server Capability Negotiation").
bool renders_apps(const Peer& peer);

}  // namespace bluegreen::mcp
