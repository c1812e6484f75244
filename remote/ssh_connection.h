#pragma once
// Internal to remote/ (used by SshExecutor's parts, not by callers of the Executor seam): the SSH
// session to one host, how it is opened (host key checked against known_hosts, then
// authentication), kept and reused across commands, and dropped when it dies.
//
// The destination is resolved once by OpenSSH's own resolver (ssh_config.h, shared by every
// connection of the executor) and the session is opened by open_login() (ssh_login.h): the route
// (ProxyJump, ProxyCommand), a strict host-key check and key authentication.
//
// Thread-safety: one SshConnection per session; a host has a few (ConnectionPool), each leased to
// one call at a time. A libssh session must not be used by two threads at once, and a held
// process's channel on it is used from other threads than the lease holder's (HeldProcess::alive()
// and its destructor), so every method except lock(), host() and the constructor requires the
// caller to hold lock() for the whole time it uses the session or any of its channels.

#include "common/result.h"
#include "remote/libssh_support.h"
#include "remote/ssh_config.h"
#include "remote/ssh_executor.h"
#include "remote/ssh_login.h"

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace bluegreen::remote {

class SshConnection {
 public:
  // `host`: an SSH destination (ssh config alias or [user@]host[:port]). `settings` and
  // `resolver` must outlive the connection. Nothing is opened until ensure_connected().
  SshConnection(std::string host, const SshSettings& settings, SshConfigResolver& resolver);
  ~SshConnection();
  SshConnection(const SshConnection&) = delete;
  SshConnection& operator=(const SshConnection&) = delete;

  // Serialises the use of this session: by the call that leased it and by held channels on it.
  [[nodiscard]] std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }

  // Keeps the open session, or opens a new one when there is none or it died. Blocks for up to
  // SshSettings::connect_timeout per network step. Errors (messages name the host):
  //  - kInvalidArgument: the destination is not valid, or libssh rejected the options;
  //  - kFailedPrecondition: the host key is unknown or changed (the message says how to trust it;
  //    retrying cannot help until someone does), known_hosts cannot be checked, or the ssh
  //    config is broken or sets a directive that is refused (ssh_directives.h);
  //  - kUnavailable: cannot connect (to the host or a jump host), or authentication failed.
  bluegreen::Status ensure_connected();

  // Opens a "session" channel (for exec or a subsystem), reconnecting once when the session
  // turns out to be dead: nothing has run on it yet, so retrying is safe. Errors: those of
  // ensure_connected(), or kUnavailable when no channel opens even on a new session.
  bluegreen::Result<ChannelPtr> open_channel();

  // The open session, or nullptr when there is none. Valid until drop() or ensure_connected().
  [[nodiscard]] ssh_session session() const { return login_.session.get(); }
  [[nodiscard]] bool connected() const { return login_.session && ssh_is_connected(login_.session.get()) != 0; }

  // How the open session was made (route, known_hosts file, authentication), and the ssh
  // config's ignored directives; empty before the first ensure_connected().
  [[nodiscard]] const SshLogin& login() const { return login_; }
  [[nodiscard]] const SshDestination& destination() const { return destination_; }

  // Increases each time ensure_connected() opens a new session. What was learnt about one session
  // (the host refuses forwarding, has no SFTP) is kept with the generation it was learnt on and
  // forgotten on the next: a new session may be allowed what the last one was not.
  [[nodiscard]] std::uint64_t generation() const { return generation_; }

  // Closes the session. Every tracked channel is freed first (set to null): a channel must never
  // outlive its session. Read libssh_error() before calling this; it frees the error text.
  void drop();

  // Channels kept across calls (held processes, the SFTP channel) are tracked so drop() can free
  // them in time. `channel` must stay at the same address until untracked.
  void track(ChannelPtr* channel) { tracked_.insert(channel); }
  void untrack(ChannelPtr* channel) { tracked_.erase(channel); }

  [[nodiscard]] const std::string& host() const { return host_; }

 private:
  bool open_session_channel(ssh_channel channel);

  const std::string host_;
  const SshSettings& settings_;
  SshConfigResolver& resolver_;
  std::mutex mutex_;
  SshLogin login_;
  std::uint64_t generation_ = 0;
  std::set<ChannelPtr*> tracked_;
  SshDestination destination_;  // as resolved for the current session
};

}  // namespace bluegreen::remote
