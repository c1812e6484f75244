// End-to-end tests of the remote layer against the lab's real sshd and HTTP apps.
#include "common/text.h"
#include "remote/http_probe.h"
#include "remote/shell_command.h"
#include "remote/ssh_executor.h"
#include "tests/support/lab_env.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <system_error>
#include <thread>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

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

TEST_CASE("without the host-side timeout, the deadline still stops the command's whole process group",
          "[e2e][ssh][deadline]") {
  remote::SshExecutor executor(lab_settings());
  const std::string tag = std::to_string(32000 + ::getpid() % 1000);
  CommandOptions options = with_deadline(1s);
  options.host_timeout = false;
  // The sleep is a child of sh, not the process whose PID the wrapper reports.
  const auto result = run_ok(executor, lab().blue(), "echo started; sleep " + tag + "; echo never", options);
  CHECK(result.timed_out);
  CHECK_FALSE(result.exit_status.has_value());
  CHECK(result.out.tail == "started\n");
  CHECK(result.duration < 8s);
  CHECK(run_ok(executor, lab().blue(), "pgrep -f " + remote::shell_quote("[s]leep " + tag)).exit_status == 1);
  options.deadline = 10s;
  CHECK(run_ok(executor, lab().blue(), "echo $0; exit 4", options).out.tail == "sh\n");
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
  const auto result = run_ok(executor, lab().blue(), "head -c 10000000 /dev/zero | tr '\\0' e >&2; echo done", options);
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
  auto on_blue =
      std::async(std::launch::async, [&] { return executor.run(lab().blue(), "sleep 2", with_deadline(10s)); });
  auto on_green =
      std::async(std::launch::async, [&] { return executor.run(lab().green(), "sleep 2", with_deadline(10s)); });
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
  const auto reports = remote::probe_all({lab().health_url(lab().blue_addr), lab().health_url(lab().green_addr),
                                          "http://" + lab().blue_addr + ":1/health"},
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

// --- UNIX sockets on the host (HAProxy's runtime API) -----------------------------------------------

namespace {

remote::SocketReply query_ok(remote::Executor& executor, const std::string& host, const std::string& socket,
                             const std::string& request, CommandOptions options = with_deadline(10s)) {
  auto reply = executor.query_unix_socket(host, socket, request, options);
  INFO("host " << host << " socket " << socket << (reply.ok() ? "" : " error: " + reply.error().message));
  REQUIRE(reply.ok());
  return std::move(reply.value());
}

// A free TCP port on `address` (closed again, so a server can take it).
int free_port(const std::string& address) {
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(probe >= 0);
  sockaddr_in bound{};
  bound.sin_family = AF_INET;
  REQUIRE(::inet_pton(AF_INET, address.c_str(), &bound.sin_addr) == 1);
  REQUIRE(::bind(probe, reinterpret_cast<sockaddr*>(&bound), sizeof bound) == 0);  // NOLINT
  socklen_t length = sizeof bound;
  REQUIRE(::getsockname(probe, reinterpret_cast<sockaddr*>(&bound), &length) == 0);  // NOLINT
  ::close(probe);
  return ntohs(bound.sin_port);
}

// A second sshd on the LB host, like the lab's but with the config lines that start with one of
// `dropped` left out and `added` appended. Lives as long as the object.
class VariantSshd {
 public:
  VariantSshd(const std::vector<std::string>& dropped, const std::vector<std::string>& added)
      : dir_(temp_dir()), port_(free_port(lab().lb_addr)), starter_(lab_settings()) {
    const auto host_dir = std::filesystem::path(lab().dir) / "hosts" / "lb";
    {
      std::ifstream original(host_dir / "sshd_config");
      std::ofstream config(dir_ / "sshd_config");
      for (std::string line; std::getline(original, line);) {
        if (line.rfind("ListenAddress", 0) == 0) line = "ListenAddress " + lab().lb_addr + ":" + std::to_string(port_);
        if (line.rfind("PidFile", 0) == 0) line = "PidFile " + (dir_ / "sshd.pid").string();
        const bool drop = std::any_of(dropped.begin(), dropped.end(),
                                      [&](const std::string& prefix) { return line.rfind(prefix, 0) == 0; });
        if (!drop) config << line << "\n";
      }
      for (const auto& line : added) config << line << "\n";
    }
    std::ofstream(dir_ / "known_hosts") << "[" << lab().lb_addr << "]:" << port_ << " "
                                        << read_file(host_dir / "ssh_host_ed25519_key.pub");
    const std::string log = remote::shell_quote(log_path());
    // Started in the LB's namespace; stopped when the holding channel closes.
    const std::string start =
        "timeout 120 /usr/sbin/sshd -D -f " + remote::shell_quote((dir_ / "sshd_config").string()) + " -E " + log +
        " & pid=$!; trap 'kill $pid' EXIT; i=0; until grep -q 'Server listening' " + log +
        " 2>/dev/null; do i=$((i+1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done; " + "echo listening; cat >/dev/null";
    auto held = starter_.hold(lab().lb(), start, "listening", with_deadline(20s));
    INFO((held.ok() ? std::string() : held.error().message + "\n" + read_file(log_path())));
    REQUIRE(held.ok());
    sshd_ = std::move(held.value());
  }
  ~VariantSshd() {
    sshd_.reset();
    // sshd deletes its pid file as it exits, which races with deleting the directory: wait for
    // that (bounded), and never throw from here.
    for (int i = 0; i < 100 && std::filesystem::exists(dir_ / "sshd.pid"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::error_code ignored;
    if (std::filesystem::remove_all(dir_, ignored) == static_cast<std::uintmax_t>(-1)) {
      std::filesystem::remove_all(dir_, ignored);
    }
  }
  VariantSshd(const VariantSshd&) = delete;
  VariantSshd& operator=(const VariantSshd&) = delete;

  [[nodiscard]] std::string host() const { return "root@" + lab().lb_addr + ":" + std::to_string(port_); }
  [[nodiscard]] remote::SshSettings settings() const {
    auto settings = lab_settings();
    settings.known_hosts_file = (dir_ / "known_hosts").string();
    return settings;
  }
  [[nodiscard]] std::string log_path() const { return (dir_ / "sshd.log").string(); }

 private:
  std::filesystem::path dir_;
  int port_;
  remote::SshExecutor starter_;
  std::unique_ptr<remote::HeldProcess> sshd_;
};

}  // namespace

TEST_CASE("HAProxy's sockets are queried through the SSH connection, with no process on the host",
          "[e2e][ssh][socket]") {
  remote::SshExecutor executor(lab_settings());
  const auto stats = query_ok(executor, lab().lb(), lab().var("LAB_HAPROXY_ADMIN_SOCK"), "show stat\n");
  CHECK(stats.forwarded);
  CHECK_THAT(stats.text, Catch::StartsWith("# pxname,svname,"));
  CHECK_THAT(stats.text, Catch::Contains("\nblue,BACKEND,") && Catch::Contains("\ngreen,BACKEND,"));
  const auto proc = query_ok(executor, lab().lb(), lab().var("LAB_HAPROXY_MASTER_SOCK"), "show proc\n");
  CHECK(proc.forwarded);
  CHECK_THAT(proc.text, Catch::Contains("master") && Catch::Contains("worker"));

  // Commands and socket queries share the session, in any order.
  const auto session = run_ok(executor, lab().lb(), "echo $SSH_CONNECTION").out.tail;
  for (int i = 0; i < 20; ++i) {
    REQUIRE(query_ok(executor, lab().lb(), lab().var("LAB_HAPROXY_ADMIN_SOCK"), "show info\n").text.find("Pid: ") !=
            std::string::npos);
  }
  CHECK(run_ok(executor, lab().lb(), "echo $SSH_CONNECTION").out.tail == session);

  SECTION("the socat fallback (Executor's default) gives the same answer") {
    auto reply = executor.remote::Executor::query_unix_socket(lab().lb(), lab().var("LAB_HAPROXY_ADMIN_SOCK"),
                                                              "show stat\n", with_deadline(10s));
    REQUIRE(reply.ok());
    CHECK_FALSE(reply->forwarded);
    CHECK_THAT(reply->text, Catch::StartsWith("# pxname,svname,") && Catch::Contains("\nblue,BACKEND,"));
  }
  SECTION("a reply over the output cap is an error, never a partial reply") {
    CommandOptions small = with_deadline(10s);
    small.output_cap_bytes = 100;
    const auto reply =
        executor.query_unix_socket(lab().lb(), lab().var("LAB_HAPROXY_ADMIN_SOCK"), "show stat\n", small);
    REQUIRE_FALSE(reply.ok());
    CHECK_THAT(reply.error().message, Catch::Contains("exceeds 100 bytes"));
  }
}

TEST_CASE("a socket that does not exist gives a clear error, and forwarding keeps working", "[e2e][ssh][socket]") {
  remote::SshExecutor executor(lab_settings());
  const std::string missing = "/run/haproxy/no-such-" + std::to_string(::getpid()) + ".sock";
  const auto reply = executor.query_unix_socket(lab().lb(), missing, "show stat\n", with_deadline(10s));
  REQUIRE_FALSE(reply.ok());
  CHECK_THAT(reply.error().message, Catch::Contains(missing) && Catch::Contains("No such file or directory"));
  // sshd cannot say why it did not connect, so socat was asked; forwarding is still used after.
  CHECK(query_ok(executor, lab().lb(), lab().var("LAB_HAPROXY_ADMIN_SOCK"), "show stat\n").forwarded);
}

TEST_CASE("a socket that never answers ends at the deadline or on cancellation", "[e2e][ssh][socket][deadline]") {
  remote::SshExecutor executor(lab_settings());
  // A listener that never accepts: the connection is queued and no reply ever comes.
  const std::string socket = "/tmp/bluegreen-e2e-silent-" + std::to_string(::getpid()) + ".sock";
  const std::string listener = "exec timeout 120 python3 -c " +
                               remote::shell_quote("import os, socket, sys\n"
                                                   "s = socket.socket(socket.AF_UNIX)\n"
                                                   "s.bind(sys.argv[1])\n"
                                                   "s.listen(8)\n"
                                                   "print('listening', flush=True)\n"
                                                   "sys.stdin.read()\n"
                                                   "os.unlink(sys.argv[1])\n") +
                               " " + remote::shell_quote(socket);
  auto held = executor.hold(lab().lb(), listener, "listening", with_deadline(10s));
  INFO((held.ok() ? std::string() : held.error().message));
  REQUIRE(held.ok());

  SECTION("deadline") {
    const auto started = std::chrono::steady_clock::now();
    const auto reply = executor.query_unix_socket(lab().lb(), socket, "show stat\n", with_deadline(700ms));
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(reply.ok());
    CHECK_THAT(reply.error().message, Catch::Contains("deadline of 700 ms passed") && Catch::Contains(socket));
    CHECK(took >= 700ms);
    CHECK(took < 3s);
  }
  SECTION("cancellation") {
    std::stop_source stop;
    CommandOptions options = with_deadline(60s);
    options.stop = stop.get_token();
    std::thread canceller([&] {
      std::this_thread::sleep_for(300ms);
      stop.request_stop();
    });
    const auto started = std::chrono::steady_clock::now();
    const auto reply = executor.query_unix_socket(lab().lb(), socket, "show stat\n", options);
    const auto took = std::chrono::steady_clock::now() - started;
    canceller.join();
    REQUIRE_FALSE(reply.ok());
    CHECK_THAT(reply.error().message, Catch::Contains("cancelled"));
    CHECK(took < 3s);
  }
  // The session is still good, and the lock-like held process on it too.
  CHECK(query_ok(executor, lab().lb(), lab().var("LAB_HAPROXY_ADMIN_SOCK"), "show stat\n").forwarded);
  CHECK(held.value()->alive());
  held.value().reset();
  // The listener saw its stdin close and removed its socket (nothing left behind).
  for (int i = 0; i < 50 && run_ok(executor, lab().lb(), "test -e " + remote::shell_quote(socket)).exit_status == 0;
       ++i) {
    std::this_thread::sleep_for(100ms);
  }
  CHECK(run_ok(executor, lab().lb(), "test -e " + remote::shell_quote(socket)).exit_status == 1);
}

TEST_CASE("where sshd refuses to forward UNIX sockets and has no SFTP, socat and cat on the host answer instead",
          "[e2e][ssh][socket][files]") {
  VariantSshd sshd({"Subsystem"}, {"AllowStreamLocalForwarding no"});
  remote::SshExecutor executor(sshd.settings());
  // Forwarding counts as refused only when refused again kRefusalConfirmAfter (3 s) after the
  // first time: queries 1 and 2 try it (and check again after socat), query 3 (4 s later) confirms,
  // query 4 uses socat directly.
  for (int i = 0; i < 4; ++i) {
    if (i == 2) std::this_thread::sleep_for(4s);
    const auto stats = query_ok(executor, sshd.host(), lab().var("LAB_HAPROXY_ADMIN_SOCK"), "show stat\n");
    CHECK_FALSE(stats.forwarded);
    CHECK_THAT(stats.text, Catch::StartsWith("# pxname,svname,") && Catch::Contains("\nblue,BACKEND,"));
    auto files = executor.read_files(sshd.host(), {lab().var("LAB_HAPROXY_CFG"), "/no/such/file"}, with_deadline(10s));
    INFO((files.ok() ? std::string() : files.error().message));
    REQUIRE(files.ok());
    REQUIRE(files->size() == 2);
    CHECK(files->at(0).problem.empty());
    CHECK_THAT(files->at(0).content, Catch::Contains("frontend fe_app"));
    CHECK(files->at(1).missing);
  }
  // Each refusal is logged by sshd: two for each of the first three queries (the try, and the
  // check that it was no passing hiccup); the fourth did not ask. SFTP was asked for once.
  const auto log = read_file(sshd.log_path());
  const auto count = [&](const std::string& text) {
    std::size_t n = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  };
  INFO(log);
  CHECK(count("refused streamlocal port forward") == 6);
  CHECK(count("subsystem request for sftp") == 1);
  // A missing socket is still reported clearly.
  const auto missing =
      executor.query_unix_socket(sshd.host(), "/run/haproxy/missing.sock", "show stat\n", with_deadline(10s));
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("No such file or directory"));
}

// --- Files on the host -----------------------------------------------------------------------------

TEST_CASE("files are read over SFTP: content, missing, unreadable, large, capped", "[e2e][ssh][files]") {
  remote::SshExecutor executor(lab_settings());
  const std::string dir = "/tmp/bluegreen-e2e-files-" + std::to_string(::getpid());
  // 200 000 bytes (several SFTP reads), a file with no final newline, an empty file, a directory.
  run_ok(executor, lab().lb(),
         "mkdir -p " + dir + " && head -c 200000 /dev/urandom | base64 -w 100 | head -c 200000 > " + dir +
             "/big && printf 'no newline' > " + dir + "/partial && : > " + dir + "/empty");
  const std::vector<std::string> paths = {
      lab().var("LAB_HAPROXY_CFG"), dir + "/big", dir + "/partial", dir + "/empty", dir + "/missing", dir,
      lab().var("LAB_HAPROXY_CFG")};
  auto files = executor.read_files(lab().lb(), paths, with_deadline(10s));
  INFO((files.ok() ? std::string() : files.error().message));
  REQUIRE(files.ok());
  REQUIRE(files->size() == paths.size());
  const auto cat = [&](const std::string& path) { return run_ok(executor, lab().lb(), "cat " + path).out.tail; };
  CHECK(files->at(0).content == cat(paths[0]));
  CHECK(files->at(1).content.size() == 200000);
  CHECK(files->at(1).content == cat(paths[1]));
  CHECK(files->at(2).content == "no newline");
  CHECK(files->at(3).content.empty());
  for (const std::size_t i : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{6}}) {
    INFO(paths[i]);
    CHECK(files->at(i).problem.empty());
    CHECK_FALSE(files->at(i).missing);
  }
  CHECK(files->at(4).missing);
  CHECK(files->at(4).problem.empty());
  CHECK_FALSE(files->at(5).problem.empty());  // a directory
  CHECK(files->at(6).content == files->at(0).content);

  SECTION("the cat fallback (Executor's default) reads the same") {
    auto by_cat = executor.remote::Executor::read_files(lab().lb(), paths, with_deadline(10s));
    REQUIRE(by_cat.ok());
    REQUIRE(by_cat->size() == paths.size());
    for (std::size_t i = 0; i < paths.size(); ++i) {
      INFO(paths[i]);
      CHECK(by_cat->at(i).content == files->at(i).content);
      CHECK(by_cat->at(i).missing == files->at(i).missing);
      CHECK(by_cat->at(i).problem.empty() == files->at(i).problem.empty());
    }
  }
  SECTION("a file over the cap is unreadable, never truncated") {
    CommandOptions small = with_deadline(10s);
    small.output_cap_bytes = 100000;
    auto capped = executor.read_files(lab().lb(), {dir + "/big", dir + "/partial"}, small);
    REQUIRE(capped.ok());
    CHECK(capped->at(0).content.empty());
    CHECK_THAT(capped->at(0).problem, Catch::Contains("larger than 100000 bytes"));
    CHECK(capped->at(1).content == "no newline");
    // The channel is still in step afterwards.
    CHECK(executor.read_files(lab().lb(), {paths[0]}, with_deadline(10s))->at(0).content == files->at(0).content);
  }
  SECTION("after the connection dropped, the next read reconnects") {
    const auto killed = executor.run(lab().lb(), "kill -9 $(ps -o ppid= -p $(ps -o ppid= -p $$))", with_deadline(10s));
    if (killed.ok()) CHECK_FALSE(killed->succeeded());
    auto again = executor.read_files(lab().lb(), {paths[0]}, with_deadline(10s));
    INFO((again.ok() ? std::string() : again.error().message));
    REQUIRE(again.ok());
    CHECK(again->at(0).content == files->at(0).content);
  }
  run_ok(executor, lab().lb(), "rm -rf " + dir);
}

TEST_CASE("an SFTP server that never answers ends at the deadline or on cancellation", "[e2e][ssh][files][deadline]") {
  // Its "sftp server" swallows every request (and keeps its stdout open, so no end of output).
  const auto silent = temp_dir() / "silent-sftp";
  std::ofstream(silent) << "#!/bin/sh\nexec cat 3>&1 >/dev/null\n";
  std::filesystem::permissions(silent, std::filesystem::perms::owner_all);
  VariantSshd sshd({"Subsystem"}, {"Subsystem sftp " + silent.string()});
  remote::SshExecutor executor(sshd.settings());
  SECTION("deadline") {
    const auto started = std::chrono::steady_clock::now();
    const auto files = executor.read_files(sshd.host(), {lab().var("LAB_HAPROXY_CFG")}, with_deadline(700ms));
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(files.ok());
    CHECK_THAT(files.error().message, Catch::Contains("deadline of 700 ms passed"));
    CHECK(took >= 700ms);
    CHECK(took < 3s);
  }
  SECTION("cancellation") {
    std::stop_source stop;
    CommandOptions options = with_deadline(60s);
    options.stop = stop.get_token();
    std::thread canceller([&] {
      std::this_thread::sleep_for(300ms);
      stop.request_stop();
    });
    const auto started = std::chrono::steady_clock::now();
    const auto files = executor.read_files(sshd.host(), {lab().var("LAB_HAPROXY_CFG")}, options);
    const auto took = std::chrono::steady_clock::now() - started;
    canceller.join();
    REQUIRE_FALSE(files.ok());
    CHECK_THAT(files.error().message, Catch::Contains("cancelled"));
    CHECK(took < 3s);
  }
  // Commands on that connection still work.
  CHECK(run_ok(executor, sshd.host(), "echo ok").out.tail == "ok\n");
  std::filesystem::remove_all(silent.parent_path());
}

// --- Several calls to one host at once, and commands whose connection ends --------------------------

TEST_CASE("a command, a file read and a socket query to a host answer while a long command runs there",
          "[e2e][ssh][concurrency]") {
  remote::SshExecutor executor(lab_settings());
  REQUIRE(executor.connect(lab().lb()).ok());
  const std::string tag = std::to_string(33000 + ::getpid() % 1000);
  auto long_run = std::async(std::launch::async, [&] {
    return executor.run(lab().lb(), "echo $SSH_CONNECTION; sleep 4." + tag, with_deadline(20s));
  });
  // Until the long command runs on the host.
  for (int i = 0; i < 100 && run_ok(executor, lab().lb(), "pgrep -f '[s]leep 4." + tag + "'").exit_status != 0; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  std::string quick_session;
  for (int i = 0; i < 3; ++i) {
    const auto started = std::chrono::steady_clock::now();
    quick_session = run_ok(executor, lab().lb(), "echo $SSH_CONNECTION").out.tail;
    auto files = executor.read_files(lab().lb(), {lab().var("LAB_HAPROXY_CFG")}, with_deadline(10s));
    REQUIRE(files.ok());
    CHECK_THAT(files->at(0).content, Catch::Contains("frontend fe_app"));
    CHECK(query_ok(executor, lab().lb(), lab().var("LAB_HAPROXY_ADMIN_SOCK"), "show info\n").forwarded);
    // Serialised behind the long command, this would take seconds.
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);
  }
  CHECK(long_run.wait_for(0s) == std::future_status::timeout);  // still running
  const auto result = long_run.get();
  REQUIRE(result.ok());
  CHECK(result->succeeded());
  // The others ran on a second session; once both are idle, no third one is opened.
  CHECK(result->out.tail != quick_session);
  for (int i = 0; i < 5; ++i) {
    const auto session = run_ok(executor, lab().lb(), "echo $SSH_CONNECTION").out.tail;
    CHECK((session == quick_session || session == result->out.tail));
  }
}

TEST_CASE("more calls to one host than sessions: the rest wait their turn within their deadline",
          "[e2e][ssh][concurrency]") {
  auto settings = lab_settings();
  settings.max_connections_per_host = 2;
  remote::SshExecutor executor(settings);
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::future<Result<remote::CommandResult>>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(
        std::async(std::launch::async, [&] { return executor.run(lab().blue(), "sleep 1", with_deadline(10s)); }));
  }
  for (auto& run : runs) {
    auto result = run.get();
    REQUIRE(result.ok());
    CHECK(result->succeeded());
  }
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took >= 2s);  // two rounds of two
  CHECK(took < 5s);
  // A call that cannot get a session before its deadline says so.
  auto busy_a =
      std::async(std::launch::async, [&] { return executor.run(lab().blue(), "sleep 2", with_deadline(10s)); });
  auto busy_b =
      std::async(std::launch::async, [&] { return executor.run(lab().blue(), "sleep 2", with_deadline(10s)); });
  std::this_thread::sleep_for(500ms);
  const auto waited = executor.run(lab().blue(), "true", with_deadline(300ms));
  REQUIRE_FALSE(waited.ok());
  CHECK(waited.error().code == ErrorCode::kDeadlineExceeded);
  CHECK_THAT(waited.error().message, Catch::Contains("busy"));
  CHECK(busy_a.get().ok());
  CHECK(busy_b.get().ok());
}

TEST_CASE("a command that ignores TERM at its deadline is reported as stopped at the deadline",
          "[e2e][ssh][deadline]") {
  remote::SshExecutor executor(lab_settings());
  const std::string tag = std::to_string(34000 + ::getpid() % 1000);
  const auto result = run_ok(executor, lab().blue(), "trap '' TERM; sleep 3" + tag + " & wait", with_deadline(1s));
  INFO(result.summary() << " out " << result.out.tail << " err " << result.err.tail);
  CHECK(result.timed_out);
  CHECK_FALSE(result.exit_status.has_value());
  CHECK_THAT(result.problem, Catch::StartsWith("deadline of 1000 ms passed"));
  CHECK_THAT(result.problem, !Catch::Contains("killed by a signal"));
  CHECK_THAT(result.summary(), Catch::StartsWith("timed out"));
  for (int i = 0; i < 40 && run_ok(executor, lab().blue(), "pgrep -f '[s]leep 3" + tag + "'").exit_status == 0; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  CHECK(run_ok(executor, lab().blue(), "pgrep -f '[s]leep 3" + tag + "'").exit_status == 1);
}

TEST_CASE("a command whose connection dies ends on the host within seconds", "[e2e][ssh][orphan]") {
  remote::SshExecutor executor(lab_settings());
  remote::SshExecutor observer(lab_settings());
  const std::string tag = std::to_string(35000 + ::getpid() % 1000);
  const std::string sshd_file = "/tmp/bluegreen-e2e-sshd-" + tag;
  // $PPID is the wrapper's `timeout`; its parent is the sshd process of this connection.
  const std::string command =
      "ps -o ppid= -p $PPID | tr -d ' ' > " + sshd_file + "; trap '' TERM; sleep 4" + tag + " & wait; sleep 4" + tag;
  auto running =
      std::async(std::launch::async, [&] { return executor.run(lab().green(), command, with_deadline(60s)); });
  std::string sshd_pid;
  for (int i = 0; i < 100 && sshd_pid.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    sshd_pid = bluegreen::trim_trailing(run_ok(observer, lab().green(), "cat " + sshd_file + " 2>/dev/null").out.tail);
  }
  REQUIRE_FALSE(sshd_pid.empty());
  const auto killed = std::chrono::steady_clock::now();
  run_ok(observer, lab().green(), "kill -9 " + sshd_pid + "; rm -f " + sshd_file);
  const auto result = running.get();  // the connection is gone: an Error or a result without status
  if (result.ok()) CHECK_FALSE(result->exit_status.has_value());
  // It ignores TERM: KILLed after the grace (2 s); before, it ran on for its whole 60 s.
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() - killed < 6s) {
    gone = run_ok(observer, lab().green(), "pgrep -f '[s]leep 4" + tag + "'").exit_status == 1;
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  CHECK(gone);
  if (!gone) run_ok(observer, lab().green(), "pkill -KILL -f '[s]leep 4" + tag + "'");
}

TEST_CASE("ServerAliveInterval: a host that goes silent mid-command is given up after the unanswered keepalives",
          "[e2e][ssh][keepalive]") {
  const auto dir = temp_dir();
  std::ofstream(dir / "ssh_config") << "Host *\n  ServerAliveInterval 1\n  ServerAliveCountMax 2\n";
  remote::SshSettings settings = lab_settings();
  settings.config_file = (dir / "ssh_config").string();
  remote::SshExecutor executor(settings);
  // A quiet command on a live host is not given up: the host answers the keepalives.
  {
    const auto quiet = run_ok(executor, lab().green(), "sleep 4", with_deadline(20s));
    INFO(quiet.summary() << ": " << quiet.problem);
    CHECK(quiet.exit_status == 0);
  }
  remote::SshExecutor observer(lab_settings());
  const std::string sshd_file = "/tmp/bluegreen-e2e-keepalive-" + std::to_string(::getpid());
  auto running = std::async(std::launch::async, [&] {
    return executor.run(lab().green(), "ps -o ppid= -p $PPID | tr -d ' ' > " + sshd_file + "; sleep 50",
                        with_deadline(60s));
  });
  std::string sshd_pid;
  for (int i = 0; i < 100 && sshd_pid.empty(); ++i) {
    std::this_thread::sleep_for(50ms);
    sshd_pid = bluegreen::trim_trailing(run_ok(observer, lab().green(), "cat " + sshd_file + " 2>/dev/null").out.tail);
  }
  REQUIRE_FALSE(sshd_pid.empty());
  // The connection's sshd stops answering (as a host or network that hangs would); TCP stays up.
  run_ok(observer, lab().green(), "kill -STOP " + sshd_pid + "; rm -f " + sshd_file);
  const auto frozen = std::chrono::steady_clock::now();
  const auto result = running.get();
  const auto took = std::chrono::steady_clock::now() - frozen;
  run_ok(observer, lab().green(), "kill -KILL " + sshd_pid);
  std::filesystem::remove_all(dir);
  const std::string said = result.ok() ? result->problem : result.error().message;
  INFO(said);
  CHECK_THAT(said, Catch::Contains("keepalives") && Catch::Contains("ServerAliveInterval"));
  WARN("gave up after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 20s);  // about 3 s (1 s + 2 keepalives), not the command's 60 s deadline
}

TEST_CASE("a login shell that prints to stderr first: the deadline still stops the command on the host",
          "[e2e][ssh][deadline][bashrc]") {
  // bash reads ~/.bashrc for commands sshd runs; what it prints comes before the wrapper's PID line.
  // A printed PID line of its own (for PID 1) must not be taken: the stop would TERM every process.
  const std::filesystem::path bashrc = lab().dir + "/hosts/green/fs/root/.bashrc";
  REQUIRE_FALSE(std::filesystem::exists(bashrc));
  std::ofstream(bashrc) << "echo 'bashrc: warning: setlocale: cannot change locale' >&2\n"
                           "printf 'bluegreen-mcp-pid:1\\n' >&2\nprintf 'no newline at the end' >&2\n";
  remote::SshExecutor executor(lab_settings());
  remote::SshExecutor observer(lab_settings());
  const std::string tag = std::to_string(36000 + ::getpid() % 1000);
  CommandOptions options = with_deadline(1s);
  options.host_timeout = false;  // only the stop sent to the announced PID ends it (no `timeout` on the host)
  const auto result = executor.run(lab().green(), "echo own-stderr >&2; sleep 4" + tag, options);
  std::filesystem::remove(bashrc);
  REQUIRE(result.ok());
  CHECK(result->timed_out);
  CHECK_THAT(result->err.tail, Catch::Contains("bashrc: warning") && Catch::Contains("own-stderr") &&
                                   Catch::Contains("bluegreen-mcp-pid:1"));
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    gone = run_ok(observer, lab().green(), "pgrep -f '[s]leep 4" + tag + "'").exit_status == 1;
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  CHECK(gone);
  if (!gone) run_ok(observer, lab().green(), "pkill -KILL -f '[s]leep 4" + tag + "'");
}
