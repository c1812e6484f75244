#include "haproxy/config_file.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

using haproxy::Selector;

// The tests read files that live next to them in the source tree; __FILE__ is absolute in
// this build (CMake passes absolute source paths), so no extra configuration is needed.
std::filesystem::path source_dir() { return std::filesystem::path(__FILE__).parent_path(); }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t offset = 0;
  while (offset <= text.size()) {
    const std::size_t newline = text.find('\n', offset);
    if (newline == std::string::npos) {
      lines.push_back(text.substr(offset));
      break;
    }
    lines.push_back(text.substr(offset, newline - offset + 1));  // terminator kept: compared too
    offset = newline + 1;
  }
  return lines;
}

// tests/lab/haproxy.cfg.in rendered the way tests/lab/lab renders it for the test lab.
std::string lab_config() {
  std::string text = read_file(source_dir() / ".." / "lab" / "haproxy.cfg.in");
  replace_all(text, "@LB_ADDR@", "127.0.11.3");
  replace_all(text, "@LB_PORT@", "8080");
  replace_all(text, "@STATS_PORT@", "8404");
  replace_all(text, "@BLUE_ADDR@", "127.0.11.1");
  replace_all(text, "@GREEN_ADDR@", "127.0.11.2");
  replace_all(text, "@APP_PORT@", "8080");
  // A placeholder added to the template needs a value here (the header comment mentions "@NAME@").
  for (const auto& line : lines_of(text)) {
    INFO("rendered line: " << line);
    CHECK_FALSE(std::regex_search(line.substr(0, line.find('#')), std::regex("@[A-Z_]+@")));
  }
  return text;
}

// `after` equals `before` except line `line_number`, which must now be `expected_line` (with its
// terminator).
void check_only_line_changed(const std::string& before, const std::string& after, std::size_t line_number,
                             const std::string& expected_line) {
  const auto old_lines = lines_of(before);
  const auto new_lines = lines_of(after);
  REQUIRE(old_lines.size() == new_lines.size());
  for (std::size_t i = 0; i < old_lines.size(); ++i) {
    INFO("line " << i + 1);
    if (i + 1 == line_number) {
      CHECK(new_lines[i] == expected_line);
    } else {
      CHECK(new_lines[i] == old_lines[i]);
    }
  }
}

std::filesystem::path find_haproxy() {
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / "haproxy";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  // Debian installs it in sbin, which is not on a normal user's PATH.
  for (const char* candidate : {"/usr/sbin/haproxy", "/usr/local/sbin/haproxy"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return {};
}

struct CheckResult {
  int exit_code = -1;
  std::string output;
};

// Runs the real `haproxy -c -f` on `config_text`. Fails the test (never skips it) when HAProxy is
// missing: scripts/install-deps installs it, and a validation that silently did not run would
// prove nothing.
CheckResult haproxy_check(const std::string& config_text) {
  const auto haproxy = find_haproxy();
  INFO("haproxy is not installed (not on PATH, /usr/sbin or /usr/local/sbin); run scripts/install-deps");
  REQUIRE_FALSE(haproxy.empty());

  std::string dir_template = (std::filesystem::temp_directory_path() / "bluegreen-haproxy-test.XXXXXX").string();
  REQUIRE(::mkdtemp(dir_template.data()) != nullptr);
  const std::filesystem::path dir = dir_template;
  const auto config = dir / "haproxy.cfg";
  const auto output = dir / "output.txt";
  std::ofstream(config, std::ios::binary) << config_text;

  // Only paths this test created go into the command; they contain no quote characters.
  const std::string command =
      "'" + haproxy.string() + "' -c -f '" + config.string() + "' >'" + output.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  CheckResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.output = read_file(output);
  std::filesystem::remove_all(dir);
  return result;
}

const Selector kLabSelector{"frontend fe_app", "default_backend", ""};

// A frontend that routes by condition, with the traps the parser must not fall into.
const std::string kRoutedConfig = "global\n"
                                  "    log stdout format raw local0\n"
                                  "\n"
                                  "defaults\n"
                                  "    mode http\n"
                                  "    timeout connect 2s\n"
                                  "    timeout client 5s\n"
                                  "    timeout server 5s\n"
                                  "\n"
                                  "frontend fe_main\n"
                                  "    bind 127.0.0.1:18080\n"
                                  "    acl is_api path_beg /api\n"
                                  "    acl is_www hdr(host) -i www.example.test\n"
                                  "    # use_backend api_green if is_api\n"
                                  "\tuse_backend  api_blue\tif   is_api   # switched 2024-05-01\n"
                                  "    use_backend www_blue if is_www\n"
                                  "    use_backend www_blue if { hdr(host) -m str \"a#b\" }\n"
                                  "    default_backend www_blue\n"
                                  "\n"
                                  "frontend fe_admin\n"
                                  "    bind 127.0.0.1:18081\n"
                                  "    acl is_api path_beg /admin/api\n"
                                  "    use_backend api_green if is_api\n"
                                  "    default_backend www_green\n"
                                  "\n"
                                  "backend api_blue\n"
                                  "    server a 127.0.0.1:19001\n"
                                  "backend api_green\n"
                                  "    server a 127.0.0.1:19002\n"
                                  "backend www_blue\n"
                                  "    server a 127.0.0.1:19003\n"
                                  "backend www_green\n"
                                  "    server a 127.0.0.1:19004\n"
                                  "listen www\n"
                                  "    bind 127.0.0.1:18082\n"
                                  "    use_backend api_green if { path_beg /api }\n"
                                  "    server a 127.0.0.1:19005\n";

}  // namespace

TEST_CASE("the lab's live backend is found in its rendered template", "[haproxy][config]") {
  const std::string config = lab_config();
  const auto selection = haproxy::find_live_backend(config, kLabSelector);
  REQUIRE(selection.ok());
  CHECK(selection->backend == "blue");
  CHECK(selection->line == "    default_backend blue");
  CHECK(lines_of(config).at(selection->line_number - 1) == "    default_backend blue\n");
  CHECK(haproxy::backend_names(config) == std::vector<std::string>{"blue", "green", "stats"});
}

TEST_CASE("switching the lab to green changes one line and passes the real haproxy -c", "[haproxy][config]") {
  const std::string config = lab_config();
  const auto before = haproxy::find_live_backend(config, kLabSelector);
  REQUIRE(before.ok());

  const auto switched = haproxy::rewrite_live_backend(config, kLabSelector, "green");
  REQUIRE(switched.ok());
  check_only_line_changed(config, *switched, before->line_number, "    default_backend green\n");
  const auto after = haproxy::find_live_backend(*switched, kLabSelector);
  REQUIRE(after.ok());
  CHECK(after->backend == "green");
  CHECK(after->line_number == before->line_number);

  const auto checked = haproxy_check(*switched);
  INFO(checked.output);
  CHECK(checked.exit_code == 0);

  // And back: the round trip restores the original bytes.
  const auto back = haproxy::rewrite_live_backend(*switched, kLabSelector, "blue");
  REQUIRE(back.ok());
  CHECK(*back == config);
}

TEST_CASE("the haproxy -c harness really rejects a config pointing nowhere", "[haproxy][config]") {
  // Guards the test above: if `haproxy -c` accepted anything, its success would mean nothing.
  std::string broken = lab_config();
  replace_all(broken, "default_backend blue", "default_backend purple");
  const auto checked = haproxy_check(broken);
  INFO(checked.output);
  CHECK(checked.exit_code != 0);
  CHECK(checked.output.find("purple") != std::string::npos);
}

TEST_CASE("use_backend lines are selected by their condition", "[haproxy][config]") {
  SECTION("condition compared word by word, tabs and runs of spaces ignored") {
    const auto selection =
        haproxy::find_live_backend(kRoutedConfig, Selector{"frontend fe_main", "use_backend", "if is_api"});
    REQUIRE(selection.ok());
    CHECK(selection->backend == "api_blue");
    CHECK(selection->line_number == 15);
    CHECK(selection->line == "\tuse_backend  api_blue\tif   is_api   # switched 2024-05-01");

    const auto spaced =
        haproxy::find_live_backend(kRoutedConfig, Selector{"frontend   fe_main", "use_backend", "  if\tis_api "});
    REQUIRE(spaced.ok());
    CHECK(spaced->line_number == 15);
  }
  SECTION("a '#' inside quotes is part of the condition, not a comment") {
    const auto selection = haproxy::find_live_backend(kRoutedConfig, Selector{"frontend fe_main", "use_backend",
                                                                              "if { hdr(host) -m str \"a#b\" }"});
    REQUIRE(selection.ok());
    CHECK(selection->line_number == 17);
    CHECK(selection->backend == "www_blue");
  }
  SECTION("the same condition in another section is another line") {
    const auto selection =
        haproxy::find_live_backend(kRoutedConfig, Selector{"frontend fe_admin", "use_backend", "if is_api"});
    REQUIRE(selection.ok());
    CHECK(selection->line_number == 23);
    CHECK(selection->backend == "api_green");
  }
  SECTION("a listen section is a section too") {
    const auto selection =
        haproxy::find_live_backend(kRoutedConfig, Selector{"listen www", "use_backend", "if { path_beg /api }"});
    REQUIRE(selection.ok());
    CHECK(selection->backend == "api_green");
  }
  SECTION("rewriting keeps indentation, spacing, condition and trailing comment") {
    const Selector selector{"frontend fe_main", "use_backend", "if is_api"};
    const auto rewritten = haproxy::rewrite_live_backend(kRoutedConfig, selector, "api_green");
    REQUIRE(rewritten.ok());
    check_only_line_changed(kRoutedConfig, *rewritten, 15,
                            "\tuse_backend  api_green\tif   is_api   # switched 2024-05-01\n");
    const auto checked = haproxy_check(*rewritten);
    INFO(checked.output);
    CHECK(checked.exit_code == 0);
  }
  SECTION("no line with that condition: the other conditions are listed") {
    const auto selection =
        haproxy::find_live_backend(kRoutedConfig, Selector{"frontend fe_main", "use_backend", "if is_static"});
    REQUIRE_FALSE(selection.ok());
    const auto& message = selection.error().message;
    CHECK_THAT(message, Catch::Contains("no `use_backend <backend> if is_static` line in section `frontend fe_main`"));
    CHECK_THAT(message, Catch::Contains("line 15 `if is_api`"));
    CHECK_THAT(message, Catch::Contains("line 16 `if is_www`"));
  }
  SECTION("an empty condition selects only an unconditional use_backend") {
    const auto selection = haproxy::find_live_backend(kRoutedConfig, Selector{"frontend fe_main", "use_backend", ""});
    REQUIRE_FALSE(selection.ok());
    CHECK_THAT(selection.error().message, Catch::Contains("no `use_backend <backend>` line"));

    const std::string unconditional = "frontend f\n  use_backend b # always\nbackend b\nbackend c\n";
    const auto found = haproxy::find_live_backend(unconditional, Selector{"frontend f", "use_backend", ""});
    REQUIRE(found.ok());
    CHECK(found->backend == "b");
    const auto rewritten = haproxy::rewrite_live_backend(unconditional, Selector{"frontend f", "use_backend", ""}, "c");
    REQUIRE(rewritten.ok());
    CHECK(*rewritten == "frontend f\n  use_backend c # always\nbackend b\nbackend c\n");
  }
}

TEST_CASE("commented-out lines never count", "[haproxy][config]") {
  const std::string config = "frontend fe_app\n"
                             "#default_backend green\n"
                             "    # default_backend green\n"
                             "    default_backend blue # default_backend green\n"
                             "\n"
                             "backend blue\n"
                             "backend green\n";
  const Selector selector{"frontend fe_app", "default_backend", ""};
  const auto selection = haproxy::find_live_backend(config, selector);
  REQUIRE(selection.ok());
  CHECK(selection->line_number == 4);
  CHECK(selection->backend == "blue");

  const auto rewritten = haproxy::rewrite_live_backend(config, selector, "green");
  REQUIRE(rewritten.ok());
  check_only_line_changed(config, *rewritten, 4, "    default_backend green # default_backend green\n");

  const std::string only_commented = "frontend fe_app\n    # default_backend green\nbackend green\n";
  const auto missing = haproxy::find_live_backend(only_commented, selector);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("no `default_backend` line in section `frontend fe_app`"));

  // A commented-out section header does not end the section.
  const std::string commented_header = "frontend fe_app\n# backend old\n  default_backend blue\nbackend blue\n";
  CHECK(haproxy::find_live_backend(commented_header, selector).ok());
  CHECK(haproxy::backend_names(commented_header) == std::vector<std::string>{"blue"});
}

TEST_CASE("two matching lines are ambiguous", "[haproxy][config]") {
  const std::string config = "frontend fe_app\n"
                             "    default_backend blue\n"
                             "    bind 127.0.0.1:8080\n"
                             "    default_backend green\n"
                             "backend blue\n"
                             "backend green\n";
  const Selector selector{"frontend fe_app", "default_backend", ""};
  const auto selection = haproxy::find_live_backend(config, selector);
  REQUIRE_FALSE(selection.ok());
  CHECK_THAT(selection.error().message, Catch::Contains("ambiguous"));
  CHECK_THAT(selection.error().message, Catch::Contains("lines 2, 4"));
  CHECK_THAT(selection.error().message, Catch::Contains("`frontend fe_app`"));
  CHECK_FALSE(haproxy::rewrite_live_backend(config, selector, "green").ok());

  const auto same_condition =
      haproxy::find_live_backend("frontend f\n use_backend a if x\n use_backend b  if  x\nbackend a\nbackend b\n",
                                 Selector{"frontend f", "use_backend", "if x"});
  REQUIRE_FALSE(same_condition.ok());
  CHECK_THAT(same_condition.error().message, Catch::Contains("ambiguous"));
  CHECK_THAT(same_condition.error().message, Catch::Contains("lines 2, 3"));
}

TEST_CASE("a missing section or directive is reported by name", "[haproxy][config]") {
  const std::string config = lab_config();
  SECTION("section missing") {
    const auto selection = haproxy::find_live_backend(config, Selector{"frontend fe_web", "default_backend", ""});
    REQUIRE_FALSE(selection.ok());
    CHECK_THAT(selection.error().message, Catch::Contains("section `frontend fe_web` not found"));
    CHECK_THAT(selection.error().message, Catch::Contains("frontend fe_app"));
  }
  SECTION("keyword and name must both match") {
    CHECK_FALSE(haproxy::find_live_backend(config, Selector{"backend fe_app", "default_backend", ""}).ok());
    CHECK_FALSE(haproxy::find_live_backend(config, Selector{"frontend fe_ap", "default_backend", ""}).ok());
    CHECK_FALSE(haproxy::find_live_backend(config, Selector{"frontend fe_app2", "default_backend", ""}).ok());
  }
  SECTION("directive missing from the section, even if present in another one") {
    const auto selection = haproxy::find_live_backend(config, Selector{"listen stats", "default_backend", ""});
    REQUIRE_FALSE(selection.ok());
    CHECK_THAT(selection.error().message, Catch::Contains("no `default_backend` line in section `listen stats`"));
  }
  SECTION("a section appearing twice") {
    const auto selection =
        haproxy::find_live_backend("frontend f\n default_backend a\nfrontend f\n default_backend b\nbackend a\n",
                                   Selector{"frontend f", "default_backend", ""});
    REQUIRE_FALSE(selection.ok());
    CHECK_THAT(selection.error().message, Catch::Contains("appears 2 times (lines 1, 3)"));
  }
  SECTION("a directive with no backend") {
    const auto selection = haproxy::find_live_backend("frontend f\n  default_backend # none\n",
                                                      Selector{"frontend f", "default_backend", ""});
    REQUIRE_FALSE(selection.ok());
    CHECK_THAT(selection.error().message, Catch::Contains("line 2"));
    CHECK_THAT(selection.error().message, Catch::Contains("names no backend"));
  }
  SECTION("malformed selectors") {
    CHECK_THAT(haproxy::find_live_backend(config, Selector{"frontend fe_app", "server", ""}).error().message,
               Catch::Contains("directive `server` is not supported"));
    CHECK_THAT(
        haproxy::find_live_backend(config, Selector{"frontend fe_app", "default_backend", "if x"}).error().message,
        Catch::Contains("only applies to `use_backend`"));
    CHECK_THAT(haproxy::find_live_backend(config, Selector{"fe_app", "default_backend", ""}).error().message,
               Catch::Contains("must be a section keyword and a name"));
    CHECK_THAT(haproxy::find_live_backend(config, Selector{"", "default_backend", ""}).error().message,
               Catch::Contains("must be a section keyword and a name"));
  }
}

TEST_CASE("CRLF line endings are read and preserved", "[haproxy][config]") {
  std::string config = lab_config();
  replace_all(config, "\n", "\r\n");
  const auto selection = haproxy::find_live_backend(config, kLabSelector);
  REQUIRE(selection.ok());
  CHECK(selection->backend == "blue");
  CHECK(selection->line == "    default_backend blue");

  const auto rewritten = haproxy::rewrite_live_backend(config, kLabSelector, "green");
  REQUIRE(rewritten.ok());
  check_only_line_changed(config, *rewritten, selection->line_number, "    default_backend green\r\n");
  CHECK(haproxy::backend_names(config) == std::vector<std::string>{"blue", "green", "stats"});
}

TEST_CASE("the final newline, or its absence, is preserved", "[haproxy][config]") {
  const Selector selector{"frontend f", "default_backend", ""};
  const auto without =
      haproxy::rewrite_live_backend("backend a\nbackend b\nfrontend f\n\tdefault_backend a", selector, "b");
  REQUIRE(without.ok());
  CHECK(*without == "backend a\nbackend b\nfrontend f\n\tdefault_backend b");

  const auto with_crlf =
      haproxy::rewrite_live_backend("backend a\r\nbackend b\r\nfrontend f\r\n  default_backend a\r\n\r\n", selector,
                                    "b");
  REQUIRE(with_crlf.ok());
  CHECK(*with_crlf == "backend a\r\nbackend b\r\nfrontend f\r\n  default_backend b\r\n\r\n");
}

TEST_CASE("a quoted backend name is read unquoted and replaced whole", "[haproxy][config]") {
  const std::string config = "frontend f\n  default_backend \"blue\"  # quoted\nbackend blue\nbackend green\n";
  const Selector selector{"frontend f", "default_backend", ""};
  const auto selection = haproxy::find_live_backend(config, selector);
  REQUIRE(selection.ok());
  CHECK(selection->backend == "blue");
  const auto rewritten = haproxy::rewrite_live_backend(config, selector, "green");
  REQUIRE(rewritten.ok());
  CHECK(*rewritten == "frontend f\n  default_backend green  # quoted\nbackend blue\nbackend green\n");
}

TEST_CASE("rewriting refuses a backend that is undefined or badly named", "[haproxy][config]") {
  const std::string config = lab_config();
  SECTION("undefined: named in the error, text unchanged") {
    const auto rewritten = haproxy::rewrite_live_backend(config, kLabSelector, "purple");
    REQUIRE_FALSE(rewritten.ok());
    CHECK_THAT(rewritten.error().message, Catch::Contains("backend `purple` is not defined"));
    CHECK_THAT(rewritten.error().message, Catch::Contains("blue, green, stats"));
  }
  SECTION("a frontend is not a backend") {
    const auto rewritten = haproxy::rewrite_live_backend(config, kLabSelector, "fe_app");
    REQUIRE_FALSE(rewritten.ok());
    CHECK_THAT(rewritten.error().message, Catch::Contains("`fe_app` is not defined"));
  }
  SECTION("a listen section can receive traffic") {
    const auto rewritten = haproxy::rewrite_live_backend(config, kLabSelector, "stats");
    REQUIRE(rewritten.ok());
    CHECK(haproxy::find_live_backend(*rewritten, kLabSelector)->backend == "stats");
  }
  SECTION("names outside [A-Za-z0-9._:-]+") {
    for (const std::string bad : {"", "green blue", "green;reboot", "green\n", "$(id)", "gr\"een", "green#x", "grün"}) {
      INFO("name: " << bad);
      const auto rewritten = haproxy::rewrite_live_backend(config, kLabSelector, bad);
      REQUIRE_FALSE(rewritten.ok());
      CHECK_THAT(rewritten.error().message, Catch::Contains("is not acceptable"));
    }
  }
  SECTION("the same backend leaves the text unchanged") {
    const auto rewritten = haproxy::rewrite_live_backend(config, kLabSelector, "blue");
    REQUIRE(rewritten.ok());
    CHECK(*rewritten == config);
  }
}

TEST_CASE("backend_names lists backend and listen sections once, in file order", "[haproxy][config]") {
  CHECK(haproxy::backend_names(kRoutedConfig) ==
        std::vector<std::string>{"api_blue", "api_green", "www_blue", "www_green", "www"});
  CHECK(haproxy::backend_names("").empty());
  CHECK(haproxy::backend_names("frontend f\n  backend_x y\n  backend\nbackend b from defs\nbackend b\n") ==
        std::vector<std::string>{"b"});
}
