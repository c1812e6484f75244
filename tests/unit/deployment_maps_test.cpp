// Map-based routing on the simulated site (tests/support/fake_lb.h simulates HAProxy's running
// maps on the stats socket): status reads the running map and compares it with the map file; a
// switch swaps the map file like a config file and replaces the running map with prepare/add/commit
// map, without a reload; a failure after the swap puts both back; layouts that cannot be switched
// are refused before anything changes.

#include "deployment/status.h"
#include "deployment/switch_plan.h"
#include "deployment/traffic_switch.h"
#include "haproxy/runtime_api.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using deployment::SwitchOutcome;
using deployment::SwitchPlan;
using state::Color;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A site routed through the map kMapPath (haproxy_map_cfg, map_file), HAProxy started with it.
struct MapRig : DeploymentRig {
  explicit MapRig(Color live = Color::kBlue, const std::function<void(nlohmann::json&)>& edit = {})
      : DeploymentRig(map_test_app(edit), live) {
    lb.start_with_map_layout(live);
  }
};

const std::string kBlueEntries = "shop blue\nblog fallback\n";
const std::string kGreenEntries = "shop green\nblog fallback\n";

SwitchPlan blue_to_green(std::uint64_t generation = 7) {
  return SwitchPlan{"shop", Color::kBlue, Color::kGreen, generation, false, ""};
}

SwitchOutcome run_switch(DeploymentRig& rig, const SwitchPlan& plan) {
  return deployment::execute_switch(rig.services, rig.app, rig.bound(plan), "claude-test", rig.reporter, {});
}

// The stats socket's answer to `request` (one line, as query_haproxy_socket sends it).
std::string ask_stats(DeploymentRig& rig, const std::string& request) {
  auto reply = rig.lb.executor().query_unix_socket("lab-lb", "/run/haproxy/admin.sock", request + "\n", {});
  REQUIRE(reply);
  return reply->text;
}

// Map commands that change the running map (`show map` only reads).
std::vector<std::string> map_changes(const DeploymentRig& rig) {
  std::vector<std::string> out;
  for (const auto& command : rig.lb.map_log()) {
    if (command.rfind("show map ", 0) != 0) out.push_back(command);
  }
  return out;
}

// A refusal before anything moved: both files, the running map and HAProxy as they were.
void require_nothing_changed(DeploymentRig& rig, const SwitchOutcome& outcome, const std::string& cfg,
                             const std::string& map, const std::string& running) {
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK_FALSE(outcome.rolled_back);
  CHECK(contains(outcome.text, "Nothing was changed"));
  CHECK(rig.lb.config_text() == cfg);
  CHECK(rig.lb.map_text() == map);
  CHECK(rig.lb.running_map() == running);
  CHECK_FALSE(rig.lb.backup().has_value());
  CHECK_FALSE(rig.lb.map_backup().has_value());
  CHECK(map_changes(rig).empty());
  CHECK(rig.lb.reloads() == 0);
  CHECK(rig.lb.leftovers().empty());
  CHECK_FALSE(rig.lb.lock_held());
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->prod == Color::kBlue);
  CHECK(recorded->switch_count == 3);
  CHECK(rig.lb.executor().unmatched().empty());
}

// A rollback that worked: the map file holds its original bytes again, HAProxy runs the original
// entries and serves BLUE, nothing was reloaded or recorded, and the audit log says rolled-back.
void require_rolled_back(DeploymentRig& rig, const SwitchOutcome& outcome) {
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK(outcome.rolled_back);
  CHECK(outcome.structured.at("rollbackVerified") == true);
  CHECK(contains(outcome.text, "ROLLED BACK"));
  CHECK(rig.lb.map_text() == map_file("blue"));
  CHECK(rig.lb.running_map() == kBlueEntries);
  CHECK(rig.lb.running() == Color::kBlue);
  CHECK(rig.lb.reloads() == 0);
  CHECK(rig.lb.config_text() == haproxy_map_cfg());
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->prod == Color::kBlue);
  CHECK(recorded->switch_count == 3);
  CHECK(recorded->generation == 7);
  const auto audit = rig.lb.audit_lines();
  REQUIRE_FALSE(audit.empty());
  CHECK(audit.back()["outcome"] == "rolled-back");
  CHECK(rig.lb.leftovers().empty());
  CHECK_FALSE(rig.lb.lock_held());
  CHECK(rig.lb.executor().unmatched().empty());
}

}  // namespace

// --- the simulation itself ------------------------------------------------------------------

TEST_CASE("FakeLb: HAProxy's running map on the stats socket, as HAProxy 2.6 answers", "[maps]") {
  MapRig rig;
  const std::string map = kMapPath;
  CHECK(haproxy::parse_show_map(ask_stats(rig, "show map " + map)).ok());
  CHECK(ask_stats(rig, "show map /etc/haproxy/other.map") == "Unknown map identifier. Please use #<id> or <file>.\n\n");
  CHECK(ask_stats(rig, "prepare map " + map) == "New version created: 1\n\n");
  // Entries added to a prepared version are not seen until it is committed.
  CHECK(ask_stats(rig, "add map @1 " + map + " <<\nshop green\n") == "\n");
  CHECK(rig.lb.running_map() == kBlueEntries);
  CHECK(rig.lb.running() == Color::kBlue);
  CHECK(ask_stats(rig, "commit map @1 " + map) == "\n");
  CHECK(rig.lb.running_map() == "shop green\n");  // exactly the version's entries
  CHECK(rig.lb.running() == Color::kGreen);       // the frontend follows the app's key
  CHECK(ask_stats(rig, "commit map @1 " + map) == "Version number out of range.\n\n");  // already committed
  CHECK(ask_stats(rig, "add map @5 " + map + " <<\nshop blue\n") ==
        "Version number in the future, please use 'prepare map' before.\n\n");
  CHECK(ask_stats(rig, "set map " + map + " nokey blue") == "entry not found.\n\n");
  // An empty line is a command of its own: HAProxy answers it with its help.
  CHECK(contains(ask_stats(rig, "set map " + map + " shop blue\n"), "\nUnknown command. Please enter one of"));
  CHECK(rig.lb.running() == Color::kBlue);
  // A reload loads the map from its file again, dropping what was only set at run time.
  rig.lb.set_map_text(map_file("green"));
  rig.lb.reload_by_hand();
  CHECK(rig.lb.running_map() == kGreenEntries);
  CHECK(rig.lb.running() == Color::kGreen);
  CHECK(ask_stats(rig, "prepare map " + map) == "New version created: 1\n\n");  // new workers count afresh
}

// --- status ---------------------------------------------------------------------------------

TEST_CASE("status: the live colour comes from the running map; the route is the map's line", "[maps]") {
  for (const auto live : {Color::kBlue, Color::kGreen}) {
    MapRig rig(live);
    const std::string colour(state::to_string(live));
    const auto report = deployment::gather_status(rig.services, rig.app);
    const auto json = report.to_json(rig.app);
    const auto text = report.to_text(rig.app);
    INFO(text);
    CHECK(json["liveColorKnown"] == true);
    CHECK(json["current"]["prod"]["server"] == state::to_upper_string(live));
    CHECK(json["haproxy"]["backend"] == colour);
    REQUIRE(json["haproxy"]["entryPoints"].size() == 1);
    const auto& entry = json["haproxy"]["entryPoints"][0];
    CHECK(entry["section"] == "frontend fe_app");
    CHECK(entry["serves"] == colour);
    REQUIRE(entry["routes"].size() == 1);
    CHECK(entry["routes"][0]["file"] == kMapPath);
    CHECK(entry["routes"][0]["line"] == 2);
    CHECK(entry["routes"][0]["text"] == "shop " + colour);
    CHECK(contains(text, "serves " + state::to_upper_string(live) + " via " + kMapPath + ":2 `shop " + colour + "`"));
    CHECK(json["haproxy"]["frontend"]["answeredBy"] == colour);
    CHECK(report.drift.empty());
    // Status only reads: the running map was asked, nothing was changed.
    CHECK(rig.lb.map_log() == std::vector<std::string>{"show map " + kMapPath});
    CHECK(rig.lb.locks_taken() == 0);
    CHECK(rig.lb.executor().unmatched().empty());
  }
}

TEST_CASE("status: a running map that differs from its file calls no colour live", "[maps]") {
  MapRig rig;
  SECTION("a `set map` that was not written to the file") {
    REQUIRE(rig.lb.set_running_map_entry("shop", "green") == "\n");
    const auto report = deployment::gather_status(rig.services, rig.app);
    const auto text = report.to_text(rig.app);
    INFO(text);
    CHECK_FALSE(report.lb.live.has_value());
    CHECK(report.to_json(rig.app)["liveColorKnown"] == false);
    CHECK(contains(text, "HAProxy's running map differs from its file"));
    CHECK(contains(text, kMapPath + ":2 `shop blue`: HAProxy runs `shop green`"));
    const auto plan = deployment::plan_switch(rig.services, rig.app, false);
    REQUIRE_FALSE(plan);
    CHECK(contains(plan.error().message, "running map differs from its file"));
  }
  SECTION("a running map without the app's key") {
    REQUIRE(ask_stats(rig, "prepare map " + kMapPath) == "New version created: 1\n\n");
    REQUIRE(ask_stats(rig, "add map @1 " + kMapPath + " <<\nblog fallback\n\ncommit map @1 " + kMapPath) == "\n\n");
    const auto report = deployment::gather_status(rig.services, rig.app);
    const auto text = report.to_text(rig.app);
    INFO(text);
    CHECK_FALSE(report.lb.live.has_value());
    CHECK(contains(text, kMapPath + ":2 `shop blue`: HAProxy runs no entry for shop"));
  }
  SECTION("a map file edited without `set map` or a reload") {
    rig.lb.set_map_text(map_file("green"));
    const auto report = deployment::gather_status(rig.services, rig.app);
    const auto text = report.to_text(rig.app);
    INFO(text);
    CHECK_FALSE(report.lb.live.has_value());
    CHECK(contains(text, kMapPath + ":2 `shop green`: HAProxy runs `shop blue`"));
  }
}

TEST_CASE("status: the stats socket does not answer: the running map is unknown, no colour live", "[maps]") {
  MapRig rig;
  rig.lb.faults().stats_silent = true;
  const auto report = deployment::gather_status(rig.services, rig.app);
  const auto text = report.to_text(rig.app);
  INFO(text);
  CHECK_FALSE(report.lb.live.has_value());
  CHECK(contains(text, "cannot read the running map " + kMapPath + " (show map on /run/haproxy/admin.sock)"));
  CHECK(contains(text, "no answer from /run/haproxy/admin.sock"));
}

TEST_CASE("map routing without statsSocket: no colour live, the message names statsSocket, no switch", "[maps]") {
  MapRig rig(Color::kBlue, [](nlohmann::json& app) { app["loadBalancer"].erase("statsSocket"); });
  REQUIRE_FALSE(rig.app.load_balancer.stats_socket.has_value());
  const auto report = deployment::gather_status(rig.services, rig.app);
  const auto text = report.to_text(rig.app);
  INFO(text);
  CHECK_FALSE(report.lb.live.has_value());
  CHECK(contains(text, "without loadBalancer.statsSocket"));
  CHECK(contains(text, "Configure statsSocket"));

  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE_FALSE(plan);
  CHECK(contains(plan.error().message, "statsSocket"));
  const auto outcome = run_switch(rig, blue_to_green());
  CHECK(contains(outcome.text, "statsSocket"));
  require_nothing_changed(rig, outcome, haproxy_map_cfg(), map_file("blue"), kBlueEntries);
}

// --- a map switch ---------------------------------------------------------------------------

TEST_CASE("a map switch moves the running map and the map file, with no reload", "[maps]") {
  MapRig rig;
  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  INFO((plan ? std::string() : plan.error().message));
  REQUIRE(plan);
  CHECK(plan->change.map_only());
  REQUIRE(plan->change.edits.size() == 1);
  const auto& edit = plan->change.edits.front();
  CHECK(edit.is_map);
  CHECK(edit.file == kMapPath);
  CHECK(edit.map_keys == std::vector<std::string>{"shop"});
  REQUIRE(edit.lines.size() == 1);
  CHECK(edit.lines[0].number == 2);
  CHECK(edit.lines[0].section == "map key shop");
  CHECK(edit.lines[0].now == "shop blue");
  CHECK(edit.lines[0].after == "shop green");
  CHECK(edit.after == map_file("green"));
  const auto request = deployment::approval_request_text(rig.app, *plan, "approve-x", std::chrono::minutes(5));
  INFO(request);
  CHECK(contains(request, "HAProxy: 1 line change, every route of the app:\n  map " + kMapPath));
  CHECK(contains(request, "(prepare/commit map, no reload)"));
  CHECK_FALSE(contains(request, "Reload HAProxy"));
  CHECK_FALSE(contains(request, "haproxy -c"));

  const auto outcome = run_switch(rig, plan->plan);
  INFO(outcome.text);
  REQUIRE(outcome.switched);
  CHECK(contains(outcome.structured.at("verified").get<std::string>(),
                 "HAProxy's running map " + kMapPath + " routes to GREEN (no reload)"));

  // HAProxy: not reloaded; its running map replaced by one commit, as one add+commit request.
  CHECK(rig.lb.reloads() == 0);
  CHECK(rig.lb.running_map() == kGreenEntries);
  CHECK(rig.lb.running() == Color::kGreen);
  CHECK(rig.lb.map_commits() == 1);
  CHECK(map_changes(rig) ==
        std::vector<std::string>{"prepare map " + kMapPath, "add map @1 " + kMapPath, "commit map @1 " + kMapPath});
  std::vector<std::string> requests;
  for (const auto& call : rig.lb.executor().calls()) {
    if (call.kind == CallKind::kSocket && call.request.rfind("add map", 0) == 0) requests.push_back(call.request);
  }
  CHECK(requests ==
        std::vector<std::string>{
            haproxy::add_and_commit_map_request(kMapPath, 1, {{"shop", "green"}, {"blog", "fallback"}}) + "\n"});
  // The files: the map switched (its old bytes kept as the backup), haproxy.cfg untouched, not
  // validated.
  CHECK(rig.lb.map_text() == map_file("green"));
  CHECK(rig.lb.map_backup() == map_file("blue"));
  CHECK(rig.lb.config_text() == haproxy_map_cfg());
  CHECK_FALSE(rig.lb.backup().has_value());
  CHECK(rig.lb.executor().commands("lab-lb", "haproxy -c").empty());
  CHECK(rig.lb.executor().commands("lab-lb", deployment::lb_reload_command(rig.app)).empty());
  CHECK(rig.lb.leftovers().empty());
  CHECK_FALSE(rig.lb.lock_held());
  // Recorded.
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->prod == Color::kGreen);
  CHECK(recorded->switch_count == 4);
  const auto audit = rig.lb.audit_lines();
  REQUIRE(audit.size() == 1);
  CHECK(audit[0]["outcome"] == "ok");
  const auto steps = rig.reporter.steps();
  REQUIRE(steps.size() == 6);
  CHECK(contains(steps[3], "not needed for a map"));
  CHECK(rig.lb.executor().unmatched().empty());

  // Status agrees; a later reload keeps the choice (the file says GREEN too).
  CHECK(deployment::gather_status(rig.services, rig.app).lb.live == Color::kGreen);
  rig.lb.reload_by_hand();
  CHECK(rig.lb.running() == Color::kGreen);
  CHECK(rig.lb.running_map() == kGreenEntries);

  // And back, with the version numbers of the new workers.
  const auto back = deployment::plan_switch(rig.services, rig.app, false);
  INFO((back ? std::string() : back.error().message));
  REQUIRE(back);
  const auto returned = run_switch(rig, back->plan);
  INFO(returned.text);
  REQUIRE(returned.switched);
  CHECK(rig.lb.map_text() == map_file("blue"));
  CHECK(rig.lb.running_map() == kBlueEntries);
  CHECK(rig.lb.running() == Color::kBlue);
  CHECK(rig.lb.reloads() == 1);  // only the one by hand
}

// --- failures after the map file is swapped: both put back --------------------------------

TEST_CASE("map switch: HAProxy refuses the commit: rolled back, map file and running map as before", "[maps]") {
  MapRig rig;
  rig.lb.faults().map_commit = Fault::once();
  const auto outcome = run_switch(rig, blue_to_green());
  require_rolled_back(rig, outcome);
  CHECK(contains(outcome.text, "updating HAProxy's running map failed"));
  CHECK(contains(outcome.text, "Version number out of range."));
  CHECK(rig.lb.map_commits() == 1);  // the rollback's: the refused one changed nothing
}

TEST_CASE("map switch: the running map is not what was committed: rolled back", "[maps]") {
  MapRig rig;
  rig.lb.faults().map_reverted = Fault::once();
  const auto outcome = run_switch(rig, blue_to_green());
  require_rolled_back(rig, outcome);
  CHECK(contains(outcome.text, "verification after the map change failed"));
  CHECK(contains(outcome.text, "HAProxy's running map " + kMapPath + " has shop → blue (expected green)"));
  CHECK(rig.lb.map_commits() == 2);  // the switch's and the rollback's
}

TEST_CASE("map switch: the frontend keeps answering from the old colour: rolled back", "[maps]") {
  MapRig rig;
  rig.lb.faults().map_commit_keeps_colour = Fault::once();
  const auto outcome = run_switch(rig, blue_to_green());
  require_rolled_back(rig, outcome);
  CHECK(contains(outcome.text, "verification after the map change failed"));
  CHECK(contains(outcome.text, "http://127.0.99.3:80/health"));
  CHECK(rig.lb.map_commits() == 2);
}

TEST_CASE("map switch: the stats socket does not answer the prepare: rolled back", "[maps]") {
  MapRig rig;
  // The first map request is the re-check's `show map`; the next, the switch's `prepare map`.
  rig.lb.faults().map_silent = Fault::after(1, 1);
  const auto outcome = run_switch(rig, blue_to_green());
  require_rolled_back(rig, outcome);
  CHECK(contains(outcome.text, "prepare map " + kMapPath + " failed"));
  CHECK(rig.lb.map_commits() == 1);
}

TEST_CASE("map switch: the running map cannot be put back either: reported, never called rolled back", "[maps]") {
  MapRig rig;
  rig.lb.faults().map_silent = Fault::after(1);  // every map request after the re-check's `show map`
  const auto outcome = run_switch(rig, blue_to_green());
  INFO(outcome.text);
  CHECK_FALSE(outcome.switched);
  CHECK_FALSE(outcome.rolled_back);
  CHECK(outcome.structured.at("rollbackVerified") == false);
  CHECK(contains(outcome.text, "the previous config was restored, but updating HAProxy's running map failed"));
  // The file was restored; the running map was never changed.
  CHECK(rig.lb.map_text() == map_file("blue"));
  CHECK(rig.lb.running_map() == kBlueEntries);
  CHECK(rig.lb.map_commits() == 0);
  const auto recorded = rig.lb.state();
  REQUIRE(recorded);
  CHECK(recorded->prod == Color::kBlue);
  const auto audit = rig.lb.audit_lines();
  REQUIRE_FALSE(audit.empty());
  CHECK(audit.back()["outcome"] == "rollback-failed");
}

// --- refused before anything changes --------------------------------------------------------

TEST_CASE("map switch: the new colour's backend is not defined: refused, nothing changed", "[maps]") {
  MapRig rig;
  rig.lb.start_with({{rig.lb.cfg_path(), haproxy_map_cfg(kMapPath, "shop", /*with_green=*/false)}});
  REQUIRE(rig.lb.running() == Color::kBlue);
  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  REQUIRE_FALSE(plan);
  CHECK(contains(plan.error().message, "backend `green` is not defined"));
  const auto outcome = run_switch(rig, blue_to_green());
  CHECK(contains(outcome.text, "backend `green` is not defined"));
  require_nothing_changed(rig, outcome, haproxy_map_cfg(kMapPath, "shop", false), map_file("blue"), kBlueEntries);
  CHECK(rig.lb.audit_lines().back()["outcome"] == "refused");
}

// A map entry naming a backend the config does not define: HAProxy sends the app's requests to the
// default backend (checked on HAProxy 2.6: `shop nosuch` is answered by `fallback`), so neither
// colour is live.
TEST_CASE("map entry naming a backend that is not defined: HAProxy serves its default, no colour live", "[maps]") {
  MapRig rig;
  // The map names green, which this config does not define: HAProxy's lookup falls to fallback.
  rig.lb.start_with(
      {{rig.lb.cfg_path(), haproxy_map_cfg(kMapPath, "shop", /*with_green=*/false)}, {kMapPath, map_file("green")}});
  const auto report = deployment::gather_status(rig.services, rig.app);
  const auto text = report.to_text(rig.app);
  INFO(text);
  CHECK_FALSE(report.lb.live.has_value());
  CHECK(contains(text, "green"));
  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  CHECK_FALSE(plan);
}

TEST_CASE("map switch: routes in a map and in the config at once: both files change, one reload", "[maps]") {
  MapRig rig;
  std::string cfg = haproxy_map_cfg();
  cfg.insert(cfg.find("\nbackend blue") + 1, "frontend fe_alt\n    bind 127.0.99.3:81\n    default_backend blue\n\n");
  rig.lb.start_with({{rig.lb.cfg_path(), cfg}});
  const auto report = deployment::gather_status(rig.services, rig.app);
  INFO(report.to_text(rig.app));
  CHECK(report.lb.live == Color::kBlue);
  CHECK(report.to_json(rig.app)["haproxy"]["entryPoints"].size() == 2);

  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  INFO((plan ? std::string() : plan.error().message));
  REQUIRE(plan);
  REQUIRE(plan->change.edits.size() == 2);
  CHECK(plan->change.edits[0].file == rig.lb.cfg_path());
  CHECK(plan->change.edits[1].file == kMapPath);
  CHECK_FALSE(plan->change.map_only());  // a config file changes: one reload, which loads the map file too
  const int reloads = rig.lb.reloads();
  const auto outcome = run_switch(rig, plan->plan);
  INFO(outcome.text);
  REQUIRE(outcome.switched);
  CHECK(rig.lb.reloads() == reloads + 1);
  CHECK(rig.lb.map_text() == map_file("green"));
  CHECK(rig.lb.running_map() == kGreenEntries);
  CHECK(contains(rig.lb.config_text(), "    default_backend green\n"));
}

// --- an interrupted map switch ------------------------------------------------------------

// The recovery puts the map file's backup back and reloads HAProxy (which loads the map from the
// file), then verifies the map routes to BLUE before the switch itself.
TEST_CASE("an interrupted map switch is rolled back by the next switch, which then switches", "[maps]") {
  MapRig rig;
  // As a server killed after the map file was swapped and before the commit leaves the LB: the
  // file says GREEN, its backup BLUE, HAProxy's running map still BLUE, the record there.
  deployment::Activity activity;
  activity.kind = deployment::ActivityKind::kSwitch;
  activity.app = "shop";
  activity.client = "killed-client";
  activity.since = "2026-11-30T12:00:00.000Z";
  activity.server_pid = 4242;
  activity.step = "validating the new HAProxy config and switching it in";
  activity.from = Color::kBlue;
  activity.color = Color::kGreen;
  activity.generation = 7;
  activity.reloads_before = 0;
  activity.config_files = {kMapPath};
  rig.lb.set_activity(activity);
  rig.lb.executor().set_file("lab-lb", deployment::backup_path(kMapPath), map_file("blue"));
  rig.lb.advance_clock(30);
  rig.lb.set_map_text(map_file("green"));

  const auto status = deployment::gather_status(rig.services, rig.app);
  INFO(status.to_text(rig.app));
  CHECK_FALSE(status.lb.live.has_value());
  CHECK(status.to_json(rig.app).at("activity").at("interrupted") == true);

  const auto plan = deployment::plan_switch(rig.services, rig.app, false);
  INFO((plan ? std::string() : plan.error().message));
  REQUIRE(plan);
  REQUIRE(plan->interrupted);
  const auto outcome = run_switch(rig, plan->plan);
  INFO(outcome.text);
  REQUIRE(outcome.switched);
  CHECK(contains(outcome.text, "Before the switch, the interrupted switch"));
  CHECK(rig.lb.map_text() == map_file("green"));
  CHECK(rig.lb.running_map() == kGreenEntries);
  CHECK(rig.lb.running() == Color::kGreen);
  CHECK_FALSE(rig.lb.activity_text().has_value());
}
