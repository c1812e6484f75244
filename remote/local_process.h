#pragma once
// Internal to remote/: local processes the SSH layer needs from OpenSSH itself: `ssh -G` (the
// reference resolver of ssh_config, see ssh_config.h) and a host's ProxyCommand (ssh_route.h).
//
// Why not a library: Debian 12's candidates (Boost.Process) would add Boost to the build for two
// call sites; posix_spawn(3) with pipes and poll(2) is what they wrap.
//
// Thread-safety: every function may be called from any thread. Pipes are created close-on-exec,
// so a process started here inherits only the descriptors it is given.

#include "common/result.h"

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace bluegreen::remote {

struct LocalRun {
  int exit_status = -1;  // the exit status, or -1 when it ended by a signal (or was killed here)
  std::string out;       // its standard output, at most `max_bytes` (the rest is discarded)
  std::string err;       // its standard error, likewise
};

// Runs `argv` (argv[0] found on PATH, the environment inherited, stdin /dev/null, in a process
// group of its own) and waits for it, up to `timeout`; then its group is killed (SIGKILL) and
// kDeadlineExceeded is returned. Processes it leaves in its group are killed when it ends. Errors:
// kFailedPrecondition when it cannot be started (the message names argv[0], e.g. "ssh is not
// installed"), kDeadlineExceeded.
bluegreen::Result<LocalRun> run_local(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                      std::size_t max_bytes = std::size_t{1} << 20);

// A process started by spawn_on_socket() (in a process group of its own); ending the object ends
// the group: SIGTERM, up to 1 s for the process to exit, then SIGKILL, and it is reaped. Movable, not copyable.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(pid_t pid, int stderr_fd) : pid_(pid), stderr_fd_(stderr_fd) {}
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // What it wrote to its standard error so far (the last 2000 bytes), without waiting; its
  // exit ("exited with status 255", "killed by signal 9") when it has ended.
  [[nodiscard]] std::string diagnostics();
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  void end();
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string stderr_;
  int status_ = 0;
  bool reaped_ = false;
};

// Starts `$SHELL -c "exec <shell_command>"` ($SHELL, else /bin/sh: as OpenSSH runs a ProxyCommand) with its standard
// input and output on `socket_fd` (which the caller keeps; the child gets its own copy) and its
// standard error on a pipe kept by the result. Errors: kFailedPrecondition when it cannot start.
bluegreen::Result<ChildProcess> spawn_on_socket(const std::string& shell_command, int socket_fd);

}  // namespace bluegreen::remote
