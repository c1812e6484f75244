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
  // be reached or the file is corrupt (the message says how to repair it).
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

  // Replaces the state file with `next`, whose generation must be `expected_generation + 1`
  // (the caller planned against `expected_generation`; for a missing file use 0). Requires a
  // held lock. Verified by reading the file back.
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

  [[nodiscard]] const StoreLocation& location() const { return location_; }

 private:
  bluegreen::Result<remote::CommandResult> run(const std::string& command) const;

  remote::Executor& executor_;
  StoreLocation location_;
};

// Current UTC time as ISO 8601 with milliseconds ("2025-10-25T12:00:00.000Z"), as the seed writes.
std::string utc_timestamp();

}  // namespace bluegreen::state
