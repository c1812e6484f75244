// The test doubles themselves (tests/support): a fake that quietly answers wrong would make
// every deployment test meaningless, so their contracts are checked here.

#include "common/base64.h"
#include "haproxy/runtime_api.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using state::Color;

TEST_CASE("ScriptedExecutor: unmatched commands are visible and never succeed", "[deployment][fakes]") {
  ScriptedExecutor executor;
  auto result = executor.run("host", "rm -rf /", {});
  REQUIRE(result.ok());
  CHECK(result->exit_status == 127);
  CHECK(result->err.tail.find("no reply for `rm -rf /`") != std::string::npos);
  REQUIRE(executor.unmatched().size() == 1);
  CHECK(executor.unmatched()[0].command == "rm -rf /");
  CHECK_FALSE(executor.query_unix_socket("host", "/run/x.sock", "show proc\n", {}).ok());
  CHECK(executor.unmatched().size() == 2);
}

TEST_CASE("ScriptedExecutor: newest rule wins; errors and files are served", "[deployment][fakes]") {
  ScriptedExecutor executor;
  executor.on("uptime", ok_with("old"));
  executor.on("uptime", ok_with("new"));
  executor.on_host("other", "uptime", unreachable_error("other"));
  CHECK(executor.run("h", "uptime", {})->out.tail == "new");
  const auto down = executor.run("other", "uptime", {});
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code == bluegreen::ErrorCode::kUnavailable);

  executor.set_file("h", "/a", "A");
  executor.file_problem("h", "/b", "Permission denied");
  const auto read = executor.read_files("h", {"/a", "/b", "/c"}, {});
  REQUIRE(read.ok());
  CHECK(read->at(0).content == "A");
  CHECK(read->at(1).problem == "Permission denied");
  CHECK(read->at(2).missing);
  CHECK(executor.calls().size() == 3);
}

TEST_CASE("ScriptedExecutor: hold() stays alive until released; a busy lock looks like flock's",
          "[deployment][fakes]") {
  ScriptedExecutor executor;
  {
    auto held = executor.hold("lb", "flock ...", "READY", {});
    REQUIRE(held.ok());
    CHECK(held.value()->alive());
    CHECK(executor.held_now() == 1);
  }
  CHECK(executor.held_now() == 0);
  executor.lock_busy();
  const auto busy = executor.hold("lb", "flock ...", "READY", {});
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().code == bluegreen::ErrorCode::kFailedPrecondition);
  CHECK(busy.error().exit_status == 75);
}

TEST_CASE("base64_decode undoes base64_encode for any bytes", "[deployment][fakes]") {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  for (const std::string& text : {std::string(), std::string("a"), std::string("ab"), std::string("abc"), all}) {
    CHECK(base64_decode(bluegreen::base64_encode(text)) == text);
  }
  CHECK(unquote_at(remote::shell_quote("it's"), 0) == "it's");
}

TEST_CASE("FakeLb: HAProxy's master reports reloads as the product parses them", "[deployment][fakes]") {
  DeploymentRig rig;
  const auto query = [&rig] {
    auto reply = rig.lb.executor().query_unix_socket("lab-lb", "/run/haproxy/master.sock", "show proc\n", {});
    REQUIRE(reply.ok());
    auto parsed = haproxy::parse_show_proc(reply->text);
    REQUIRE(parsed.ok());
    return parsed.value();
  };
  CHECK(query().reloads == 0);
  rig.lb.set_config_text(haproxy_cfg(Color::kGreen));
  CHECK(rig.lb.running() == Color::kBlue);  // the file alone changes nothing
  const auto reloaded = rig.lb.executor().run("lab-lb", deployment::lb_reload_command(rig.app), {});
  REQUIRE(reloaded.ok());
  CHECK(reloaded->succeeded());
  const auto info = query();
  CHECK(info.reloads == 1);
  CHECK(info.current_worker_pids == std::vector<int>{2001});
  CHECK(info.old_worker_pids == std::vector<int>{2000});
  CHECK(rig.lb.running() == Color::kGreen);

  auto stats = rig.lb.executor().query_unix_socket("lab-lb", "/run/haproxy/admin.sock", "show stat\n", {});
  REQUIRE(stats.ok());
  auto servers = haproxy::parse_show_stat(stats->text, haproxy::StatRows::servers_and_backends);
  REQUIRE(servers.ok());
  CHECK(servers->size() == 4);
}

TEST_CASE("FakeLb: the frontend answers with the colour HAProxy runs", "[deployment][fakes]") {
  DeploymentRig rig;
  auto probe = rig.lb.probe();
  CHECK(probe("http://127.0.99.3:80/health", std::chrono::seconds(1)).color == "blue");
  rig.lb.faults().frontend_wrong_colour = true;
  CHECK(probe("http://127.0.99.3:80/health", std::chrono::seconds(1)).color == "green");
  rig.lb.faults().frontend_down = true;
  CHECK(probe("http://127.0.99.3:80/health", std::chrono::seconds(1)).status == 0);
  CHECK(probe("http://127.0.99.9/unknown", std::chrono::seconds(1)).status == 0);
  rig.lb.set_health(Color::kGreen, HostHealth{true, true, std::nullopt, "1"});
  CHECK(probe("http://127.0.99.2:8080/health", std::chrono::seconds(1)).healthy());
  CHECK_FALSE(probe("http://127.0.99.2:8080/health", std::chrono::seconds(1)).healthy());
  CHECK(probe("http://127.0.99.2:8080/health", std::chrono::seconds(1)).healthy());
}

TEST_CASE("FakeLb: the LB becomes unreachable from its Nth call", "[deployment][fakes]") {
  DeploymentRig rig;
  rig.lb.faults().unreachable_from_call = 2;
  CHECK(rig.lb.executor().read_files("lab-lb", {"/etc/haproxy/haproxy.cfg"}, {}).ok());
  CHECK_FALSE(rig.lb.executor().read_files("lab-lb", {"/etc/haproxy/haproxy.cfg"}, {}).ok());
  CHECK_FALSE(rig.lb.executor().run("lab-lb", deployment::lb_reload_command(rig.app), {}).ok());
  CHECK(rig.lb.executor().read_files("lab-green", {"/srv/app/.git/HEAD"}, {}).ok());  // app hosts are not affected
}
