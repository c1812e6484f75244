#include "mcp/schema.h"

#include <catch2/catch.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using nlohmann::json;

namespace {

const json kSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "app":   {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,62}$"},
    "ref":   {"type": "string", "minLength": 1, "maxLength": 20},
    "steps": {"type": "integer", "minimum": 1, "maximum": 10},
    "mode":  {"type": "string", "enum": ["fast", "safe"]},
    "dry":   {"type": "boolean"},
    "tags":  {"type": "array", "items": {"type": "string"}, "maxItems": 2}
  },
  "required": ["app"],
  "additionalProperties": false
})");

std::string error_for(const json& value) { return mcp::validate_against_schema(kSchema, value).value_or(""); }

}  // namespace

TEST_CASE("valid arguments pass", "[schema]") {
  CHECK_FALSE(mcp::validate_against_schema(kSchema, json{{"app", "shop"}}));
  CHECK_FALSE(mcp::validate_against_schema(
      kSchema, json{{"app", "shop"}, {"ref", "v1"}, {"steps", 3}, {"mode", "safe"}, {"dry", true}, {"tags", {"a"}}}));
  CHECK_FALSE(mcp::validate_against_schema(kSchema, json{{"app", "shop"}, {"steps", 3.0}}));  // integral float
}

TEST_CASE("each violation names the field and the expectation", "[schema]") {
  CHECK(error_for(json::object()) == "arguments.app: is required but missing");
  CHECK_THAT(error_for(json{{"app", 5}}), Catch::Contains("arguments.app: expected string, got integer"));
  CHECK_THAT(error_for(json{{"app", "$(touch /tmp/pwned)"}}),
             Catch::Contains("arguments.app") && Catch::Contains("does not match the required pattern"));
  CHECK_THAT(error_for(json{{"app", "-rf"}}), Catch::Contains("arguments.app"));
  CHECK_THAT(error_for(json{{"app", "a"}, {"ref", ""}}), Catch::Contains("arguments.ref: must be at least 1"));
  CHECK_THAT(error_for(json{{"app", "a"}, {"ref", std::string(21, 'x')}}), Catch::Contains("at most 20"));
  CHECK_THAT(error_for(json{{"app", "a"}, {"steps", 0}}), Catch::Contains("arguments.steps: must be >= 1"));
  CHECK_THAT(error_for(json{{"app", "a"}, {"steps", 2.5}}), Catch::Contains("arguments.steps: expected integer"));
  CHECK_THAT(error_for(json{{"app", "a"}, {"mode", "yolo"}}), Catch::Contains("arguments.mode: must be one of"));
  CHECK_THAT(error_for(json{{"app", "a"}, {"dry", "yes"}}), Catch::Contains("arguments.dry: expected boolean"));
  CHECK_THAT(error_for(json{{"app", "a"}, {"tags", {"x", 1}}}), Catch::Contains("arguments.tags[1]: expected string"));
  CHECK_THAT(error_for(json{{"app", "a"}, {"tags", {"x", "y", "z"}}}), Catch::Contains("at most 2 items"));
  CHECK_THAT(error_for(json{{"app", "a"}, {"requireApprovl", false}}),
             Catch::Contains("arguments.requireApprovl: unknown argument") && Catch::Contains("expected one of"));
}

TEST_CASE("a huge string is refused before any pattern runs", "[schema]") {
  const json schema{{"type", "string"}, {"pattern", "^(a|a)*$"}};
  CHECK_THAT(mcp::validate_against_schema(schema, std::string(100000, 'a')).value_or(""), Catch::Contains("too long"));
}
