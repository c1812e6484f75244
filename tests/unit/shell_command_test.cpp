#include "remote/shell_command.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <sys/wait.h>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

// What a real POSIX shell makes of `printf %s <quoted>`: the value must come back byte for byte.
std::string round_trip_through_sh(const std::string& value) {
  const std::string command = "printf %s " + remote::shell_quote(value);
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[256];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  REQUIRE(WEXITSTATUS(::pclose(pipe)) == 0);
  return out;
}

const std::vector<std::string> kHostile{
    "$(touch /tmp/pwned)",
    "`touch /tmp/pwned`",
    "a; touch /tmp/pwned",
    "it's",
    "'; touch /tmp/pwned; '",
    "line\nbreak",
    "--output=/etc/passwd",
    "-rf",
    "a && b",
    "x | y",
    "${HOME}",
    "\"quoted\"",
    "back\\slash",
    "*",
    "~root",
    "",
    " leading space",
    "tab\there",
    "semi;",
    "new\r\nline",
};

}  // namespace

TEST_CASE("shell_quote survives a real shell for hostile values", "[remote][quoting]") {
  for (const auto& value : kHostile) {
    INFO("value: " << value);
    CHECK(round_trip_through_sh(value) == value);
  }
  CHECK(remote::shell_quote("it's") == "'it'\\''s'");
}

TEST_CASE("validators refuse hostile values and name the field", "[remote][quoting]") {
  for (const auto& value : kHostile) {
    INFO("value: " << value);
    const auto ref = remote::validate_git_ref(value, "ref");
    CHECK_FALSE(ref.ok());
    if (!ref.ok()) CHECK_THAT(ref.error().message, Catch::StartsWith("ref: "));
    CHECK_FALSE(remote::validate_name(value, "app").ok());
    CHECK_FALSE(remote::validate_absolute_path(value, "appDir").ok());
  }
  const auto leading_dash = remote::validate_git_ref("--output=x", "ref");
  REQUIRE_FALSE(leading_dash.ok());
  CHECK_THAT(leading_dash.error().message, Catch::Contains("option"));
  // Control characters are shown escaped, never raw, in messages.
  CHECK_THAT(remote::validate_name("a\nb", "app").error().message, Catch::Contains("\\x0a"));
}

TEST_CASE("validators accept ordinary values", "[remote][quoting]") {
  for (const char* ref : {"main", "release/1.2", "v1.2.3", "feature/ABC-123_x", "3f2a9c1", "HEAD"}) {
    INFO(ref);
    CHECK(remote::validate_git_ref(ref, "ref").ok());
  }
  for (const char* bad : {"a..b", "a//b", "a/", "a.lock", "a.", "/abs", ".hidden"}) {
    INFO(bad);
    CHECK_FALSE(remote::validate_git_ref(bad, "ref").ok());
  }
  CHECK(remote::validate_name("jw-attendant.blue_1", "app").ok());
  CHECK_FALSE(remote::validate_name(std::string(65, 'a'), "app").ok());
  CHECK(remote::validate_absolute_path("/srv/app", "appDir").ok());
  CHECK(remote::validate_absolute_path("/var/lib/bluegreen/state.json", "stateFile").ok());
  CHECK_FALSE(remote::validate_absolute_path("/srv/../etc", "appDir").ok());
  CHECK_FALSE(remote::validate_absolute_path("srv/app", "appDir").ok());
}

TEST_CASE("placeholders in trusted text are replaced by quoted values", "[remote][quoting]") {
  CHECK(remote::substitute_placeholders("git checkout --detach {ref} && echo {app}{missing}",
                                        {{"ref", "$(evil)"}, {"app", "shop"}}) ==
        "git checkout --detach '$(evil)' && echo 'shop'{missing}");
  // Braces in operator text that are not placeholder names stay as they are.
  CHECK(remote::substitute_placeholders("awk '{print $1}' {ref} {", {{"ref", "main"}}) == "awk '{print $1}' 'main' {");
  CHECK(remote::substitute_placeholders("no placeholders", {}) == "no placeholders");
}
