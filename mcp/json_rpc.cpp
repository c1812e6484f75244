#include "mcp/json_rpc.h"

#include <string>
#include <utility>

namespace bluegreen::mcp {
namespace {

Rejected reject(const json& id, int code, std::string message) {
  return Rejected{make_error(id, code, std::move(message))};
}

bool is_valid_id(const json& id) { return id.is_string() || id.is_number_integer(); }

// True when the text opens more than `limit` objects/arrays inside one another. A linear scan
// that skips string contents; the text need not be valid JSON (the parser decides that later).
bool nests_deeper_than(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return true;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace

ParsedMessage parse_message(std::string_view text) {
  if (nests_deeper_than(text, kMaxNestingDepth)) {
    return reject(nullptr, error_code::kInvalidRequest,
                  "Invalid request: the message nests objects/arrays more than " + std::to_string(kMaxNestingDepth) +
                      " levels deep");
  }
  json message = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    return reject(nullptr, error_code::kParseError, "Parse error: the message is not valid JSON");
  }
  if (message.is_array()) {
    return reject(nullptr, error_code::kInvalidRequest,
                  "Invalid request: JSON-RPC batches are not supported by MCP; send one message per line");
  }
  if (!message.is_object()) {
    return reject(nullptr, error_code::kInvalidRequest, "Invalid request: a message must be a JSON object");
  }

  // Echo the id back when it is usable, so the client can match the error to its request.
  const bool has_id = message.contains("id");
  const json id = has_id && is_valid_id(message["id"]) ? message["id"] : json(nullptr);

  const auto version = message.find("jsonrpc");
  if (version == message.end() || *version != "2.0") {
    return reject(id, error_code::kInvalidRequest, "Invalid request: \"jsonrpc\" must be \"2.0\"");
  }
  if (has_id && !is_valid_id(message["id"])) {
    return reject(nullptr, error_code::kInvalidRequest, "Invalid request: \"id\" must be a string or an integer");
  }

  const auto method = message.find("method");
  if (method == message.end()) {
    // No method: this can only be a response to one of our own requests.
    const bool has_result = message.contains("result");
    const bool has_error = message.contains("error");
    if (!has_id || id.is_null() || has_result == has_error) {
      return reject(id, error_code::kInvalidRequest,
                    "Invalid request: a message needs a \"method\" (request or notification) or an "
                    "\"id\" with exactly one of \"result\"/\"error\" (response)");
    }
    Response response{RequestId{id}, std::nullopt, std::nullopt};
    if (has_result) response.result = message["result"];
    if (has_error) response.error = message["error"];
    return response;
  }
  if (!method->is_string() || method->get_ref<const std::string&>().empty()) {
    return reject(id, error_code::kInvalidRequest, "Invalid request: \"method\" must be a non-empty string");
  }

  json params = json::object();
  if (const auto p = message.find("params"); p != message.end()) {
    if (p->is_array()) {
      return reject(id, error_code::kInvalidParams,
                    "Invalid params: MCP requires \"params\" to be an object, not an array");
    }
    if (!p->is_object()) {
      return reject(id, error_code::kInvalidRequest, "Invalid request: \"params\" must be an object");
    }
    params = *p;
  }

  std::string method_name = method->get<std::string>();
  if (!has_id) return Notification{std::move(method_name), std::move(params)};
  return Request{RequestId{id}, std::move(method_name), std::move(params)};
}

json make_result(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json make_error(const json& id, int code, std::string message, std::optional<json> data) {
  json error{{"code", code}, {"message", std::move(message)}};
  if (data) error["data"] = std::move(*data);
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}};
}

json make_notification(std::string method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", std::move(method)}, {"params", std::move(params)}};
}

json make_request(const json& id, std::string method, json params) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", std::move(method)}, {"params", std::move(params)}};
}

std::string serialize(const json& message) {
  return message.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

}  // namespace bluegreen::mcp
