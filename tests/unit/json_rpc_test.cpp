#include "mcp/json_rpc.h"

#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using mcp::json;

namespace {

struct MalformedCase {
  std::string name;
  std::string input;
  int code;
  json expected_id;
};

}  // namespace

// Every way a line can be refused, in one table: input -> error code and echoed id.
TEST_CASE("malformed messages are rejected with the matching JSON-RPC error", "[json_rpc]") {
  const std::vector<MalformedCase> cases{
      {"not JSON", "{not json", mcp::error_code::kParseError, nullptr},
      {"truncated JSON", R"({"jsonrpc":"2.0","id":1,"method":"ping")", mcp::error_code::kParseError, nullptr},
      {"invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}", mcp::error_code::kParseError,
       nullptr},
      {"batch array", R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", mcp::error_code::kInvalidRequest, nullptr},
      {"empty batch", "[]", mcp::error_code::kInvalidRequest, nullptr},
      {"scalar", "42", mcp::error_code::kInvalidRequest, nullptr},
      {"string", R"("ping")", mcp::error_code::kInvalidRequest, nullptr},
      {"null", "null", mcp::error_code::kInvalidRequest, nullptr},
      {"missing jsonrpc", R"({"id":1,"method":"ping"})", mcp::error_code::kInvalidRequest, 1},
      {"wrong jsonrpc version", R"({"jsonrpc":"1.0","id":"a","method":"ping"})", mcp::error_code::kInvalidRequest, "a"},
      {"numeric jsonrpc", R"({"jsonrpc":2.0,"id":1,"method":"ping"})", mcp::error_code::kInvalidRequest, 1},
      {"null id", R"({"jsonrpc":"2.0","id":null,"method":"ping"})", mcp::error_code::kInvalidRequest, nullptr},
      {"fractional id", R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", mcp::error_code::kInvalidRequest, nullptr},
      {"boolean id", R"({"jsonrpc":"2.0","id":true,"method":"ping"})", mcp::error_code::kInvalidRequest, nullptr},
      {"object id", R"({"jsonrpc":"2.0","id":{},"method":"ping"})", mcp::error_code::kInvalidRequest, nullptr},
      {"numeric method", R"({"jsonrpc":"2.0","id":2,"method":7})", mcp::error_code::kInvalidRequest, 2},
      {"empty method", R"({"jsonrpc":"2.0","id":2,"method":""})", mcp::error_code::kInvalidRequest, 2},
      {"array params", R"({"jsonrpc":"2.0","id":3,"method":"ping","params":[1]})", mcp::error_code::kInvalidParams, 3},
      {"string params", R"({"jsonrpc":"2.0","id":3,"method":"ping","params":"x"})", mcp::error_code::kInvalidRequest,
       3},
      {"no method, no result", R"({"jsonrpc":"2.0","id":4})", mcp::error_code::kInvalidRequest, 4},
      {"result and error", R"({"jsonrpc":"2.0","id":4,"result":{},"error":{}})", mcp::error_code::kInvalidRequest, 4},
      {"response without id", R"({"jsonrpc":"2.0","result":{}})", mcp::error_code::kInvalidRequest, nullptr},
  };

  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto parsed = mcp::parse_message(c.input);
      REQUIRE(std::holds_alternative<mcp::Rejected>(parsed));
      const json& reply = std::get<mcp::Rejected>(parsed).reply;
      CHECK(reply["jsonrpc"] == "2.0");
      CHECK(reply["error"]["code"] == c.code);
      CHECK(reply["id"] == c.expected_id);
      CHECK_FALSE(reply["error"]["message"].get<std::string>().empty());
    }
  }
}

TEST_CASE("well-formed messages are classified", "[json_rpc]") {
  SECTION("request with string id and no params") {
    const auto parsed = mcp::parse_message(R"({"jsonrpc":"2.0","id":"abc","method":"ping"})");
    REQUIRE(std::holds_alternative<mcp::Request>(parsed));
    const auto& request = std::get<mcp::Request>(parsed);
    CHECK(request.id.value == "abc");
    CHECK(request.method == "ping");
    CHECK(request.params == json::object());
  }
  SECTION("request with integer id keeps its type") {
    const auto parsed = mcp::parse_message(R"({"jsonrpc":"2.0","id":0,"method":"tools/list","params":{}})");
    REQUIRE(std::holds_alternative<mcp::Request>(parsed));
    CHECK(std::get<mcp::Request>(parsed).id.value == 0);
    CHECK(std::get<mcp::Request>(parsed).id.key() != json("0").dump());  // 0 and "0" are different ids
  }
  SECTION("notification") {
    const auto parsed = mcp::parse_message(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    REQUIRE(std::holds_alternative<mcp::Notification>(parsed));
    CHECK(std::get<mcp::Notification>(parsed).method == "notifications/initialized");
  }
  SECTION("response from the client") {
    const auto parsed = mcp::parse_message(R"({"jsonrpc":"2.0","id":9,"result":{"action":"accept"}})");
    REQUIRE(std::holds_alternative<mcp::Response>(parsed));
    CHECK(std::get<mcp::Response>(parsed).result.value()["action"] == "accept");
  }
}

TEST_CASE("serialized messages are single lines even with newlines and invalid UTF-8 inside", "[json_rpc]") {
  const std::string text = mcp::serialize(mcp::make_result(1, json{{"text", std::string("a\nb\xff")}}));
  CHECK(text.find('\n') == std::string::npos);
  CHECK_NOTHROW(json::parse(text));
}

// Regression: a ~40 KB line of nested arrays (well under the 4 MB message limit) crashed the server
// with a stack overflow, because copying the parsed params recursed once per level. Messages are
// now refused above mcp::kMaxNestingDepth levels, before parsing.
TEST_CASE("messages nested deeper than the limit are refused without recursion", "[json_rpc]") {
  const auto with_params_depth = [](std::size_t depth, const std::string& id = "1") {
    return R"({"jsonrpc":"2.0","id":)" + id + R"(,"method":"ping","params":{"a":)" + std::string(depth, '[') +
           std::string(depth, ']') + "}}";
  };
  const auto refused = [](const mcp::ParsedMessage& parsed) {
    REQUIRE(std::holds_alternative<mcp::Rejected>(parsed));
    const json& reply = std::get<mcp::Rejected>(parsed).reply;
    CHECK(reply["error"]["code"] == mcp::error_code::kInvalidRequest);
    CHECK(reply["id"] == nullptr);
    CHECK_THAT(reply["error"]["message"].get<std::string>(), Catch::Contains("128 levels"));
  };

  SECTION("hundreds of thousands of levels") { refused(mcp::parse_message(with_params_depth(200000))); }
  SECTION("one level over the limit") {
    // The message object and params are two levels.
    refused(mcp::parse_message(with_params_depth(mcp::kMaxNestingDepth - 1)));
  }
  SECTION("unterminated nesting") { refused(mcp::parse_message(std::string(100000, '{'))); }
  SECTION("exactly at the limit is accepted") {
    const auto parsed = mcp::parse_message(with_params_depth(mcp::kMaxNestingDepth - 2));
    REQUIRE(std::holds_alternative<mcp::Request>(parsed));
  }
  SECTION("brackets inside strings do not count") {
    const std::string brackets(5000, '[');
    const auto parsed =
        mcp::parse_message(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":"\"\\)" + brackets + R"("}})");
    REQUIRE(std::holds_alternative<mcp::Request>(parsed));
    CHECK(std::get<mcp::Request>(parsed).params["a"].get<std::string>().size() == 2 + brackets.size());
  }
}
