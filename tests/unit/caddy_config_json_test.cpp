#include "caddy/config_json.h"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

using caddy::Colour;
using nlohmann::json;
using Strings = std::vector<std::string>;

// Running configs captured from a real Caddy 2.6.2 (GET /config/); see caddy_fixtures/README.md.
json fixture(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "caddy_fixtures" / name;
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in.good());
  return json::parse(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

// The colours of the captures: blue on .11 and .13, green on .12 and .14.
const caddy::ColourAddresses kBlue{"127.0.31.11:9000", "127.0.31.13:9000"};
const caddy::ColourAddresses kGreen{"127.0.31.12:9000", "127.0.31.14:9000"};

caddy::AppProxies find(const json& config) { return caddy::find_proxies(config, kBlue, kGreen); }

// A config holding one server whose routes are `routes`.
json server_with(const json& routes, const std::string& name = "srv0") {
  return json{{"apps", {{"http", {{"servers", {{name, {{"listen", {":80"}}, {"routes", routes}}}}}}}}}};
}

json proxy(const Strings& dials) {
  json upstreams = json::array();
  for (const auto& dial : dials) upstreams.push_back({{"dial", dial}});
  return {{"handler", "reverse_proxy"}, {"upstreams", upstreams}};
}

json route_to(const json& handler) { return {{"handle", json::array({handler})}}; }

}  // namespace

TEST_CASE("Caddy config: a single site with one upstream", "[caddy][config_json]") {
  const auto found = find(fixture("config_single.json"));
  REQUIRE(found.routes.size() == 1);
  CHECK(found.unsupported.empty());
  const auto& route = found.routes[0];
  CHECK(route.pointer == "/apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0");
  CHECK(route.server == "srv0");
  CHECK(route.listen == Strings{"127.0.31.1:8080"});
  CHECK(route.hosts == std::vector<Strings>{{"127.0.31.1"}});
  CHECK(route.dials == Strings{"127.0.31.11:9000"});
  CHECK(route.colour == Colour::kBlue);
  REQUIRE(found.entry_points.size() == 1);
  CHECK(found.entry_points[0].server == "srv0");
  CHECK(found.entry_points[0].listen == Strings{"127.0.31.1:8080"});
  CHECK(found.entry_points[0].routes == std::vector<std::size_t>{0});
}

TEST_CASE("Caddy config: two upstreams with health checks, switched to green", "[caddy][config_json]") {
  const json config = fixture("config_two_upstreams_health.json");
  const auto found = find(config);
  REQUIRE(found.routes.size() == 1);
  CHECK(found.routes[0].dials == Strings{"127.0.31.11:9000", "127.0.31.13:9000"});
  CHECK(found.routes[0].colour == Colour::kBlue);

  const auto rewrite = caddy::rewrite_proxies(config, found.routes, {"127.0.31.12:9000", "127.0.31.14:9000"});
  REQUIRE(rewrite.ok());
  REQUIRE(rewrite->changes.size() == 1);
  CHECK(rewrite->changes[0].pointer == found.routes[0].pointer);
  CHECK(rewrite->changes[0].before == Strings{"127.0.31.11:9000", "127.0.31.13:9000"});
  CHECK(rewrite->changes[0].after == Strings{"127.0.31.12:9000", "127.0.31.14:9000"});

  const json::json_pointer at(found.routes[0].pointer);
  CHECK(rewrite->config[at]["upstreams"] ==
        json::parse(R"([{"dial":"127.0.31.12:9000"},{"dial":"127.0.31.14:9000"}])"));
  // Everything else is as it was: health checks, load balancing, the rest of the config.
  json restored = rewrite->config;
  restored[at]["upstreams"] = config[at]["upstreams"];
  CHECK(restored == config);
  CHECK(rewrite->config[at]["health_checks"]["active"]["uri"] == "/health");

  // Read back, the rewritten config routes to green only.
  const auto after = find(rewrite->config);
  REQUIRE(after.routes.size() == 1);
  CHECK(after.routes[0].colour == Colour::kGreen);
}

TEST_CASE("Caddy config: of two sites only the one proxying to the app is a route", "[caddy][config_json]") {
  const auto found = find(fixture("config_two_sites.json"));
  REQUIRE(found.routes.size() == 1);
  CHECK(found.unsupported.empty());
  CHECK(found.routes[0].pointer == "/apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0");
  CHECK(found.routes[0].hosts == std::vector<Strings>{{"shop.example"}});
  REQUIRE(found.entry_points.size() == 1);
  CHECK(found.entry_points[0].routes == std::vector<std::size_t>{0});
}

TEST_CASE("Caddy config: handle blocks nest the proxy in subroutes, on two servers", "[caddy][config_json]") {
  const json config = fixture("config_handle_blocks.json");
  const auto found = find(config);
  REQUIRE(found.routes.size() == 2);
  CHECK(found.unsupported.empty());
  CHECK(found.routes[0].pointer == "/apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0/routes/0/handle/0");
  CHECK(found.routes[0].server == "srv0");
  CHECK(found.routes[0].hosts == std::vector<Strings>{{"shop.example"}});
  CHECK(found.routes[0].colour == Colour::kGreen);
  CHECK(found.routes[1].pointer == "/apps/http/servers/srv1/routes/0/handle/0/routes/0/handle/0/routes/0/handle/0");
  CHECK(found.routes[1].listen == Strings{"127.0.31.1:8081"});
  CHECK(found.routes[1].hosts == std::vector<Strings>{{"127.0.31.1"}});
  REQUIRE(found.entry_points.size() == 2);
  CHECK(found.entry_points[0].server == "srv0");
  CHECK(found.entry_points[1].server == "srv1");
  CHECK(found.entry_points[1].routes == std::vector<std::size_t>{1});

  const auto rewrite = caddy::rewrite_proxies(config, found.routes, {"127.0.31.11:9000"});
  REQUIRE(rewrite.ok());
  CHECK(rewrite->changes.size() == 2);
  const auto after = find(rewrite->config);
  REQUIRE(after.routes.size() == 2);
  CHECK(after.routes[0].colour == Colour::kBlue);
  CHECK(after.routes[1].dials == Strings{"127.0.31.11:9000"});
}

TEST_CASE("Caddy config: a proxy to both colours is unsupported", "[caddy][config_json]") {
  const auto found = find(fixture("config_mixed.json"));
  CHECK(found.routes.empty());
  REQUIRE(found.unsupported.size() == 1);
  CHECK(found.unsupported[0].pointer == "/apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0");
  CHECK(found.unsupported[0].dials == Strings{"127.0.31.11:9000", "127.0.31.12:9000"});
  CHECK_THAT(found.unsupported[0].why, Catch::Contains("both colours (blue 127.0.31.11:9000; green 127.0.31.12:9000)"));
  REQUIRE(found.entry_points.size() == 1);
  CHECK(found.entry_points[0].routes.empty());
  CHECK(found.entry_points[0].unsupported == std::vector<std::size_t>{0});
}

TEST_CASE("Caddy config: dynamic upstreams and placeholders", "[caddy][config_json]") {
  const auto found = find(fixture("config_dynamic_and_placeholder.json"));
  CHECK(found.routes.empty());
  // shop.example: dynamic `a` lookup of a colour's host; ph.example: "127.0.31.12:{env.APP_PORT}".
  // dyn.example ({http.request.header.X-Backend}) names no colour and is left alone.
  REQUIRE(found.unsupported.size() == 2);
  CHECK(found.unsupported[0].hosts == std::vector<Strings>{{"shop.example"}});
  CHECK_THAT(found.unsupported[0].why, Catch::Contains("dynamic_upstreams (source \"a\")"));
  CHECK(found.unsupported[1].hosts == std::vector<Strings>{{"ph.example"}});
  CHECK_THAT(found.unsupported[1].why, Catch::Contains("`127.0.31.12:{env.APP_PORT}` holds a placeholder"));

  // The same dynamic handler naming some other host is none of the app's business.
  json other = fixture("config_dynamic_and_placeholder.json");
  const json::json_pointer shop("/apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0");
  other[shop]["dynamic_upstreams"]["name"] = "elsewhere.example";
  other[shop]["upstreams"] = json::parse(R"([{"dial":"127.0.31.50:9000"}])");
  CHECK(find(other).unsupported.size() == 1);
}

TEST_CASE("Caddy config: a colour next to an address of neither colour is unsupported", "[caddy][config_json]") {
  const auto found = find(server_with(json::array({route_to(proxy({"127.0.31.12:9000", "127.0.31.50:9000"}))})));
  CHECK(found.routes.empty());
  REQUIRE(found.unsupported.size() == 1);
  CHECK_THAT(found.unsupported[0].why, Catch::Contains("lists green's 127.0.31.12:9000 next to 127.0.31.50:9000"));

  const auto placeholder = find(server_with(json::array({route_to(proxy({"127.0.31.11:9000", "{http.vars.up}"}))})));
  REQUIRE(placeholder.unsupported.size() == 1);
  CHECK_THAT(placeholder.unsupported[0].why, Catch::Contains("placeholder"));

  json no_dial = proxy({"127.0.31.11:9000"});
  no_dial["upstreams"].push_back({{"max_requests", 3}});
  const auto malformed = find(server_with(json::array({route_to(no_dial)})));
  REQUIRE(malformed.unsupported.size() == 1);
  CHECK_THAT(malformed.unsupported[0].why, Catch::Contains("no `dial` string"));
}

TEST_CASE("Caddy config: hand-written JSON shapes", "[caddy][config_json]") {
  SECTION("a network prefix, error routes, handle_response routes, a server name that needs escaping") {
    json config = server_with(json::array({route_to(proxy({"tcp/127.0.31.11:9000"}))}), "a/b~c");
    json& server = config["apps"]["http"]["servers"]["a/b~c"];
    server["errors"]["routes"] = json::array({route_to(proxy({"127.0.31.13:9000"}))});
    json with_response = proxy({"127.0.31.50:9000"});
    with_response["handle_response"] =
        json::array({{{"routes", json::array({route_to(proxy({"127.0.31.11:9000"}))})}}});
    server["routes"].push_back(route_to(with_response));
    const auto found = find(config);
    REQUIRE(found.routes.size() == 3);
    CHECK(found.routes[0].pointer == "/apps/http/servers/a~1b~0c/routes/0/handle/0");
    CHECK(found.routes[0].colour == Colour::kBlue);
    CHECK(found.routes[1].pointer ==
          "/apps/http/servers/a~1b~0c/routes/1/handle/0/handle_response/0/routes/0/handle/0");
    CHECK(found.routes[2].pointer == "/apps/http/servers/a~1b~0c/errors/routes/0/handle/0");
    CHECK(found.routes[0].hosts.empty());
    REQUIRE(found.entry_points.size() == 1);
    CHECK(found.entry_points[0].routes.size() == 3);

    const auto rewrite = caddy::rewrite_proxies(config, found.routes, {"127.0.31.12:9000"});
    REQUIRE(rewrite.ok());
    CHECK(rewrite->changes.size() == 3);
    CHECK(find(rewrite->config).routes[2].colour == Colour::kGreen);
  }
  SECTION("nothing to walk") {
    CHECK(find(json()).routes.empty());
    CHECK(find(json::parse(R"({"apps":{"tls":{}}})")).entry_points.empty());
    CHECK(find(json::parse(R"({"apps":{"http":{"servers":[]}}})")).routes.empty());
    CHECK(find(server_with("not routes")).routes.empty());
    // Fields of other types than Caddy writes are skipped, never thrown on.
    const json odd = json::parse(R"([{"match":[{"host":"one"}, 3],"handle":[{"handler":5},
      {"handler":"subroute","routes":{"x":1},"errors":[]},
      {"handler":"reverse_proxy","upstreams":"127.0.31.11:9000","dynamic_upstreams":[1]},
      {"handler":"reverse_proxy","upstreams":[7, {"dial":"127.0.31.11:9000"}]}]}])");
    const auto found = find(server_with(odd));
    CHECK(found.routes.empty());
    REQUIRE(found.unsupported.size() == 2);
    CHECK_THAT(found.unsupported[0].why, Catch::Contains("dynamic_upstreams (source \"\")"));
    CHECK_THAT(found.unsupported[1].why, Catch::Contains("no `dial` string"));
  }
}

TEST_CASE("Caddy rewrite: keeps the first upstream's other fields", "[caddy][config_json]") {
  json handler = proxy({"127.0.31.11:9000", "127.0.31.13:9000"});
  handler["upstreams"][0]["max_requests"] = 100;
  const json config = server_with(json::array({route_to(handler)}));
  const auto found = find(config);
  REQUIRE(found.routes.size() == 1);
  const auto rewrite = caddy::rewrite_proxies(config, found.routes, {"127.0.31.12:9000"});
  REQUIRE(rewrite.ok());
  CHECK(rewrite->config["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["upstreams"] ==
        json::parse(R"([{"dial":"127.0.31.12:9000","max_requests":100}])"));
}

TEST_CASE("Caddy rewrite: a route already on the target is no change", "[caddy][config_json]") {
  const json config = fixture("config_single.json");
  const auto found = find(config);
  const auto rewrite = caddy::rewrite_proxies(config, found.routes, {"127.0.31.11:9000"});
  REQUIRE(rewrite.ok());
  CHECK(rewrite->changes.empty());
  CHECK(rewrite->config == config);
}

TEST_CASE("Caddy rewrite: refused when the config changed since it was read", "[caddy][config_json]") {
  const json config = fixture("config_single.json");
  const auto found = find(config);
  const json::json_pointer at(found.routes[0].pointer);
  const auto refused = [&](const json& changed) {
    const auto rewrite = caddy::rewrite_proxies(changed, found.routes, {"127.0.31.12:9000"});
    REQUIRE_FALSE(rewrite.ok());
    CHECK(rewrite.error().code == ErrorCode::kFailedPrecondition);
    CHECK_THAT(rewrite.error().message, Catch::Contains(found.routes[0].pointer + " no longer holds a reverse_proxy"));
  };
  json other_dials = config;
  other_dials[at]["upstreams"][0]["dial"] = "127.0.31.13:9000";
  refused(other_dials);
  json other_handler = config;
  other_handler[at] = {{"handler", "static_response"}};
  refused(other_handler);
  refused(json::parse(R"({"apps":{}})"));
  refused(json::array());
  json moved = config;
  moved["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["routes"] = json::array();
  refused(moved);
}

TEST_CASE("Caddy rewrite: the target dials are checked", "[caddy][config_json]") {
  const json config = fixture("config_single.json");
  const auto found = find(config);
  for (const auto& target : std::vector<Strings>{
           {}, {""}, {"127.0.31.12:{env.PORT}"}, {"127.0.31.12 :9000"}, {"127.0.31.12:9000", "127.0.31.12:9000"}}) {
    const auto rewrite = caddy::rewrite_proxies(config, found.routes, target);
    REQUIRE_FALSE(rewrite.ok());
    CHECK(rewrite.error().code == ErrorCode::kInvalidArgument);
  }
}
