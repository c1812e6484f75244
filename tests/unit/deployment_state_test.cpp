#include "state/deployment_state.h"

#include <catch2/catch.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using nlohmann::json;

namespace {

// Verbatim shape from the seed's guide (the Node.js server's state file).
constexpr const char* kSeedState = R"({
  "prod": "blue",
  "standby": "green",
  "lastSwitch": "2025-10-25T12:00:00.000Z",
  "switchCount": 5,
  "history": [
    {
      "timestamp": "2025-10-25T12:00:00.000Z",
      "from": "green",
      "to": "blue"
    }
  ]
})";

std::string error_of(const std::string& text) {
  auto parsed = state::parse_state(text);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error().message;
}

}  // namespace

TEST_CASE("the seed's state file is read", "[state]") {
  auto parsed = state::parse_state(kSeedState);
  REQUIRE(parsed.ok());
  CHECK(parsed->prod == state::Color::kBlue);
  CHECK(parsed->standby() == state::Color::kGreen);
  CHECK(parsed->last_switch == "2025-10-25T12:00:00.000Z");
  CHECK(parsed->switch_count == 5);
  REQUIRE(parsed->history.size() == 1);
  CHECK(parsed->history[0].from == state::Color::kGreen);
  CHECK(parsed->history[0].to == state::Color::kBlue);
  CHECK(parsed->generation == 0);
}

TEST_CASE("rewriting keeps the seed's fields and unknown fields", "[state]") {
  json original = json::parse(kSeedState);
  original["operator"] = "jane";
  original["history"][0]["note"] = "manual";
  auto parsed = state::parse_state(original.dump());
  REQUIRE(parsed.ok());
  parsed->generation = 3;

  const json rewritten = json::parse(state::serialize_state(*parsed));
  CHECK(rewritten["prod"] == "blue");
  CHECK(rewritten["standby"] == "green");
  CHECK(rewritten["lastSwitch"] == original["lastSwitch"]);
  CHECK(rewritten["switchCount"] == 5);
  CHECK(rewritten["history"] == original["history"]);
  CHECK(rewritten["operator"] == "jane");
  CHECK(rewritten["generation"] == 3);

  auto again = state::parse_state(rewritten.dump());
  REQUIRE(again.ok());
  CHECK(state::serialize_state(*again) == state::serialize_state(*parsed));
}

TEST_CASE("a fresh file has a null lastSwitch", "[state]") {
  state::DeploymentState fresh;
  const json document = json::parse(state::serialize_state(fresh));
  CHECK(document["lastSwitch"].is_null());
  CHECK(document["history"] == json::array());
  CHECK(state::parse_state(document.dump()).ok());
}

TEST_CASE("files that do not fit the format are refused with the field named", "[state]") {
  CHECK_THAT(error_of(""), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(std::string(kSeedState).substr(0, 60)), Catch::Contains("truncated"));
  CHECK_THAT(error_of("[]"), Catch::Contains("JSON object"));
  CHECK_THAT(error_of(R"({"standby":"green"})"), Catch::Contains("prod: missing"));
  CHECK_THAT(error_of(R"({"prod":"red","standby":"green"})"), Catch::Contains("prod: expected"));
  CHECK_THAT(error_of(R"({"prod":"blue","standby":"blue"})"), Catch::Contains("both"));
  CHECK_THAT(error_of(R"({"prod":"blue","standby":"green","switchCount":-1})"), Catch::Contains("switchCount"));
  CHECK_THAT(error_of(R"({"prod":"blue","standby":"green","switchCount":"5"})"), Catch::Contains("switchCount"));
  CHECK_THAT(error_of(R"({"prod":"blue","standby":"green","history":{}})"),
             Catch::Contains("history: expected an array"));
  CHECK_THAT(error_of(R"({"prod":"blue","standby":"green","history":[{"timestamp":"t","from":"blue"}]})"),
             Catch::Contains("history[0].to: missing"));
}

TEST_CASE("colour names", "[state]") {
  CHECK(state::parse_color("BLUE") == state::Color::kBlue);
  CHECK(state::parse_color("Green") == state::Color::kGreen);
  CHECK_FALSE(state::parse_color("purple"));
  CHECK(state::to_upper_string(state::Color::kGreen) == "GREEN");
  CHECK(state::other(state::Color::kBlue) == state::Color::kGreen);
}
