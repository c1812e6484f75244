#include "remote/ssh_command.h"

#include "remote/shell_command.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string_view>

namespace bluegreen::remote {
namespace {

using Clock = SshClock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr std::string_view kPidMarker = "bluegreen-mcp-pid:";

// Appends to a capped tail buffer; trims lazily so appends stay amortised O(1).
void append_capped(CapturedOutput& output, std::string_view data, std::size_t cap) {
  output.tail.append(data);
  if (output.tail.size() > 2 * cap + 65536) {
    const std::size_t excess = output.tail.size() - cap;
    output.tail.erase(0, excess);
    output.dropped += excess;
  }
}

void finish_capped(CapturedOutput& output, std::size_t cap) {
  if (output.tail.size() > cap) {
    const std::size_t excess = output.tail.size() - cap;
    output.tail.erase(0, excess);
    output.dropped += excess;
  }
}

// `timeout` takes seconds with a fraction.
std::string seconds_text(milliseconds ms) {
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%.3f", static_cast<double>(ms.count()) / 1000.0);
  return buffer.data();
}

}  // namespace

// See the header for what each part is for. With `timeout`, the shell forks the watcher, then
// execs `timeout`, so the command's exit status (or the signal that ended it) reaches sshd
// unchanged and `$$` stays the PID of the process that is stopped.
std::string wrap_command(const std::string& command, bool host_timeout, milliseconds deadline, milliseconds stop_grace,
                         const std::string& nonce) {
  const std::string announce = "printf '" + std::string(kPidMarker) + nonce + ":%s\\n' \"$$\" >&2; ";
  if (!host_timeout) return announce + "exec sh -c " + shell_quote(command);
  // Polls of 100 ms while the command still has time to end after TERM.
  const long long polls = std::max<long long>(1, (stop_grace.count() + 99) / 100);
  const std::string watcher =
      "{ trap '' TERM; cat <&3 >/dev/null 2>&1; exec 3<&-; kill -0 $$ 2>/dev/null || exit 0; kill -TERM $$; i=0; "
      "while kill -0 $$ 2>/dev/null && [ $i -lt " +
      std::to_string(polls) + " ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -- -$$; } >/dev/null 2>&1 & ";
  return announce + "exec 3<&0 </dev/null; " + watcher +
         "exec timeout --signal=TERM --kill-after=" + seconds_text(stop_grace) + " " + seconds_text(deadline) +
         " sh -c " + shell_quote(command) + " 3<&-";
}

namespace {

// Separates the "bluegreen-mcp-pid:<nonce>:<pid>" line the wrapper writes on stderr from the
// command's own output. What a login shell's .bashrc prints before it (warnings, with or without
// a final newline) passes through as output; the nonce, new for each command, keeps anything else
// on the host from passing for the marker; a PID of 0 or 1 is never taken (a TERM to group 1
// would reach every process).
class PidLine {
 public:
  explicit PidLine(const std::string& nonce) : marker_(std::string(kPidMarker) + nonce + ":") {}

  // Feeds stderr bytes; returns what belongs to the command (possibly held back from before).
  std::string consume(std::string_view data) {
    if (found_) return std::string(data);
    pending_.append(data);
    std::string out;
    for (auto newline = pending_.find('\n'); newline != std::string::npos; newline = pending_.find('\n')) {
      const auto at = pending_.find(marker_);
      if (at != std::string::npos && at < newline) {
        out += pending_.substr(0, at) + (at > 0 ? "\n" : "");  // a .bashrc line left open ends here
        take_pid(pending_.substr(at + marker_.size(), newline - at - marker_.size()));
        found_ = true;
        out += pending_.substr(newline + 1);
        pending_.clear();
        return out;
      }
      out += pending_.substr(0, newline + 1);
      pending_.erase(0, newline + 1);
    }
    // A long line without its end: pass on all but what could be the start of the marker.
    const std::size_t keep = marker_.size() + 24;
    if (pending_.size() > 4096) {
      out += pending_.substr(0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
    }
    return out;
  }

  // What is still held back, at the end of the stream.
  std::string flush() { return std::exchange(pending_, {}); }

  [[nodiscard]] const std::string& pid() const { return pid_; }

 private:
  void take_pid(const std::string& text) {
    if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos) return;
    if (std::stoll(text) > 1) pid_ = text;
  }

  const std::string marker_;
  std::string pending_;
  std::string pid_;
  bool found_ = false;
};

// A new random nonce for each command's PID line.
std::string new_nonce() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  std::array<char, 17> text{};
  std::snprintf(text.data(), text.size(), "%016llx", static_cast<unsigned long long>(generator()));
  return text.data();
}

// Asks the remote command to stop: `kill -TERM <pid>` on a second channel (the wrapper's
// `timeout` passes TERM on to the command's process group), falling back to an SSH signal
// request. Without `timeout` (`whole_group`), the TERM goes to the process group itself: sshd
// starts the login shell as a session and group leader, so <pid> is also the group's id.
void stop_remote_command(ssh_session session, ssh_channel running, const std::string& pid, bool whole_group,
                         const std::string& host) {
  if (pid.empty()) {
    ssh_channel_request_send_signal(running, "TERM");
    return;
  }
  ChannelPtr killer(ssh_channel_new(session));
  const std::string command = whole_group
                                  ? "kill -TERM -- -" + pid + " 2>/dev/null || kill -TERM " + pid + " 2>/dev/null"
                                  : "kill -TERM " + pid + " 2>/dev/null";
  if (!killer || ssh_channel_open_session(killer.get()) != SSH_OK ||
      ssh_channel_request_exec(killer.get(), command.c_str()) != SSH_OK) {
    spdlog::warn("ssh {}: could not send kill to remote pid {}: {}", host, pid, libssh_error(session));
    ssh_channel_request_send_signal(running, "TERM");
    return;
  }
  // The kill ends at once; this only waits so the channel is not closed before it ran.
  std::array<char, 256> sink{};
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (ssh_channel_is_eof(killer.get()) == 0 && Clock::now() < until) {
    if (ssh_channel_read_timeout(killer.get(), sink.data(), sink.size(), 0, 100) == SSH_ERROR) break;
  }
}

// One running command: drains its streams until both end, stops it when the deadline passes or
// stop is requested, and then turns what happened into a CommandResult.
class CommandRun {
 public:
  CommandRun(SshConnection& connection, ssh_channel channel, const CommandOptions& options, milliseconds stop_grace,
             Clock::time_point started, const std::string& nonce)
      : connection_(connection),
        channel_(channel),
        options_(options),
        stop_grace_(stop_grace),
        deadline_(started + options.deadline),
        pid_line_(nonce) {}

  void drain() {
    while (!(stdout_done_ && stderr_done_)) {
      const bool read_something = read_available();
      if (connection_lost_) return;
      if (read_something) continue;
      const auto now = Clock::now();
      if (!give_up_at_ && (now >= deadline_ || options_.stop.stop_requested())) ask_to_stop(now);
      if (give_up_at_ && now >= *give_up_at_) return;
      if (!wait_readable(connection_.session(), give_up_at_ ? *give_up_at_ : deadline_)) {
        connection_lost_ = true;
        return;
      }
    }
  }

  // What happened, once drain() returned; result().duration is left to the caller.
  CommandResult conclude() {
    finish_capped(result_.out, options_.output_cap_bytes);
    finish_capped(result_.err, options_.output_cap_bytes);
    if (connection_lost_) {
      result_.problem = "connection to " + connection_.host() + " lost: " + libssh_error(connection_.session());
    } else if (stdout_done_ && stderr_done_) {
      const int status = ssh_channel_get_exit_status(channel_);
      // Past the deadline, the host's `timeout` ended the command: with 124 after TERM, or with no
      // status at all when the command ignored TERM and `timeout` KILLed its process group (itself
      // included). Either way it was the deadline, not the command, that ended it.
      const bool host_deadline = options_.host_timeout && Clock::now() >= deadline_ && (status == 124 || status < 0);
      if (host_deadline && !result_.cancelled) result_.timed_out = true;
      if (status >= 0) {
        result_.exit_status = status;
      } else if (!result_.timed_out && !result_.cancelled) {
        result_.problem = "the command ended without an exit status (killed by a signal?)";
      }
    } else {
      result_.problem =
          "it did not stop within " + std::to_string(stop_grace_.count()) + " ms of TERM; the channel was closed";
    }
    if (result_.timed_out || result_.cancelled) {
      result_.exit_status.reset();
      const std::string why = result_.timed_out
                                  ? "deadline of " + std::to_string(options_.deadline.count()) + " ms passed"
                                  : std::string("cancelled");
      result_.problem = why + "; " + (result_.problem.empty() ? "the command was stopped" : result_.problem);
    }
    return std::move(result_);
  }

  [[nodiscard]] bool connection_lost() const { return connection_lost_; }

 private:
  // Reads whatever both streams have; true when anything changed (data or an end of stream).
  bool read_available() {
    bool read_something = false;
    for (const int is_stderr : {0, 1}) {
      bool& done = is_stderr != 0 ? stderr_done_ : stdout_done_;
      CapturedOutput& output = is_stderr != 0 ? result_.err : result_.out;
      while (!done) {
        const int n = ssh_channel_read_nonblocking(channel_, buffer_.data(), kReadBuffer, is_stderr);
        if (n > 0) {
          const std::string_view data(buffer_.data(), static_cast<std::size_t>(n));
          if (is_stderr != 0) {
            append_capped(output, pid_line_.consume(data), options_.output_cap_bytes);
          } else {
            append_capped(output, data, options_.output_cap_bytes);
          }
          read_something = true;
        } else if (n == SSH_EOF || (n == 0 && ssh_channel_is_eof(channel_) != 0)) {
          if (is_stderr != 0) append_capped(output, pid_line_.flush(), options_.output_cap_bytes);
          done = true;
          read_something = true;  // state changed: look at the other stream again before waiting
        } else if (n == 0) {
          break;
        } else {
          connection_lost_ = true;
          break;
        }
      }
    }
    return read_something;
  }

  void ask_to_stop(Clock::time_point now) {
    result_.timed_out = now >= deadline_ && !options_.stop.stop_requested();
    result_.cancelled = options_.stop.stop_requested();
    stop_remote_command(connection_.session(), channel_, pid_line_.pid(), !options_.host_timeout, connection_.host());
    give_up_at_ = now + stop_grace_;
    spdlog::info("ssh {}: {} command; sent TERM", connection_.host(),
                 result_.cancelled ? "cancelling" : "deadline passed for");
  }

  SshConnection& connection_;
  ssh_channel channel_;
  const CommandOptions& options_;
  const milliseconds stop_grace_;
  const Clock::time_point deadline_;
  std::optional<Clock::time_point> give_up_at_;  // set once the command was asked to stop
  bool stdout_done_ = false;
  bool stderr_done_ = false;
  bool connection_lost_ = false;
  PidLine pid_line_;  // initialised with the nonce the command was wrapped with
  CommandResult result_;
  static constexpr std::uint32_t kReadBuffer = 65536;  // bytes per read
  std::array<char, kReadBuffer> buffer_{};
};

}  // namespace

bluegreen::Result<ChannelPtr> start_command(SshConnection& connection, const std::string& command) {
  auto channel = connection.open_channel();
  if (!channel) return channel.error();
  if (ssh_channel_request_exec(channel->get(), command.c_str()) != SSH_OK) {
    auto error = libssh_failure(connection.host(), "cannot start the command", connection.session(),
                                bluegreen::ErrorCode::kUnavailable);
    channel->reset();  // a channel must go before its session
    connection.drop();
    return error;
  }
  return std::move(channel.value());
}

bluegreen::Result<CommandResult> run_command(SshConnection& connection, const std::string& command,
                                             const CommandOptions& options, milliseconds stop_grace,
                                             Clock::time_point started) {
  const auto host_deadline =
      std::max(milliseconds(1), duration_cast<milliseconds>(started + options.deadline - Clock::now()));
  const std::string nonce = new_nonce();
  auto started_channel =
      start_command(connection, wrap_command(command, options.host_timeout, host_deadline, stop_grace, nonce));
  if (!started_channel) return started_channel.error();
  ChannelPtr channel = std::move(started_channel.value());

  CommandRun run(connection, channel.get(), options, stop_grace, started, nonce);
  run.drain();
  CommandResult result = run.conclude();

  if (!run.connection_lost()) ssh_channel_send_eof(channel.get());
  channel.reset();  // a channel must go before its session
  if (run.connection_lost()) connection.drop();
  result.duration = duration_cast<milliseconds>(Clock::now() - started);
  return result;
}

}  // namespace bluegreen::remote
