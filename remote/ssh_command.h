#pragma once
// Internal to remote/ (SshExecutor's parts): running one command on an exec channel of a host's
// session, with the Executor contract's deadline, stop and output-cap semantics (remote/executor.h).
//
// How a command is stopped, and why:
//  - The command runs as `sh -c <command>` under `timeout` on the host (unless
//    CommandOptions::host_timeout is off), because a dropped connection does not kill a remote
//    command: the host must enforce the deadline itself.
//  - With `timeout`, a watcher runs next to it and stops it when the channel ends: sshd closes
//    the command's stdin when the connection ends (the server was killed, exited, or the network
//    failed), the watcher reads that end of input, sends `timeout` TERM (passed on to the
//    command's process group) and KILLs the group when it has not ended within the grace. So the
//    work started under a lock on another host ends within seconds of the connection, like the
//    lock does. The command itself reads /dev/null, so the channel's stdin is the watcher's alone,
//    and this side sends end of input only once the command ended or was given up on. After a
//    normal end the watcher does nothing: it only acts while `timeout` (its parent, `$$`) still
//    runs, and while it lives in the group `$$`, no other process can take that PID.
//  - The wrapper prints "bluegreen-mcp-pid:<nonce>:<pid>" on stderr (taken out of the output;
//    lines a login shell prints before it pass through), so
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

// The command line run_command() sends for `command`: the PID announcement
// ("bluegreen-mcp-pid:<nonce>:<pid>" on stderr; `nonce` is new for each command, so output the
// login shell prints first, or anything else on the host, cannot pass for it), then with
// `host_timeout` the watcher and `timeout` (deadline and stop_grace in ms, written in seconds
// with 3 decimals), else `exec sh -c <command>`. POSIX sh (dash and bash); the command's exit
// status, or the signal that ended it, is the channel's. Pure function, for tests.
std::string wrap_command(const std::string& command, bool host_timeout, std::chrono::milliseconds deadline,
                         std::chrono::milliseconds stop_grace, const std::string& nonce);

// Opens a channel on `connection` (reconnecting once if the session was dead) and starts
// `command` on it verbatim (no wrapper). Errors: those of SshConnection::open_channel(), or
// kUnavailable "cannot start the command" (the session is dropped then: its state is unknown).
bluegreen::Result<ChannelPtr> start_command(SshConnection& connection, const std::string& command);

// Runs `command` (a POSIX sh command line) on the host and waits for it to end, draining stdout
// and stderr together (a chatty stream must never fill the channel window and stall the other).
// Returns an Error only when the command could not be started (see start_command()). Otherwise
// the CommandResult says how it ended: exit status, the tails of both streams (each capped at
// options.output_cap_bytes, with the count of dropped bytes), duration in ms, and timed_out /
// cancelled / problem when it has no exit status. The deadline counts from `started` (when the
// caller's call began, e.g. before it waited for a connection; default now), and the host-side
// `timeout` gets what is left of it. Ends within options.deadline of `started` plus `stop_grace`
// (ms) plus one round trip. A lost connection is reported in `problem`, and the session dropped.
bluegreen::Result<CommandResult> run_command(SshConnection& connection, const std::string& command,
                                             const CommandOptions& options, std::chrono::milliseconds stop_grace,
                                             SshClock::time_point started = SshClock::now());

}  // namespace bluegreen::remote
