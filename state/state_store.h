#pragma once
// The deployment state file, its lock and the audit log, kept on the load balancer and reached
// through an Executor (SSH in production).
//
// Guarantees:
//  - Writes happen only under the app's exclusive lock: flock on a separate lock file, held by a
//    process on the LB for as long as the AppLock lives (released automatically if this server
//    or its connection dies). Waiting for the lock has a deadline; a busy lock is reported as
//    "locked by <client> (<action>) since <time>".
//  - A write goes to a temp file in the same directory, is fsynced, renamed over the old file,
//    the directory fsynced, and the result read back and compared.
//  - No file is written through a symbolic link (see file_safety_shell_functions): the state file,
//    its temp files, the lock file, the owner record and the audit log are refused, with a message
//    naming the link and its target, when they are links; the lock refuses them all before a
//    deploy or switch starts. Temp files get fresh names (mktemp: O_CREAT|O_EXCL) and are renamed
//    over their target, and rename(2) replaces a link itself, never its target; the audit log and
//    the owner record are written with O_NOFOLLOW.
//  - Stale temp files of the state file (an interrupted write) are removed by the next write,
//    which holds the lock, so no other writer can own them.
//  - A write is refused when the file's generation is not the one the caller planned against.
//  - A file that cannot be parsed is reported with instructions and never overwritten.
//
// Thread-safety: a StateStore may be used from several threads; the lock serialises writers
// across processes and machines.

#include "common/result.h"
#include "remote/executor.h"
#include "state/deployment_state.h"

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

namespace bluegreen::state {

// Exit status of a remote script that refused to write or replace a file because it is a symbolic
// link; its stderr names the file and the link's target and says what to do.
inline constexpr int kSymlinkRefusedExit = 12;

// Shell text (POSIX sh; GNU coreutils' mktemp, dd and readlink on the host) defining the helpers
// every script that writes a file on a host uses. Paste it before the commands that use them.
//   bg_no_symlink FILE [ADVICE]  exits kSymlinkRefusedExit, with "REFUSED: FILE is a symbolic link
//       to TARGET ..." and ADVICE (default: replace it with a regular file) on stderr, when FILE
//       is a symbolic link (test -L, lstat(2)); dangling links included. It is a check, so the
//       operator learns about a link; what makes the writes safe against a link planted right
//       after it is how they are done: new content goes to a bg_new_temp file, written with
//       bg_fill and renamed over its target (rename(2) replaces a link itself, never its target);
//       appends use dd oflag=append,nofollow. The one remaining window is the lock file, which
//       flock(1) opens (following a link, O_CREAT, no write) right after its check; only someone
//       who can write the lock's directory can use it, and at worst creates an empty file.
//   bg_new_temp PREFIX  creates an empty file "PREFIX.XXXXXXXXXX" with mktemp(1) (O_CREAT|O_EXCL,
//       so it can be neither an existing file nor a link), gives it the mode a plain `>` would
//       (0666 & ~umask) and prints its name.
//   bg_fill FILE  copies stdin into the existing FILE with dd oflag=nofollow (open(2) O_NOFOLLOW:
//       ELOOP if FILE was swapped for a link), conv=nocreat, and fsyncs it (conv=fsync).
// Thread-safety: a pure function.
std::string file_safety_shell_functions();

struct StoreLocation {
  std::string app;         // for messages and audit records
  std::string host;        // SSH destination of the LB
  std::string state_file;  // absolute paths on the LB
  std::string lock_file;
  std::string audit_log;
  std::chrono::milliseconds command_timeout{15000};
  std::chrono::milliseconds max_lock_hold{std::chrono::hours(4)};  // the LB drops a forgotten lock after this
};

// Held for the duration of one deploy or switch.
class AppLock {
 public:
  explicit AppLock(std::unique_ptr<remote::HeldProcess> process) : process_(std::move(process)) {}
  // False if the lock was lost (connection dropped): nothing may be written then.
  [[nodiscard]] bool held() const { return process_ && process_->alive(); }

 private:
  std::unique_ptr<remote::HeldProcess> process_;
};

struct AuditRecord {
  std::string action;                                 // "switch", "deploy", "rollback", ...
  std::string client;                                 // clientInfo.name from initialize
  std::string outcome;                                // "ok", "failed", "refused", "cancelled", ...
  nlohmann::json details = nlohmann::json::object();  // colours, ref, commit, error text
};

class StateStore {
 public:
  StateStore(remote::Executor& executor, StoreLocation location);

  // The state file's content; nullopt when there is no state file yet. Error when the LB cannot
  // be reached, the file is corrupt (the message says how to repair it) or is a symbolic link
  // (not followed: "REFUSED: ... is a symbolic link to ...", as the writing scripts say).
  bluegreen::Result<std::optional<DeploymentState>> read() const;

  // read() in two halves, so the state file can be fetched within a larger remote script: the
  // shell text that prints the file (or a marker when there is none), and the interpretation of
  // what it printed.
  [[nodiscard]] std::string read_script() const;
  [[nodiscard]] bluegreen::Result<std::optional<DeploymentState>> parse_read(const std::string& output) const;

  // Takes the app's lock, waiting up to `wait`. `client` and `action` are recorded as the holder.
  // Errors: code kBusy when another holder kept it for all of `wait` (the message names the
  // holder); otherwise the executor's code (kCancelled, kDeadlineExceeded, kUnavailable, or
  // kFailedPrecondition when the lock command exited for another reason).
  bluegreen::Result<std::unique_ptr<AppLock>> lock(const std::string& client, const std::string& action,
                                                   std::chrono::milliseconds wait, std::stop_token stop) const;

  // Replaces the state file with `next`, whose generation must be above `expected_generation`
  // (the caller planned against `expected_generation`, which the file must still have; for a
  // missing file use 0): expected + 1 for one load balancer; a pair's lagging state file jumps to
  // the pair's newest + 1 (deployment/lb_pair.h). Requires a held lock. Verified by reading the
  // file back.
  bluegreen::Status write(const AppLock& lock, const DeploymentState& next, std::uint64_t expected_generation) const;

  // write() in two halves, for a switch: prepare() checks the generation and writes the new file
  // beside the old one (fsynced) before traffic moves, so a full or read-only disk stops the
  // switch early; commit() is then only a rename (plus directory fsync and read-back).
  struct PreparedWrite {
    std::string temp_path;
    std::string text;
  };
  bluegreen::Result<PreparedWrite> prepare(const AppLock& lock, const DeploymentState& next,
                                           std::uint64_t expected_generation) const;
  // commit() succeeds when the file holds `prepared` afterwards, even if the rename's reply was
  // lost. Errors: code kUnknownOutcome when the file may hold `prepared` but reading it back
  // failed or showed other content; any other code: the previous file is untouched.
  bluegreen::Status commit(const AppLock& lock, const PreparedWrite& prepared) const;
  void discard(const PreparedWrite& prepared) const;  // best effort: removes the temp file

  // Appends one JSON line to the audit log (best effort is not good enough: failures are errors).
  bluegreen::Status audit(const AuditRecord& record) const;

  // The audit log's last `max_lines` lines (oldest first), each ending in '\n', and at most
  // `max_bytes` bytes of them: when the byte cap cuts into the first line kept, that line is
  // dropped whole. "" when there is no audit log yet. Errors: the LB cannot be reached (the
  // executor's code), the log is a symbolic link ("REFUSED: ..."; not followed, as the writers
  // refuse it) or cannot be read (kFailed, with the host's message).
  bluegreen::Result<std::string> read_audit_tail(std::size_t max_lines, std::size_t max_bytes) const;

  [[nodiscard]] const StoreLocation& location() const { return location_; }

 private:
  bluegreen::Result<remote::CommandResult> run(const std::string& command) const;

  remote::Executor& executor_;
  StoreLocation location_;
};

// `at` (default: now) in UTC as ISO 8601 with milliseconds ("2025-10-25T12:00:00.000Z"), as the
// seed writes. Thread-safe.
std::string utc_timestamp(std::chrono::system_clock::time_point at = std::chrono::system_clock::now());

}  // namespace bluegreen::state
