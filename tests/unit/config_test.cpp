#include "config/config.h"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using nlohmann::json;

namespace {

json minimal_app() {
  return json::parse(R"({
    "hosts": {
      "blue":  {"ssh": "lab-blue",  "address": "127.0.10.1", "healthUrl": "http://127.0.10.1:8080/health", "appDir": "/srv/app"},
      "green": {"ssh": "root@127.0.10.2:2222", "address": "127.0.10.2", "healthUrl": "http://127.0.10.2:8080/health", "appDir": "/srv/app"}
    },
    "loadBalancer": {"ssh": "lab-lb", "section": "frontend fe_app", "stateFile": "/var/lib/bluegreen/shop.json",
                     "masterSocket": "/run/haproxy/master.sock"},
    "deploy": {"steps": [
      {"name": "pull", "when": "pullGithub", "run": "git fetch origin && git checkout --detach {ref}", "timeoutSeconds": 60},
      {"name": "restart", "run": "./appctl restart"}
    ]}
  })");
}

config::Config parse_ok(const json& document) {
  auto parsed = config::parse_config(document.dump(), "cfg.json", "/home/me");
  INFO((parsed.ok() ? std::string() : parsed.error().message));
  REQUIRE(parsed.ok());
  return std::move(parsed.value());
}

std::string parse_error(const json& document) {
  auto parsed = config::parse_config(document.dump(), "cfg.json", "/home/me");
  REQUIRE_FALSE(parsed.ok());
  return parsed.error().message;
}

}  // namespace

TEST_CASE("a minimal app config gets sensible defaults", "[config]") {
  const auto cfg = parse_ok(json{{"apps", {{"shop", minimal_app()}}}, {"logLevel", "debug"}});
  CHECK(cfg.log_level == "debug");
  REQUIRE(cfg.apps.size() == 1);
  const auto& app = cfg.apps[0];
  CHECK(app.name == "shop");
  CHECK(app.blue.front().ssh == "lab-blue");
  CHECK(app.green.front().service == "app");
  CHECK(app.load_balancer.haproxy_config == "/etc/haproxy/haproxy.cfg");
  CHECK(app.load_balancer.directive == "default_backend");
  CHECK(app.load_balancer.blue_backend == "blue");
  CHECK(app.load_balancer.green_backend == "green");
  CHECK(app.load_balancer.lock_file == "/var/lib/bluegreen/shop.json.lock");
  CHECK(app.load_balancer.audit_log == "/var/lib/bluegreen/audit.log");
  CHECK(app.load_balancer.validate_command == "haproxy -c -f {config}");
  CHECK(app.load_balancer.reload_command == "echo reload | socat - UNIX-CONNECT:{masterSocket}");
  REQUIRE(app.steps.size() == 2);
  CHECK(app.steps[0].when == config::StepCondition::kPullGithub);
  CHECK(app.steps[0].timeout == std::chrono::seconds(60));
  CHECK(app.steps[1].when == config::StepCondition::kAlways);
  CHECK(app.approval.required);
  CHECK(app.approval.token_ttl == std::chrono::minutes(5));
  CHECK(app.history_limit == 50);

  auto found = cfg.find_app("");
  REQUIRE(found.ok());
  CHECK((*found)->name == "shop");
  CHECK_THAT(cfg.find_app("nope").error().message, Catch::Contains("configured apps: shop"));
}

TEST_CASE("every bad field is reported at once, by name", "[config]") {
  json app = minimal_app();
  app["hosts"]["blue"]["healthUrl"] = "ftp://x";
  app["hosts"]["green"]["appDir"] = "relative/dir";
  app["hosts"]["green"]["ssh"] = "-oProxyCommand=evil";
  app["loadBalancer"]["section"] = "backend x";
  app["loadBalancer"]["directive"] = "default_backend";
  app["loadBalancer"]["condition"] = "if x";
  app["loadBalancer"]["haproxyConfig"] = json::array({"/etc/haproxy/haproxy.cfg", "conf.d"});
  app["loadBalancer"]["verifyUrls"] = json::array({"http://lb/", "ftp://lb/"});
  app["deploy"]["steps"][0]["when"] = "sometimes";
  app["deploy"]["steps"][1]["name"] = "pull";
  app["healthGate"] = {{"consecutiveSuccesses", 0}};
  app["approval"] = {{"requried", false}};
  const std::string error = parse_error(json{{"apps", {{"shop", app}, {"bad name!", minimal_app()}}}});
  CHECK_THAT(error, Catch::StartsWith("cfg.json: "));
  for (const char* expected :
       {"apps.shop.hosts.blue.healthUrl: must be an http:// or https:// URL", "apps.shop.hosts.green.appDir",
        "apps.shop.hosts.green.ssh: must be an ssh config alias",
        "apps.shop.loadBalancer.section: must be \"frontend NAME\"",
        "apps.shop.loadBalancer.condition: only applies to use_backend",
        "apps.shop.loadBalancer.haproxyConfig[1]: \"conf.d\" is not an absolute path",
        "apps.shop.loadBalancer.verifyUrls[1]: must be an http:// or https:// URL",
        "apps.shop.deploy.steps[0].when: must be one of", "apps.shop.deploy.steps[1].name: \"pull\" is used twice",
        "apps.shop.healthGate.consecutiveSuccesses: must be an integer", "apps.shop.approval.requried: unknown key",
        "apps.bad name!"}) {
    CHECK_THAT(error, Catch::Contains(expected));
  }
}

TEST_CASE("missing sections and top-level typos are named", "[config]") {
  CHECK_THAT(parse_error(json{{"apps", {{"shop", json::object()}}}}),
             Catch::Contains("apps.shop.hosts: is required") &&
                 Catch::Contains("apps.shop.loadBalancer: is required") &&
                 Catch::Contains("apps.shop.deploy: is required"));
  CHECK_THAT(parse_error(json{{"loglevel", "info"}}), Catch::Contains("loglevel: unknown key"));
  CHECK_THAT(parse_error(json{{"logLevel", "loud"}}), Catch::Contains("logLevel: must be one of"));
  CHECK_THAT(parse_error(json{{"apps", {{"shop", minimal_app()}}}, {"defaultApp", "other"}}),
             Catch::Contains("defaultApp"));
  CHECK_THAT(config::parse_config("{", "cfg.json", "/").error().message, Catch::StartsWith("cfg.json: not valid JSON"));
  CHECK_THAT(config::load_config("/nonexistent/cfg.json").error().message, Catch::Contains("cannot open"));
}

TEST_CASE("ssh settings expand ~ and several apps need a name", "[config]") {
  const auto cfg = parse_ok(json{{"ssh", {{"knownHostsFile", "~/.ssh/kh"}, {"identityFiles", {"~/.ssh/id"}}}},
                                 {"apps", {{"a", minimal_app()}, {"b", minimal_app()}}}});
  CHECK(cfg.ssh.known_hosts_file == "/home/me/.ssh/kh");
  CHECK(cfg.ssh.identity_files == std::vector<std::string>{"/home/me/.ssh/id"});
  CHECK_THAT(cfg.find_app("").error().message, Catch::Contains("several apps"));
  CHECK((*cfg.find_app("b"))->name == "b");
  const auto no_apps = parse_ok(json::object());
  CHECK_THAT(no_apps.find_app("").error().message, Catch::Contains("no apps are configured"));
}

TEST_CASE("the documented example configuration is valid", "[config]") {
  auto example = config::load_config(std::string(BLUEGREEN_SOURCE_DIR) + "/config/bluegreen.example.json");
  INFO((example.ok() ? std::string() : example.error().message));
  REQUIRE(example.ok());
  REQUIRE(example->apps.size() == 1);
  const auto& app = example->apps[0];
  CHECK(app.load_balancer.directive == "use_backend");
  CHECK(app.load_balancer.condition == "if is_attendant");
  CHECK(app.steps.size() == 6);
}

TEST_CASE("haproxyConfig and verifyUrls take one value or a list; the selector is optional", "[config]") {
  json app = minimal_app();
  app["loadBalancer"].erase("section");
  app["loadBalancer"].erase("directive");
  app["loadBalancer"]["haproxyConfig"] = json::array({"/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d"});
  app["loadBalancer"]["verifyUrls"] = json::array({"http://lb/health", "https://lb/health"});
  const auto cfg = parse_ok(json{{"apps", {{"shop", app}}}});
  const auto& lb = cfg.apps.front().load_balancer;
  CHECK(lb.haproxy_configs == std::vector<std::string>{"/etc/haproxy/haproxy.cfg", "/etc/haproxy/conf.d"});
  CHECK(lb.haproxy_configs_set);
  CHECK(lb.haproxy_config == "/etc/haproxy/haproxy.cfg");
  CHECK(lb.section.empty());
  CHECK(lb.verify_urls == std::vector<std::string>{"http://lb/health", "https://lb/health"});
  CHECK(lb.verify_url == "http://lb/health");

  json single = minimal_app();
  single["loadBalancer"]["verifyUrl"] = "http://lb/health";
  const auto one = parse_ok(json{{"apps", {{"shop", single}}}});
  CHECK(one.apps.front().load_balancer.verify_urls == std::vector<std::string>{"http://lb/health"});
  CHECK_FALSE(one.apps.front().load_balancer.haproxy_configs_set);

  single["loadBalancer"]["verifyUrls"] = json::array({"http://lb/x"});
  CHECK_THAT(parse_error(json{{"apps", {{"shop", single}}}}),
             Catch::Contains("give verifyUrl or verifyUrls, not both"));
}

TEST_CASE("loadBalancer.type nginx: its keys and defaults; the other type's keys are refused by name", "[config]") {
  json app = minimal_app();
  app["loadBalancer"] = {{"type", "nginx"},
                         {"ssh", "lab-lb"},
                         {"stateFile", "/var/lib/bluegreen/shop.json"},
                         {"backends", {{"blue", "shop_blue"}, {"green", "shop_green"}}},
                         {"pidFile", "/run/nginx/nginx.pid"}};
  const auto cfg = parse_ok(json{{"apps", {{"shop", app}}}});
  const auto& lb = cfg.apps.front().load_balancer;
  CHECK(lb.type == config::LbType::kNginx);
  CHECK(lb.nginx_config == "/etc/nginx/nginx.conf");
  CHECK(lb.pid_file == "/run/nginx/nginx.pid");
  CHECK(lb.blue_backend == "shop_blue");
  CHECK(lb.reload_command == "nginx -c {config} -s reload");
  CHECK(lb.validate_command == "nginx -t -q -c {config}");
  CHECK(std::string(config::product_name(lb.type)) == "nginx");

  app["loadBalancer"]["statsSocket"] = "/run/haproxy/admin.sock";
  app["loadBalancer"]["section"] = "frontend fe_app";
  auto error = parse_error(json{{"apps", {{"shop", app}}}});
  CHECK_THAT(error, Catch::Contains("apps.shop.loadBalancer.statsSocket: applies to HAProxy only, and "
                                    "loadBalancer.type is \"nginx\""));
  CHECK_THAT(error, Catch::Contains("apps.shop.loadBalancer.section: applies to HAProxy only"));

  json haproxy = minimal_app();
  haproxy["loadBalancer"]["nginxConfig"] = "/etc/nginx/nginx.conf";
  CHECK_THAT(parse_error(json{{"apps", {{"shop", haproxy}}}}),
             Catch::Contains("apps.shop.loadBalancer.nginxConfig: applies to nginx only, and loadBalancer.type is "
                             "\"haproxy\""));
  json traefik = minimal_app();
  traefik["loadBalancer"]["type"] = "traefik";
  CHECK_THAT(parse_error(json{{"apps", {{"shop", traefik}}}}),
             Catch::Contains("apps.shop.loadBalancer.type: must be \"haproxy\", \"nginx\" or \"caddy\", got "
                             "\"traefik\""));
}

TEST_CASE("loadBalancer.type caddy: adminSocket required, caddyfile optional, upstream per server", "[config]") {
  json app = minimal_app();
  app["loadBalancer"] = {{"type", "caddy"},
                         {"ssh", "lab-lb"},
                         {"stateFile", "/var/lib/bluegreen/shop.json"},
                         {"adminSocket", "/run/caddy/admin.sock"}};
  app["hosts"]["blue"]["upstream"] = "127.0.10.1:8080";
  auto cfg = parse_ok(json{{"apps", {{"shop", app}}}});
  const auto& lb = cfg.apps.front().load_balancer;
  CHECK(lb.type == config::LbType::kCaddy);
  CHECK(lb.admin_socket == "/run/caddy/admin.sock");
  CHECK_FALSE(lb.caddyfile);
  CHECK(std::string(config::product_name(lb.type)) == "Caddy");
  CHECK(std::string(config::to_string(lb.type)) == "caddy");
  CHECK(cfg.apps.front().blue.front().upstream == "127.0.10.1:8080");
  CHECK(cfg.apps.front().green.front().upstream == "127.0.10.2");  // default: address

  CHECK(lb.reload_command == "caddy reload --adapter caddyfile --config {config} --address unix/{adminSocket}");

  json autosave = app;
  autosave["loadBalancer"]["autosave"] = "/var/lib/caddy/.config/caddy/autosave.json";
  const auto resumed = parse_ok(json{{"apps", {{"shop", autosave}}}}).apps.front().load_balancer;
  CHECK(resumed.autosave == "/var/lib/caddy/.config/caddy/autosave.json");
  CHECK(resumed.validate_command == "caddy validate --config {config}");  // JSON: no adapter
  CHECK(resumed.reload_command == "caddy reload --config {config} --address unix/{adminSocket}");

  app["loadBalancer"]["caddyfile"] = "/etc/caddy/Caddyfile";
  CHECK(parse_ok(json{{"apps", {{"shop", app}}}}).apps.front().load_balancer.caddyfile == "/etc/caddy/Caddyfile");
  json both = app;
  both["loadBalancer"]["autosave"] = "/var/lib/caddy/.config/caddy/autosave.json";
  CHECK_THAT(parse_error(json{{"apps", {{"shop", both}}}}),
             Catch::Contains("apps.shop.loadBalancer.autosave: give caddyfile") && Catch::Contains("not both"));

  json no_socket = app;
  no_socket["loadBalancer"].erase("adminSocket");
  CHECK_THAT(parse_error(json{{"apps", {{"shop", no_socket}}}}), Catch::Contains("apps.shop.loadBalancer.adminSocket"));
  json relative = app;
  relative["loadBalancer"]["adminSocket"] = "run/caddy/admin.sock";
  CHECK_THAT(parse_error(json{{"apps", {{"shop", relative}}}}), Catch::Contains("apps.shop.loadBalancer.adminSocket"));
  json haproxy_keys = app;
  haproxy_keys["loadBalancer"]["statsSocket"] = "/run/haproxy/admin.sock";
  haproxy_keys["loadBalancer"]["pidFile"] = "/run/nginx.pid";
  const auto error = parse_error(json{{"apps", {{"shop", haproxy_keys}}}});
  CHECK_THAT(error, Catch::Contains("apps.shop.loadBalancer.statsSocket: applies to HAProxy only, and "
                                    "loadBalancer.type is \"caddy\""));
  CHECK_THAT(error, Catch::Contains("apps.shop.loadBalancer.pidFile: applies to nginx only"));
  json bad_upstream = app;
  bad_upstream["hosts"]["green"]["upstream"] = "{env.GREEN}";
  CHECK_THAT(parse_error(json{{"apps", {{"shop", bad_upstream}}}}), Catch::Contains("apps.shop.hosts.green.upstream"));

  json haproxy = minimal_app();
  haproxy["loadBalancer"]["adminSocket"] = "/run/caddy/admin.sock";
  CHECK_THAT(parse_error(json{{"apps", {{"shop", haproxy}}}}),
             Catch::Contains("apps.shop.loadBalancer.adminSocket: applies to Caddy only"));
}

TEST_CASE("an LB pair is of one type", "[config]") {
  json app = minimal_app();
  json second = {{"ssh", "lab-lb2"}, {"type", "nginx"}, {"masterSocket", nullptr}, {"section", nullptr}};
  app["loadBalancer"] = json::array({app["loadBalancer"], second});
  CHECK_THAT(parse_error(json{{"apps", {{"shop", app}}}}),
             Catch::Contains("apps.shop.loadBalancer[1].type: every load balancer of a pair must be of the same type "
                             "(haproxy, as apps.shop.loadBalancer[0])"));
}

TEST_CASE("approval.channels: elicitation and token by default; elicitation, url, app and token in any order",
          "[config]") {
  CHECK(parse_ok(json{{"apps", {{"shop", minimal_app()}}}}).apps[0].approval.channels ==
        std::vector<std::string>{"elicitation", "token"});
  json app = minimal_app();
  app["approval"] = {{"channels", {"elicitation"}}};
  const auto only_elicitation = parse_ok(json{{"apps", {{"shop", app}}}}).apps[0].approval;
  CHECK(only_elicitation.allows("elicitation"));
  CHECK_FALSE(only_elicitation.allows("token"));
  app["approval"] = {{"channels", {"url", "elicitation"}}};
  const auto page_first = parse_ok(json{{"apps", {{"shop", app}}}}).apps[0].approval;
  CHECK(page_first.channels == std::vector<std::string>{"url", "elicitation"});
  app["approval"] = {{"channels", {"app", "token"}}};
  CHECK(parse_ok(json{{"apps", {{"shop", app}}}}).apps[0].approval.channels ==
        std::vector<std::string>{"app", "token"});
  app["approval"] = {{"channels", {"token", "url", "app", "mail", "token"}}};
  const std::string error = parse_error(json{{"apps", {{"shop", app}}}});
  CHECK_THAT(error, !Catch::Contains("channels[1]"));
  CHECK_THAT(error, !Catch::Contains("channels[2]"));
  for (const char* expected : {"apps.shop.approval.channels[3]: must be \"elicitation\", \"url\", \"app\" or "
                               "\"token\", got \"mail\"",
                               "apps.shop.approval.channels[4]: \"token\" is listed twice"}) {
    CHECK_THAT(error, Catch::Contains(expected));
  }
  app["approval"] = {{"channels", json::array()}};
  CHECK_THAT(parse_error(json{{"apps", {{"shop", app}}}}),
             Catch::Contains("apps.shop.approval.channels: must be a string or a non-empty list of strings"));
}
