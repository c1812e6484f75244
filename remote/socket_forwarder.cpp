#include "remote/socket_forwarder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;
using Clock = SshClock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// How far apart two refused channels to a socket socat reached must be before forwarding counts
// as refused by the host (longer than the windows in which a reloading HAProxy master refuses).
constexpr auto kRefusalConfirmAfter = std::chrono::seconds(3);

// Why a socket query must end now, if it must.
std::optional<Error> stop_reason(const CommandOptions& options, Clock::time_point deadline, const std::string& what) {
  if (options.stop.stop_requested()) return Error{"cancelled while querying the " + what, ErrorCode::kCancelled};
  if (Clock::now() >= deadline) {
    return Error{"deadline of " + std::to_string(options.deadline.count()) + " ms passed while querying the " + what,
                 ErrorCode::kDeadlineExceeded};
  }
  return std::nullopt;
}

std::string socket_text(const std::string& path, const std::string& host) {
  return "UNIX socket " + path + " on " + host;
}

}  // namespace

bool SocketForwarder::refused() const { return refused_on_ && *refused_on_ == connection_.generation(); }

bluegreen::Result<SocketReply> SocketForwarder::query(const std::string& socket_path, const std::string& request,
                                                      const CommandOptions& options, const Fallback& query_with_socat) {
  const auto started = Clock::now();
  const auto deadline = started + options.deadline;
  std::string refused_why;  // why the host would not forward the socket, when it would not
  {
    auto lock = connection_.lock();
    if (!refused()) {
      auto reply = forward(socket_path, request, options, deadline, refused_why);
      if (refused_why.empty()) {
        if (reply) {
          reply->duration = duration_cast<milliseconds>(Clock::now() - started);
          refusal_suspected_.reset();  // forwarding works: what was refused was a passing hiccup
        }
        return reply;
      }
    }
  }

  // The host refuses direct-streamlocal channels, or sshd could not connect to this socket (it
  // does not say which). socat on the host tells them apart and says exactly what is wrong.
  CommandOptions rest = options;
  rest.deadline = std::max(milliseconds(1), duration_cast<milliseconds>(deadline - Clock::now()));
  auto reply = query_with_socat(rest);
  if (refused_why.empty()) return reply;  // this session was already known to refuse forwarding
  if (!reply) {
    return Error{reply.error().message + " (forwarding the socket through SSH failed too: " + refused_why + ")",
                 reply.error().code};
  }
  reply->duration = duration_cast<milliseconds>(Clock::now() - started);
  auto lock = connection_.lock();
  if (!refused()) after_socat_succeeded(socket_path, options, deadline, refused_why);
  return reply;
}

// socat reached the socket. Either sshd does not forward, or the socket was briefly away and is
// back. sshd gives the same answer for both, and a reloading HAProxy master refuses connections
// in short windows more than once while it restarts, so one refusal right after socat's success
// proves nothing. Forwarding counts as refused only when that happens again at least
// kRefusalConfirmAfter later with no forwarded query succeeding in between; until then each query
// tries forwarding first (a refused channel costs one round trip). (Within what is left of the
// deadline; without time for it, the next query finds out.)
void SocketForwarder::after_socat_succeeded(const std::string& path, const CommandOptions& options,
                                            Clock::time_point deadline, const std::string& refused_why) {
  const std::string& host = connection_.host();
  std::string refused_again;
  if (Clock::now() >= deadline || open(path, options, deadline, refused_again).ok() || refused_again.empty()) {
    refusal_suspected_.reset();
    return;
  }
  const auto now = Clock::now();
  if (!refusal_suspected_ || suspected_on_ != connection_.generation()) {
    refusal_suspected_ = now;
    suspected_on_ = connection_.generation();
    spdlog::debug("ssh {}: sshd did not forward {} ({}) though socat reached it; forwarding again next time", host,
                  path, refused_why);
    return;
  }
  if (now - *refusal_suspected_ < kRefusalConfirmAfter) return;
  refused_on_ = connection_.generation();
  spdlog::warn("ssh {}: the host refuses to forward UNIX sockets ({}), but socat reaches {}: using socat for "
               "socket queries on this connection (a few ms slower each). To allow forwarding, set "
               "AllowStreamLocalForwarding yes in its sshd_config and do not use no-port-forwarding on the key.",
               host, refused_why, path);
}

// Opens a direct-streamlocal channel to `path`: sshd connects to it. When the host refuses the
// channel, returns an Error and sets `refused` to the reason. Nothing reached the socket before
// the channel is open, so one retry on a new session is safe when the connection was lost.
bluegreen::Result<ChannelPtr> SocketForwarder::open(const std::string& path, const CommandOptions& options,
                                                    Clock::time_point deadline, std::string& refused) {
  for (int attempt = 0;; ++attempt) {
    bool lost = false;
    auto channel = open_once(path, options, deadline, refused, lost);
    if (channel || !lost) return channel;
    if (attempt > 0) {
      return Error{"ssh " + connection_.host() +
                       ": connection lost while opening a channel: " + channel.error().message,
                   ErrorCode::kUnavailable};
    }
    spdlog::warn("ssh {}: opening a channel failed ({}); reconnecting", connection_.host(), channel.error().message);
  }
}

// One attempt of open(). When the connection failed, drops the session, sets `lost`, and returns
// libssh's text alone as the Error's message: open() words it, depending on whether it retries.
bluegreen::Result<ChannelPtr> SocketForwarder::open_once(const std::string& path, const CommandOptions& options,
                                                         Clock::time_point deadline, std::string& refused, bool& lost) {
  if (auto status = connection_.ensure_connected(); !status) return status.error();
  const std::string& host = connection_.host();
  ssh_session s = connection_.session();
  ChannelPtr channel(ssh_channel_new(s));
  if (!channel) return libssh_failure(host, "cannot allocate a channel", s, ErrorCode::kUnavailable);
  int rc = SSH_ERROR;
  {
    // Non-blocking, so the deadline and `stop` hold while the host answers the open.
    NonBlocking nonblocking(s);
    while ((rc = ssh_channel_open_forward_unix(channel.get(), path.c_str(), "127.0.0.1", 0)) == SSH_AGAIN) {
      // Freeing a channel whose open is unanswered leaves libssh's record of it until the
      // session ends; that takes an sshd that stalls past the deadline, which is rare.
      if (auto why = stop_reason(options, deadline, socket_text(path, host))) return *why;
      if (!wait_readable(s, deadline)) break;
    }
  }
  if (rc == SSH_OK) return channel;
  const std::string why = libssh_error(s);
  if (ssh_is_connected(s) != 0 && ssh_get_error_code(s) == SSH_REQUEST_DENIED) {
    refused = why;
    return Error{"ssh " + host + ": cannot forward the " + socket_text(path, host) + ": " + why,
                 ErrorCode::kFailedPrecondition};
  }
  channel.reset();  // a channel must go before its session
  connection_.drop();
  lost = true;
  return Error{why, ErrorCode::kUnavailable};
}

// Sends `request` to the socket through a direct-streamlocal channel, then end of input, and reads
// until the socket closes. When the host refuses the channel, returns an Error and sets `refused`
// to the reason (nothing reached the socket then).
bluegreen::Result<SocketReply> SocketForwarder::forward(const std::string& path, const std::string& request,
                                                        const CommandOptions& options, Clock::time_point deadline,
                                                        std::string& refused) {
  const std::string what = socket_text(path, connection_.host());
  auto opened = open(path, options, deadline, refused);
  if (!opened) return opened.error();
  ChannelPtr channel = std::move(opened.value());

  const auto size = static_cast<uint32_t>(request.size());
  if ((size > 0 && ssh_channel_write(channel.get(), request.data(), size) != static_cast<int>(size)) ||
      ssh_channel_send_eof(channel.get()) != SSH_OK) {
    return lost_while_querying(channel, what);
  }
  SocketReply reply;
  reply.forwarded = true;
  std::array<char, 65536> buffer{};
  while (true) {
    const int n = ssh_channel_read_nonblocking(channel.get(), buffer.data(), buffer.size(), 0);
    if (n > 0) {
      reply.text.append(buffer.data(), static_cast<std::size_t>(n));
      if (reply.text.size() > options.output_cap_bytes) {
        return Error{"the reply of the " + what + " exceeds " + std::to_string(options.output_cap_bytes) + " bytes"};
      }
      continue;
    }
    if (n == SSH_EOF || (n == 0 && ssh_channel_is_eof(channel.get()) != 0)) break;
    if (n < 0 || !wait_readable(connection_.session(), deadline)) return lost_while_querying(channel, what);
    // Closing the channel (ChannelPtr) closes sshd's connection to the socket: nothing is left.
    if (auto why = stop_reason(options, deadline, what)) return *why;
  }
  return reply;
}

bluegreen::Error SocketForwarder::lost_while_querying(ChannelPtr& channel, const std::string& what) {
  auto error = libssh_failure(connection_.host(), "connection lost while querying the " + what, connection_.session(),
                              ErrorCode::kUnavailable);
  channel.reset();  // a channel must go before its session
  connection_.drop();
  return error;
}

}  // namespace bluegreen::remote
