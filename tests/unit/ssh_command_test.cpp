// The command line run_command() sends over SSH (wrap_command): checked with `sh -n`, then run
// with the local /bin/sh (dash on Debian) the way sshd runs it: as a session leader, stdin a pipe
// that stays open while the channel does.
#include "remote/ssh_command.h"
#include "remote/shell_command.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using bluegreen::remote::shell_quote;
using bluegreen::remote::wrap_command;

namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A scratch directory for one test, removed afterwards.
struct Scratch {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("bluegreen-wrap-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  Scratch() { std::filesystem::create_directories(dir); }
  ~Scratch() { std::filesystem::remove_all(dir); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// `sh -n`: the wrapper parses as POSIX sh.
bool parses(const std::string& script, const Scratch& scratch) {
  const auto file = scratch.dir / "script.sh";
  std::ofstream(file) << script;
  return std::system(("sh -n " + shell_quote(file.string()) + " 2>/dev/null").c_str()) == 0;
}

// The wrapper run by /bin/sh as sshd runs a command: in a new session, its stdin a pipe this side
// keeps open until close_stdin() (the channel), stdout and stderr to files.
class WrappedRun {
 public:
  WrappedRun(const std::string& script, const Scratch& scratch) : out_(scratch.dir / "out"), err_(scratch.dir / "err") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::setsid();
      ::dup2(fds[0], 0);
      ::close(fds[0]);
      ::close(fds[1]);
      const int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(out, 1);
      ::dup2(err, 2);
      ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[0]);
    stdin_ = fds[1];
  }
  ~WrappedRun() {
    close_stdin();
    if (!status_) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  WrappedRun(const WrappedRun&) = delete;
  WrappedRun& operator=(const WrappedRun&) = delete;

  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }
  // The wait status once the shell ended, or nullopt when it did not within `limit`.
  std::optional<int> wait(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!status_ && std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
      } else {
        std::this_thread::sleep_for(20ms);
      }
    }
    return status_;
  }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string out() const { return read_all(out_); }
  [[nodiscard]] std::string err() const { return read_all(err_); }

 private:
  std::filesystem::path out_;
  std::filesystem::path err_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::optional<int> status_;
};

// True while `pid` runs: it exists and is not a zombie (an orphan's zombie waits for whatever
// reaps orphans here, which may be slow or nothing in a container).
bool running(pid_t pid) {
  const std::string stat = read_all("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// True when the process whose PID is written in `pid_file` (the command wrote its own) ended
// within `within`.
bool gone(const std::filesystem::path& pid_file, std::chrono::milliseconds within) {
  const auto pid = std::atoi(read_all(pid_file).c_str());
  REQUIRE(pid > 1);
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (!running(pid)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

void wait_for_file(const std::filesystem::path& path) {
  for (int i = 0; i < 250 && !std::filesystem::exists(path); ++i) std::this_thread::sleep_for(20ms);
  REQUIRE(std::filesystem::exists(path));
}

}  // namespace

TEST_CASE("the command wrapper parses as POSIX sh, with and without the host-side timeout", "[ssh][wrapper]") {
  Scratch scratch;
  for (const std::string command : {"true", "echo 'it'\"'\"'s'; exit 3", "a=$(printf '%s' \"$1\"); [ -n \"$a\" ]",
                                    "cd /srv/app && git fetch --prune origin"}) {
    for (const bool host_timeout : {true, false}) {
      INFO(command << " host_timeout " << host_timeout);
      CHECK(parses(wrap_command(command, host_timeout, 5000ms, 2000ms, "n0nce"), scratch));
    }
  }
  const auto wrapped = wrap_command("sleep 1", true, 5000ms, 2000ms, "n0nce");
  CHECK_THAT(wrapped, Catch::StartsWith("printf 'bluegreen-mcp-pid:n0nce:%s\\n' \"$$\" >&2; "));
  CHECK_THAT(wrapped, Catch::Contains("exec timeout --signal=TERM --kill-after=2.000 5.000 sh -c 'sleep 1' 3<&-"));
  CHECK(wrap_command("sleep 1", false, 5000ms, 2000ms, "n0nce") ==
        "printf 'bluegreen-mcp-pid:n0nce:%s\\n' \"$$\" >&2; exec sh -c 'sleep 1'");
}

TEST_CASE("the wrapped command's exit status and output pass through unchanged", "[ssh][wrapper]") {
  Scratch scratch;
  SECTION("an exit status") {
    WrappedRun run(wrap_command("echo out; echo err >&2; exit 7", true, 5000ms, 1000ms, "n0nce"), scratch);
    const auto status = run.wait(5s);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 7);
    CHECK(run.out() == "out\n");
    CHECK(run.err() == "bluegreen-mcp-pid:n0nce:" + std::to_string(run.pid()) + "\nerr\n");
  }
  SECTION("the command reads end of input, not the channel") {
    WrappedRun run(wrap_command("cat; echo read-all", true, 5000ms, 1000ms, "n0nce"), scratch);
    const auto status = run.wait(5s);  // stdin stays open: only /dev/null lets cat end
    REQUIRE(status);
    CHECK(WEXITSTATUS(*status) == 0);
    CHECK(run.out() == "read-all\n");
  }
  SECTION("the host-side deadline: 124") {
    WrappedRun run(wrap_command("sleep 30", true, 300ms, 1000ms, "n0nce"), scratch);
    const auto status = run.wait(5s);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 124);
  }
  SECTION("a command that ignores TERM is KILLed after the grace, and the status says it was a signal") {
    const auto pid_file = scratch.dir / "pid";
    WrappedRun run(wrap_command("trap '' TERM; sh -c 'echo $$ > " + pid_file.string() + "; exec sleep 30'", true, 300ms,
                                500ms, "n0nce"),
                   scratch);
    const auto status = run.wait(5s);
    REQUIRE(status);
    CHECK(WIFSIGNALED(*status));
    CHECK(WTERMSIG(*status) == SIGKILL);
    CHECK(gone(pid_file, 1s));
  }
}

TEST_CASE("the wrapped command ends when its channel's stdin ends", "[ssh][wrapper]") {
  Scratch scratch;
  const auto pid_file = scratch.dir / "pid";
  SECTION("it ends on TERM") {
    WrappedRun run(wrap_command("sh -c 'echo $$ > " + pid_file.string() + "; exec sleep 30'", true, 60000ms, 2000ms,
                                "n0nce"),
                   scratch);
    wait_for_file(pid_file);
    const auto closed = std::chrono::steady_clock::now();
    run.close_stdin();
    CHECK(run.wait(3s));
    CHECK(gone(pid_file, 1s));
    CHECK(std::chrono::steady_clock::now() - closed < 2s);
  }
  SECTION("it ignores TERM: KILLed after the grace") {
    WrappedRun run(wrap_command("trap '' TERM; sh -c 'echo $$ > " + pid_file.string() + "; exec sleep 30'", true,
                                60000ms, 500ms, "n0nce"),
                   scratch);
    wait_for_file(pid_file);
    run.close_stdin();
    CHECK(run.wait(4s));
    CHECK(gone(pid_file, 2s));
  }
}

TEST_CASE("after a normal end the watcher leaves what the command started alone", "[ssh][wrapper]") {
  Scratch scratch;
  const auto pid_file = scratch.dir / "pid";
  // A daemon left in the command's process group (not even setsid), as a careless restart does.
  WrappedRun run(wrap_command("sh -c 'echo $$ > " + pid_file.string() + "; exec sleep 30' </dev/null >/dev/null 2>&1 &",
                              true, 60000ms, 300ms, "n0nce"),
                 scratch);
  const auto status = run.wait(5s);
  REQUIRE(status);
  CHECK(WEXITSTATUS(*status) == 0);
  wait_for_file(pid_file);
  run.close_stdin();  // sshd closes the channel's stdin once the command ended
  std::this_thread::sleep_for(800ms);
  const auto daemon = std::atoi(read_all(pid_file).c_str());
  CHECK(running(daemon));
  ::kill(daemon, SIGKILL);
}

TEST_CASE("a TERM to the announced PID stops the wrapped command (the local stop path)", "[ssh][wrapper]") {
  Scratch scratch;
  const auto pid_file = scratch.dir / "pid";
  WrappedRun run(wrap_command("sh -c 'echo $$ > " + pid_file.string() + "; exec sleep 30'", true, 60000ms, 1000ms,
                              "n0nce"),
                 scratch);
  wait_for_file(pid_file);
  std::this_thread::sleep_for(100ms);  // the marker line is on stderr by now
  const std::string err = run.err();
  REQUIRE(err.rfind("bluegreen-mcp-pid:n0nce:", 0) == 0);
  const auto marker = std::atoi(err.c_str() + std::string("bluegreen-mcp-pid:n0nce:").size());
  REQUIRE(marker == run.pid());
  ::kill(marker, SIGTERM);
  CHECK(run.wait(3s));
  CHECK(gone(pid_file, 1s));
}
