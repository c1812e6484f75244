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
//  - read_files() and query_unix_socket() read files and talk to UNIX sockets (HAProxy's stats
//    and master sockets) on the host, with the same deadline and stop semantics.
//  - Error codes (bluegreen::ErrorCode): kUnavailable when the host cannot be reached, refuses
//    the login or the connection is lost (retrying later may work); kFailedPrecondition when its
//    host key is not trusted (retrying cannot help until someone trusts it); kInvalidArgument for
//    a destination that is not valid; kDeadlineExceeded and kCancelled when an Error (not a
//    CommandResult) reports the deadline or `stop`; kFailed otherwise.
//
// Thread-safety: implementations are safe to call from several threads. Calls to different hosts
// run in parallel, and so do calls to one host: a read-only call (status) must not wait for a long
// command (a deploy step) on the same host. An implementation may bound how many run at once per
// host; a call beyond the bound waits for a turn within its own deadline and stop.

#include "common/result.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::remote {

struct CommandOptions {
  std::chrono::milliseconds deadline = std::chrono::seconds(60);
  std::size_t output_cap_bytes = std::size_t{256} * 1024;  // per stream
  std::stop_token stop;
  // Also enforce the deadline on the host with `timeout`, so the command ends there even if the
  // connection drops (a process start more on the host). Turn it off only for short read-only
  // commands that end by themselves (reading files, `git log`): the local deadline and `stop`
  // still end the call and stop the command's whole process group on the host.
  bool host_timeout = true;
};

struct CapturedOutput {
  std::string tail;         // the last output_cap_bytes bytes
  std::size_t dropped = 0;  // bytes before the tail that were not kept
};

struct CommandResult {
  std::optional<int> exit_status;  // missing: killed by a signal, stopped, or connection lost
  CapturedOutput out;
  CapturedOutput err;
  std::chrono::milliseconds duration{0};
  bool timed_out = false;  // stopped because the deadline passed
  bool cancelled = false;  // stopped because `stop` was requested
  std::string problem;     // why there is no exit status, when there is none

  [[nodiscard]] bool succeeded() const { return exit_status == 0; }
  // One line for the user: "exit 0 in 12 ms", "timed out after 5000 ms", ...
  [[nodiscard]] std::string summary() const;
};

// What a UNIX socket on a host answered to one request.
struct SocketReply {
  std::string text;  // everything the socket sent until it closed
  std::chrono::milliseconds duration{0};
  bool forwarded = false;  // true: through the SSH connection itself; false: with socat on the host
};

// One file as read_files() found it: read, missing, or unreadable.
struct FileRead {
  bool missing = false;  // there is no such file
  std::string problem;   // why it could not be read (permission, a directory, too large, ...)
  std::string content;   // the whole file, when neither
  // When the file was last modified, in seconds since the Unix epoch by the host's clock (SFTP
  // reports whole seconds): set when the file was read and the host reported it.
  std::optional<std::int64_t> modified_epoch_s;
  // When its status last changed (ctime: content, mode, owner, link count, rename; it cannot be
  // set back as a modification time can), in the same unit: set only where the way of reading
  // learns it at no cost (`cat` reads it with the modification time; SFTP v3 does not carry it).
  std::optional<std::int64_t> changed_epoch_s;
};

// Short read-only commands a caller also needs from a host it reads files on. Where
// read_files() reads the files with a command (`cat`: the host has no SFTP), it runs these in the
// same remote process, so the call starts one process on the host instead of one per command (a
// login shell that takes long to start, as with nvm or pyenv set up in .bashrc, is paid once).
// Where it reads the files without starting anything (SFTP), it does not run them (`ran` stays
// false): running them would start a process, so the caller runs only those it still needs,
// when it needs them. A value the caller owns; one read_files() call at a time fills it, on the
// calling thread.
struct Piggyback {
  // In: shell command lines. Each runs in a subshell of its own with no input, so `exit`, `exec`
  // and `cd` end or affect only it; it ends by itself quickly (no `timeout` on the host: the
  // call's deadline is enforced locally). Nothing untrusted may be pasted into them.
  std::vector<std::string> commands;
  // Out: true when the commands ran; `results` then has one entry per command, in order, as
  // run() would report it: the exit status, stdout, and stderr (its trailing newlines removed),
  // with the whole read's duration. Their output counts against the read's output cap.
  bool ran = false;
  std::vector<CommandResult> results;
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
  // handle then. When the command exits first, the Error has code kFailedPrecondition, its
  // exit_status set, and the output tails in its message; when options.deadline passes or
  // options.stop is requested, code kDeadlineExceeded or kCancelled (the process is then closed).
  virtual bluegreen::Result<std::unique_ptr<HeldProcess>> hold(const std::string& host, const std::string& command,
                                                               const std::string& ready_line,
                                                               const CommandOptions& options) = 0;

  // Connects to the UNIX socket `socket_path` on `host`, sends `request` followed by end of
  // input, and returns all the socket sends until it closes (HAProxy's stats and master sockets
  // answer one command, then close). Returns an Error when the host cannot be reached, the socket
  // cannot be connected (the message says why), options.deadline passes or options.stop is
  // requested, or the reply exceeds options.output_cap_bytes (a partial reply is never returned).
  //
  // This default runs `socat` on the host through run(). SshExecutor forwards the socket through
  // its SSH connection instead (OpenSSH's direct-streamlocal channel: no process on the host), and
  // falls back to this when the host refuses to forward.
  virtual bluegreen::Result<SocketReply> query_unix_socket(const std::string& host, const std::string& socket_path,
                                                           const std::string& request, const CommandOptions& options);

  // Reads whole files on `host`; the result has one entry per path, in order. A missing or
  // unreadable file is reported in its entry; a file larger than options.output_cap_bytes is
  // unreadable (never truncated). Returns an Error when the host cannot be reached, the
  // deadline passes or `stop` is requested (then `piggyback`'s results are not set).
  // `piggyback` (may be null): commands to run in the same remote process if the files are read
  // with a command; see Piggyback.
  //
  // This default runs `cat` on the host through run(), with the piggybacked commands. SshExecutor
  // reads them over SFTP on a channel it keeps open (no process per read, piggybacked commands not
  // run), and falls back to this when the host has no SFTP.
  virtual bluegreen::Result<std::vector<FileRead>> read_files(const std::string& host,
                                                              const std::vector<std::string>& paths,
                                                              const CommandOptions& options,
                                                              Piggyback* piggyback = nullptr);
};

// Runs one command line on a host whose destination the caller knows, with the contract of
// Executor::run(). Lets the `cat` and `socat` ways below run on any connection, not only through
// run() (SshExecutor falls back to them on the connection that found SFTP or forwarding unusable).
using CommandRunner =
    std::function<bluegreen::Result<CommandResult>(const std::string& command, const CommandOptions& options)>;

// Executor::read_files() with `cat` through `run`: one command for all `paths` and the
// piggybacked commands (`piggyback` may be null), each part marked by a random tag no content can
// fake. Each file's modification and status-change times come with it (stat -L, following a link
// as cat does). `host` names the host in messages. Same results and errors as
// Executor::read_files(); `piggyback->ran` is set once the command ran to its end.
bluegreen::Result<std::vector<FileRead>> read_files_with_cat(const CommandRunner& run, const std::string& host,
                                                             const std::vector<std::string>& paths,
                                                             const CommandOptions& options,
                                                             Piggyback* piggyback = nullptr);

// Executor::query_unix_socket() with `socat` on the host through `run`. `host` names the host in
// messages. Same results and errors as Executor::query_unix_socket() (`forwarded` is false).
bluegreen::Result<SocketReply> query_unix_socket_with_socat(const CommandRunner& run, const std::string& host,
                                                            const std::string& socket_path, const std::string& request,
                                                            const CommandOptions& options);

}  // namespace bluegreen::remote
