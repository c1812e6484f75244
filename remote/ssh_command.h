#pragma once
// Internal to remote/ (SshExecutor's parts): running one command on an exec channel of a host's
// session, with the Executor contract's deadline, stop and output-cap semantics (remote/executor.h).
//
// How a command is stopped, and why:
//  - The command runs as `sh -c <command>` under `timeout` on the host (unless
//    CommandOptions::host_timeout is off), because a dropped connection does not kill a remote
//    command: the host must enforce the deadline itself.
//  - The wrapper first prints "bluegreen-mcp-pid:<pid>" on stderr (taken out of the output), so
//    a deadline or stop request sends `kill -TERM <pid>` on a second channel: sshd ignores SSH
//    "signal" requests in some setups (root logins). Without `timeout` the TERM goes to the whole
//    process group (sshd makes the login shell a group leader, so <pid> is the group's id).
//  - After TERM, SshSettings::stop_grace is waited for before the channel is closed regardless.
//
// Thread-safety: every function requires the connection's lock() for its whole run.

#include "common/result.h"
#include "remote/executor.h"
#include "remote/libssh_support.h"
#include "remote/ssh_connection.h"

#include <chrono>
#include <string>

namespace bluegreen::remote {

// Opens a channel on `connection` (reconnecting once if the session was dead) and starts
// `command` on it verbatim (no wrapper). Errors: those of SshConnection::open_channel(), or
// kUnavailable "cannot start the command" (the session is dropped then: its state is unknown).
bluegreen::Result<ChannelPtr> start_command(SshConnection& connection, const std::string& command);

// Runs `command` (a POSIX sh command line) on the host and waits for it to end, draining stdout
// and stderr together (a chatty stream must never fill the channel window and stall the other).
// Returns an Error only when the command could not be started (see start_command()). Otherwise
// the CommandResult says how it ended: exit status, the tails of both streams (each capped at
// options.output_cap_bytes, with the count of dropped bytes), duration in ms, and timed_out /
// cancelled / problem when it has no exit status. Ends within options.deadline plus `stop_grace`
// (ms) plus one round trip. A lost connection is reported in `problem`, and the session dropped.
bluegreen::Result<CommandResult> run_command(SshConnection& connection, const std::string& command,
                                             const CommandOptions& options, std::chrono::milliseconds stop_grace);

}  // namespace bluegreen::remote
