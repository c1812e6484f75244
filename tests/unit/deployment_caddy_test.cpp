// deployment/caddy_snapshot.h: Caddy's running config and upstreams in the snapshot's shape, and
// the Caddy kind behind the load-balancer seam (lb_kind.h). The admin API requests themselves run
// against the lab's real Caddy in e2e.caddy.
#include "deployment/caddy_snapshot.h"

#include "deployment/app_routing.h"
#include "deployment/config_change.h"
#include "deployment/lb_kind.h"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main
using nlohmann::json;

namespace {

// Running configs captured from a real Caddy 2.6.2 (GET /config/); see caddy_fixtures/README.md.
json fixture(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "caddy_fixtures" / name;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// The fixtures' colours: blue = 127.0.31.11:9000 (and .13), green = 127.0.31.12:9000 (and .14).
config::AppConfig caddy_app() {
  config::AppConfig app;
  app.name = "shop";
  app.load_balancer.type = config::LbType::kCaddy;
  app.load_balancer.blue_backend = "blue";
  app.load_balancer.green_backend = "green";
  app.load_balancer.admin_socket = "/run/caddy/admin.sock";
  config::HostConfig blue;
  blue.address = "127.0.31.11";
  blue.upstream = "127.0.31.11:9000";
  config::HostConfig green;
  green.address = "127.0.31.12";
  green.upstream = "127.0.31.12:9000";
  app.blue.servers = {blue};
  app.green.servers = {green};
  return app;
}

deployment::LbSnapshot interpret(const config::AppConfig& app, const json& config) {
  deployment::LbSnapshot snapshot;
  deployment::interpret_caddy_proxies(app,
                                      caddy::find_proxies(config, deployment::caddy_dials(app.blue),
                                                          deployment::caddy_dials(app.green)),
                                      snapshot);
  return snapshot;
}

}  // namespace

TEST_CASE("Caddy: one site proxying to blue selects BLUE, described as a server and its handler", "[caddy]") {
  const auto app = caddy_app();
  const auto snapshot = interpret(app, fixture("config_two_sites.json"));
  REQUIRE(snapshot.selected == state::Color::kBlue);
  CHECK(snapshot.live_problem.empty());
  REQUIRE(snapshot.routes);
  REQUIRE(snapshot.routes->entry_points.size() == 1);  // blog.example's proxy (127.0.31.50) is another app's
  const auto& entry = snapshot.routes->entry_points.front();
  CHECK(entry.section == "server srv0");
  CHECK(entry.binds == std::vector<std::string>{"127.0.31.1:8080"});
  REQUIRE(snapshot.routes->routes.size() == 1);
  CHECK(snapshot.routes->routes[0].backend == "blue");
  CHECK(deployment::describe_entry_point(app, *snapshot.routes, entry) ==
        "server srv0 (/apps/http/servers/srv0, listen 127.0.31.1:8080) serves BLUE via "
        "/apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0 `reverse_proxy 127.0.31.11:9000`");
}

TEST_CASE("Caddy: a proxy to both colours cannot be switched; no colour is live", "[caddy]") {
  const auto snapshot = interpret(caddy_app(), fixture("config_mixed.json"));
  CHECK_FALSE(snapshot.selected);
  CHECK_THAT(snapshot.live_problem,
             Catch::StartsWith("Caddy's running configuration routes to app shop in ways bluegreen-mcp cannot switch "
                               "safely:\n  - /apps/http/servers/srv0/"));
  CHECK_THAT(snapshot.live_problem, Catch::Contains("`reverse_proxy 127.0.31.11:9000 127.0.31.12:9000`"));
}

TEST_CASE("Caddy: no proxy dials either colour: no colour is live, the configured dials are named", "[caddy]") {
  auto app = caddy_app();
  app.blue.servers.front().upstream = "127.0.31.11";  // no port: Caddy's dial does not match
  app.green.servers.front().upstream = "127.0.31.12";
  const auto snapshot = interpret(app, fixture("config_single.json"));
  CHECK_FALSE(snapshot.selected);
  CHECK_THAT(snapshot.live_problem, Catch::Contains("dials only BLUE's servers (127.0.31.11) or only GREEN's "
                                                    "(127.0.31.12) for app shop"));
  CHECK_THAT(snapshot.live_problem, Catch::Contains("upstream"));
}

TEST_CASE("Caddy: upstream rows from GET /reverse_proxy/upstreams", "[caddy]") {
  const auto app = caddy_app();
  const auto rows =
      deployment::caddy_upstream_rows(app, R"([{"address":"127.0.31.12:9000","num_requests":2,"fails":0},)"
                                           R"({"address":"127.0.31.11:9000","num_requests":0,"fails":3},)"
                                           R"({"address":"127.0.31.50:9000","num_requests":0,"fails":0}])");
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);  // the other app's upstream is left out
  CHECK((*rows)[0].backend == "green");
  CHECK((*rows)[0].server == "127.0.31.12:9000");
  CHECK((*rows)[0].status == "UP");
  CHECK((*rows)[0].current_sessions == 2);
  CHECK((*rows)[1].backend == "blue");
  CHECK((*rows)[1].status == "FAILING (3 fails)");

  CHECK_FALSE(deployment::caddy_upstream_rows(app, "{}"));
  CHECK_FALSE(deployment::caddy_upstream_rows(app, R"([{"num_requests":1}])"));
  CHECK_FALSE(deployment::caddy_upstream_rows(app, "not json"));
}

TEST_CASE("The seam: each type's kind; Caddy's switch needs a Caddyfile, refused before anything is planned",
          "[caddy]") {
  CHECK(deployment::lb_kind(config::LbType::kHaproxy).type() == config::LbType::kHaproxy);
  CHECK(deployment::lb_kind(config::LbType::kNginx).type() == config::LbType::kNginx);
  const auto& caddy = deployment::lb_kind(config::LbType::kCaddy);
  CHECK(caddy.type() == config::LbType::kCaddy);
  CHECK(std::string(caddy.product()) == "Caddy");
  auto app = caddy_app();
  CHECK_THAT(caddy.switch_refusal(app),
             Catch::Contains("neither caddyfile nor autosave") && Catch::Contains("loadBalancer.autosave"));
  CHECK(deployment::lb_kind(config::LbType::kHaproxy).switch_refusal(app).empty());
  CHECK(deployment::lb_kind(config::LbType::kNginx).switch_refusal(app).empty());
  CHECK_FALSE(caddy.plan_change(app, {}, state::Color::kGreen));
  CHECK(caddy.main_config(app.load_balancer) == "/run/caddy/admin.sock");
  app.load_balancer.caddyfile = "/etc/caddy/Caddyfile";
  CHECK(caddy.main_config(app.load_balancer) == "/etc/caddy/Caddyfile");
  CHECK(caddy.switch_refusal(app).empty());
  CHECK_FALSE(caddy.plan_change(app, {}, state::Color::kGreen));  // nothing read
  app.load_balancer.validate_command = "caddy validate --adapter caddyfile --config {config}";
  CHECK(caddy.validate_command(app, {}, {{"/etc/caddy/Caddyfile", "/etc/caddy/.Caddyfile.bluegreen-candidate"}}) ==
        "caddy validate --adapter caddyfile --config '/etc/caddy/.Caddyfile.bluegreen-candidate'");
}

namespace {

// A snapshot as read_caddy leaves it for an app whose Caddyfile is the source of truth.
deployment::LbSnapshot with_caddyfile(const config::AppConfig& app, const std::string& caddyfile, const json& running) {
  auto snapshot = interpret(app, running);
  snapshot.running_config = running.dump();
  snapshot.config_files.push_back({*app.load_balancer.caddyfile, caddyfile});
  return snapshot;
}

const char* const kCaddyfile =
    "{\n\tadmin unix//run/caddy/admin.sock\n}\n\nhttp://:8080 {\n\treverse_proxy 127.0.31.11:9000 {\n"
    "\t\thealth_uri /health\n\t}\n}\n";

json running_blue() {
  return json::parse(R"({"apps":{"http":{"servers":{"srv0":{"listen":[":8080"],"routes":[{"handle":[
    {"handler":"reverse_proxy","health_checks":{"active":{"uri":"/health"}},"upstreams":[{"dial":"127.0.31.11:9000"}]}
  ]}]}}}}})");
}

}  // namespace

TEST_CASE("Caddy's switch plan: the Caddyfile's upstream rewritten, the running JSON it must adapt to", "[caddy]") {
  auto app = caddy_app();
  app.load_balancer.caddyfile = "/etc/caddy/Caddyfile";
  const auto snapshot = with_caddyfile(app, kCaddyfile, running_blue());
  REQUIRE(snapshot.selected == state::Color::kBlue);
  const auto change = deployment::plan_config_change(app, snapshot, state::Color::kGreen);
  REQUIRE(change);
  REQUIRE(change->edits.size() == 1);
  const auto& edit = change->edits.front();
  CHECK(edit.file == "/etc/caddy/Caddyfile");
  REQUIRE(edit.lines.size() == 1);
  CHECK(edit.lines[0].number == 6);
  CHECK(edit.lines[0].now == "\treverse_proxy 127.0.31.11:9000 {");
  CHECK(edit.lines[0].after == "\treverse_proxy 127.0.31.12:9000 {");
  CHECK(change->files == std::vector<std::string>{"/etc/caddy/Caddyfile"});
  const auto after = json::parse(change->running_after);
  CHECK(after["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["upstreams"] ==
        json::parse(R"([{"dial":"127.0.31.12:9000"}])"));
  CHECK(after["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["health_checks"] ==
        running_blue()["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["health_checks"]);

  // Already there: nothing to plan.
  CHECK_THAT(deployment::plan_config_change(app, snapshot, state::Color::kBlue).error().message,
             Catch::Contains("already selects BLUE"));
}

TEST_CASE("Caddy's switch plan is refused when the Caddyfile is not what runs, or cannot be rewritten", "[caddy]") {
  auto app = caddy_app();
  app.load_balancer.caddyfile = "/etc/caddy/Caddyfile";
  auto snapshot = with_caddyfile(app, kCaddyfile, running_blue());
  snapshot.source_problem = "the Caddyfile /etc/caddy/Caddyfile does not give the configuration Caddy runs";
  CHECK_THAT(deployment::plan_config_change(app, snapshot, state::Color::kGreen).error().message,
             Catch::StartsWith(snapshot.source_problem) && Catch::Contains("caddy reload"));

  // The running proxy dials blue, but the file names it in a way a token edit cannot change.
  snapshot = with_caddyfile(app, "http://:8080 {\n\treverse_proxy {$UP:127.0.31.11:9000}\n}\n", running_blue());
  CHECK_THAT(deployment::plan_config_change(app, snapshot, state::Color::kGreen).error().message,
             Catch::Contains("line 2") && Catch::Contains("inside the longer token"));
}

TEST_CASE("caddyfile_difference names where a Caddyfile's JSON and the running configuration differ", "[caddy]") {
  const auto running = running_blue();
  CHECK(deployment::caddy_source_difference("the Caddyfile /etc/caddy/Caddyfile", running, running).empty());
  auto adapted = running;
  adapted["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["upstreams"][0]["dial"] = "127.0.31.12:9000";
  const auto text = deployment::caddy_source_difference("the Caddyfile /etc/caddy/Caddyfile", adapted, running);
  CHECK_THAT(text, Catch::Contains("/etc/caddy/Caddyfile does not give the configuration Caddy runs") &&
                       Catch::Contains("/apps/http/servers/srv0/routes/0/handle/0/upstreams/0/dial") &&
                       Catch::Contains("\"127.0.31.11:9000\"") && Catch::Contains("\"127.0.31.12:9000\""));
}

TEST_CASE("Caddy's switch plan with the autosave as the source: its JSON rewritten, each handler shown", "[caddy]") {
  auto app = caddy_app();
  app.load_balancer.autosave = "/var/lib/caddy/.config/caddy/autosave.json";
  auto snapshot = interpret(app, running_blue());
  snapshot.running_config = running_blue().dump();
  snapshot.config_files.push_back({*app.load_balancer.autosave, running_blue().dump()});
  const auto change = deployment::plan_config_change(app, snapshot, state::Color::kGreen);
  REQUIRE(change);
  REQUIRE(change->edits.size() == 1);
  const auto& edit = change->edits.front();
  CHECK(edit.file == "/var/lib/caddy/.config/caddy/autosave.json");
  CHECK(json::parse(edit.after) == json::parse(change->running_after));
  REQUIRE(edit.lines.size() == 1);
  CHECK(edit.lines[0].section == "/apps/http/servers/srv0/routes/0/handle/0");
  CHECK(edit.lines[0].now == "upstreams 127.0.31.11:9000");
  CHECK(edit.lines[0].after == "upstreams 127.0.31.12:9000");
  CHECK(deployment::caddy_source_name(app, "/x.json") == "Caddy's autosave /x.json");
}
