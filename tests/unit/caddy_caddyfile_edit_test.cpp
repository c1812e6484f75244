// caddy/caddyfile_edit.h: the app's upstream tokens rewritten in a Caddyfile's text, nothing else.
// That Caddy adapts the result to the planned JSON is checked against the lab's real Caddy (e2e.caddy).
#include "caddy/caddyfile_edit.h"

#include <catch2/catch.hpp>

#include <string>

using bluegreen::caddy::rewrite_caddyfile_upstreams;

namespace {

const std::set<std::string> kBlue{"127.0.31.11:9000", "127.0.31.13:9000"};
const std::vector<std::string> kGreen{"127.0.31.12:9000", "127.0.31.14:9000"};

}  // namespace

TEST_CASE("Caddyfile: a reverse_proxy line's upstreams become the other colour's, the rest byte for byte",
          "[caddyfile]") {
  const std::string text = "# blue/green: reverse_proxy 127.0.31.11:9000 stays in a comment\r\n"
                           "http://:8080 {\r\n"
                           "\treverse_proxy /api/* 127.0.31.11:9000   http://127.0.31.13:9000 {  # pool\r\n"
                           "\t\thealth_uri /health\r\n"
                           "\t}\r\n"
                           "}";
  const auto rewritten = rewrite_caddyfile_upstreams(text, kBlue, kGreen);
  REQUIRE(rewritten);
  CHECK(rewritten->lines == std::vector<std::size_t>{3});
  CHECK(rewritten->after == "# blue/green: reverse_proxy 127.0.31.11:9000 stays in a comment\r\n"
                            "http://:8080 {\r\n"
                            "\treverse_proxy /api/* 127.0.31.12:9000 127.0.31.14:9000 {  # pool\r\n"
                            "\t\thealth_uri /health\r\n"
                            "\t}\r\n"
                            "}");
}

TEST_CASE("Caddyfile: `to` lines, a scheme kept, several sites each rewritten", "[caddyfile]") {
  const std::string text = "a.example {\n\treverse_proxy {\n\t\tto http://127.0.31.11:9000\n\t}\n}\n"
                           "b.example {\n\treverse_proxy 127.0.31.13:9000\n}\n";
  const auto rewritten = rewrite_caddyfile_upstreams(text, kBlue, {"127.0.31.12:9000"});
  REQUIRE(rewritten);
  CHECK(rewritten->lines == std::vector<std::size_t>{3, 7});
  CHECK(rewritten->after == "a.example {\n\treverse_proxy {\n\t\tto http://127.0.31.12:9000\n\t}\n}\n"
                            "b.example {\n\treverse_proxy 127.0.31.12:9000\n}\n");
}

TEST_CASE("Caddyfile: an app's address anywhere else is refused with its line", "[caddyfile]") {
  const auto refused = [](const std::string& text) {
    const auto rewritten = rewrite_caddyfile_upstreams(text, kBlue, kGreen);
    REQUIRE_FALSE(rewritten);
    return rewritten.error().message;
  };
  CHECK_THAT(refused(":8080 {\n\trespond 127.0.31.11:9000\n}\n"),
             Catch::StartsWith("line 2: `respond 127.0.31.11:9000`") && Catch::Contains("outside a reverse_proxy"));
  CHECK_THAT(refused("127.0.31.11:9000 {\n}\n"), Catch::StartsWith("line 1:"));
  CHECK_THAT(refused(":8080 {\n\treverse_proxy 127.0.31.11:9000 127.0.31.12:9000\n}\n"),
             Catch::StartsWith("line 2:") && Catch::Contains("both colours"));
  CHECK_THAT(refused(":8080 {\n\treverse_proxy \"127.0.31.11:9000\"\n}\n"), Catch::Contains("a quoted string"));
  CHECK_THAT(refused(":8080 {\n\treverse_proxy {$UP:127.0.31.11:9000}\n}\n"),
             Catch::Contains("the longer token `{$UP:127.0.31.11:9000}`"));
  CHECK_THAT(refused(":8080 {\n\timport proxies\n}\n"), Catch::Contains("no reverse_proxy line"));
  // Another address that merely starts the same is not the app's, and not refused for it.
  const auto other =
      rewrite_caddyfile_upstreams(":8080 {\n\treverse_proxy 127.0.31.11:90001 127.0.31.11:9000\n}\n", kBlue, kGreen);
  REQUIRE(other);
  CHECK(other->after == ":8080 {\n\treverse_proxy 127.0.31.11:90001 127.0.31.12:9000 127.0.31.14:9000\n}\n");
}

TEST_CASE("Caddyfile: dials that cannot be one token are refused", "[caddyfile]") {
  CHECK_FALSE(rewrite_caddyfile_upstreams("x", kBlue, {}));
  CHECK(rewrite_caddyfile_upstreams("x", kBlue, {"a b"}).error().code == bluegreen::ErrorCode::kInvalidArgument);
  CHECK_FALSE(rewrite_caddyfile_upstreams("x", {""}, kGreen));
}

TEST_CASE("Caddyfile: a quoted string over several lines is not a directive, and an address in it is refused",
          "[caddyfile]") {
  const std::string text = ":8080 {\n\trespond /x `line one\nreverse_proxy 127.0.31.11:9000\n` 200\n"
                           "\treverse_proxy 127.0.31.11:9000\n}\n";
  const auto rewritten = rewrite_caddyfile_upstreams(text, kBlue, kGreen);
  REQUIRE_FALSE(rewritten);
  CHECK_THAT(rewritten.error().message, Catch::StartsWith("line 3:") && Catch::Contains("a quoted string"));
  // Without the address inside, the string spans its lines untouched and the real line is rewritten.
  const auto other = rewrite_caddyfile_upstreams(":8080 {\n\trespond `a\nb reverse_proxy\n` 200\n"
                                                 "\treverse_proxy 127.0.31.11:9000\n}\n",
                                                 kBlue, {"127.0.31.12:9000"});
  REQUIRE(other);
  CHECK(other->lines == std::vector<std::size_t>{5});
}
