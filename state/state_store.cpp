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
constexpr std::string_view kLinkMarker = "BLUEGREEN-STATE-FILE-IS-A-LINK ";
constexpr std::string_view kLockedMarker = "BLUEGREEN-LOCKED";
constexpr int kLockBusyExit = 75;  // flock -E: the lock was not obtained in time

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The "REFUSED: ..." line(s) a script wrote (bg_no_symlink) in `text`, or "".
std::string refusal_in(const std::string& text) {
  const auto at = text.find("REFUSED: ");
  if (at == std::string::npos) return "";
  return bluegreen::trim_trailing(text.substr(at, text.find("; stdout: ", at) - at));
}

std::string tail_of(const remote::CommandResult& result) {
  std::string text = bluegreen::tail_of(result.err.tail.empty() ? result.out.tail : result.err.tail, 500);
  return text.empty() ? result.summary() : text;
}

}  // namespace

std::string file_safety_shell_functions() {
  return "bg_no_symlink() { if [ -L \"$1\" ]; then printf 'REFUSED: %s is a symbolic link to %s; bluegreen-mcp never "
         "writes or replaces a file through a symbolic link (the write would land in the link target), so nothing was "
         "written. %s\\n' \"$1\" \"$(readlink -- \"$1\")\" \"${2:-Replace the link with a regular file (or remove "
         "it), then try again.}\" >&2; exit " +
         std::to_string(kSymlinkRefusedExit) +
         "; fi; }; "
         "bg_new_temp() { _bg_t=$(mktemp -- \"$1.XXXXXXXXXX\") || return 1; "
         "chmod \"$(printf %o $(( 0666 & ~$(umask) )))\" -- \"$_bg_t\" || { rm -f -- \"$_bg_t\"; return 1; }; "
         "echo \"$_bg_t\"; }; "
         "bg_fill() { dd of=\"$1\" bs=1M iflag=fullblock oflag=nofollow conv=nocreat,notrunc,fsync status=none; }; ";
}

std::string utc_timestamp(std::chrono::system_clock::time_point at) {
  const auto now = at;
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
  // The state file must come back whole; status reads it within the LB's snapshot with the same cap.
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  return executor_.run(location_.host, command, options);
}

std::string StateStore::read_script() const {
  const std::string file = shell_quote(location_.state_file);
  return "if [ -L " + file + " ]; then printf '" + std::string(kLinkMarker) + "%s\\n' \"$(readlink -- " + file +
         ")\"; elif [ -e " + file + " ]; then cat " + file + "; else echo " + std::string(kMissingMarker) + "; fi";
}

bluegreen::Result<std::optional<DeploymentState>> StateStore::parse_read(const std::string& output) const {
  if (output == std::string(kMissingMarker) + "\n") return std::optional<DeploymentState>();
  if (output.rfind(kLinkMarker, 0) == 0) {  // the same words as bg_no_symlink's
    return Error{
        "REFUSED: " + location_.state_file + " is a symbolic link to " +
        bluegreen::trim_trailing(output.substr(kLinkMarker.size())) +
        "; bluegreen-mcp neither reads nor writes its state file through a symbolic link (a write would land in the "
        "link target), so nothing was read or written. Replace the link with a regular file (or remove it), then try "
        "again."};
  }
  auto parsed = parse_state(output);
  if (!parsed) {
    const std::string& file = location_.state_file;
    return Error{
        "the state file " + file + " on " + location_.host + " is corrupt: " + parsed.error().message +
        ". Nothing was changed, and nothing will be until it is repaired. Inspect it (ssh " + location_.host + " cat " +
        file + "); fix it by hand, or move it aside (mv " + file + " " + file +
        ".corrupt) so that the next deploy or switch recreates it from what the load balancer actually routes to."};
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
  // ends `cat`, the shell and flock, and the lock with them. Every file a deploy or switch writes
  // here is checked for a symbolic link first, so a link is refused before anything starts.
  // flock(1) opens the lock file itself (following a link; it only creates and locks, never
  // writes): the check right before it leaves a window in which a link planted by someone who can
  // write the directory is followed. The owner record is rewritten in place with O_NOFOLLOW (dd
  // oflag=nofollow: ELOOP for a link planted after the check), not via a temp file: on a full
  // disk the truncation frees the page the new record needs, as `>` did, and a failure to write
  // it (informational only) must not free space that the state file's write would then take.
  const std::string holder_script = file_safety_shell_functions() +
                                    "bg_no_symlink \"$2\"; printf '%s\\n' \"$1\" | dd of=\"$2\" oflag=nofollow "
                                    "status=none || :; echo " +
                                    std::string(kLockedMarker) + "; exec timeout " + std::to_string(max_hold) +
                                    " cat >/dev/null";
  std::string checks;
  for (const auto* file : {&location_.lock_file, &owner_file, &location_.state_file, &location_.audit_log}) {
    checks += "bg_no_symlink " + shell_quote(*file) + "; ";
  }
  const std::string command = "mkdir -p " + shell_quote(directory_of(location_.lock_file)) + " && { " +
                              file_safety_shell_functions() + checks + "exec flock -x -E " +
                              std::to_string(kLockBusyExit) + " -w " + std::to_string(wait_seconds) + " " +
                              shell_quote(location_.lock_file) + " sh -c " + shell_quote(holder_script) + " sh " +
                              shell_quote(holder.dump()) + " " + shell_quote(owner_file) + "; }";

  remote::CommandOptions options;
  options.deadline = wait + location_.command_timeout;
  options.stop = std::move(stop);
  auto held = executor_.hold(location_.host, command, std::string(kLockedMarker), options);
  if (held) return std::make_unique<AppLock>(std::move(held.value()));

  if (held.error().exit_status == kSymlinkRefusedExit) {
    return Error{"refused to take the lock for app \"" + location_.app + "\" on " + location_.host + ": " +
                     refusal_in(held.error().message),
                 bluegreen::ErrorCode::kFailedPrecondition};
  }
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
  if (next.generation <= expected_generation) {
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

  // Under the lock every "<state file>.tmp.*" is an interrupted write's (this or an older version's
  // naming): removed. The new temp file gets a fresh name (mktemp), so no planted link can be
  // written through, and its name comes back on stdout.
  const std::string& file = location_.state_file;
  PreparedWrite prepared{"", serialize_state(next)};
  const std::string script = "set -e; f=" + shell_quote(file) + "; mkdir -p " + shell_quote(directory_of(file)) + "; " +
                             file_safety_shell_functions() +
                             "bg_no_symlink \"$f\"; rm -f -- \"$f\".tmp.* 2>/dev/null || :; "
                             "t=$(bg_new_temp \"$f.tmp\"); trap 'rm -f -- \"$t\"' EXIT; printf '%s' " +
                             shell_quote(bluegreen::base64_encode(prepared.text)) +
                             " | base64 -d | bg_fill \"$t\"; trap - EXIT; echo \"$t\"";
  auto result = run(script);
  if (!result) return Error{"writing the new state file failed: " + result.error().message};
  if (!result->succeeded()) {
    if (result->exit_status == kSymlinkRefusedExit) return Error{tail_of(*result)};
    return Error{"cannot write the new state file next to " + file +
                 " (disk full or read-only?); the current file is untouched: " + tail_of(*result)};
  }
  prepared.temp_path = bluegreen::trim_trailing(result->out.tail);
  if (prepared.temp_path.rfind(file + ".tmp.", 0) != 0 || prepared.temp_path.find('\n') != std::string::npos) {
    return Error{"writing the new state file next to " + file + " printed no temp file name: " + tail_of(*result)};
  }
  return prepared;
}

bluegreen::Status StateStore::commit(const AppLock& lock, const PreparedWrite& prepared) const {
  if (!lock.held()) {
    discard(prepared);
    return Error{"the lock on " + location_.lock_file + " was lost; the state file was not replaced"};
  }
  const std::string& file = location_.state_file;
  // rename(2) would replace a link planted at `file` (never write through it); it is refused
  // instead, so the operator learns about it.
  auto result =
      run(file_safety_shell_functions() + "bg_no_symlink " + shell_quote(file) + " && mv -f " +
          shell_quote(prepared.temp_path) + " " + shell_quote(file) + " && sync " + shell_quote(directory_of(file)));
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
  // Appended with dd oflag=append,nofollow (O_APPEND|O_NOFOLLOW): never through a link, even one
  // planted after the check that names it; one write(2) per line (fullblock), as `>>` did.
  const std::string log = shell_quote(location_.audit_log);
  auto result = run("mkdir -p " + shell_quote(directory_of(location_.audit_log)) + " && { " +
                    file_safety_shell_functions() + "bg_no_symlink " + log + " && printf '%s\\n' " + shell_quote(text) +
                    " | dd of=" + log + " bs=1M iflag=fullblock oflag=append,nofollow conv=notrunc status=none; }");
  if (!result) return Error{"appending to the audit log failed: " + result.error().message};
  if (!result->succeeded())
    return Error{"appending to the audit log " + location_.audit_log + " failed: " + tail_of(*result)};
  return bluegreen::ok_status();
}

bluegreen::Result<std::string> StateStore::read_audit_tail(std::size_t max_lines, std::size_t max_bytes) const {
  // What the file is travels in the exit status, never in the output, which is the log's own text.
  constexpr int kIsLink = 20;
  constexpr int kMissing = 21;
  const std::string log = shell_quote(location_.audit_log);
  // One byte more than `max_bytes`: it tells whether the first line kept starts a line.
  auto result = run("f=" + log + "; if [ -L \"$f\" ]; then readlink -- \"$f\"; exit " + std::to_string(kIsLink) +
                    "; elif [ ! -e \"$f\" ]; then exit " + std::to_string(kMissing) +
                    "; elif [ -d \"$f\" ]; then echo \"$f is a directory\" >&2; exit 3; elif [ ! -r \"$f\" ]; then "
                    "echo \"$f cannot be read (permissions)\" >&2; exit 3; else tail -n " +
                    std::to_string(max_lines) + " -- \"$f\" | tail -c " + std::to_string(max_bytes + 1) + "; fi");
  if (!result) return Error{"reading the audit log failed: " + result.error().message, result.error().code};
  if (result->exit_status == kMissing) return std::string();
  if (result->exit_status == kIsLink) {
    return Error{"REFUSED: " + location_.audit_log + " is a symbolic link to " +
                 bluegreen::tail_of(bluegreen::trim_trailing(result->out.tail), 300) + " (on " + location_.host +
                 "); bluegreen-mcp does not follow links for its own files. Replace the link with a regular file."};
  }
  if (!result->succeeded()) {
    return Error{"reading the audit log " + location_.audit_log + " on " + location_.host +
                 " failed: " + tail_of(*result)};
  }
  std::string text = result->out.tail;
  if (text.size() <= max_bytes) return text;
  // More than `max_bytes`: drop the first line, which `tail -c` cut or which is the byte before.
  const std::size_t first_end = text.find('\n');
  if (first_end == std::string::npos || first_end + 1 == text.size()) {
    return Error{"the last line of the audit log " + location_.audit_log + " on " + location_.host +
                 " is longer than " + std::to_string(max_bytes) +
                 " bytes, more than this resource shows; read it on the host (ssh " + location_.host + " tail -n 1 " +
                 location_.audit_log + ")"};
  }
  return text.substr(first_end + 1);
}

}  // namespace bluegreen::state
