#pragma once
// Internal to remote/ (SshExecutor's parts): queries a UNIX socket on the host (HAProxy's stats and
// master sockets) through the SSH connection itself, so sshd connects to the socket and no
// process starts on the host.
//
// The channel is OpenSSH's "direct-streamlocal@openssh.com" (OpenSSH PROTOCOL, section 2.4:
// connection-level extension for UNIX domain socket forwarding; libssh's
// ssh_channel_open_forward_unix). sshd refuses it with AllowStreamLocalForwarding no or
// DisableForwarding yes, for a key with no-port-forwarding, and servers other than OpenSSH may not
// know it. It also refuses it, with the same answer, when it cannot connect to the socket. So a
// refusal falls back to socat on the host, which tells the two apart; see query() for when the
// host counts as refusing.
//
// Thread-safety: one SocketForwarder per connection (session), next to it in the pool. query() takes the
// connection's lock itself and must be called without it.

#include "common/result.h"
#include "remote/executor.h"
#include "remote/libssh_support.h"
#include "remote/ssh_connection.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace bluegreen::remote {

class SocketForwarder {
 public:
  // `connection` must outlive the forwarder.
  explicit SocketForwarder(SshConnection& connection) : connection_(connection) {}

  // What the host answers when forwarding is refused: socat through
  // Executor::query_unix_socket(), given what is left of the deadline (at least 1 ms). Called
  // without the connection's lock.
  using Fallback = std::function<bluegreen::Result<SocketReply>(const CommandOptions&)>;

  // Executor::query_unix_socket() for this host: sends `request`, then end of input, and returns
  // all the socket sent until it closed (`forwarded` says which way it went; duration in ms).
  // The reply is at most options.output_cap_bytes bytes, else an Error (never a partial reply).
  //
  // Forwarding is tried first unless this session is known to refuse it. The session counts as
  // refusing only when a channel to a socket socat has just reached is refused, and refused again
  // at least 3 s (kRefusalConfirmAfter) later with no forwarded query succeeding in between: a
  // reloading HAProxy master refuses connections in short windows, more than once, and sshd
  // answers that exactly like a refusal to forward.
  //
  // Errors: kDeadlineExceeded, kCancelled, kUnavailable (connection lost twice), those of
  // SshConnection::ensure_connected(), kFailed (the reply is over the cap), or the fallback's
  // (with why forwarding failed appended).
  bluegreen::Result<SocketReply> query(const std::string& socket_path, const std::string& request,
                                       const CommandOptions& options, const Fallback& query_with_socat);

 private:
  bluegreen::Result<ChannelPtr> open(const std::string& path, const CommandOptions& options,
                                     SshClock::time_point deadline, std::string& refused);
  bluegreen::Result<ChannelPtr> open_once(const std::string& path, const CommandOptions& options,
                                          SshClock::time_point deadline, std::string& refused, bool& lost);
  bluegreen::Result<SocketReply> forward(const std::string& path, const std::string& request,
                                         const CommandOptions& options, SshClock::time_point deadline,
                                         std::string& refused);
  bluegreen::Error lost_while_querying(ChannelPtr& channel, const std::string& what);
  void after_socat_succeeded(const std::string& path, const CommandOptions& options, SshClock::time_point deadline,
                             const std::string& refused);
  [[nodiscard]] bool refused() const;

  SshConnection& connection_;
  std::optional<std::uint64_t> refused_on_;  // the session generation that refuses forwarding
  // When a channel to a socket socat had just reached was first refused (with no forwarded query
  // succeeding since), and on which session generation.
  std::optional<SshClock::time_point> refusal_suspected_;
  std::uint64_t suspected_on_ = 0;
};

}  // namespace bluegreen::remote
