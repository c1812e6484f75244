#include "state/state_store.h"

#include "common/base64.h"
#include "common/text.h"
#include "remote/shell_command.h"

#include <array>
#include <ctime>
#include <unistd.h>

namespace bluegreen::state {
namespace {

using bluegreen::Error;
using remote::shell_quote;

constexpr std::string_view kMissingMarker = "BLUEGREEN-NO-STATE-FILE";
constexpr std::string_view kLockedMarker = "BLUEGREEN-LOCKED";
constexpr int kLockBusyExit = 75;  // flock -E: the lock was not obtained in time

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string tail_of(const remote::CommandResult& result) {
  std::string text = bluegreen::tail_of(result.err.tail.empty() ? result.out.tail : result.err.tail, 500);
  return text.empty() ? result.summary() : text;
}

}  // namespace

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 32> buffer{};
  const auto length = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  return std::string(buffer.data(), length) + "." + (millis < 100 ? (millis < 10 ? "00" : "0") : "") +
         std::to_string(millis) + "Z";
}

StateStore::StateStore(remote::Executor& executor, StoreLocation location)
    : executor_(executor), location_(std::move(location)) {}

bluegreen::Result<remote::CommandResult> StateStore::run(const std::string& command) const {
  remote::CommandOptions options;
  options.deadline = location_.command_timeout;
  options.output_cap_bytes = std::size_t{4} * 1024 * 1024;  // the state file must come back whole
  return executor_.run(location_.host, command, options);
}

std::string StateStore::read_script() const {
  const std::string file = shell_quote(location_.state_file);
  return "if [ -e " + file + " ]; then cat " + file + "; else echo " + std::string(kMissingMarker) + "; fi";
}

bluegreen::Result<std::optional<DeploymentState>> StateStore::parse_read(const std::string& output) const {
  if (output == std::string(kMissingMarker) + "\n") return std::optional<DeploymentState>();
  auto parsed = parse_state(output);
  if (!parsed) {
    const std::string& file = location_.state_file;
    return Error{"the state file " + file + " on " + location_.host + " is corrupt: " + parsed.error().message +
                 ". Nothing was changed, and nothing will be until it is repaired. Inspect it (ssh " + location_.host +
                 " cat " + file + "); fix it by hand, or move it aside (mv " + file + " " + file +
                 ".corrupt) so that the next deploy or switch recreates it from what HAProxy actually routes to."};
  }
  return std::optional<DeploymentState>(std::move(parsed.value()));
}

bluegreen::Result<std::optional<DeploymentState>> StateStore::read() const {
  auto result = run(read_script());
  if (!result) return Error{"cannot reach the load balancer to read the state file: " + result.error().message};
  if (!result->succeeded()) {
    return Error{"cannot read the state file " + location_.state_file + " on " + location_.host + ": " +
                 tail_of(*result)};
  }
  return parse_read(result->out.tail);
}

bluegreen::Result<std::unique_ptr<AppLock>> StateStore::lock(const std::string& client, const std::string& action,
                                                             std::chrono::milliseconds wait,
                                                             std::stop_token stop) const {
  const nlohmann::json holder{{"client", client.empty() ? "unknown client" : client},
                              {"action", action},
                              {"since", utc_timestamp()},
                              {"serverPid", ::getpid()}};
  const std::string owner_file = location_.lock_file + ".owner";
  const auto wait_seconds = std::max<long long>(1, (wait.count() + 999) / 1000);
  const auto max_hold = std::chrono::duration_cast<std::chrono::seconds>(location_.max_lock_hold).count();
  // The lock lives as long as `cat` reads the channel: closing it (or losing the connection)
  // ends `cat`, the shell and flock, and the lock with them.
  const std::string command = "mkdir -p " + shell_quote(directory_of(location_.lock_file)) + " && exec flock -x -E " +
                              std::to_string(kLockBusyExit) + " -w " + std::to_string(wait_seconds) + " " +
                              shell_quote(location_.lock_file) + " sh -c " +
                              shell_quote("printf '%s\\n' \"$1\" > \"$2\"; echo " + std::string(kLockedMarker) +
                                          "; exec timeout " + std::to_string(max_hold) + " cat >/dev/null") +
                              " sh " + shell_quote(holder.dump()) + " " + shell_quote(owner_file);

  remote::CommandOptions options;
  options.deadline = wait + location_.command_timeout;
  options.stop = std::move(stop);
  auto held = executor_.hold(location_.host, command, std::string(kLockedMarker), options);
  if (held) return std::make_unique<AppLock>(std::move(held.value()));

  if (held.error().exit_status != kLockBusyExit) {
    return Error{"cannot take the lock " + location_.lock_file + " on " + location_.host + ": " + held.error().message,
                 held.error().code};
  }
  std::string who = "another operation";
  if (auto owner = run("cat " + shell_quote(owner_file) + " 2>/dev/null"); owner && owner->succeeded()) {
    const auto info = nlohmann::json::parse(owner->out.tail, nullptr, false);
    if (info.is_object()) {
      who = info.value("client", std::string("?")) + " (" + info.value("action", std::string("?")) + ") since " +
            info.value("since", std::string("?"));
    }
  }
  return Error{"the app \"" + location_.app + "\" is locked by " + who + "; waited " + std::to_string(wait_seconds) +
                   " s. Wait for that operation to finish and try again (the lock is released when its holder finishes "
                   "or its connection closes).",
               bluegreen::ErrorCode::kBusy};
}

bluegreen::Result<StateStore::PreparedWrite> StateStore::prepare(const AppLock& lock, const DeploymentState& next,
                                                                 std::uint64_t expected_generation) const {
  if (!lock.held()) return Error{"the lock on " + location_.lock_file + " was lost; the state file was not written"};
  if (next.generation != expected_generation + 1) {
    return Error{"internal error: new generation " + std::to_string(next.generation) + " does not follow " +
                 std::to_string(expected_generation)};
  }
  auto current = read();
  if (!current) return current.error();
  const std::uint64_t on_disk = current->has_value() ? (*current)->generation : 0;
  if (on_disk != expected_generation) {
    return Error{"the state file changed since this operation was planned (generation " + std::to_string(on_disk) +
                 ", expected " + std::to_string(expected_generation) +
                 "); nothing was written. Check the status "
                 "and plan again."};
  }

  PreparedWrite prepared{location_.state_file + ".tmp." + std::to_string(::getpid()) + "." +
                             std::to_string(next.generation),
                         serialize_state(next)};
  const std::string temp = shell_quote(prepared.temp_path);
  const std::string script = "set -e; t=" + temp + "; trap 'rm -f \"$t\"' EXIT; mkdir -p " +
                             shell_quote(directory_of(location_.state_file)) + "; printf '%s' " +
                             shell_quote(bluegreen::base64_encode(prepared.text)) +
                             " | base64 -d > \"$t\"; sync \"$t\"; trap - EXIT";
  auto result = run(script);
  if (!result) return Error{"writing the new state file failed: " + result.error().message};
  if (!result->succeeded()) {
    return Error{"cannot write the new state file next to " + location_.state_file +
                 " (disk full or read-only?); the current file is untouched: " + tail_of(*result)};
  }
  return prepared;
}

bluegreen::Status StateStore::commit(const AppLock& lock, const PreparedWrite& prepared) const {
  if (!lock.held()) {
    discard(prepared);
    return Error{"the lock on " + location_.lock_file + " was lost; the state file was not replaced"};
  }
  const std::string& file = location_.state_file;
  auto result = run("mv -f " + shell_quote(prepared.temp_path) + " " + shell_quote(file) + " && sync " +
                    shell_quote(directory_of(file)));
  if (!result || !result->succeeded()) {
    // The rename may have run (only `sync` failed, or the reply was lost): the file decides.
    const std::string why = result ? tail_of(*result) : result.error().message;
    auto now = read();
    if (now && now->has_value() && serialize_state(**now) == prepared.text) return bluegreen::ok_status();
    if (!now) {
      return Error{"replacing the state file " + file + " did not report success (" + why +
                       ") and it cannot be read back: " + now.error().message,
                   bluegreen::ErrorCode::kUnknownOutcome};
    }
    discard(prepared);
    return Error{"replacing the state file " + file + " failed (the previous file is untouched): " + why};
  }
  // From here the file was replaced: a failure means its content is unknown, not unchanged.
  auto written = read();
  if (!written) {
    return Error{"the state file was written but cannot be read back: " + written.error().message,
                 bluegreen::ErrorCode::kUnknownOutcome};
  }
  if (!written->has_value() || serialize_state(**written) != prepared.text) {
    return Error{"the state file " + file + " does not hold what was written; inspect it on " + location_.host,
                 bluegreen::ErrorCode::kUnknownOutcome};
  }
  return bluegreen::ok_status();
}

void StateStore::discard(const PreparedWrite& prepared) const { (void)run("rm -f " + shell_quote(prepared.temp_path)); }

bluegreen::Status StateStore::write(const AppLock& lock, const DeploymentState& next,
                                    std::uint64_t expected_generation) const {
  auto prepared = prepare(lock, next, expected_generation);
  if (!prepared) return prepared.error();
  return commit(lock, *prepared);
}

bluegreen::Status StateStore::audit(const AuditRecord& record) const {
  nlohmann::json line = record.details;
  line["time"] = utc_timestamp();
  line["app"] = location_.app;
  line["action"] = record.action;
  line["client"] = record.client;
  line["outcome"] = record.outcome;
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto result = run("mkdir -p " + shell_quote(directory_of(location_.audit_log)) + " && printf '%s\\n' " +
                    shell_quote(text) + " >> " + shell_quote(location_.audit_log));
  if (!result) return Error{"appending to the audit log failed: " + result.error().message};
  if (!result->succeeded())
    return Error{"appending to the audit log " + location_.audit_log + " failed: " + tail_of(*result)};
  return bluegreen::ok_status();
}

}  // namespace bluegreen::state
