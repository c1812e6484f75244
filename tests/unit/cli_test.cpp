#include "app/cli.h"

#include <catch2/catch.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

app::CommandLine parse_ok(const std::vector<std::string>& args) {
  auto parsed = app::parse_command_line(args);
  INFO((parsed.ok() ? std::string() : parsed.error().message));
  REQUIRE(parsed.ok());
  return *parsed;
}

std::string parse_error(const std::vector<std::string>& args) {
  auto parsed = app::parse_command_line(args);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error().message;
}

}  // namespace

TEST_CASE("command line flags", "[cli]") {
  CHECK(parse_ok({}).config_path == std::nullopt);
  CHECK(parse_ok({"--help"}).show_help);
  CHECK(parse_ok({"-V"}).show_version);
  const auto line = parse_ok({"--config", "a.json", "--log-level=debug", "--log-file", "/tmp/l"});
  CHECK(line.config_path == "a.json");
  CHECK(line.log_level == "debug");
  CHECK(line.log_file == "/tmp/l");
  CHECK(parse_ok({"--enable-test-tools"}).enable_test_tools);
}

TEST_CASE("command line errors say what is wrong", "[cli]") {
  CHECK_THAT(parse_error({"--config"}), Catch::Contains("--config needs a value"));
  CHECK_THAT(parse_error({"--log-level", "loud"}), Catch::Contains("must be one of"));
  CHECK_THAT(parse_error({"--bogus"}), Catch::Contains("unknown argument \"--bogus\""));
  CHECK_THAT(parse_error({"--help=yes"}), Catch::Contains("takes no value"));
}

TEST_CASE("help mentions every flag", "[cli]") {
  const std::string help = app::help_text("bluegreen-mcp");
  for (const char* flag : {"--config", "--log-level", "--log-file", "--help", "--version"}) {
    CHECK_THAT(help, Catch::Contains(flag));
  }
}

TEST_CASE("serve: the HTTP transport's flags", "[cli]") {
  const auto plain = parse_ok({"serve"});
  CHECK(plain.serve);
  CHECK(plain.listen == "127.0.0.1:8931");
  CHECK_FALSE(plain.tokens_file);
  const auto line =
      parse_ok({"serve", "--config", "c.json", "--listen=[::1]:9000", "--tokens-file", "/etc/t", "--allow-origin",
                "https://a.example", "--allow-origin", "https://b.example", "--allow-host", "deploy.example"});
  CHECK(line.config_path == "c.json");
  CHECK(line.listen == "[::1]:9000");
  CHECK(line.tokens_file == "/etc/t");
  CHECK(line.allowed_origins == std::vector<std::string>{"https://a.example", "https://b.example"});
  CHECK(line.allowed_hosts == std::vector<std::string>{"deploy.example"});
  CHECK_THAT(parse_error({"--listen", "127.0.0.1:1"}), Catch::Contains("is an option of the serve command"));
  CHECK_THAT(parse_error({"serve", "--tokens-file"}), Catch::Contains("--tokens-file needs a value"));
  CHECK_THAT(parse_error({"serve", "--allow-host="}), Catch::Contains("--allow-host needs a value"));
  CHECK_THAT(parse_error({"--config", "c.json", "serve"}), Catch::Contains("unknown argument \"serve\""));
}
