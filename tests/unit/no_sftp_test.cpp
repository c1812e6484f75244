// The deployment layer on hosts without SFTP (issue 12: a slow login shell is paid per process):
// status and switch plans start at most one process per host and call, whatever they need to
// know, and answer exactly as they do where files come over SFTP, on the simulated site.

#include "deployment/status.h"
#include "deployment/switch_plan.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

#include <map>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using state::Color;

namespace {

const std::vector<std::string> kHosts = {"lab-lb", "lab-blue", "lab-green"};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void without_sftp(DeploymentRig& rig) {
  for (const auto& host : kHosts) rig.lb.executor().without_sftp(host);
}

// Processes started on each host by what `call` does, as "lab-lb 1, lab-blue 1, lab-green 1".
template <typename Call>
std::string starts_during(DeploymentRig& rig, const Call& call) {
  std::map<std::string, int> before;
  for (const auto& host : kHosts) before[host] = rig.lb.executor().process_starts(host);
  call();
  std::string during;
  for (const auto& host : kHosts) {
    during += (during.empty() ? "" : ", ") + host + " " +
              std::to_string(rig.lb.executor().process_starts(host) - before[host]);
  }
  return during;
}

const std::string kOneEach = "lab-lb 1, lab-blue 1, lab-green 1";

deployment::Activity deploy_activity() {
  deployment::Activity activity;
  activity.kind = deployment::ActivityKind::kDeploy;
  activity.app = "shop";
  activity.client = "other-client";
  activity.since = "2026-11-30T11:00:00.000Z";
  activity.server_pid = 4243;
  activity.step = "step 5/8: build";
  activity.color = Color::kGreen;
  activity.ref = "origin/main";
  return activity;
}

}  // namespace

TEST_CASE("status without SFTP starts one process per host, on the first call and after, and answers as with SFTP",
          "[deployment][no-sftp]") {
  DeploymentRig with;
  DeploymentRig without;
  without_sftp(without);
  for (int call = 1; call <= 3; ++call) {
    INFO("call " << call);
    nlohmann::json expected;
    const auto over_sftp =
        starts_during(with, [&] { expected = deployment::gather_status(with.services, with.app).to_json(with.app); });
    nlohmann::json got;
    const auto by_cat = starts_during(without, [&] {
      got = deployment::gather_status(without.services, without.app).to_json(without.app);
    });
    CHECK(got == expected);
    CHECK(by_cat == kOneEach);
    // Over SFTP: the config's status-change time (`stat`) and each host's `git log` the first time
    // only; nothing after.
    CHECK(over_sftp == (call == 1 ? kOneEach : std::string("lab-lb 0, lab-blue 0, lab-green 0")));
  }
  // Nothing ran on its own: the change times came with the read, `git log` rode along.
  for (const auto& host : kHosts) CHECK(without.lb.executor().commands(host).empty());
  CHECK(without.lb.executor().unmatched().empty());
}

TEST_CASE("without SFTP the lock of an activity record is asked in the same process", "[deployment][no-sftp]") {
  DeploymentRig rig;
  without_sftp(rig);
  rig.lb.set_activity(deploy_activity());
  SECTION("its lock is free: an interrupted deploy") {
    deployment::StatusReport status;
    CHECK(starts_during(rig, [&] { status = deployment::gather_status(rig.services, rig.app); }) == kOneEach);
    CHECK(status.lb.activity_running == false);
    CHECK(contains(status.to_text(rig.app), "AN INTERRUPTED DEPLOY was found"));
  }
  SECTION("its lock is held by another server: a deploy in progress") {
    const auto store = deployment::store_for(rig.lb.executor(), rig.app);
    auto held = store.lock("other-server", "deploy to GREEN", std::chrono::seconds(1), {});
    REQUIRE(held.ok());
    deployment::StatusReport status;
    CHECK(starts_during(rig, [&] { status = deployment::gather_status(rig.services, rig.app); }) == kOneEach);
    CHECK(status.lb.activity_running == true);
    CHECK(contains(status.to_text(rig.app), "⏳ DEPLOY IN PROGRESS: deploy of origin/main to GREEN by other-client"));
  }
  CHECK(rig.lb.executor().commands("lab-lb", "flock -n").empty());
}

TEST_CASE("without SFTP a config changed and backdated is caught on the first look, in the same process",
          "[deployment][no-sftp]") {
  DeploymentRig rig;
  without_sftp(rig);
  rig.lb.advance_clock(120);
  rig.lb.set_config_text(haproxy_cfg(Color::kGreen));
  rig.lb.executor().backdate("lab-lb", rig.app.load_balancer.haproxy_config, rig.lb.lb_now() - 86'400);
  deployment::StatusReport status;
  CHECK(starts_during(rig, [&] { status = deployment::gather_status(rig.services, rig.app); }) == kOneEach);
  CHECK_FALSE(status.lb.live.has_value());
  CHECK(status.lb.config_modified_s == rig.lb.lb_now());  // its status-change time, not the backdated one
}

TEST_CASE("a switch plan without SFTP starts one process per host", "[deployment][no-sftp]") {
  DeploymentRig with;
  DeploymentRig without;
  without_sftp(without);
  bluegreen::Result<deployment::PlanView> expected = bluegreen::Error{"not planned"};
  bluegreen::Result<deployment::PlanView> got = bluegreen::Error{"not planned"};
  (void)starts_during(with, [&] { expected = deployment::plan_switch(with.services, with.app, false); });
  CHECK(starts_during(without, [&] { got = deployment::plan_switch(without.services, without.app, false); }) ==
        kOneEach);
  REQUIRE(expected.ok());
  REQUIRE(got.ok());
  CHECK(deployment::plan_json(without.app, *got) == deployment::plan_json(with.app, *expected));
}

TEST_CASE("several apps on the same hosts: one read per host for all their app directories", "[deployment][no-sftp]") {
  const std::string other_commit(40, 'c');
  const auto second = test_app([](nlohmann::json& app) {
    app["hosts"]["blue"]["appDir"] = "/srv/other";
    app["hosts"]["green"]["appDir"] = "/srv/other";
    app["loadBalancer"]["stateFile"] = "/var/lib/bluegreen/other.json";
  });
  const bool sftp = GENERATE(true, false);
  INFO((sftp ? "over SFTP" : "without SFTP"));
  DeploymentRig rig;
  if (!sftp) without_sftp(rig);
  auto& executor = rig.lb.executor();
  for (const auto& host : {"lab-blue", "lab-green"}) {
    executor.set_file(host, "/srv/other/.git/HEAD", other_commit + "\n");
    executor.on_host(host, "cd '/srv/other' && exec git log -1",
                     ok_with(other_commit + "\n2026-11-21T09:00:00+00:00\nOther release\n"));
  }
  executor.on_host("lab-lb", deployment::lock_held_script(second), exit_with(deployment::kLockFreeExit));

  std::vector<deployment::StatusReport> reports;
  const auto starts = starts_during(rig, [&] {
    reports = deployment::gather_status_all(rig.services, {&rig.app, &second});
  });
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].green.front().deployed_commit == kGreenCommit);
  CHECK(reports[1].green.front().deployed_commit == other_commit);
  CHECK(reports[1].blue.front().commit_subject == "Other release");
  for (const auto& host : {"lab-blue", "lab-green"}) {
    int reads = 0;
    for (const auto& call : executor.calls()) reads += call.host == host && call.kind == CallKind::kReadFiles ? 1 : 0;
    CHECK(reads == 1);  // both HEADs at once
  }
  if (!sftp) CHECK(starts == kOneEach);
  CHECK(executor.unmatched().empty());
}
