// End-to-end tests of the remote layer against the lab's real sshd and HTTP apps.
#include "tests/support/lab_env.h"
#include "remote/http_probe.h"
#include "remote/shell_command.h"
#include "remote/ssh_executor.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using remote::CommandOptions;

namespace {

const labenv::Lab& lab() {
  static const labenv::Lab instance;
  return instance;
}

remote::SshSettings lab_settings() {
  remote::SshSettings settings;
  settings.config_file = "/dev/null";  // direct destinations: nothing from any ssh config
  settings.known_hosts_file = lab().known_hosts;
  settings.identity_files = {lab().key};
  settings.connect_timeout = 5s;
  return settings;
}

CommandOptions with_deadline(std::chrono::milliseconds deadline) {
  CommandOptions options;
  options.deadline = deadline;
  return options;
}

remote::CommandResult run_ok(remote::Executor& executor, const std::string& host, const std::string& command,
                             CommandOptions options = with_deadline(10s)) {
  auto result = executor.run(host, command, options);
  INFO("host " << host << " command: " << command << (result.ok() ? "" : " error: " + result.error().message));
  REQUIRE(result.ok());
  return std::move(result.value());
}

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("bluegreen-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("commands run on the right host: the hosts' filesystems differ", "[e2e][ssh]") {
  remote::SshExecutor executor(lab_settings());
  const auto marker = "/srv/app-env/e2e-marker-" + std::to_string(::getpid());
  run_ok(executor, lab().blue(), "echo blue-was-here > " + remote::shell_quote(marker));
  CHECK(run_ok(executor, lab().blue(), "cat " + remote::shell_quote(marker)).out.tail == "blue-was-here\n");
  const auto on_green = run_ok(executor, lab().green(), "test -e " + remote::shell_quote(marker));
  CHECK(on_green.exit_status == 1);  // same path, other host: not there
  run_ok(executor, lab().blue(), "rm -f " + remote::shell_quote(marker));
  const std::string color = "sed -n 's/^APP_COLOR=//p' /srv/app-env/app.env";
  CHECK(run_ok(executor, lab().blue(), color).out.tail == "blue\n");
  CHECK(run_ok(executor, lab().green(), color).out.tail == "green\n");
}

TEST_CASE("exit status and both output streams come back", "[e2e][ssh]") {
  remote::SshExecutor executor(lab_settings());
  const auto result = run_ok(executor, lab().blue(), "echo to-out; echo to-err >&2; exit 3");
  CHECK(result.exit_status == 3);
  CHECK_FALSE(result.succeeded());
  CHECK(result.out.tail == "to-out\n");
  CHECK(result.err.tail == "to-err\n");
  CHECK_FALSE(result.timed_out);
  CHECK(result.summary().rfind("exit 3 in ", 0) == 0);
  CHECK(run_ok(executor, lab().blue(), "true").succeeded());
}

TEST_CASE("unknown and changed host keys are refused and nothing runs", "[e2e][ssh][hostkey]") {
  const auto dir = temp_dir();
  const auto marker = "/tmp/bluegreen-e2e-hostkey-" + std::to_string(::getpid());
  remote::SshExecutor trusted(lab_settings());

  SECTION("unknown: an empty known_hosts file") {
    std::ofstream(dir / "known_hosts").close();
    auto settings = lab_settings();
    settings.known_hosts_file = (dir / "known_hosts").string();
    remote::SshExecutor executor(settings);
    const auto result = executor.run(lab().blue(), "touch " + marker, with_deadline(10s));
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error().message, Catch::Contains("REFUSED") && Catch::Contains("not known") &&
                                           Catch::Contains("SHA256:") && Catch::Contains(lab().blue_addr) &&
                                           Catch::Contains("ssh-keyscan"));
  }
  SECTION("changed: known_hosts holds another key for the address") {
    REQUIRE(std::system(("ssh-keygen -q -t ed25519 -N '' -f " + (dir / "impostor").string()).c_str()) == 0);
    std::ofstream(dir / "known_hosts") << "[" << lab().blue_addr << "]:" << lab().ssh_port << " "
                                       << read_file(dir / "impostor.pub");
    auto settings = lab_settings();
    settings.known_hosts_file = (dir / "known_hosts").string();
    remote::SshExecutor executor(settings);
    const auto result = executor.run(lab().blue(), "touch " + marker, with_deadline(10s));
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error().message,
               Catch::Contains("REFUSED") && Catch::Contains("does not match") && Catch::Contains("SHA256:"));
  }
  SECTION("an ssh config with StrictHostKeyChecking no does not weaken verification") {
    std::ofstream(dir / "known_hosts").close();
    std::ofstream(dir / "ssh_config") << "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n";
    auto settings = lab_settings();
    settings.config_file = (dir / "ssh_config").string();
    settings.known_hosts_file = (dir / "known_hosts").string();
    remote::SshExecutor executor(settings);
    const auto result = executor.run(lab().blue(), "touch " + marker, with_deadline(10s));
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error().message, Catch::Contains("REFUSED"));
  }
  CHECK(run_ok(trusted, lab().blue(), "test -e " + marker).exit_status == 1);  // nothing ran
  std::filesystem::remove_all(dir);
}

TEST_CASE("host aliases from the ssh config work", "[e2e][ssh]") {
  remote::SshSettings settings;
  settings.config_file = lab().ssh_config;  // HostName, Port, User, IdentityFile, UserKnownHostsFile
  remote::SshExecutor executor(settings);
  const auto result = run_ok(executor, "lab-green", "sed -n 's/^APP_COLOR=//p' /srv/app-env/app.env; id -un");
  CHECK(result.out.tail == "green\nroot\n");
}

TEST_CASE("a command that outlives its deadline is stopped and reported", "[e2e][ssh][deadline]") {
  remote::SshExecutor executor(lab_settings());
  const std::string tag = std::to_string(31000 + ::getpid() % 1000);
  const auto started = std::chrono::steady_clock::now();
  const auto result = run_ok(executor, lab().blue(), "echo started; sleep " + tag, with_deadline(1s));
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(result.timed_out);
  CHECK_FALSE(result.exit_status.has_value());
  CHECK_FALSE(result.succeeded());
  CHECK(result.out.tail == "started\n");
  CHECK(took < 8s);  // deadline + grace; far below the 31 s the command wanted
  CHECK_THAT(result.summary(), Catch::StartsWith("timed out"));
  // The remote process is gone, not orphaned.
  CHECK(run_ok(executor, lab().blue(), "pgrep -f " + remote::shell_quote("[s]leep " + tag)).exit_status == 1);
}

TEST_CASE("cancellation stops a running command", "[e2e][ssh][cancel]") {
  remote::SshExecutor executor(lab_settings());
  std::stop_source stop;
  CommandOptions options = with_deadline(60s);
  options.stop = stop.get_token();
  std::thread canceller([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  const auto result = run_ok(executor, lab().green(), "sleep 29.5", options);
  canceller.join();
  CHECK(result.cancelled);
  CHECK_FALSE(result.succeeded());
  CHECK(result.duration < 5s);
  CHECK(run_ok(executor, lab().green(), "pgrep -f '[s]leep 29.5'").exit_status == 1);
}

TEST_CASE("10 MB on stderr does not hang and the kept output is capped", "[e2e][ssh][output]") {
  remote::SshExecutor executor(lab_settings());
  CommandOptions options = with_deadline(60s);
  options.output_cap_bytes = 64 * 1024;
  const auto result =
      run_ok(executor, lab().blue(), "head -c 10000000 /dev/zero | tr '\\0' e >&2; echo done", options);
  CHECK(result.succeeded());
  CHECK(result.out.tail == "done\n");
  CHECK(result.err.tail.size() == 64 * 1024);
  CHECK(result.err.dropped + result.err.tail.size() == 10000000);
  CHECK(result.err.tail.find_first_not_of('e') == std::string::npos);
}

TEST_CASE("many commands reuse one connection", "[e2e][ssh][reuse]") {
  remote::SshExecutor executor(lab_settings());
  const auto first = run_ok(executor, lab().lb(), "echo $SSH_CONNECTION").out.tail;
  for (int i = 0; i < 100; ++i) {
    const auto result = run_ok(executor, lab().lb(), "echo " + std::to_string(i) + " $SSH_CONNECTION");
    REQUIRE(result.out.tail == std::to_string(i) + " " + first);  // same client port: same session
  }
}

TEST_CASE("a dead connection is detected and reopened", "[e2e][ssh][reconnect]") {
  remote::SshExecutor executor(lab_settings());
  const auto before = run_ok(executor, lab().green(), "echo $SSH_CONNECTION").out.tail;
  // Kill this session's own sshd process from inside it: the connection drops mid-command.
  const auto killed = executor.run(lab().green(), "kill -9 $(ps -o ppid= -p $(ps -o ppid= -p $$))", with_deadline(10s));
  if (killed.ok()) CHECK_FALSE(killed->succeeded());
  const auto after = run_ok(executor, lab().green(), "echo $SSH_CONNECTION").out.tail;
  CHECK(after != before);  // a new session (new client port)
}

TEST_CASE("commands on two hosts run in parallel", "[e2e][ssh][parallel]") {
  remote::SshExecutor executor(lab_settings());
  REQUIRE(executor.connect(lab().blue()).ok());
  REQUIRE(executor.connect(lab().green()).ok());
  const auto started = std::chrono::steady_clock::now();
  auto on_blue = std::async(std::launch::async, [&] { return executor.run(lab().blue(), "sleep 2", with_deadline(10s)); });
  auto on_green = std::async(std::launch::async, [&] { return executor.run(lab().green(), "sleep 2", with_deadline(10s)); });
  REQUIRE(on_blue.get()->succeeded());
  REQUIRE(on_green.get()->succeeded());
  // Serial would be >= 4 s; parallel is about 2 s. The bound leaves room for a loaded machine.
  CHECK(std::chrono::steady_clock::now() - started < 3500ms);
}

TEST_CASE("connecting to a port where nothing listens fails fast with a clear error", "[e2e][ssh]") {
  auto settings = lab_settings();
  remote::SshExecutor executor(settings);
  const auto result = executor.run("root@" + lab().blue_addr + ":1", "true", with_deadline(5s));
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("cannot connect"));
}

TEST_CASE("health probes report status, latency and version, in parallel", "[e2e][http]") {
  const auto reports = remote::probe_all(
      {lab().health_url(lab().blue_addr), lab().health_url(lab().green_addr), "http://" + lab().blue_addr + ":1/health"},
      2s);
  REQUIRE(reports.size() == 3);
  for (int i = 0; i < 2; ++i) {
    INFO(reports[static_cast<std::size_t>(i)].url << ": " << reports[static_cast<std::size_t>(i)].summary());
    CHECK(reports[static_cast<std::size_t>(i)].healthy());
    CHECK(reports[static_cast<std::size_t>(i)].version.has_value());
    CHECK(reports[static_cast<std::size_t>(i)].commit.has_value());
  }
  CHECK_FALSE(reports[2].healthy());
  CHECK(reports[2].status == 0);
  CHECK_FALSE(reports[2].error.empty());
  CHECK_FALSE(remote::probe_health("not a url", 1s).healthy());
}

TEST_CASE("an sshd that accepts TCP but never speaks fails within the connect deadline", "[e2e][ssh][silent]") {
  // A listener that accepts and then says nothing: no SSH banner ever arrives.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);  // NOLINT
  REQUIRE(::listen(listener, 4) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);  // NOLINT
  const int port = ntohs(address.sin_port);

  remote::SshSettings settings;
  settings.config_file = "/dev/null";
  settings.known_hosts_file = "/dev/null";
  settings.connect_timeout = 2s;
  remote::SshExecutor executor(settings);
  const auto started = std::chrono::steady_clock::now();
  const auto result = executor.run("root@127.0.0.1:" + std::to_string(port), "true", with_deadline(5s));
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(listener);
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("cannot connect") && Catch::Contains("127.0.0.1"));
  CHECK(took < 5s);  // the 2 s connect deadline, not forever
}
