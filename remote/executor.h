#pragma once
// Runs commands on remote hosts. The tools depend on this interface only, so they can be unit
// tested with a fake; SshExecutor is the real implementation.
//
// Contract:
//  - run() returns an Error when the command could not be started or its outcome is unknown
//    because the host could not be reached (connection refused, host key not trusted,
//    authentication failed, connection lost before the command started). It returns a
//    CommandResult once the command ran, whatever its outcome: check succeeded().
//  - Every call ends by its deadline (plus a short grace to stop the command) or when `stop` is
//    requested; the remote command is then stopped and the result says so.
//  - Output kept per stream is capped: the tail is kept and the number of dropped bytes reported.
//
// Thread-safety: implementations are safe to call from several threads; commands on different
// hosts run in parallel.

#include "common/result.h"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

namespace remote {

struct CommandOptions {
  std::chrono::milliseconds deadline = std::chrono::seconds(60);
  std::size_t output_cap_bytes = std::size_t{256} * 1024;  // per stream
  std::stop_token stop;
};

struct CapturedOutput {
  std::string tail;          // the last output_cap_bytes bytes
  std::size_t dropped = 0;   // bytes before the tail that were not kept
};

struct CommandResult {
  std::optional<int> exit_status;  // missing: killed by a signal, stopped, or connection lost
  CapturedOutput out;
  CapturedOutput err;
  std::chrono::milliseconds duration{0};
  bool timed_out = false;   // stopped because the deadline passed
  bool cancelled = false;   // stopped because `stop` was requested
  std::string problem;      // why there is no exit status, when there is none

  [[nodiscard]] bool succeeded() const { return exit_status == 0; }
  // One line for the user: "exit 0 in 12 ms", "timed out after 5000 ms", ...
  [[nodiscard]] std::string summary() const;
};

// A remote process kept running for as long as the handle lives; used to hold a lock (flock) on
// the load balancer across several commands. Destroying the handle closes the process's stdin,
// and it must exit then (e.g. `... cat >/dev/null`). If the connection drops, the process ends
// on the host too, so a crashed server never leaves a lock behind.
class HeldProcess {
 public:
  virtual ~HeldProcess() = default;
  // False once the process ended or its connection was lost: whatever it held is gone.
  [[nodiscard]] virtual bool alive() = 0;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // `host` is an SSH destination: an alias from the ssh config, or [user@]host[:port].
  virtual bluegreen::Result<CommandResult> run(const std::string& host, const std::string& command,
                                               const CommandOptions& options) = 0;

  // Starts `command` and waits until it prints `ready_line` as a line on stdout. Returns the
  // handle then; returns the finished command's CommandResult as an Error message when it exits
  // first (exit status and output tails included), or an Error when options.deadline passes or
  // options.stop is requested (the process is then closed).
  virtual bluegreen::Result<std::unique_ptr<HeldProcess>> hold(const std::string& host, const std::string& command,
                                                               const std::string& ready_line,
                                                               const CommandOptions& options) = 0;
};

}  // namespace remote
