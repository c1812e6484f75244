// The HTTP transport's access rules (transport/http_access.h): listen addresses, bearer tokens
// kept as SHA-256, Host and Origin checks.

#include "transport/http_access.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test
using transport::http::AccessPolicy;
using transport::http::TokenList;

TEST_CASE("http access: listen addresses", "[http][access]") {
  auto v4 = transport::http::parse_listen_address("127.0.0.1:8931");
  REQUIRE(v4.ok());
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 8931);
  auto v6 = transport::http::parse_listen_address("[::1]:0");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 0);
  for (const char* bad : {"", "8931", ":8931", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:80x", "::1:80", "[::1:80", "[]:80"}) {
    INFO(bad);
    auto parsed = transport::http::parse_listen_address(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.error().message, Catch::Contains("--listen needs HOST:PORT"));
  }
}

TEST_CASE("http access: bearer tokens are kept and compared as SHA-256", "[http][access]") {
  // sha256("hello") and sha256("world"), as sha256sum prints them.
  const std::string hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
  const std::string world = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7";
  auto list = TokenList::parse("# who may deploy\n\n" + hello + "  -\n" + world + "\tci runner\n", "tokens");
  REQUIRE(list.ok());
  CHECK(list->size() == 2);
  CHECK(list->check("Bearer hello") == std::optional<std::string>("-"));
  CHECK(list->check("bearer world") == std::optional<std::string>("ci runner"));
  CHECK(list->check("BEARER  world ") == std::optional<std::string>("ci runner"));
  CHECK_FALSE(list->check("Bearer hellO"));
  CHECK_FALSE(list->check("Basic aGVsbG8="));
  CHECK_FALSE(list->check("Bearer "));
  CHECK_FALSE(list->check(""));
  CHECK_FALSE(list->check("hello"));
  CHECK_FALSE(list->check("Bearer " + hello));  // the digest itself is not a token

  auto upper = TokenList::parse("2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824\n", "t");
  REQUIRE(upper.ok());
  CHECK(upper->check("Bearer hello") == std::optional<std::string>("token 1"));

  auto bad = TokenList::parse(hello + "\nhello\n", "/etc/bluegreen-mcp/tokens");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::StartsWith("/etc/bluegreen-mcp/tokens:2: expected a token's SHA-256"));
  CHECK_THAT(bad.error().message, Catch::Contains("sha256sum"));
  auto empty = TokenList::parse("# nothing yet\n", "tokens");
  REQUIRE_FALSE(empty.ok());
  CHECK_THAT(empty.error().message, Catch::Contains("no tokens"));
}

TEST_CASE("http access: the tokens file must be private", "[http][access]") {
  const auto dir = std::filesystem::temp_directory_path() / ("http_access_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "tokens").string();
  {
    std::ofstream out(path);
    out << "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 alice\n";
  }
  ::chmod(path.c_str(), 0644);
  auto open = TokenList::load(path);
  REQUIRE_FALSE(open.ok());
  CHECK_THAT(open.error().message, Catch::Contains("chmod 600"));
  ::chmod(path.c_str(), 0600);
  auto loaded = TokenList::load(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->check("Bearer hello") == std::optional<std::string>("alice"));
  auto missing = TokenList::load((dir / "absent").string());
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("cannot read the tokens file"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("http access: Host and Origin against DNS rebinding", "[http][access]") {
  const AccessPolicy loopback("127.0.0.1", {}, {});
  CHECK(loopback.host_allowed("127.0.0.1:8931"));
  CHECK(loopback.host_allowed("localhost:8931"));
  CHECK(loopback.host_allowed("LOCALHOST"));
  CHECK(loopback.host_allowed("[::1]:8931"));
  CHECK_FALSE(loopback.host_allowed("evil.example:8931"));
  CHECK_FALSE(loopback.host_allowed("127.0.0.1.evil.example"));
  CHECK_FALSE(loopback.host_allowed(""));
  CHECK_FALSE(loopback.host_allowed("[::1"));
  CHECK_FALSE(loopback.host_allowed("a:b:c"));

  CHECK(loopback.origin_allowed(std::nullopt));
  CHECK(loopback.origin_allowed(std::string("http://localhost:6274")));
  CHECK(loopback.origin_allowed(std::string("http://127.0.0.1")));
  CHECK(loopback.origin_allowed(std::string("https://[::1]:443")));
  CHECK_FALSE(loopback.origin_allowed(std::string("http://evil.example")));
  CHECK_FALSE(loopback.origin_allowed(std::string("http://127.0.0.1.evil.example")));
  CHECK_FALSE(loopback.origin_allowed(std::string("http://localhost@evil.example")));
  CHECK_FALSE(loopback.origin_allowed(std::string("http://localhost/path")));
  CHECK_FALSE(loopback.origin_allowed(std::string("null")));
  CHECK_FALSE(loopback.origin_allowed(std::string("file://")));
  CHECK_FALSE(loopback.origin_allowed(std::string("")));

  const AccessPolicy shared("10.0.0.5", {"deploy.example.com"}, {"https://ide.example.com"});
  CHECK(shared.host_allowed("10.0.0.5:8931"));
  CHECK(shared.host_allowed("Deploy.Example.com"));
  CHECK_FALSE(shared.host_allowed("10.0.0.6:8931"));
  CHECK(shared.origin_allowed(std::string("https://ide.example.com")));
  CHECK_FALSE(shared.origin_allowed(std::string("https://ide.example.com/")));
  CHECK_FALSE(shared.origin_allowed(std::string("http://ide.example.com")));
}

TEST_CASE("http access: random session ids", "[http][access]") {
  auto first = transport::http::random_hex(16);
  auto second = transport::http::random_hex(16);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->size() == 32);
  CHECK(first->find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(*first != *second);
}
