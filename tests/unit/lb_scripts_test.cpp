// The switch's scripts for the load balancer, checked with `sh -n` and then run for real by
// /bin/sh against files in a temporary directory: what each leaves behind is what the switch
// relies on.
#include "deployment/lb_scripts.h"
#include "deployment/activity_record.h"
#include "deployment/deploy.h"
#include "deployment/traffic_switch.h"
#include "remote/shell_command.h"
#include "state/state_store.h"
#include "tests/support/deployment_rig.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace fs = std::filesystem;

namespace {

struct ScriptRun {
  int exit_status = -1;
  std::string output;
};

// Runs `script` with /bin/sh; `check_only`: parse it (`sh -n`) without running it.
ScriptRun run_sh(const fs::path& dir, const std::string& script, bool check_only = false) {
  const fs::path file = dir / "script.sh";
  std::ofstream(file) << script;
  const fs::path out = dir / "script.out";
  const std::string command =
      std::string("/bin/sh ") + (check_only ? "-n " : "") + file.string() + " > " + out.string() + " 2>&1";
  const int status = std::system(command.c_str());  // NOLINT(cert-env33-c): the test runs its own script
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ScratchLb {
  fs::path dir;
  config::AppConfig app;

  ScratchLb() {
    dir = fs::temp_directory_path() / ("lb-scripts-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::create_directories(dir);
    // Paths with a space and a quote: every value must survive quoting.
    app.load_balancer.haproxy_config = (dir / "hap'roxy conf.cfg").string();
    // Stands in for `haproxy -c -f {config}`: valid when the file names a backend.
    app.load_balancer.validate_command = "grep -q default_backend {config} || { echo 'no backend in config'; exit 1; }";
    std::ofstream(app.load_balancer.haproxy_config) << "frontend fe\n  default_backend blue\n";
  }
  ~ScratchLb() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  ScratchLb(const ScratchLb&) = delete;
  ScratchLb& operator=(const ScratchLb&) = delete;

  static int& counter() {
    static int n = 0;
    return n;
  }
  [[nodiscard]] std::string live() const { return read(app.load_balancer.haproxy_config); }
};

}  // namespace

TEST_CASE("every LB script parses with sh -n", "[deployment][scripts]") {
  ScratchLb lb;
  for (const auto& script : {deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {},
                                                                   "frontend fe\n  default_backend green\n"),
                             deployment::swap_config_script(lb.app, lb.app.load_balancer.haproxy_config, lb.live()),
                             deployment::restore_config_script(lb.app, lb.app.load_balancer.haproxy_config),
                             deployment::remove_candidate_script(lb.app.load_balancer.haproxy_config)}) {
    const auto parsed = run_sh(lb.dir, script, true);
    INFO(script << "\n" << parsed.output);
    CHECK(parsed.exit_status == 0);
  }
}

TEST_CASE("a valid candidate is staged, swapped in with a backup, and restored", "[deployment][scripts]") {
  ScratchLb lb;
  const std::string before = lb.live();
  const std::string after = "frontend fe\n  default_backend green\n";

  const auto validated =
      run_sh(lb.dir, deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {}, after));
  INFO(validated.output);
  REQUIRE(validated.exit_status == 0);
  CHECK(read(deployment::candidate_path(lb.app)) == after);
  CHECK(lb.live() == before);  // validation never touches the live file

  const auto swapped =
      run_sh(lb.dir, deployment::swap_config_script(lb.app, lb.app.load_balancer.haproxy_config, before));
  INFO(swapped.output);
  REQUIRE(swapped.exit_status == 0);
  CHECK(lb.live() == after);
  CHECK(read(deployment::backup_path(lb.app)) == before);
  CHECK_FALSE(fs::exists(deployment::candidate_path(lb.app)));

  const auto restored = run_sh(lb.dir, deployment::restore_config_script(lb.app, lb.app.load_balancer.haproxy_config));
  INFO(restored.output);
  REQUIRE(restored.exit_status == 0);
  CHECK(lb.live() == before);
  CHECK_FALSE(fs::exists(lb.app.load_balancer.haproxy_config + ".bluegreen-restore"));
}

TEST_CASE("an invalid candidate is reported with the validator's output and removed", "[deployment][scripts]") {
  ScratchLb lb;
  const std::string before = lb.live();
  const auto validated =
      run_sh(lb.dir,
             deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {}, "frontend fe\n"));
  CHECK(validated.exit_status == deployment::kCandidateInvalidExit);
  CHECK_THAT(validated.output, Catch::Contains("no backend in config"));
  CHECK_FALSE(fs::exists(deployment::candidate_path(lb.app)));
  CHECK(lb.live() == before);
}

TEST_CASE("the swap refuses when the live config changed since the plan", "[deployment][scripts]") {
  ScratchLb lb;
  const std::string planned_from = lb.live();
  REQUIRE(run_sh(lb.dir, deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {},
                                                               "frontend fe\n  default_backend green\n"))
              .exit_status == 0);
  std::ofstream(lb.app.load_balancer.haproxy_config) << "frontend fe\n  default_backend blue # edited by hand\n";
  const std::string edited = lb.live();

  const auto swapped =
      run_sh(lb.dir, deployment::swap_config_script(lb.app, lb.app.load_balancer.haproxy_config, planned_from));
  CHECK(swapped.exit_status == deployment::kLiveConfigChangedExit);
  CHECK(lb.live() == edited);
  CHECK_FALSE(fs::exists(deployment::candidate_path(lb.app)));
  CHECK_FALSE(fs::exists(deployment::backup_path(lb.app)));
}

TEST_CASE("restoring without a backup fails and leaves the live config as it is", "[deployment][scripts]") {
  ScratchLb lb;
  const std::string before = lb.live();
  const auto restored = run_sh(lb.dir, deployment::restore_config_script(lb.app, lb.app.load_balancer.haproxy_config));
  CHECK(restored.exit_status != 0);
  CHECK(lb.live() == before);
}

TEST_CASE("removing the candidate is harmless when there is none", "[deployment][scripts]") {
  ScratchLb lb;
  CHECK(run_sh(lb.dir, deployment::remove_candidate_script(lb.app.load_balancer.haproxy_config)).exit_status == 0);
}

// Every command line the switch, its rollback and a deploy send (scripts, lock, state file, audit
// log), as recorded by the simulated load balancer, parses with `sh -n`.
TEST_CASE("every command a switch, a rollback and a deploy send parses with sh -n", "[deployment][scripts]") {
  ScratchLb scratch;
  std::vector<testing_support::Call> calls;
  {
    testing_support::DeploymentRig rig;
    REQUIRE(deployment::execute_switch(rig.services, rig.app,
                                       rig.bound(deployment::SwitchPlan{"shop", state::Color::kBlue,
                                                                        state::Color::kGreen, 7, false, ""}),
                                       "sh-n", rig.reporter, {})
                .switched);
    REQUIRE(deployment::deploy_to_standby(rig.services, rig.app, {}, "sh-n", rig.reporter, {}).ok);
    rig.lb.faults().reload = testing_support::Fault::once();  // the way back: restore, reload, verify
    REQUIRE(deployment::execute_switch(rig.services, rig.app,
                                       rig.bound(deployment::SwitchPlan{"shop", state::Color::kGreen,
                                                                        state::Color::kBlue, 9, false, ""}),
                                       "sh-n", rig.reporter, {})
                .rolled_back);
    calls = rig.lb.executor().calls();
  }
  int checked = 0;
  for (const auto& call : calls) {
    if (call.kind != testing_support::CallKind::kRun && call.kind != testing_support::CallKind::kHold) continue;
    const auto parsed = run_sh(scratch.dir, call.command, true);
    INFO(call.command << "\n" << parsed.output);
    CHECK(parsed.exit_status == 0);
    ++checked;
  }
  CHECK(checked >= 15);
}

// --- Symbolic links and leftovers (issue 19, part 6) ----------------------------------------------

namespace {

// A file outside the LB's directories that a planted link points to: it must never change.
struct Victim {
  fs::path path;
  std::string content = "victim: must never be written\n";
  explicit Victim(const fs::path& dir) : path(dir / "victim.txt") { std::ofstream(path) << content; }
  [[nodiscard]] bool untouched() const { return read(path) == content; }
};

}  // namespace

TEST_CASE("a live config that is a symbolic link is refused, neither replaced nor written through",
          "[deployment][scripts][symlink]") {
  ScratchLb lb;
  const fs::path managed = lb.dir / "managed-haproxy.cfg";
  fs::rename(lb.app.load_balancer.haproxy_config, managed);
  fs::create_symlink(managed, lb.app.load_balancer.haproxy_config);
  const std::string before = read(managed);

  for (const auto& script : {deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {},
                                                                   "frontend fe\n  default_backend green\n"),
                             deployment::swap_config_script(lb.app, lb.app.load_balancer.haproxy_config, before),
                             deployment::restore_config_script(lb.app, lb.app.load_balancer.haproxy_config)}) {
    const auto ran = run_sh(lb.dir, script);
    INFO(ran.output);
    CHECK(ran.exit_status == state::kSymlinkRefusedExit);
    CHECK_THAT(ran.output, Catch::Contains("REFUSED: " + lb.app.load_balancer.haproxy_config +
                                           " is a symbolic link to " + managed.string()));
    CHECK_THAT(ran.output, Catch::Contains("loadBalancer.haproxyConfig"));
    CHECK(fs::is_symlink(lb.app.load_balancer.haproxy_config));
    CHECK(read(managed) == before);
    CHECK_FALSE(fs::exists(deployment::candidate_path(lb.app)));
    CHECK_FALSE(fs::exists(deployment::backup_path(lb.app)));
  }
}

TEST_CASE("a candidate or backup that is a symbolic link is refused and its target untouched",
          "[deployment][scripts][symlink]") {
  ScratchLb lb;
  Victim victim(lb.dir);
  const std::string before = lb.live();
  const std::string next = "frontend fe\n  default_backend green\n";

  SECTION("candidate, at validation") {
    fs::create_symlink(victim.path, deployment::candidate_path(lb.app));
    const auto ran =
        run_sh(lb.dir, deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {}, next));
    CHECK(ran.exit_status == state::kSymlinkRefusedExit);
    CHECK_THAT(ran.output, Catch::Contains("REFUSED: " + deployment::candidate_path(lb.app) +
                                           " is a symbolic link to " + victim.path.string()));
  }
  SECTION("candidate, planted between validation and swap") {
    REQUIRE(run_sh(lb.dir, deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {}, next))
                .exit_status == 0);
    fs::remove(deployment::candidate_path(lb.app));
    fs::create_symlink(victim.path, deployment::candidate_path(lb.app));
    CHECK(run_sh(lb.dir, deployment::swap_config_script(lb.app, lb.app.load_balancer.haproxy_config, before))
              .exit_status == state::kSymlinkRefusedExit);
  }
  SECTION("backup, at validation") {
    fs::create_symlink(victim.path, deployment::backup_path(lb.app));
    CHECK(run_sh(lb.dir, deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {}, next))
              .exit_status == state::kSymlinkRefusedExit);
  }
  SECTION("backup, planted between validation and swap") {
    REQUIRE(run_sh(lb.dir, deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {}, next))
                .exit_status == 0);
    fs::create_symlink(victim.path, deployment::backup_path(lb.app));
    const auto ran =
        run_sh(lb.dir, deployment::swap_config_script(lb.app, lb.app.load_balancer.haproxy_config, before));
    CHECK(ran.exit_status == state::kSymlinkRefusedExit);
    CHECK_THAT(ran.output, Catch::Contains("REFUSED: " + deployment::backup_path(lb.app)));
  }
  SECTION("backup, at restore (its target would become the live config)") {
    fs::create_symlink(victim.path, deployment::backup_path(lb.app));
    CHECK(run_sh(lb.dir, deployment::restore_config_script(lb.app, lb.app.load_balancer.haproxy_config)).exit_status ==
          state::kSymlinkRefusedExit);
  }
  CHECK(victim.untouched());
  CHECK(lb.live() == before);
  CHECK(fs::is_regular_file(fs::symlink_status(lb.app.load_balancer.haproxy_config)));
}

TEST_CASE("validation removes temp files of interrupted switches, and only those", "[deployment][scripts][leftovers]") {
  ScratchLb lb;
  const std::string& cfg = lb.app.load_balancer.haproxy_config;
  const std::vector<std::string> stale{deployment::candidate_path(lb.app) + ".tmp.Ab12Cd34Ef",
                                       deployment::backup_path(lb.app) + ".tmp.Zz99Yy88Xx", cfg + ".bluegreen-restore",
                                       cfg + ".bluegreen-restore.Qq77Ww66Ee"};
  const std::vector<std::string> kept{cfg + ".orig", cfg + ".bluegreen-backupX", deployment::backup_path(lb.app)};
  for (const auto& path : stale) std::ofstream(path) << "stale";
  for (const auto& path : kept) std::ofstream(path) << "keep";
  REQUIRE(run_sh(lb.dir, deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {},
                                                               "frontend fe\n  default_backend green\n"))
              .exit_status == 0);
  for (const auto& path : stale) CHECK_FALSE(fs::exists(path));
  for (const auto& path : kept) CHECK(read(path) == "keep");
  // The candidate is a regular file with the mode a plain `>` gives (0666 & ~umask), not mktemp's 0600.
  const auto mask = ::umask(0);
  ::umask(mask);
  CHECK(fs::is_regular_file(fs::symlink_status(deployment::candidate_path(lb.app))));
  CHECK(static_cast<unsigned>(fs::status(deployment::candidate_path(lb.app)).permissions()) == (0666U & ~mask));
}

TEST_CASE("an empty backup is replaced by a swap and never restored", "[deployment][scripts][leftovers]") {
  ScratchLb lb;
  const std::string before = lb.live();
  std::ofstream(deployment::backup_path(lb.app)).close();  // a 0-byte backup, e.g. from a full disk
  SECTION("restore refuses it") {
    const auto restored =
        run_sh(lb.dir, deployment::restore_config_script(lb.app, lb.app.load_balancer.haproxy_config));
    CHECK(restored.exit_status != 0);
    CHECK_THAT(restored.output, Catch::Contains("is missing or empty, so it was not restored"));
    CHECK(lb.live() == before);
  }
  SECTION("a swap writes a complete backup over it") {
    REQUIRE(run_sh(lb.dir, deployment::validate_candidate_script(lb.app, lb.app.load_balancer.haproxy_config, {},
                                                                 "frontend fe\n  default_backend green\n"))
                .exit_status == 0);
    REQUIRE(run_sh(lb.dir, deployment::swap_config_script(lb.app, lb.app.load_balancer.haproxy_config, before))
                .exit_status == 0);
    CHECK(read(deployment::backup_path(lb.app)) == before);
  }
  for (const auto& entry : fs::directory_iterator(lb.dir)) {
    CHECK(entry.path().string().find(".tmp.") == std::string::npos);
  }
}

TEST_CASE("the activity record is written, replaced and removed; a link in its place is refused, and whether "
          "the lock is held is told without taking it",
          "[deployment][scripts][activity]") {
  ScratchLb lb;
  lb.app.load_balancer.lock_file = (lb.dir / "shop's.lock").string();
  deployment::Activity activity;
  activity.kind = deployment::ActivityKind::kDeploy;
  activity.app = "shop";
  activity.client = "it's me";
  activity.since = "2026-11-30T12:00:00.000Z";
  activity.color = state::Color::kGreen;
  activity.ref = "main";
  activity.step = "step 1/3: pull";
  const auto path = deployment::activity_path(lb.app);

  auto ran = run_sh(lb.dir, deployment::write_activity_script(lb.app, activity));
  INFO(ran.output);
  REQUIRE(ran.exit_status == 0);
  auto parsed = deployment::parse_activity(read(path));
  REQUIRE(parsed.ok());
  CHECK(parsed->client == "it's me");
  CHECK(parsed->step == "step 1/3: pull");
  activity.step = "step 2/3: build";
  REQUIRE(run_sh(lb.dir, deployment::write_activity_script(lb.app, activity)).exit_status == 0);
  CHECK(deployment::parse_activity(read(path))->step == "step 2/3: build");
  for (const auto& entry : fs::directory_iterator(lb.dir)) {
    CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);  // no temp file left
  }

  // The lock: no file, free, held by another process.
  CHECK(run_sh(lb.dir, deployment::lock_held_script(lb.app)).exit_status == deployment::kLockFreeExit);
  std::ofstream(lb.app.load_balancer.lock_file) << "";
  CHECK(run_sh(lb.dir, deployment::lock_held_script(lb.app)).exit_status == deployment::kLockFreeExit);
  const std::string holder = "flock -x " + remote::shell_quote(lb.app.load_balancer.lock_file) + " sleep 3 &";
  REQUIRE(std::system(holder.c_str()) == 0);  // NOLINT(cert-env33-c): the test's own command
  bool seen_held = false;
  for (int i = 0; i < 50 && !seen_held; ++i) {
    seen_held = run_sh(lb.dir, deployment::lock_held_script(lb.app)).exit_status == deployment::kLockHeldExit;
    if (!seen_held) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(seen_held);

  REQUIRE(run_sh(lb.dir, deployment::remove_activity_script(lb.app)).exit_status == 0);
  CHECK_FALSE(fs::exists(path));
  // Without a record the lock is not asked about (no flock process), even while it is held.
  CHECK(run_sh(lb.dir, deployment::lock_held_script(lb.app)).exit_status == deployment::kLockFreeExit);
  REQUIRE(run_sh(lb.dir, deployment::write_activity_script(lb.app, activity)).exit_status == 0);
  CHECK(run_sh(lb.dir, deployment::lock_held_script(lb.app)).exit_status == deployment::kLockHeldExit);
  REQUIRE(run_sh(lb.dir, deployment::remove_activity_script(lb.app)).exit_status == 0);

  const fs::path victim = lb.dir / "victim";
  std::ofstream(victim) << "precious\n";
  fs::create_symlink(victim, path);
  ran = run_sh(lb.dir, deployment::write_activity_script(lb.app, activity));
  CHECK(ran.exit_status == state::kSymlinkRefusedExit);
  CHECK(read(victim) == "precious\n");
  CHECK(fs::is_symlink(path));
}

TEST_CASE("nginx: candidate, backup and restore copy are dot files nginx's `include dir/*` never loads",
          "[deployment][scripts][nginx]") {
  ScratchLb lb;
  lb.app.load_balancer.type = config::LbType::kNginx;
  const std::string site = (lb.dir / "app.conf").string();
  CHECK(deployment::candidate_path(lb.app, site) == (lb.dir / ".app.conf.bluegreen-candidate").string());
  CHECK(deployment::backup_path(lb.app, site) == (lb.dir / ".app.conf.bluegreen-backup").string());
  CHECK(deployment::restore_temp_path(lb.app, "/etc/nginx/.hidden.conf") ==
        "/etc/nginx/.hidden.conf.bluegreen-restore");
  // HAProxy keeps its names (interrupted switches of earlier versions are found by them).
  CHECK(deployment::backup_path(config::AppConfig{}, site) == site + ".bluegreen-backup");

  const std::string before = "server { proxy_pass http://blue; }\n";
  const std::string after = "server { proxy_pass http://green; }\n";
  std::ofstream(site) << before;
  // Stands in for nginx -t: the validate command (not run here, see below) is replaced.
  const auto staged = run_sh(lb.dir, deployment::write_candidate_script(lb.app, site, after, ":"));
  REQUIRE(staged.exit_status == 0);
  CHECK(read(deployment::candidate_path(lb.app, site)) == after);
  REQUIRE(run_sh(lb.dir, deployment::swap_config_script(lb.app, site, before)).exit_status == 0);
  CHECK(read(site) == after);
  CHECK(read(deployment::backup_path(lb.app, site)) == before);
  REQUIRE(run_sh(lb.dir, deployment::restore_config_script(lb.app, site)).exit_status == 0);
  CHECK(read(site) == before);
  for (const auto& entry : fs::directory_iterator(lb.dir)) {
    const auto name = entry.path().filename().string();
    const bool scratch = name == "hap'roxy conf.cfg" || name == "script.sh" || name == "script.out";
    CHECK((name == "app.conf" || scratch || name.front() == '.'));
  }
}

TEST_CASE("nginx: validation is nginx -t in a private mount namespace with each candidate bind-mounted",
          "[deployment][scripts][nginx]") {
  config::AppConfig app;
  app.load_balancer.type = config::LbType::kNginx;
  app.load_balancer.nginx_config = "/etc/nginx/nginx.conf";
  app.load_balancer.validate_command = "nginx -t -q -c {config}";
  const auto command =
      deployment::validate_command_for(app, {"/etc/nginx/nginx.conf", "/etc/nginx/sites-enabled/app.conf"},
                                       {{"/etc/nginx/sites-enabled/app.conf",
                                         "/etc/nginx/sites-enabled/.app.conf.bluegreen-candidate"}});
  // nginx -t creates a missing pid file (empty): the guard removes what it made.
  CHECK_THAT(command, Catch::StartsWith("pidf='/run/nginx.pid'; [ -s \"$pidf\" ] || nopid=1; "));
  CHECK_THAT(command, Catch::Contains("unshare --mount --propagation private sh -c 'mount --bind "
                                      "'\\''/etc/nginx/sites-enabled/.app.conf.bluegreen-candidate'\\'' "
                                      "'\\''/etc/nginx/sites-enabled/app.conf'\\'' "
                                      "&& { nginx -t -q -c '\\''/etc/nginx/nginx.conf'\\''; }'"));
  CHECK(run_sh(fs::temp_directory_path(), "sh -n -c " + remote::shell_quote(command)).exit_status == 0);
}
