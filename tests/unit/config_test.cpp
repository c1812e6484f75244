#include "config/server_config.h"

#include <catch2/catch.hpp>

TEST_CASE("server config accepts known keys", "[config]") {
  auto config = config::parse_server_config(R"({"logLevel":"debug","logFile":"/tmp/x.log"})", "cfg.json");
  REQUIRE(config.ok());
  CHECK(config->log_level == "debug");
  CHECK(config->log_file == "/tmp/x.log");
}

TEST_CASE("server config errors name the file and the field", "[config]") {
  const auto error = [](const std::string& text) {
    auto config = config::parse_server_config(text, "cfg.json");
    REQUIRE_FALSE(config.ok());
    return config.error().message;
  };
  CHECK_THAT(error("{"), Catch::StartsWith("cfg.json: not valid JSON"));
  CHECK_THAT(error("[]"), Catch::Contains("JSON object"));
  CHECK_THAT(error(R"({"logLevel":"loud"})"), Catch::Contains("\"logLevel\" must be one of"));
  CHECK_THAT(error(R"({"logFile":""})"), Catch::Contains("\"logFile\""));
  CHECK_THAT(error(R"({"loglevel":"info"})"), Catch::Contains("unknown key \"loglevel\""));
  CHECK_THAT(config::load_server_config("/nonexistent/cfg.json").error().message,
             Catch::Contains("cannot open"));
}
