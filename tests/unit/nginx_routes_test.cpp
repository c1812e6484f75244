// nginx/routes.h: every route of an app across the files nginx loads, and rewriting all of them
// at once.
#include "nginx/routes.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

using nginx::ConfigFile;

const std::vector<std::string> kShop{"shop_blue", "shop_green"};
const std::vector<std::string> kBlog{"blog_blue", "blog_green"};

// The files of a dump captured from nginx 1.22; see nginx_fixtures/README.md.
std::vector<ConfigFile> fixture_files(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "nginx_fixtures" / name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  auto files = nginx::split_config_dump(text.str());
  REQUIRE(files);
  return *files;
}

std::vector<std::string> lines_of(const nginx::AppRoutes& routes) {
  std::vector<std::string> out;
  for (const auto& r : routes.routes) {
    out.push_back(r.file.substr(r.file.rfind('/') + 1) + ":" + std::to_string(r.line_number) + " " + r.line);
  }
  return out;
}

const std::string& text_of(const std::vector<ConfigFile>& files, const std::string& suffix) {
  for (const auto& f : files) {
    if (f.path.size() >= suffix.size() && f.path.compare(f.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return f.text;
    }
  }
  FAIL("no file " << suffix);
  static const std::string none;
  return none;
}

}  // namespace

TEST_CASE("nginx routes: every proxy_pass to the app through relative includes, by entry point", "[nginx]") {
  const auto files = fixture_files("relative_includes.dump");
  const auto routes = nginx::find_routes(files, kShop);
  CHECK(routes.problems.empty());
  CHECK(routes.missing_includes.empty());
  CHECK(routes.unsupported.empty());  // blog's map and variable proxy_pass are not the shop's
  CHECK(lines_of(routes) == std::vector<std::string>{
                                "shop.conf:6 proxy_pass http://shop_blue;",
                                "shop.conf:11 proxy_pass \"http://shop_blue\";",
                                "shop.conf:13 proxy_pass http://shop_blue/api/;",
                                "shop.conf:19 location / { proxy_pass http://shop_blue; }",
                            });
  CHECK(routes.routes[1].context == "http > server > location /api/ > if ($request_method = POST)");
  REQUIRE(routes.entry_points.size() == 2);
  CHECK(routes.entry_points[0].listens == std::vector<std::string>{"127.0.17.3:8085"});
  CHECK(routes.entry_points[0].server_names == std::vector<std::string>{"shop.example.test", "www.shop.example.test"});
  CHECK(routes.entry_points[0].routes == std::vector<std::size_t>{0, 1, 2});
  CHECK(routes.entry_points[1].line_number == 17);
  CHECK(routes.entry_points[1].routes == std::vector<std::size_t>{3});
  REQUIRE(routes.upstreams.size() == 4);
  CHECK(routes.upstreams[0].name == "shop_blue");
  CHECK(routes.upstreams[0].servers == std::vector<std::string>{"127.0.17.1:8080", "127.0.17.12:8080"});
}

TEST_CASE("nginx routes: a cookie map choosing the colour, and proxy_pass from a variable, are refused", "[nginx]") {
  const auto files = fixture_files("relative_includes.dump");
  const auto routes = nginx::find_routes(files, kBlog);
  CHECK(routes.routes.empty());
  REQUIRE(routes.unsupported.size() == 3);
  CHECK(routes.unsupported[0].line == "default blog_blue;");
  CHECK(routes.unsupported[0].why.find("chooses the app's upstream \"blog_blue\" per request") != std::string::npos);
  CHECK(routes.unsupported[1].line == "\"green\" blog_green;");
  CHECK(routes.unsupported[2].line == "location / { proxy_pass http://$blog_upstream; }");
  CHECK(routes.unsupported[2].why.find("takes its address from a variable") != std::string::npos);
}

TEST_CASE("nginx routes: the switch rewrites only the upstream names, every other byte kept", "[nginx]") {
  const auto files = fixture_files("relative_includes.dump");
  const auto routes = nginx::find_routes(files, kShop);
  auto changes = nginx::rewrite_routes(files, routes, "shop_green");
  REQUIRE(changes);
  REQUIRE(changes->size() == 1);
  const auto& change = changes->front();
  CHECK(change.path == "/etc/nginx/fixture/sites/shop.conf");
  CHECK(change.lines == std::vector<std::size_t>{6, 11, 13, 19});
  std::string expected = text_of(files, "sites/shop.conf");
  for (std::size_t at = expected.find("shop_blue"); at != std::string::npos; at = expected.find("shop_blue", at)) {
    expected.replace(at, 9, "shop_green");
  }
  CHECK(change.after == expected);
  CHECK(change.after.find("proxy_pass \"http://shop_green\";") != std::string::npos);
  CHECK(change.after.find("proxy_pass http://shop_green/api/;") != std::string::npos);

  // Already there: nothing changes.
  std::vector<ConfigFile> switched = files;
  for (auto& f : switched) {
    if (f.path == change.path) f.text = change.after;
  }
  auto again = nginx::rewrite_routes(switched, nginx::find_routes(switched, kShop), "shop_green");
  REQUIRE(again);
  CHECK(again->empty());
}

TEST_CASE("nginx routes: the lab's default layout", "[nginx]") {
  const auto files = fixture_files("lab_default.dump");
  const auto routes = nginx::find_routes(files, {"blue", "green"});
  CHECK(lines_of(routes) == std::vector<std::string>{"app.conf:20 proxy_pass http://blue;"});
  REQUIRE(routes.entry_points.size() == 1);
  CHECK(routes.entry_points[0].listens == std::vector<std::string>{"127.0.17.3:8080"});
  auto changes = nginx::rewrite_routes(files, routes, "green");
  REQUIRE(changes);
  REQUIRE(changes->size() == 1);
  CHECK(changes->front().path == "/etc/nginx/sites-enabled/app.conf");
  CHECK(changes->front().after.find("proxy_pass http://green;") != std::string::npos);
}

TEST_CASE("nginx routes: the stream module, and lines refused with the reason", "[nginx]") {
  const std::vector<ConfigFile> files{{"/etc/nginx/nginx.conf", "stream {\n"
                                                                "  upstream db_blue { server 10.0.0.1:5432; }\n"
                                                                "  upstream db_green { server 10.0.0.2:5432; }\n"
                                                                "  server { listen 5432; proxy_pass db_blue; }\n"
                                                                "}\n"
                                                                "http {\n"
                                                                "  upstream db_blue { server 10.0.0.1:80; }\n"
                                                                "  server {\n"
                                                                "    listen 80;\n"
                                                                "    location /a { proxy_pass http://db_blue:8080; }\n"
                                                                "    location /b { grpc_pass grpc://db_green; }\n"
                                                                "    set $x db_green;\n"
                                                                "    location /c { proxy_pass http://backend_$x; }\n"
                                                                "  }\n"
                                                                "}\n"}};
  const auto routes = nginx::find_routes(files, {"db_blue", "db_green"});
  REQUIRE(routes.routes.size() == 1);
  CHECK(routes.routes[0].module == nginx::Module::kStream);
  CHECK(routes.routes[0].context == "stream > server");
  REQUIRE(routes.unsupported.size() == 4);
  CHECK(routes.unsupported[0].why.find("with a port, so nginx resolves it in DNS") != std::string::npos);
  CHECK(routes.unsupported[1].why.find("`grpc_pass` names the app's upstream \"db_green\"") != std::string::npos);
  CHECK(routes.unsupported[2].why.find("`set` puts the app's upstream \"db_green\" in a variable") !=
        std::string::npos);
  CHECK(routes.unsupported[3].line == "location /c { proxy_pass http://backend_$x; }");

  // The stream route switches only to a stream upstream: db_green exists there.
  auto changes = nginx::rewrite_routes(files, routes, "db_green");
  REQUIRE(changes);
  CHECK(changes->front().after.find("proxy_pass db_green;") != std::string::npos);
}

TEST_CASE("nginx routes: a rewrite never points traffic nowhere, nor at text that changed", "[nginx]") {
  const auto files = fixture_files("lab_default.dump");
  const auto routes = nginx::find_routes(files, {"blue", "green"});
  auto nowhere = nginx::rewrite_routes(files, routes, "purple");
  REQUIRE_FALSE(nowhere);
  CHECK(nowhere.error().message.find("no upstream \"purple\" is defined in the files nginx loads") !=
        std::string::npos);
  auto bad_name = nginx::rewrite_routes(files, routes, "green;evil");
  REQUIRE_FALSE(bad_name);
  CHECK(bad_name.error().code == ErrorCode::kInvalidArgument);

  auto changed = files;
  for (auto& f : changed) {
    if (const auto at = f.text.find("proxy_pass http://blue;"); at != std::string::npos) f.text.insert(at, "    ");
  }
  auto stale = nginx::rewrite_routes(changed, routes, "green");
  REQUIRE_FALSE(stale);
  CHECK(stale.error().message.find("no longer reads as \"proxy_pass http://blue;\"") != std::string::npos);
}

TEST_CASE("nginx routes: includes that are missing, loop, or do not parse are reported", "[nginx]") {
  const std::vector<ConfigFile> files{
      {"/etc/nginx/nginx.conf", "include /etc/nginx/missing.conf;\ninclude loop.conf;\ninclude bad.conf;\n"},
      {"/etc/nginx/loop.conf", "include /etc/nginx/loop.conf;\n"},
      {"/etc/nginx/bad.conf", "http {\n"},
  };
  const auto routes = nginx::find_routes(files, kShop);
  CHECK(routes.missing_includes == std::vector<std::string>{"/etc/nginx/missing.conf"});
  REQUIRE(routes.problems.size() == 2);
  CHECK(routes.problems[0].find("includes nest more than 32 deep") != std::string::npos);
  CHECK(routes.problems[1] ==
        "/etc/nginx/bad.conf:1: unexpected end of file, expecting \"}\" for the \"{\" on this line");
}

TEST_CASE("nginx routes: upstream names in any case, and a snippet included twice is one route in both", "[nginx]") {
  const std::vector<ConfigFile> files{
      {"/etc/nginx/nginx.conf", "http {\n"
                                "  upstream blue { server 10.0.0.1:80; }\n"
                                "  upstream green { server 10.0.0.2:80; }\n"
                                "  server { listen 80; location / { include snippets/proxy.conf; } }\n"
                                "  server { listen 443; location / { include /etc/nginx/snippets/prox*.conf; } }\n"
                                "  server { listen 8080; location / { proxy_pass http://BLUE; } }\n"
                                "}\n"},
      {"/etc/nginx/snippets/proxy.conf", "proxy_pass http://blue;\n"},
  };
  const auto routes = nginx::find_routes(files, {"blue", "green"});
  REQUIRE(routes.routes.size() == 2);
  REQUIRE(routes.entry_points.size() == 3);
  CHECK(routes.entry_points[0].routes == std::vector<std::size_t>{0});
  CHECK(routes.entry_points[1].routes == std::vector<std::size_t>{0});
  CHECK(routes.routes[1].upstream == "BLUE");
  CHECK(routes.routes[1].app_upstream == "blue");
  auto changes = nginx::rewrite_routes(files, routes, "green");
  REQUIRE(changes);
  REQUIRE(changes->size() == 2);
  CHECK(changes->at(0).after.find("proxy_pass http://green; } }\n}") != std::string::npos);
  CHECK(changes->at(1).after == "proxy_pass http://green;\n");  // once, not "greenn"
}
