// Fuzz target: mcp::parse_message on arbitrary bytes.
//
// Invariants, for every input:
//  - parse_message returns (no crash, no sanitizer report, no exception);
//  - a rejected message carries a well-formed JSON-RPC error reply (parse error, invalid request
//    or invalid params, with the id echoed only when it is a string or an integer) that
//    serialises to one line of valid JSON;
//  - an accepted message is well formed (id a string or an integer, non-empty method, params an
//    object, a response with exactly one of result/error), nests no deeper than the limit, and
//    survives a round trip: rebuilt with make_request/make_notification, serialised and parsed
//    again, it is classified the same way with equal fields.
//
// Mutations: half structure-aware (json_mutator.h), half libFuzzer's own.

#include "fuzz_common.h"
#include "json_mutator.h"
#include "mcp/json_rpc.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

using fuzz::json;

// Matches the limit parse_message enforces (mcp/json_rpc.h).
constexpr std::size_t kMaxDepth = mcp::kMaxNestingDepth;

std::string show(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

json rebuild(const mcp::Response& response) {
  json message{{"jsonrpc", "2.0"}, {"id", response.id.value}};
  if (response.result) message["result"] = *response.result;
  if (response.error) message["error"] = *response.error;
  return message;
}

mcp::ParsedMessage reparse(const json& message) {
  const std::string line = mcp::serialize(message);
  const json again = fuzz::parse_outgoing(line);
  FUZZ_CHECK(again == message, line);
  return mcp::parse_message(line);
}

void check_request(const mcp::Request& request, std::string_view input) {
  FUZZ_CHECK(fuzz::is_valid_id(request.id.value), input);
  FUZZ_CHECK(!request.method.empty(), input);
  FUZZ_CHECK(request.params.is_object(), input);
  FUZZ_CHECK(fuzz::nesting_depth(request.params) < kMaxDepth, input);

  const auto again = reparse(mcp::make_request(request.id.value, request.method, request.params));
  const auto* same = std::get_if<mcp::Request>(&again);
  FUZZ_CHECK(same != nullptr, input);
  FUZZ_CHECK(same->id.value == request.id.value && same->id.key() == request.id.key(), input);
  FUZZ_CHECK(same->method == request.method && same->params == request.params, input);
}

void check_notification(const mcp::Notification& notification, std::string_view input) {
  FUZZ_CHECK(!notification.method.empty(), input);
  FUZZ_CHECK(notification.params.is_object(), input);
  FUZZ_CHECK(fuzz::nesting_depth(notification.params) < kMaxDepth, input);

  const auto again = reparse(mcp::make_notification(notification.method, notification.params));
  const auto* same = std::get_if<mcp::Notification>(&again);
  FUZZ_CHECK(same != nullptr, input);
  FUZZ_CHECK(same->method == notification.method && same->params == notification.params, input);
}

void check_response(const mcp::Response& response, std::string_view input) {
  FUZZ_CHECK(fuzz::is_valid_id(response.id.value), input);
  FUZZ_CHECK(response.result.has_value() != response.error.has_value(), input);
  const json& payload = response.result ? *response.result : *response.error;
  FUZZ_CHECK(fuzz::nesting_depth(payload) < kMaxDepth, input);

  const auto again = reparse(rebuild(response));
  const auto* same = std::get_if<mcp::Response>(&again);
  FUZZ_CHECK(same != nullptr, input);
  FUZZ_CHECK(same->id.value == response.id.value, input);
  FUZZ_CHECK(same->result == response.result && same->error == response.error, input);
}

void check_rejected(const mcp::Rejected& rejected) {
  fuzz::check_error_reply(rejected.reply);
  const auto code = rejected.reply["error"]["code"].get<long long>();
  FUZZ_CHECK(code == mcp::error_code::kParseError || code == mcp::error_code::kInvalidRequest ||
                 code == mcp::error_code::kInvalidParams,
             show(rejected.reply));
  const std::string line = mcp::serialize(rejected.reply);
  FUZZ_CHECK(fuzz::parse_outgoing(line) == rejected.reply, line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const mcp::ParsedMessage parsed = mcp::parse_message(input);
  std::visit(
      [&](const auto& message) {
        using T = std::decay_t<decltype(message)>;
        if constexpr (std::is_same_v<T, mcp::Request>) {
          check_request(message, input);
        } else if constexpr (std::is_same_v<T, mcp::Notification>) {
          check_notification(message, input);
        } else if constexpr (std::is_same_v<T, mcp::Response>) {
          check_response(message, input);
        } else {
          check_rejected(message);
        }
      },
      parsed);
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  return fuzz::JsonLineMutator(seed).mutate(data, size, max_size);
}
