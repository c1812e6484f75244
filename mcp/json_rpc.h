#pragma once
// JSON-RPC 2.0 as MCP uses it: message classification and the standard error replies.
//
// parse_message() is a pure function from one line of text to either a classified message or the
// error reply the server must send back. Every malformed-input rule lives here, in one place, so
// one table-driven test covers all of them.
//
// Thread-safety: free functions without shared state.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace bluegreen::mcp {

using json = nlohmann::json;

namespace error_code {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// Implementation-defined server errors (-32000 .. -32099).
inline constexpr int kServerBusy = -32000;
// resources/read of a resource the server does not have: MCP 2025-06-18 and 2025-11-25,
// server/resources "Error Handling" (SEP-2164 moves it to -32602 for later revisions).
inline constexpr int kResourceNotFound = -32002;
}  // namespace error_code

// A request id: a string or an integer (MCP forbids null). Kept as JSON so it is echoed back
// byte-for-byte as the client sent it.
struct RequestId {
  json value;
  [[nodiscard]] std::string key() const { return value.dump(); }
};

struct Request {
  RequestId id;
  std::string method;
  json params;  // always an object (an absent params becomes {})
};

struct Notification {
  std::string method;
  json params;  // always an object
};

// A reply from the client to a request the server sent (e.g. elicitation/create).
struct Response {
  RequestId id;
  std::optional<json> result;
  std::optional<json> error;
};

// The message could not be accepted; `reply` is the error response to send (never empty for a
// message that claimed to be a request; for a malformed notification it is still sent, with a
// null id, because the sender cannot be told otherwise).
struct Rejected {
  json reply;
};

using ParsedMessage = std::variant<Request, Notification, Response, Rejected>;

// The deepest nesting of objects and arrays a message may have (the message object itself is
// level 1). Deeper messages are rejected before they are parsed: copying, comparing, validating or
// serialising a JSON value recurses once per level, so a line of a few hundred kilobytes of "["
// would otherwise overflow the stack. Real MCP messages nest a handful of levels.
inline constexpr std::size_t kMaxNestingDepth = 128;

ParsedMessage parse_message(std::string_view text);

json make_result(const json& id, json result);
json make_error(const json& id, int code, std::string message, std::optional<json> data = std::nullopt);
json make_notification(std::string method, json params);
json make_request(const json& id, std::string method, json params);

// Serialises a message as one line of UTF-8 without a trailing newline. Invalid UTF-8 in strings
// (for example raw output of a remote command) is replaced rather than aborting the reply.
std::string serialize(const json& message);

}  // namespace bluegreen::mcp
