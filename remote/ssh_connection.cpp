#include "remote/ssh_connection.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;

}  // namespace

SshConnection::SshConnection(std::string host, const SshSettings& settings, SshConfigResolver& resolver)
    : host_(std::move(host)), settings_(settings), resolver_(resolver) {}

SshConnection::~SshConnection() { drop(); }

bluegreen::Status SshConnection::ensure_connected() {
  if (connected()) return bluegreen::ok_status();
  drop();
  auto resolved = resolver_.resolve(host_);
  if (!resolved) return resolved.error();
  destination_ = std::move(resolved.value());
  for (const auto& note : destination_.notes) spdlog::debug("ssh {}: ssh config: {}", host_, note);
  auto login = open_login(host_, destination_, LoginContext{settings_, resolver_}, 0);
  if (!login) return login.error();
  login_ = std::move(login.value());
  set_keepalive(session(), destination_.server_alive_interval, destination_.server_alive_count_max);
  ++generation_;
  return bluegreen::ok_status();
}

bluegreen::Result<ChannelPtr> SshConnection::open_channel() {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto status = ensure_connected(); !status) return status.error();
    ChannelPtr channel(ssh_channel_new(session()));
    if (channel && open_session_channel(channel.get())) return channel;
    spdlog::warn("ssh {}: opening a channel failed ({}); reconnecting", host_, libssh_error(session()));
    channel.reset();
    drop();
  }
  return Error{"ssh " + host_ + ": cannot open a channel after reconnecting", ErrorCode::kUnavailable};
}

// Non-blocking with waits between tries, so keepalives (ServerAliveInterval) notice a host that
// went silent on an open connection sooner than the connect timeout.
bool SshConnection::open_session_channel(ssh_channel channel) {
  const auto until = SshClock::now() + destination_.connect_timeout.value_or(settings_.connect_timeout);
  const NonBlocking non_blocking(session());
  for (;;) {
    const int rc = ssh_channel_open_session(channel);
    if (rc == SSH_OK) return true;
    if (rc != SSH_AGAIN || SshClock::now() >= until || !wait_readable(session(), until)) return false;
  }
}

void SshConnection::drop() {
  for (ChannelPtr* channel : tracked_) channel->reset();
  if (session() != nullptr) forget_keepalive(session());
  login_ = SshLogin{};  // the session first, then its route (a jump host's session, a ProxyCommand)
}

}  // namespace bluegreen::remote
