// StateStore's remote scripts run for real by /bin/sh against a scratch directory: the lock, the
// owner record, the state file (prepare, commit), the audit log. Each file is planted as a
// symbolic link to a victim file, which must stay unchanged while the store refuses and says so;
// and temp files of interrupted writes are removed by the next write.
#include "state/state_store.h"
#include "tests/support/scripted_executor.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `command` with /bin/sh in `dir`, stdin from /dev/null (so the lock's `cat` ends at once).
remote::CommandResult run_local(const fs::path& dir, const std::string& command) {
  static int runs = 0;
  const fs::path base = dir / ("cmd-" + std::to_string(++runs));
  std::ofstream(base.string() + ".sh") << command;
  const std::string line =
      "/bin/sh " + base.string() + ".sh < /dev/null > " + base.string() + ".out 2> " + base.string() + ".err";
  const int status = std::system(line.c_str());  // NOLINT(cert-env33-c): the test runs its own script
  remote::CommandResult result;
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  result.out.tail = slurp(base.string() + ".out");
  result.err.tail = slurp(base.string() + ".err");
  for (const auto* ext : {".sh", ".out", ".err"}) fs::remove(base.string() + ext);
  return result;
}

class AliveProcess final : public remote::HeldProcess {
 public:
  bool alive() override { return true; }
};

// A scratch "load balancer": the store's files in dir/lb, a victim file in dir, commands run by
// /bin/sh. The lock command runs to completion (its `cat` reads /dev/null); it counts as held
// when it printed the ready marker, as SshExecutor's hold() does.
struct ScratchStore {
  fs::path dir;
  fs::path lb;
  testing_support::ScriptedExecutor executor;
  state::StoreLocation location;
  fs::path victim;
  const std::string victim_text = "victim: must never be written\n";

  ScratchStore() {
    static int n = 0;
    dir = fs::temp_directory_path() / ("state-store-files-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    lb = dir / "lb dir";  // a space: every path must survive quoting
    fs::create_directories(lb);
    victim = dir / "victim.txt";
    std::ofstream(victim) << victim_text;
    location = {"shop", "lab-lb", (lb / "shop.json").string(), (lb / "shop.json.lock").string(),
                (lb / "audit.log").string()};
    executor.on_match([](const std::string&, const std::string&) { return true; },
                      [this](const std::string&, const std::string& command) { return run_local(dir, command); });
    executor.on_hold([this](const std::string&,
                            const std::string& command) -> bluegreen::Result<std::unique_ptr<remote::HeldProcess>> {
      const auto ran = run_local(dir, command);
      if (ran.out.tail.find("BLUEGREEN-LOCKED") != std::string::npos)
        return std::unique_ptr<remote::HeldProcess>(std::make_unique<AliveProcess>());
      return bluegreen::Error{"exited with status " + std::to_string(ran.exit_status.value_or(-1)) +
                                  " before it was ready; stderr: " + ran.err.tail,
                              ErrorCode::kFailedPrecondition, ran.exit_status.value_or(-1)};
    });
  }
  ~ScratchStore() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  ScratchStore(const ScratchStore&) = delete;
  ScratchStore& operator=(const ScratchStore&) = delete;

  [[nodiscard]] state::StateStore store() { return state::StateStore(executor, location); }
  void plant_link(const std::string& at) const { fs::create_symlink(victim, at); }
  [[nodiscard]] bool victim_untouched() const { return slurp(victim) == victim_text; }
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(lb)) out.push_back(entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

state::DeploymentState first_state() {
  state::DeploymentState next;
  next.prod = state::Color::kBlue;
  next.generation = 1;
  return next;
}

std::string refusal(const std::string& path, const fs::path& victim) {
  return "REFUSED: " + path + " is a symbolic link to " + victim.string();
}

}  // namespace

TEST_CASE("store files: lock, owner record, state write and audit on a clean directory", "[state][files]") {
  ScratchStore scratch;
  auto store = scratch.store();
  auto lock = store.lock("alice", "switch to GREEN", std::chrono::seconds(1), {});
  REQUIRE(lock);
  CHECK_THAT(slurp(scratch.location.lock_file + ".owner"), Catch::Contains("\"client\":\"alice\""));
  REQUIRE(store.write(**lock, first_state(), 0));
  REQUIRE(store.audit({"switch", "alice", "ok", {}}));
  CHECK_THAT(slurp(scratch.location.audit_log), Catch::Contains("\"outcome\":\"ok\""));
  REQUIRE(store.audit({"switch", "alice", "refused", {}}));  // appended, not replaced
  CHECK_THAT(slurp(scratch.location.audit_log), Catch::Contains("\"outcome\":\"ok\""));
  const auto read = store.read();
  REQUIRE(read);
  REQUIRE(read->has_value());
  CHECK((*read)->generation == 1);
  // The state file has the mode a plain `>` gives (0666 & ~umask), not mktemp's 0600.
  const auto mask = ::umask(0);
  ::umask(mask);
  CHECK(static_cast<unsigned>(fs::status(scratch.location.state_file).permissions()) == (0666U & ~mask));
  CHECK(scratch.names() ==
        std::vector<std::string>{"audit.log", "shop.json", "shop.json.lock", "shop.json.lock.owner"});
}

TEST_CASE("store files: every file that is a symbolic link is refused before a deploy or switch starts",
          "[state][files][symlink]") {
  ScratchStore scratch;
  const std::string name =
      GENERATE(as<std::string>{}, "shop.json.lock", "shop.json.lock.owner", "shop.json", "audit.log");
  const std::string path = (scratch.lb / name).string();
  INFO(path);
  scratch.plant_link(path);
  auto lock = scratch.store().lock("alice", "deploy", std::chrono::seconds(1), {});
  REQUIRE_FALSE(lock);
  CHECK(lock.error().code == ErrorCode::kFailedPrecondition);
  CHECK_THAT(lock.error().message, Catch::Contains(refusal(path, scratch.victim)));
  CHECK_THAT(lock.error().message, Catch::Contains("Replace the link with a regular file"));
  CHECK(scratch.victim_untouched());
  CHECK(fs::is_symlink(path));
}

TEST_CASE("store files: links planted after the lock was taken are refused where they are written",
          "[state][files][symlink]") {
  ScratchStore scratch;
  auto store = scratch.store();
  auto lock = store.lock("alice", "switch", std::chrono::seconds(1), {});
  REQUIRE(lock);

  SECTION("state file, before prepare") {
    scratch.plant_link(scratch.location.state_file);
    auto prepared = store.prepare(**lock, first_state(), 0);
    REQUIRE_FALSE(prepared);
    CHECK_THAT(prepared.error().message, Catch::Contains(refusal(scratch.location.state_file, scratch.victim)));
  }
  SECTION("state file, between prepare and commit") {
    auto prepared = store.prepare(**lock, first_state(), 0);
    REQUIRE(prepared);
    scratch.plant_link(scratch.location.state_file);
    auto committed = store.commit(**lock, *prepared);
    REQUIRE_FALSE(committed);
    CHECK_THAT(committed.error().message, Catch::Contains(refusal(scratch.location.state_file, scratch.victim)));
    CHECK(fs::is_symlink(scratch.location.state_file));
  }
  SECTION("audit log") {
    scratch.plant_link(scratch.location.audit_log);
    auto audited = store.audit({"switch", "alice", "ok", {}});
    REQUIRE_FALSE(audited);
    CHECK_THAT(audited.error().message, Catch::Contains(refusal(scratch.location.audit_log, scratch.victim)));
  }
  CHECK(scratch.victim_untouched());
}

TEST_CASE("store files: the audit append never follows a link, even one the check did not see", "[state][files]") {
  // The append itself uses O_NOFOLLOW (dd oflag=nofollow): without the check in front it fails
  // with ELOOP instead of writing into the target.
  ScratchStore scratch;
  scratch.plant_link(scratch.location.audit_log);
  const auto ran = run_local(scratch.dir, "printf 'x\\n' | dd of='" + scratch.location.audit_log +
                                              "' bs=1M iflag=fullblock oflag=append,nofollow conv=notrunc status=none");
  CHECK(ran.exit_status != 0);
  CHECK(scratch.victim_untouched());
}

TEST_CASE("store files: temp files of interrupted writes are removed by the next write, unrelated files kept",
          "[state][files][leftovers]") {
  ScratchStore scratch;
  const std::string state = scratch.location.state_file;
  for (const auto& stale : {state + ".tmp.4242.8", state + ".tmp.4243.9", state + ".tmp.Ab12Cd34Ef"}) {
    std::ofstream(stale) << "{\"prod\":";
  }
  std::ofstream(state + ".bak") << "keep";
  std::ofstream((scratch.lb / "other.json.tmp.1").string()) << "keep";
  auto store = scratch.store();
  auto lock = store.lock("alice", "deploy", std::chrono::seconds(1), {});
  REQUIRE(lock);
  REQUIRE(store.write(**lock, first_state(), 0));
  CHECK(scratch.names() == std::vector<std::string>{"other.json.tmp.1", "shop.json", "shop.json.bak", "shop.json.lock",
                                                    "shop.json.lock.owner"});
}

TEST_CASE("store files: the audit log's tail keeps whole lines within the byte cap", "[state][files][audit]") {
  ScratchStore scratch;
  auto store = scratch.store();
  const fs::path log = scratch.location.audit_log;
  const auto write_lines = [&](int count, std::size_t width) {
    std::ofstream out(log, std::ios::trunc);
    for (int i = 0; i < count; ++i) {
      std::string line = "{\"n\":" + std::to_string(i) + ",\"pad\":\"";
      line += std::string(width - line.size() - 3, 'x') + "\"}\n";
      out << line;
    }
  };
  SECTION("no log yet: empty") { CHECK(store.read_audit_tail(100, 1000).value().empty()); }
  SECTION("the last lines, oldest first") {
    write_lines(150, 40);
    const std::string tail = store.read_audit_tail(100, 100000).value();
    CHECK(std::count(tail.begin(), tail.end(), '\n') == 100);
    CHECK(tail.rfind("{\"n\":50,", 0) == 0);
  }
  SECTION("exactly the byte cap: every line kept") {
    write_lines(100, 64);  // 6,400 bytes
    const std::string tail = store.read_audit_tail(100, 6400).value();
    CHECK(std::count(tail.begin(), tail.end(), '\n') == 100);
  }
  SECTION("one byte over: the first line is dropped whole, not cut") {
    write_lines(100, 64);
    const std::string tail = store.read_audit_tail(100, 6399).value();
    CHECK(std::count(tail.begin(), tail.end(), '\n') == 99);
    CHECK(tail.rfind("{\"n\":1,", 0) == 0);
  }
  SECTION("a text that looks like the link marker inside the log is the log's text") {
    std::ofstream(log) << "{\"client\":\"BLUEGREEN-STATE-FILE-IS-A-LINK /etc/shadow\"}\n";
    CHECK(store.read_audit_tail(100, 1000).value().find("BLUEGREEN-STATE-FILE-IS-A-LINK") != std::string::npos);
  }
  SECTION("a last line longer than the cap is an error saying how to read it") {
    std::ofstream(log) << std::string(5000, 'y') << "\n";
    const auto tail = store.read_audit_tail(100, 1000);
    REQUIRE_FALSE(tail);
    CHECK_THAT(tail.error().message, Catch::Contains("is longer than 1000 bytes"));
    CHECK_THAT(tail.error().message, Catch::Contains("tail -n 1"));
  }
  SECTION("a link is refused, a directory named") {
    scratch.plant_link(log.string());
    const auto linked = store.read_audit_tail(100, 1000);
    REQUIRE_FALSE(linked);
    CHECK_THAT(linked.error().message, Catch::StartsWith(refusal(log.string(), scratch.victim)));
  }
  SECTION("a directory") {
    fs::create_directory(log);
    const auto dir = store.read_audit_tail(100, 1000);
    REQUIRE_FALSE(dir);
    CHECK_THAT(dir.error().message, Catch::Contains("is a directory"));
  }
}
