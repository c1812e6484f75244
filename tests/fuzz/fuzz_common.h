#pragma once
// Helpers shared by the fuzz targets: a failure that libFuzzer reports as a crash (with the input
// saved as an artifact), and structural checks of the messages the server sends.

#include "mcp/json_rpc.h"
#include "mcp/request_meta.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fuzz {
using namespace bluegreen;  // NOLINT(google-build-using-namespace): test support

using nlohmann::json;

// An invariant does not hold: print why and abort, so libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(const std::string& what, std::string_view detail = {}) {
  std::fprintf(stderr, "\n*** fuzz invariant violated: %s\n", what.c_str());
  if (!detail.empty()) {
    constexpr std::size_t kMax = 2000;
    std::fprintf(stderr, "*** %.*s%s\n", static_cast<int>(std::min(detail.size(), kMax)), detail.data(),
                 detail.size() > kMax ? "..." : "");
  }
  std::abort();
}

#define FUZZ_CHECK(condition, detail)                                                                                 \
  do {                                                                                                                \
    if (!(condition)) ::fuzz::fail(std::string(__FILE__ ":") + std::to_string(__LINE__) + ": " #condition, (detail)); \
  } while (false)

// Nesting depth of a JSON value (a scalar is 0, {} and [] are 1), computed without recursion so
// that a too-deep value is reported rather than overflowing the checker's own stack.
inline std::size_t nesting_depth(const json& root) {
  std::size_t deepest = 0;
  std::vector<std::pair<const json*, std::size_t>> pending{{&root, 0}};
  while (!pending.empty()) {
    const auto [value, depth] = pending.back();
    pending.pop_back();
    if (!value->is_structured()) continue;
    deepest = std::max(deepest, depth + 1);
    for (const auto& child : *value) pending.emplace_back(&child, depth + 1);
  }
  return deepest;
}

// A serialised outgoing message must be one line of valid UTF-8 JSON: the stdio transport frames
// messages by newlines, and clients reject invalid UTF-8.
inline json parse_outgoing(const std::string& line) {
  FUZZ_CHECK(line.find('\n') == std::string::npos, line);
  FUZZ_CHECK(line.find('\r') == std::string::npos, line);
  json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!message.is_discarded(), line);
  return message;
}

inline bool is_valid_id(const json& id) { return id.is_string() || id.is_number_integer(); }

// A JSON-RPC error response, as the server builds them.
inline void check_error_reply(const json& reply) {
  const std::string text = reply.dump(-1, ' ', false, json::error_handler_t::replace);
  FUZZ_CHECK(reply.is_object() && reply.size() == 3, text);
  FUZZ_CHECK(reply.value("jsonrpc", json()) == "2.0", text);
  FUZZ_CHECK(reply.contains("id") && (reply["id"].is_null() || is_valid_id(reply["id"])), text);
  const auto error = reply.find("error");
  FUZZ_CHECK(error != reply.end() && error->is_object(), text);
  FUZZ_CHECK(error->contains("code") && (*error)["code"].is_number_integer(), text);
  const auto code = (*error)["code"].get<long long>();
  FUZZ_CHECK(code == mcp::error_code::kParseError || code == mcp::error_code::kInvalidRequest ||
                 code == mcp::error_code::kMethodNotFound || code == mcp::error_code::kInvalidParams ||
                 code == mcp::error_code::kInternalError || code == mcp::error_code::kServerBusy ||
                 code == mcp::modern_error::kUnsupportedProtocolVersion,  // 2026-07-28 (mcp/request_meta.h)
             text);
  FUZZ_CHECK(error->contains("message") && (*error)["message"].is_string() &&
                 !(*error)["message"].get_ref<const std::string&>().empty(),
             text);
}

}  // namespace fuzz
