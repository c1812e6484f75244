// deploy_to_standby against the simulated site (tests/support/fake_lb.h): the standby is the only
// host touched, steps stop at the first failure, flags skip steps, cancellation is recorded, the
// health gate decides, and the state file and audit log record every deploy that started.

#include "deployment/deploy.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

#include <stop_token>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using deployment::DeployOutcome;
using deployment::DeployRequest;
using state::Color;

namespace {

DeployOutcome run_deploy(DeploymentRig& rig, const DeployRequest& request = {}, std::stop_token stop = {}) {
  return deployment::deploy_to_standby(rig.services, rig.app, request, "claude-test", rig.reporter, std::move(stop));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The step rows' statuses, in order ("name=status").
std::vector<std::string> rows(const DeployOutcome& outcome) {
  std::vector<std::string> out;
  for (const auto& step : outcome.structured.at("steps")) {
    out.push_back(step["name"].get<std::string>() + "=" + step["status"].get<std::string>());
  }
  return out;
}

// Every call to an app host went to `host` (and none to the other one).
void require_only_host(DeploymentRig& rig, const std::string& host, const std::string& other) {
  bool touched_other = false;
  for (const auto& call : rig.lb.executor().calls()) touched_other = touched_other || call.host == other;
  CHECK_FALSE(touched_other);
  for (const auto& command : rig.lb.executor().commands(host, "cd '/srv/app' && ")) {
    CHECK(command.rfind("cd '/srv/app' && ", 0) == 0);
  }
}

}  // namespace

TEST_CASE("a deploy runs the enabled steps on the standby only and records it", "[deployment][deploy]") {
  DeploymentRig rig;
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);

  REQUIRE(outcome.ok);
  CHECK_FALSE(outcome.cancelled);
  CHECK(contains(outcome.text, "Deployment to GREEN (127.0.99.2) completed successfully"));
  CHECK(contains(outcome.text, "PROD BLUE was not touched"));
  CHECK(outcome.structured.at("target")["server"] == "GREEN");
  CHECK(outcome.structured.at("prod") == "BLUE");
  CHECK(outcome.structured.at("commit") == kGreenCommit);
  CHECK(outcome.structured.at("version") == "1.4.2");
  CHECK(rows(outcome) == std::vector<std::string>{"backup=ok", "pull=ok", "install=ok", "migrate=skipped", "build=ok",
                                                  "restart=ok", "health gate=ok"});

  // Only GREEN was touched, in order, with the placeholders filled in (quoted).
  require_only_host(rig, "lab-green", "lab-blue");
  auto commands = rig.lb.executor().commands("lab-green", "cd '/srv/app' && ");
  // The deployed commit is read after the steps (`git log`, the commit cache being empty).
  REQUIRE(commands.size() == 6);
  CHECK(contains(commands.back(), "exec git log -1"));
  commands.pop_back();
  CHECK(commands[0] == "cd '/srv/app' && tar -czf /srv/backup.tgz .");
  CHECK(commands[1] == "cd '/srv/app' && git fetch --prune origin && git checkout --force --detach 'origin/main'");
  CHECK(commands[4] == "cd '/srv/app' && ./appctl restart 'shop'");

  // Recorded under the lock: the state file and the audit log.
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->prod == Color::kBlue);
  CHECK(recorded->switch_count == 3);
  CHECK(recorded->generation == 8);
  REQUIRE(recorded->deploys.size() == 1);
  const auto& deploy = recorded->deploys.back();
  CHECK(deploy.color == Color::kGreen);
  CHECK(deploy.ref == "origin/main");
  CHECK(deploy.commit == kGreenCommit);
  CHECK(deploy.outcome == "ok");
  CHECK(deploy.extra["client"] == "claude-test");
  const auto audit = rig.lb.audit_lines();
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["action"] == "deploy");
  CHECK(audit[0]["outcome"] == "ok");
  CHECK(audit[0]["color"] == "green");
  CHECK(audit[0]["commit"] == kGreenCommit);
  CHECK_FALSE(rig.lb.lock_held());
  CHECK(rig.lb.leftovers().empty());
  CHECK(rig.lb.executor().unmatched().empty());
  // Nothing on the LB changed but the record.
  CHECK(rig.lb.config_text() == haproxy_cfg(Color::kBlue));
  CHECK(rig.lb.reloads() == 0);

  // Progress: the enabled steps, the gate and the record, numbered out of 8.
  const auto steps = rig.reporter.steps();
  CHECK(steps == std::vector<std::string>{"step 1/8: backup", "step 2/8: pull", "step 3/8: install", "step 5/8: build",
                                          "step 6/8: restart", "step 7/8: health gate on http://127.0.99.2:8080/health",
                                          "step 8/8: recording the deploy"});
}

TEST_CASE("a deploy when GREEN is live goes to BLUE", "[deployment][deploy]") {
  DeploymentRig rig(test_app(), Color::kGreen);
  DeployRequest request;
  request.ref = "v2.1.0";
  request.expected_target = Color::kBlue;
  const auto outcome = run_deploy(rig, request);
  INFO(outcome.text);
  REQUIRE(outcome.ok);
  require_only_host(rig, "lab-blue", "lab-green");
  CHECK(rig.lb.executor().commands("lab-blue", "--detach 'v2.1.0'").size() == 1);
  CHECK(rig.lb.state()->deploys.back().color == Color::kBlue);
  CHECK(rig.lb.state()->deploys.back().ref == "v2.1.0");
}

TEST_CASE("a deploy stops at the first failing step", "[deployment][deploy]") {
  DeploymentRig rig;
  rig.lb.executor().on_host("lab-green", "./install-deps", exit_with(1, "", "npm ERR! network timeout"));
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);

  CHECK_FALSE(outcome.ok);
  CHECK(outcome.structured.at("outcome") == "failed");
  CHECK(contains(outcome.structured.at("error").get<std::string>(), "step \"install\" failed (exit 1"));
  CHECK(contains(outcome.text, "DEPLOY TO GREEN (127.0.99.2) FAILED"));
  CHECK(contains(outcome.text, "npm ERR! network timeout"));
  CHECK(contains(outcome.text, "do not switch traffic to GREEN"));
  CHECK(rows(outcome) == std::vector<std::string>{"backup=ok", "pull=ok", "install=failed", "migrate=not run",
                                                  "build=not run", "restart=not run"});
  CHECK(rig.lb.executor().commands("lab-green", "cd '/srv/app' && ").size() == 3);  // no git log either
  CHECK(rig.lb.probes_of(Color::kGreen) == 0);  // no health gate after a failed step
  require_only_host(rig, "lab-green", "lab-blue");

  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->deploys.back().outcome == "failed");
  CHECK(contains(recorded->deploys.back().extra["error"].get<std::string>(), "step \"install\" failed"));
  CHECK(rig.lb.audit_lines().back()["outcome"] == "failed");
  CHECK_FALSE(rig.lb.lock_held());
}

TEST_CASE("a step that cannot reach the standby fails the deploy", "[deployment][deploy]") {
  DeploymentRig rig;
  rig.lb.executor().on_match([](const std::string& host, const std::string&) { return host == "lab-green"; },
                             [](const std::string& host, const std::string&) -> ScriptedExecutor::Reply {
                               return unreachable_error(host);
                             });
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);
  CHECK_FALSE(outcome.ok);
  CHECK(contains(outcome.structured.at("error").get<std::string>(),
                 "step \"backup\" could not run on lab-green: ssh: connect"));
  CHECK(rows(outcome).front() == "backup=failed");
  CHECK(rows(outcome).back() == "restart=not run");
  CHECK(rig.lb.state()->deploys.back().outcome == "failed");
}

TEST_CASE("deploy flags skip their steps", "[deployment][deploy]") {
  DeploymentRig rig;
  DeployRequest request;
  request.pull_github = false;
  request.create_backup = false;
  request.run_migrations = true;
  const auto outcome = run_deploy(rig, request);
  INFO(outcome.text);
  REQUIRE(outcome.ok);
  CHECK(rows(outcome) == std::vector<std::string>{"backup=skipped", "pull=skipped", "install=ok", "migrate=ok",
                                                  "build=ok", "restart=ok", "health gate=ok"});
  CHECK(outcome.structured.at("steps")[0]["detail"] == "createBackup=false");
  CHECK(outcome.structured.at("steps")[1]["detail"] == "pullGithub=false");
  CHECK(rig.lb.executor().commands("lab-green", "git checkout").empty());
  CHECK(rig.lb.executor().commands("lab-green", "./migrate").size() == 1);
}

TEST_CASE("a deploy cancelled mid-step is recorded as cancelled and releases the lock", "[deployment][deploy]") {
  DeploymentRig rig;
  std::stop_source stop;
  rig.lb.executor().on_match(
      [](const std::string& host, const std::string& command) {
        return host == "lab-green" && contains(command, "./build");
      },
      [&stop](const std::string&, const std::string&) -> ScriptedExecutor::Reply {
        stop.request_stop();  // the user cancels while the build runs; the executor stops it
        return cancelled_result();
      });
  const auto outcome = run_deploy(rig, {}, stop.get_token());
  INFO(outcome.text);

  CHECK_FALSE(outcome.ok);
  CHECK(outcome.cancelled);
  CHECK(outcome.structured.at("outcome") == "cancelled");
  CHECK(contains(outcome.text, "DEPLOY TO GREEN CANCELLED"));
  CHECK(rows(outcome) == std::vector<std::string>{"backup=ok", "pull=ok", "install=ok", "migrate=skipped",
                                                  "build=cancelled", "restart=not run"});
  CHECK(rig.lb.probes_of(Color::kGreen) == 0);
  bool noted = false;
  for (const auto& note : rig.reporter.notes())
    noted = noted || contains(note, "cancelled: the running remote command was stopped");
  CHECK(noted);
  CHECK(rig.lb.executor().commands("lab-green", "./appctl").empty());
  CHECK(rig.lb.state()->deploys.back().outcome == "cancelled");
  CHECK(rig.lb.audit_lines().back()["outcome"] == "cancelled");
  CHECK_FALSE(rig.lb.lock_held());
}

TEST_CASE("a deploy cancelled during the health gate is recorded as cancelled", "[deployment][deploy]") {
  DeploymentRig rig;
  std::stop_source stop;
  rig.lb.set_health(Color::kGreen, HostHealth{false, false, std::nullopt, "1.4.2"});
  rig.time.on_sleep([&stop](auto) { stop.request_stop(); });
  const auto outcome = run_deploy(rig, {}, stop.get_token());
  INFO(outcome.text);
  CHECK(outcome.cancelled);
  CHECK(rows(outcome).back() == "health gate=cancelled");
  CHECK(rig.lb.state()->deploys.back().outcome == "cancelled");
  CHECK_FALSE(rig.lb.lock_held());
}

TEST_CASE("a deploy whose standby fails the health gate fails", "[deployment][deploy]") {
  DeploymentRig rig;
  std::string expected;
  SECTION("down") {
    rig.lb.set_health(Color::kGreen, HostHealth{false, false, std::nullopt, "1.4.2"});
    expected = "the health gate failed: not healthy 3 times in a row within 30 s";
  }
  SECTION("flapping") {
    rig.lb.set_health(Color::kGreen, HostHealth{true, true, std::nullopt, "1.4.2"});
    expected = "the health gate failed: not healthy 3 times in a row within 30 s";
  }
  SECTION("still serving the old commit") {
    rig.lb.set_health(Color::kGreen,
                      HostHealth{true, false, std::string("0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0"), "1.4.1"});
    expected = "still serving commit 0ld0ld0ld0ld, expected 9ee09ee09ee0";
  }
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);
  CHECK_FALSE(outcome.ok);
  CHECK_FALSE(outcome.cancelled);
  CHECK(contains(outcome.structured.at("error").get<std::string>(), expected));
  CHECK(rows(outcome).back() == "health gate=failed");
  CHECK(rig.lb.state()->deploys.back().outcome == "failed");
  CHECK(outcome.structured.at("steps").back()["durationMs"].get<long long>() <= 30000);
  CHECK_FALSE(rig.lb.lock_held());
}

TEST_CASE("deploy refusals touch no host", "[deployment][deploy][refusal]") {
  DeploymentRig rig;
  DeployRequest request;
  std::string expected;
  SECTION("the expected target is the live colour") {
    request.expected_target = Color::kBlue;
    expected = "BLUE is PROD (HAProxy routes to it): deploying there would change the live site";
  }
  SECTION("the live colour is unknown") {
    rig.lb.set_config_text(haproxy_cfg("maintenance"));
    expected = "no frontend or listen section routes to the blue backend";
  }
  SECTION("the frontend contradicts the config file") {
    rig.lb.set_running(Color::kGreen);
    expected = "HAProxy is not running its configuration";
  }
  SECTION("a corrupt state file") {
    rig.lb.set_state_text("[]");
    expected = "is corrupt";
  }
  SECTION("lock busy") {
    rig.lb.faults().lock_busy = true;
    expected = "is locked by another operation";
  }
  SECTION("a ref that is not a plain git ref") {
    request.ref = "--upload-pack=touch /tmp/x";
    expected = "ref";
  }
  SECTION("the LB unreachable after the lock") {
    rig.lb.faults().unreachable_from_call = 2;
    expected = "the load balancer cannot be reached";
  }
  const auto before = rig.lb.state_text();
  const auto outcome = run_deploy(rig, request);
  INFO(outcome.text);
  CHECK_FALSE(outcome.ok);
  CHECK(contains(outcome.text, "DEPLOY NOT STARTED"));
  CHECK(contains(outcome.structured.at("error").get<std::string>(), expected));
  CHECK(outcome.structured.at("steps").empty());
  for (const auto& call : rig.lb.executor().calls()) {
    CHECK(call.host == "lab-lb");
  }
  CHECK(rig.lb.probes_of(Color::kGreen) == 0);
  CHECK(rig.lb.state_text() == before);
  CHECK(rig.lb.audit_lines().empty());
  CHECK_FALSE(rig.lb.lock_held());
}

TEST_CASE("a deploy corrects a state file that disagrees with HAProxy", "[deployment][deploy]") {
  DeploymentRig rig;
  state::DeploymentState wrong;
  wrong.prod = Color::kGreen;
  wrong.generation = 7;
  rig.lb.set_state(wrong);
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);
  REQUIRE(outcome.ok);
  require_only_host(rig, "lab-green", "lab-blue");  // HAProxy's truth decides the target
  CHECK(rig.lb.state()->prod == Color::kBlue);
  bool noted = false;
  for (const auto& note : rig.reporter.notes())
    noted = noted || contains(note, "state file said PROD=GREEN but HAProxy routes to BLUE");
  CHECK(noted);
}

TEST_CASE("a deploy whose record cannot be written is not ok", "[deployment][deploy]") {
  DeploymentRig rig;
  std::string expected;
  SECTION("disk full") {
    rig.lb.faults().prepare = Fault::always();
    expected = "disk full or read-only";
  }
  SECTION("commit fails") {
    rig.lb.faults().commit = Fault::always();
    expected = "replacing the state file";
  }
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);
  CHECK_FALSE(outcome.ok);
  CHECK(contains(outcome.structured.at("recordProblem").get<std::string>(), expected));
  CHECK(contains(outcome.text, "could not be recorded in the state file"));
  CHECK(rig.lb.state()->generation == 7);
  CHECK(rig.lb.leftovers().empty());
  CHECK_FALSE(rig.lb.lock_held());
}

TEST_CASE("a deploy whose audit line cannot be written says so", "[deployment][deploy][audit]") {
  DeploymentRig rig;
  rig.lb.faults().audit = Fault::always();
  const auto outcome = run_deploy(rig);
  INFO(outcome.text);
  CHECK(outcome.ok);  // recorded in the state file; the audit problem is reported
  CHECK(contains(outcome.structured.at("auditProblem").get<std::string>(), "appending to the audit log"));
  CHECK(contains(outcome.text, "not in the audit log"));
  CHECK(rig.lb.state()->deploys.back().outcome == "ok");
}
