#pragma once
// Internal to remote/ (SshExecutor's parts): a remote process kept running on its own channel for
// as long as a HeldProcess handle lives (Executor::hold(), remote/executor.h), e.g. a flock held
// on the load balancer across several commands.
//
// Why a channel and not a process started in the background: when the connection drops, sshd
// closes the channel and the process's stdin ends, so it exits on the host and a crashed server
// never leaves a lock behind. The channel is tracked on the connection, because a channel must be
// freed before its session is.
//
// Thread-safety: hold_process() takes the connection's lock itself and must be called without it;
// the handle's alive() and destructor take it too, so a handle may be used from any thread. The
// connection goes back to its host's pool once hold() returns and other calls use it too; alive()
// then waits while such a call uses the session (brief for the reads and LB commands that do).

#include "common/result.h"
#include "remote/executor.h"
#include "remote/ssh_connection.h"

#include <memory>
#include <string>

namespace bluegreen::remote {

// Starts `command` (verbatim, no `timeout` wrapper: it must run until released) and waits until
// it prints `ready_line` as a whole line on stdout, draining stderr meanwhile. Returns the handle;
// destroying it sends end of input to the process, which must then exit (e.g. `... cat >/dev/null`).
// Errors:
//  - kFailedPrecondition with exit_status set when the command exits first; the message gives the
//    status and the first 2000 bytes of its stderr and stdout;
//  - kDeadlineExceeded after options.deadline (ms), kCancelled when options.stop is requested (the
//    channel is closed then, which ends the process);
//  - kUnavailable when the connection is lost, and the errors of start_command().
// `connection` is kept alive by the handle.
bluegreen::Result<std::unique_ptr<HeldProcess>> hold_process(const std::shared_ptr<SshConnection>& connection,
                                                             const std::string& command, const std::string& ready_line,
                                                             const CommandOptions& options);

}  // namespace bluegreen::remote
