#pragma once
// Internal to remote/ (not part of the Executor seam): the libssh plumbing every SSH file here
// shares, so there is one owner type per libssh object, one way to turn a libssh failure into
// text or an Error, and one way to wait for the connection.
//
// Thread-safety: none of these synchronise. A session and its channels must be used by one thread
// at a time (libssh sessions are not thread-safe); callers hold the connection's lock.

#include "common/result.h"

#include <libssh/libssh.h>

#include <chrono>
#include <memory>
#include <string>

namespace bluegreen::remote {

using SshClock = std::chrono::steady_clock;

struct SessionDeleter {
  void operator()(ssh_session session) const;  // disconnects if connected, then frees
};
// Owns an ssh_session. Destroy every channel of a session before the session itself.
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionDeleter>;

struct ChannelDeleter {
  void operator()(ssh_channel channel) const;  // closes if open, then frees
};
// Owns an ssh_channel; it must be destroyed while its session still exists.
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelDeleter>;

struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;

// The session's last libssh error as text; never empty ("unknown libssh error" when libssh has
// none). Read it before freeing a channel or dropping the session: both can reset or free it.
std::string libssh_error(ssh_session session);

// The one shape of an Error caused by a libssh call: "ssh <host>: <doing>: <libssh's text>".
// `doing` says what failed ("cannot start the command"); the code tells the caller what to do
// (see bluegreen::ErrorCode).
bluegreen::Error libssh_failure(const std::string& host, const std::string& doing, ssh_session session,
                                bluegreen::ErrorCode code);

// ServerAliveInterval / ServerAliveCountMax (ssh_config(5)) for a session: while wait_readable()
// waits on it and nothing arrives for `interval`, a keepalive request is sent (OpenSSH's
// keepalive@openssh.com, which any server answers); after `count_max` unanswered ones the
// connection counts as lost (wait_readable() returns false and libssh_error() says why). An
// interval of 0 turns it off (OpenSSH's default). Thread-safe; forget_keepalive() when the session
// is freed.
void set_keepalive(ssh_session session, std::chrono::seconds interval, int count_max);
void forget_keepalive(ssh_session session);

// The one poll helper of the SSH loops. Waits until the session's socket is readable, `until`
// passes, or at most 50 ms, whichever is first, so a loop that calls it between non-blocking
// reads sees a stop request or its deadline within 50 ms without spinning. Waits at least 1 ms.
// Returns false when poll() itself failed (other than EINTR) or the keepalives went unanswered
// (set_keepalive()): treat the connection as lost.
// It is enough to wait for the socket because every non-blocking read before it has processed
// all the complete packets libssh had buffered.
bool wait_readable(ssh_session session, SshClock::time_point until);

// Puts a session into non-blocking mode for a scope, so calls that would wait for the host
// (opening a channel) return SSH_AGAIN and the caller's deadline and stop token keep working.
// The caller holds the session's lock for the whole scope.
class NonBlocking {
 public:
  explicit NonBlocking(ssh_session session) : session_(session) { ssh_set_blocking(session_, 0); }
  ~NonBlocking() { ssh_set_blocking(session_, 1); }
  NonBlocking(const NonBlocking&) = delete;
  NonBlocking& operator=(const NonBlocking&) = delete;

 private:
  ssh_session session_;
};

}  // namespace bluegreen::remote
