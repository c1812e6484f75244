#include "remote/held_channel.h"

#include "remote/libssh_support.h"
#include "remote/ssh_command.h"

#include <array>
#include <utility>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;
using Clock = SshClock;

class HeldChannel final : public HeldProcess {
 public:
  // Requires the connection's lock: until the channel is tracked, a drop() would leave it behind
  // its session.
  HeldChannel(std::shared_ptr<SshConnection> connection, ChannelPtr channel)
      : connection_(std::move(connection)), channel_(std::move(channel)) {
    connection_->track(&channel_);
  }

  ~HeldChannel() override {
    auto lock = connection_->lock();
    connection_->untrack(&channel_);
    if (channel_) {
      ssh_channel_send_eof(channel_.get());  // the holder's stdin ends: it exits and releases
      channel_.reset();
    }
  }
  HeldChannel(const HeldChannel&) = delete;
  HeldChannel& operator=(const HeldChannel&) = delete;

  bool alive() override {
    auto lock = connection_->lock();
    if (!channel_ || ssh_channel_is_open(channel_.get()) == 0) return false;
    // Process whatever arrived, so an exit or a lost connection is noticed now.
    std::array<char, 4096> sink{};
    while (true) {
      const int n = ssh_channel_read_nonblocking(channel_.get(), sink.data(), sink.size(), 0);
      if (n == 0) break;
      if (n < 0) return false;
    }
    return ssh_channel_is_eof(channel_.get()) == 0 && connection_->connected();
  }

 private:
  std::shared_ptr<SshConnection> connection_;
  ChannelPtr channel_;  // null once the session was dropped (see SshConnection::track)
};

// Reads both streams of `channel` until stdout has `ready_line` as a whole line. Requires the
// connection's lock. On an Error the caller closes the channel (it may be reset already).
bluegreen::Status wait_until_ready(SshConnection& connection, ChannelPtr& channel, const std::string& ready_line,
                                   const CommandOptions& options, Clock::time_point deadline) {
  std::string out;
  std::string err;
  std::array<char, 4096> buffer{};
  const std::string marker = ready_line + "\n";
  while (true) {
    bool progressed = false;
    for (const int is_stderr : {0, 1}) {
      const int n = ssh_channel_read_nonblocking(channel.get(), buffer.data(), buffer.size(), is_stderr);
      if (n > 0) {
        (is_stderr != 0 ? err : out).append(buffer.data(), static_cast<std::size_t>(n));
        progressed = true;
      } else if (n == SSH_ERROR) {
        auto error = libssh_failure(connection.host(), "connection lost while starting", connection.session(),
                                    ErrorCode::kUnavailable);
        channel.reset();  // a channel must go before its session
        connection.drop();
        return error;
      }
    }
    if (out.rfind(marker, 0) == 0 || out.find("\n" + marker) != std::string::npos) return bluegreen::ok_status();
    if (ssh_channel_is_eof(channel.get()) != 0 && !progressed) {
      const int status = ssh_channel_get_exit_status(channel.get());
      return Error{"exited with status " + std::to_string(status) + " before it was ready" +
                       (err.empty() ? std::string() : "; stderr: " + err.substr(0, 2000)) +
                       (out.empty() ? std::string() : "; stdout: " + out.substr(0, 2000)),
                   ErrorCode::kFailedPrecondition, status};
    }
    if (progressed) continue;
    if (options.stop.stop_requested()) return Error{"cancelled while waiting", ErrorCode::kCancelled};
    if (Clock::now() >= deadline) {
      return Error{"not ready within " + std::to_string(options.deadline.count()) + " ms",
                   ErrorCode::kDeadlineExceeded};
    }
    if (!wait_readable(connection.session(), deadline)) {
      return Error{"ssh " + connection.host() + ": polling the connection failed", ErrorCode::kUnavailable};
    }
  }
}

}  // namespace

bluegreen::Result<std::unique_ptr<HeldProcess>> hold_process(const std::shared_ptr<SshConnection>& connection,
                                                             const std::string& command, const std::string& ready_line,
                                                             const CommandOptions& options) {
  auto lock = connection->lock();
  const auto deadline = Clock::now() + options.deadline;
  auto started = start_command(*connection, command);
  if (!started) return started.error();
  ChannelPtr channel = std::move(started.value());
  // On an Error the channel is closed when it goes out of scope, which ends the process.
  if (auto ready = wait_until_ready(*connection, channel, ready_line, options, deadline); !ready) {
    return ready.error();
  }
  return std::unique_ptr<HeldProcess>(std::make_unique<HeldChannel>(connection, std::move(channel)));
}

}  // namespace bluegreen::remote
