// haproxy/routes.h: every route of an app across the files HAProxy loads, and rewriting all of
// them at once.
#include "haproxy/routes.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

using haproxy::ConfigFile;
using haproxy::RouteKind;

const std::vector<std::string> kShop{"shop_blue", "shop_green"};

const char* const kBackends = "backend shop_blue\n    server b 10.0.0.1:80 check\n"
                              "backend shop_green\n    server g 10.0.0.2:80 check\n"
                              "backend blog_blue\n    server bb 10.0.0.3:80\n"
                              "backend other\n    server o 10.0.0.9:80\n";

std::vector<std::string> sections_of(const haproxy::AppRoutes& routes) {
  std::vector<std::string> out;
  for (const auto& entry : routes.entry_points) out.push_back(entry.section);
  return out;
}

std::string after_of(const std::vector<haproxy::FileChange>& changes, const std::string& path) {
  for (const auto& change : changes) {
    if (change.path == path) return change.after;
  }
  return "(unchanged)";
}

}  // namespace

TEST_CASE("every frontend and listen routing to the app is an entry point, each line a route", "[routes]") {
  const std::vector<ConfigFile> files{
      {"/etc/haproxy/haproxy.cfg", std::string("frontend http_in\n    bind :80\n    default_backend shop_blue\n"
                                               "frontend https_in\n    bind :443 ssl crt /x.pem\n"
                                               "    use_backend shop_blue if { ssl_fc }\n"
                                               "listen old\n    bind 127.0.0.1:8080\n    default_backend shop_blue\n"
                                               "frontend admin\n    bind :9000\n    default_backend other\n") +
                                       kBackends}};
  const auto routes = haproxy::find_routes(files, kShop);
  CHECK(sections_of(routes) == std::vector<std::string>{"frontend http_in", "frontend https_in", "listen old"});
  REQUIRE(routes.routes.size() == 3);
  CHECK(routes.routes[1].kind == RouteKind::kUseBackend);
  CHECK(routes.routes[1].condition == "if { ssl_fc }");
  CHECK(routes.entry_points[1].binds == std::vector<std::string>{":443"});
  CHECK(routes.unsupported.empty());

  const auto changes = haproxy::rewrite_routes(files, {}, routes, "shop_green");
  REQUIRE(changes);
  REQUIRE(changes->size() == 1);
  CHECK(changes->front().lines == std::vector<std::size_t>{3, 6, 9});
  const std::string& after = changes->front().after;
  CHECK(after.find("default_backend shop_blue") == std::string::npos);
  CHECK(after.find("    use_backend shop_green if { ssl_fc }\n") != std::string::npos);
  CHECK(after.find("default_backend other") != std::string::npos);
}

TEST_CASE("a config split over files: backends defined elsewhere count, defaults apply to later files", "[routes]") {
  const std::vector<ConfigFile> files{
      {"/etc/haproxy/haproxy.cfg", "global\n    daemon\ndefaults\n    mode http\n    default_backend shop_blue\n"},
      {"/etc/haproxy/conf.d/10-frontends.cfg",
       "frontend inherits\n    bind :80\nfrontend own\n    bind :81\n    default_backend other\n"},
      {"/etc/haproxy/conf.d/20-backends.cfg", kBackends}};
  const auto routes = haproxy::find_routes(files, kShop);
  CHECK(sections_of(routes) == std::vector<std::string>{"frontend inherits"});
  REQUIRE(routes.routes.size() == 1);
  CHECK(routes.routes[0].file == "/etc/haproxy/haproxy.cfg");
  CHECK(routes.routes[0].section == "defaults");
  CHECK(routes.backends == std::vector<std::string>{"shop_blue", "shop_green", "blog_blue", "other"});
  const auto changes = haproxy::rewrite_routes(files, {}, routes, "shop_green");
  REQUIRE(changes);
  CHECK(after_of(*changes, "/etc/haproxy/haproxy.cfg").find("default_backend shop_green\n") != std::string::npos);
}

TEST_CASE("named defaults are inherited through `from`", "[routes]") {
  const std::vector<ConfigFile> files{
      {"a.cfg", std::string("defaults web\n    default_backend shop_blue\ndefaults plain\n    mode tcp\n"
                            "frontend via_from from web\n    bind :80\nfrontend via_last\n    bind :81\n") +
                    kBackends}};
  const auto routes = haproxy::find_routes(files, kShop);
  CHECK(sections_of(routes) == std::vector<std::string>{"frontend via_from"});
}

TEST_CASE("two apps on one frontend: only the app's own lines are its routes", "[routes]") {
  const std::vector<ConfigFile> files{{"h.cfg", std::string("frontend www\n    bind :80\n"
                                                            "    acl host_shop hdr(host) -i shop.example\n"
                                                            "    use_backend shop_blue if host_shop\n"
                                                            "    use_backend blog_blue if { hdr(host) -i blog }\n"
                                                            "    use_backend shop_green\n"
                                                            "    default_backend other\n") +
                                                    kBackends}};
  const auto routes = haproxy::find_routes(files, kShop);
  REQUIRE(routes.routes.size() == 2);
  CHECK(routes.routes[0].condition == "if host_shop");
  CHECK(routes.routes[1].condition.empty());  // an unconditional use_backend
  CHECK(routes.routes[1].backend == "shop_green");
  const auto changes = haproxy::rewrite_routes(files, {}, routes, "shop_blue");
  REQUIRE(changes);
  REQUIRE(changes->size() == 1);
  CHECK(changes->front().lines == std::vector<std::size_t>{6});
  CHECK(changes->front().after.find("use_backend blog_blue if") != std::string::npos);
}

TEST_CASE("map lookups: each entry naming the app's backend is a route; missing maps are asked for", "[routes]") {
  const std::vector<ConfigFile> files{
      {"h.cfg", std::string("frontend www\n    bind :80\n"
                            "    use_backend %[req.hdr(host),lower,map_dom(/etc/haproxy/hosts.map,other)]\n") +
                    kBackends}};
  auto routes = haproxy::find_routes(files, kShop);
  CHECK(routes.missing_maps == std::vector<std::string>{"/etc/haproxy/hosts.map"});
  CHECK(routes.entry_points.empty());
  REQUIRE(routes.map_lookups.size() == 1);

  const std::map<std::string, std::string> maps{
      {"/etc/haproxy/hosts.map",
       "# hosts\nshop.example shop_blue\r\nwww.shop.example\tshop_blue  \nblog.example blog_blue\n"}};
  routes = haproxy::find_routes(files, kShop, maps);
  CHECK(routes.missing_maps.empty());
  REQUIRE(routes.routes.size() == 2);
  CHECK(routes.routes[0].kind == RouteKind::kMapEntry);
  CHECK(routes.routes[0].map_key == "shop.example");
  CHECK(routes.routes[1].line_number == 3);
  const auto changes = haproxy::rewrite_routes(files, maps, routes, "shop_green");
  REQUIRE(changes);
  REQUIRE(changes->size() == 1);
  CHECK(changes->front().is_map);
  CHECK(changes->front().after ==
        "# hosts\nshop.example shop_green\r\nwww.shop.example\tshop_green  \nblog.example blog_blue\n");
}

TEST_CASE("lines that cannot be switched safely are named", "[routes]") {
  const std::vector<ConfigFile> files{
      {"h.cfg", std::string("frontend a\n    bind :80\n    use_backend %[req.hdr(x-color)]\n"
                            "    default_backend shop_blue\n"
                            "frontend b\n    bind :81\n    use_backend %[str(shop_),concat(,txn.c)]\n"
                            "frontend c\n    bind :82\n    use_backend %[req.hdr(host)]\n    default_backend other\n"
                            "frontend d\n    bind :83\n    use_backend %[str(x),map(/m.map,shop_blue)]\n"
                            "frontend e\n    bind :84\n.if defined(BLUE)\n    default_backend shop_blue\n.endif\n") +
                    kBackends}};
  const auto routes = haproxy::find_routes(files, kShop, {{"/m.map", "x other\n"}});
  std::vector<std::size_t> lines;
  for (const auto& unsupported : routes.unsupported) lines.push_back(unsupported.line_number);
  std::sort(lines.begin(), lines.end());
  // a: dynamic in an entry point of the app; b: names shop_; d: the map's default; e: inside .if.
  // c routes elsewhere and names no app backend: not the app's business.
  CHECK(lines == std::vector<std::size_t>{3, 7, 14, 18});
}

TEST_CASE("rewriting keeps every other byte and refuses an undefined backend", "[routes]") {
  const std::string text = std::string("frontend fe\r\n\tbind :80\r\n\tdefault_backend   \"shop_blue\"  # live\r\n") +
                           "backend shop_blue\r\nbackend shop_green";
  const std::vector<ConfigFile> files{{"h.cfg", text}};
  const auto routes = haproxy::find_routes(files, kShop);
  const auto changes = haproxy::rewrite_routes(files, {}, routes, "shop_green");
  REQUIRE(changes);
  CHECK(changes->front().after == "frontend fe\r\n\tbind :80\r\n\tdefault_backend   \"shop_green\"  # live\r\nbackend "
                                  "shop_blue\r\nbackend shop_green");
  CHECK(haproxy::rewrite_routes(files, {}, routes, "shop_blue")->empty());
  const auto undefined = haproxy::rewrite_routes(files, {}, routes, "shop_red");
  REQUIRE_FALSE(undefined);
  CHECK_THAT(undefined.error().message, Catch::Contains("not defined"));
  CHECK_FALSE(haproxy::rewrite_routes(files, {}, routes, "x y"));
  // A text that changed since the routes were found is refused, not spliced blindly.
  const std::vector<ConfigFile> changed{{"h.cfg", "frontend fe\n    bind :80\n" + text}};
  CHECK_FALSE(haproxy::rewrite_routes(changed, {}, routes, "shop_green"));
}

TEST_CASE("a backend from an environment variable is resolved with HAProxy's environment, never switched", "[routes]") {
  const std::vector<ConfigFile> files{
      {"h.cfg", std::string("frontend a\n    bind :80\n    default_backend shop_blue\n"
                            "frontend b\n    bind :81\n    default_backend \"${SHOP_BE}\"\n"
                            "frontend c\n    bind :82\n    default_backend \"${OTHER_BE}\"\n") +
                    kBackends}};
  const std::map<std::string, std::string> env{{"SHOP_BE", "shop_blue"}, {"OTHER_BE", "other"}};
  const auto known = haproxy::find_routes(files, kShop, {}, &env);
  REQUIRE(known.unsupported.size() == 1);  // b leads to the app; c leads elsewhere
  CHECK(known.unsupported[0].line_number == 6);
  CHECK_THAT(known.unsupported[0].why, Catch::Contains("SHOP_BE") && Catch::Contains("= shop_blue"));
  const auto unknown = haproxy::find_routes(files, kShop);  // no environment: both may lead to the app
  CHECK(unknown.unsupported.size() == 2);
}

TEST_CASE("a use_backend reading a variable that set-var fills from a map or an app name is refused", "[routes]") {
  const std::vector<ConfigFile> files{
      {"h.cfg", std::string("frontend a\n    bind :80\n    use_backend %[var(txn.be)]\n"
                            "    http-request set-var(txn.be) str(shop),map(/m.map)\n"
                            "frontend b\n    bind :81\n    http-request set-var(txn.x) req.hdr(host)\n"
                            "    use_backend %[var(txn.x)]\n    default_backend other\n") +
                    kBackends}};
  const auto routes = haproxy::find_routes(files, kShop);
  REQUIRE(routes.unsupported.size() == 1);
  CHECK(routes.unsupported[0].line_number == 3);
  CHECK_THAT(routes.unsupported[0].why, Catch::Contains("variable txn.be"));
}

TEST_CASE("a quoted backend stays quoted, and a map used twice in an entry point is one route", "[routes]") {
  const std::vector<ConfigFile> files{
      {"h.cfg", std::string("frontend a\n    bind :80\n    use_backend \"shop_blue\" unless { path_beg /x }\n"
                            "    default_backend 'shop_blue'\n"
                            "    use_backend %[str(shop),map(/m.map)] if { hdr(x) -m found }\n"
                            "    use_backend %[str(shop),map(/m.map)]\n") +
                    kBackends}};
  const std::map<std::string, std::string> maps{{"/m.map", "shop shop_blue\n"}};
  const auto routes = haproxy::find_routes(files, kShop, maps);
  REQUIRE(routes.entry_points.size() == 1);
  CHECK(routes.entry_points[0].routes.size() == 3);  // two lines and one map entry
  const auto changes = haproxy::rewrite_routes(files, maps, routes, "shop_green");
  REQUIRE(changes);
  CHECK(changes->front().after.find("use_backend \"shop_green\" unless") != std::string::npos);
  CHECK(changes->front().after.find("default_backend 'shop_green'\n") != std::string::npos);
}
