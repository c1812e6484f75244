// nginx/config_parse.h (nginx's configuration syntax) and nginx/config_dump.h (the files of
// `nginx -T`'s output).
#include "nginx/config_dump.h"
#include "nginx/config_parse.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

// A dump captured from nginx 1.22; see nginx_fixtures/README.md.
std::string fixture(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "nginx_fixtures" / name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> names_of(const std::vector<nginx::Directive>& directives) {
  std::vector<std::string> names;
  for (const auto& d : directives) names.push_back(d.name());
  return names;
}

}  // namespace

TEST_CASE("nginx config: directives, blocks, quotes, comments and positions", "[nginx]") {
  const std::string text = "user www-data;\n"
                           "http {\n"
                           "    # a comment { ; }\n"
                           "    server {\n"
                           "        listen 80;location / { proxy_pass http://a#b/x; }\n"
                           "        set $v \"a \\\"quoted\\\" word\";\n"
                           "        return 200 '${host}x';\n"
                           "        rewrite ^/(.*)$ /${1}-new break;\n"
                           "    }\n"
                           "}\n";
  auto parsed = nginx::parse_config(text, "/etc/nginx/nginx.conf");
  REQUIRE(parsed);
  REQUIRE(names_of(*parsed) == std::vector<std::string>{"user", "http"});
  const auto& server = (*parsed)[1].children.at(0);
  CHECK(server.name() == "server");
  CHECK(server.line == 4);
  REQUIRE(names_of(server.children) == std::vector<std::string>{"listen", "location", "set", "return", "rewrite"});
  const auto& location = server.children[1];
  CHECK(location.has_block);
  CHECK(location.arg(0) == "/");
  const auto& pass = location.children.at(0);
  CHECK(pass.arg(0) == "http://a#b/x");  // `#` inside a word is no comment
  CHECK(text.substr(pass.words[1].begin, pass.words[1].end - pass.words[1].begin) == "http://a#b/x");
  CHECK(pass.words[1].line == 5);
  const auto& set = server.children[2];
  CHECK(set.arg(1) == "a \"quoted\" word");
  CHECK(set.words[2].quoted);
  CHECK(text[set.words[2].begin] == '"');
  CHECK(server.children[3].arg(1) == "${host}x");
  CHECK(server.children[4].arg(1) == "/${1}-new");  // `${` opens no block
  CHECK(text.substr(server.end - 1, 1) == "}");
  CHECK(nginx::line_at(text, 5) == "listen 80;location / { proxy_pass http://a#b/x; }");
}

TEST_CASE("nginx config: what nginx refuses is an error with the file and line", "[nginx]") {
  const auto error_of = [](const std::string& text) {
    auto parsed = nginx::parse_config(text, "/etc/nginx/x.conf");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == ErrorCode::kInvalidArgument);
    return parsed.error().message;
  };
  CHECK(error_of("http {\n  server {\n") ==
        "/etc/nginx/x.conf:2: unexpected end of file, expecting \"}\" for the \"{\" on this line");
  CHECK(error_of("http {\n}\n}\n") == "/etc/nginx/x.conf:3: unexpected \"}\"");
  CHECK(error_of("user www-data\n") ==
        "/etc/nginx/x.conf:1: unexpected end of file, expecting \";\" or \"}\" after \"user\"");
  CHECK(error_of("http { listen 80 }\n") ==
        "/etc/nginx/x.conf:1: unexpected \"}\": \"listen\" is not terminated by \";\"");
  CHECK(error_of("set $a \"open;\n") == "/etc/nginx/x.conf:1: unexpected end of file, expecting \"");
  CHECK(error_of("set $a \"x\"y;\n") == "/etc/nginx/x.conf:1: unexpected \"y\" after a quoted word");
  CHECK(error_of(";\n") == "/etc/nginx/x.conf:1: unexpected \";\"");
  CHECK(error_of("{ }\n") == "/etc/nginx/x.conf:1: unexpected \"{\"");
}

TEST_CASE("nginx -T dump: split into its files, exactly with sizes", "[nginx]") {
  const auto dump = fixture("relative_includes.dump");
  auto files = nginx::split_config_dump(dump);
  REQUIRE(files);
  REQUIRE(files->size() == 4);
  CHECK(files->at(0).path == "/etc/nginx/fixture/nginx.conf");
  CHECK(files->at(1).path == "/etc/nginx/fixture/snippets/upstreams.conf");
  CHECK(files->at(2).path == "/etc/nginx/fixture/sites/blog.conf");
  CHECK(files->at(3).path == "/etc/nginx/fixture/sites/shop.conf");
  // The sizes stat gave on the host (README): the cut is exact.
  const std::map<std::string, std::size_t> sizes{{"/etc/nginx/fixture/nginx.conf", 231},
                                                 {"/etc/nginx/fixture/snippets/upstreams.conf", 379},
                                                 {"/etc/nginx/fixture/sites/shop.conf", 598},
                                                 {"/etc/nginx/fixture/sites/blog.conf", 92}};
  for (const auto& file : *files) CHECK(file.text.size() == sizes.at(file.path));
  auto exact = nginx::split_config_dump(dump, sizes);
  REQUIRE(exact);
  for (std::size_t i = 0; i < files->size(); ++i) CHECK(exact->at(i).text == files->at(i).text);
}

TEST_CASE("nginx -T dump: a header-like line inside a file needs the sizes", "[nginx]") {
  const std::string a = "events {}\n# configuration file /etc/passwd:\nhttp {}\n";
  const std::string b = "server {}";  // no final line feed: nginx adds one after each file
  const std::string dump = "# configuration file /etc/nginx/nginx.conf:\n" + a + "\n" +
                           "# configuration file /etc/nginx/b.conf:\n" + b + "\n";
  auto guessed = nginx::split_config_dump(dump);
  REQUIRE(guessed);
  CHECK(guessed->size() == 3);  // without sizes the look-alike starts a file
  auto exact = nginx::split_config_dump(dump, {{"/etc/nginx/nginx.conf", a.size()}, {"/etc/nginx/b.conf", b.size()}});
  REQUIRE(exact);
  REQUIRE(exact->size() == 2);
  CHECK(exact->at(0).text == a);
  CHECK(exact->at(1).text == b);
}

TEST_CASE("nginx -T dump: what is not a dump, or changed since, is an error", "[nginx]") {
  auto not_dump = nginx::split_config_dump("nginx: [emerg] unknown directive \"foo\"\n");
  REQUIRE_FALSE(not_dump);
  CHECK(not_dump.error().message ==
        "cannot read `nginx -T`'s output: it does not start with \"# configuration file PATH:\" but with "
        "\"nginx: [emerg] unknown directive \"foo\"\"");
  const std::string dump = "# configuration file /a.conf:\nx;\n\n";
  auto resized = nginx::split_config_dump(dump, {{"/a.conf", 5}});
  REQUIRE_FALSE(resized);
  CHECK(resized.error().message.find("/a.conf is not 5 bytes long in the dump") != std::string::npos);
  auto unsized = nginx::split_config_dump(dump, {{"/b.conf", 3}});
  REQUIRE_FALSE(unsized);
  CHECK(unsized.error().message == "cannot read `nginx -T`'s output: no size was read for /a.conf");
  auto ok = nginx::split_config_dump(dump, {{"/a.conf", 3}});
  REQUIRE(ok);
  CHECK(ok->at(0).text == "x;\n");
}
