#include "remote/local_process.h"

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere else

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kKeptStderr = 2000;

struct Pipe {
  int read = -1;
  int write = -1;
  Pipe() {
    std::array<int, 2> fds{-1, -1};
    if (::pipe2(fds.data(), O_CLOEXEC) == 0) {
      read = fds[0];
      write = fds[1];
    }
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  [[nodiscard]] bool ok() const { return read >= 0; }
  void close_read() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

// Starts argv with the given descriptors as 0, 1 and 2 (-1: /dev/null); returns the pid or -1.
pid_t spawn(const std::vector<std::string>& args, int in_fd, int out_fd, int err_fd, bool search_path) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  argv.reserve(copy.size() + 1);
  for (auto& arg : copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::array<int, 3> fds{in_fd, out_fd, err_fd};
  for (int target = 0; target < 3; ++target) {
    const int fd = fds[static_cast<std::size_t>(target)];
    if (fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, fd, target);
    } else {
      posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0);
    }
  }
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // The child must not inherit this server's blocked signals or ignored SIGPIPE.
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  // Its own process group: what it starts (a Match exec command, a ProxyCommand's children) is
  // ended with it (kill(-pid)).
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  const int rc = search_path ? ::posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), environ)
                             : ::posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  return pid;
}

// Appends what is readable on `fd` to `into` (keeping at most `limit` bytes); false at EOF.
bool drain(int fd, std::string& into, std::size_t limit) {
  std::array<char, 4096> buffer{};
  const ssize_t n = ::read(fd, buffer.data(), buffer.size());
  if (n == 0) return false;
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (into.size() < limit) into.append(buffer.data(), std::min(static_cast<std::size_t>(n), limit - into.size()));
  return true;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

}  // namespace

bluegreen::Result<LocalRun> run_local(const std::vector<std::string>& argv, milliseconds timeout,
                                      std::size_t max_bytes) {
  Pipe out;
  Pipe err;
  if (argv.empty() || !out.ok() || !err.ok()) {
    return Error{"cannot start a local process: " + std::string(std::generic_category().message(errno)),
                 ErrorCode::kFailedPrecondition};
  }
  const pid_t pid = spawn(argv, -1, out.write, err.write, /*search_path=*/true);
  if (pid < 0) {
    return Error{"cannot run " + argv[0] + ": " + std::generic_category().message(errno) +
                     (errno == ENOENT ? " (is it installed and on PATH?)" : ""),
                 ErrorCode::kFailedPrecondition};
  }
  out.close_write();
  err.close_write();
  LocalRun run;
  const auto deadline = Clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    std::array<pollfd, 2> fds{pollfd{out_open ? out.read : -1, POLLIN, 0}, pollfd{err_open ? err.read : -1, POLLIN, 0}};
    if (::poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) break;
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
      out_open = drain(out.read, run.out, max_bytes);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
      err_open = drain(err.read, run.err, max_bytes);
  }
  int status = 0;
  if (out_open || err_open) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return Error{argv[0] + " did not finish within " + std::to_string(timeout.count()) + " ms (it was killed)",
                 ErrorCode::kDeadlineExceeded};
  }
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-pid, SIGKILL);  // anything it left running in its group (a Match exec's children)
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stderr_fd_(std::exchange(other.stderr_fd_, -1)),
      stderr_(std::move(other.stderr_)),
      status_(other.status_),
      reaped_(other.reaped_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    end();
    pid_ = std::exchange(other.pid_, -1);
    stderr_fd_ = std::exchange(other.stderr_fd_, -1);
    stderr_ = std::move(other.stderr_);
    status_ = other.status_;
    reaped_ = other.reaped_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { end(); }

std::string ChildProcess::diagnostics() {
  if (stderr_fd_ >= 0) {
    for (pollfd fd{stderr_fd_, POLLIN, 0}; ::poll(&fd, 1, 0) > 0 && (fd.revents & (POLLIN | POLLHUP)) != 0;) {
      std::string chunk;
      if (!drain(stderr_fd_, chunk, 4096) || chunk.empty()) break;
      stderr_ += chunk;
      if (stderr_.size() > kKeptStderr) stderr_.erase(0, stderr_.size() - kKeptStderr);
    }
  }
  if (pid_ > 0 && !reaped_ && ::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  std::string text = stderr_;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (reaped_) text += std::string(text.empty() ? "" : "; ") + "it " + describe_exit(status_);
  return text;
}

void ChildProcess::end() {
  if (pid_ > 0) ::kill(-pid_, SIGTERM);  // its whole group: a ProxyCommand's own children too
  if (pid_ > 0 && !reaped_) {
    const auto deadline = Clock::now() + std::chrono::seconds(1);
    while (::waitpid(pid_, &status_, WNOHANG) != pid_) {
      if (Clock::now() >= deadline) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        break;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  pid_ = -1;
  stderr_fd_ = -1;
}

bluegreen::Result<ChildProcess> spawn_on_socket(const std::string& shell_command, int socket_fd) {
  Pipe err;
  if (!err.ok()) {
    return Error{"cannot start the ProxyCommand: " + std::string(std::generic_category().message(errno)),
                 ErrorCode::kFailedPrecondition};
  }
  // As ssh(1) runs it: the user's $SHELL, else /bin/sh.
  const char* shell_env = std::getenv("SHELL");  // NOLINT(concurrency-mt-unsafe): read only, never set here
  const std::string shell = shell_env != nullptr && *shell_env != '\0' ? shell_env : "/bin/sh";
  const pid_t pid = spawn({shell, "-c", "exec " + shell_command}, socket_fd, socket_fd, err.write, false);
  if (pid < 0) {
    return Error{"cannot start the ProxyCommand with " + shell + ": " + std::generic_category().message(errno),
                 ErrorCode::kFailedPrecondition};
  }
  err.close_write();
  ::fcntl(err.read, F_SETFL, ::fcntl(err.read, F_GETFL) | O_NONBLOCK);
  ChildProcess child(pid, std::exchange(err.read, -1));
  return child;
}

}  // namespace bluegreen::remote
