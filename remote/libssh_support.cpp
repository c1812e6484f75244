#include "remote/libssh_support.h"

#include <libssh/server.h>  // ssh_send_keepalive(): declared there, works on client sessions too

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>

namespace bluegreen::remote {

void SessionDeleter::operator()(ssh_session session) const {
  if (ssh_is_connected(session) != 0) ssh_disconnect(session);
  ssh_free(session);
}

void ChannelDeleter::operator()(ssh_channel channel) const {
  if (ssh_channel_is_open(channel) != 0) ssh_channel_close(channel);
  ssh_channel_free(channel);
}

namespace {

struct Keepalive {
  std::chrono::seconds interval{0};
  int count_max = 3;
  SshClock::time_point last_heard = SshClock::now();  // data arrived, or the last probe went out
  int unanswered = 0;
  bool dead = false;
  // Packets libssh has read on the session (ssh_set_counters): an answer that libssh consumed
  // itself (inside the next ssh_send_keepalive, before any poll saw the socket readable) counts
  // as heard too. Owned here; the session points at it until forget_keepalive().
  std::unique_ptr<ssh_counter_struct> received = std::make_unique<ssh_counter_struct>();
  std::uint64_t packets_seen = 0;
};

std::mutex keepalive_mutex;
std::map<ssh_session, Keepalive> keepalives;  // guarded by keepalive_mutex

// Sends keepalive@openssh.com without waiting for the answer (libssh waits for it in blocking
// mode; the answer makes the socket readable, which is what the caller's wait looks for). In
// non-blocking mode libssh's global request either sends a new probe or, when the answer to the
// previous one arrived, only collects that answer; so it is called twice: the second call sends
// when the first only collected, and returns at once when a probe is outstanding (it reports
// neither case, so both calls are always made).
void send_keepalive(ssh_session session) {
  const bool was_blocking = ssh_is_blocking(session) != 0;
  ssh_set_blocking(session, 0);
  ssh_send_keepalive(session);
  ssh_send_keepalive(session);
  ssh_set_blocking(session, was_blocking ? 1 : 0);
}

// Called after each wait: notes activity, probes a silent server, and says whether it is gone.
bool keepalive_alive(ssh_session session, bool readable) {
  std::lock_guard lock(keepalive_mutex);
  const auto found = keepalives.find(session);
  if (found == keepalives.end() || found->second.interval.count() == 0) return true;
  Keepalive& k = found->second;
  const auto now = SshClock::now();
  if (k.received->in_packets != k.packets_seen) {
    k.packets_seen = k.received->in_packets;
    readable = true;
  }
  if (readable) {
    k.last_heard = now;
    k.unanswered = 0;
    return true;
  }
  if (now - k.last_heard < k.interval) return true;
  if (k.unanswered >= k.count_max) {
    k.dead = true;
    return false;
  }
  send_keepalive(session);
  ++k.unanswered;
  k.last_heard = now;
  // An answer libssh collected while sending is heard at the next look (the packet count moved).
  return true;
}

}  // namespace

void set_keepalive(ssh_session session, std::chrono::seconds interval, int count_max) {
  std::lock_guard lock(keepalive_mutex);
  Keepalive& k = keepalives[session];
  k.interval = interval;
  k.count_max = std::max(1, count_max);
  k.last_heard = SshClock::now();
  k.unanswered = 0;
  k.dead = false;
  k.packets_seen = k.received->in_packets;
  ssh_set_counters(session, nullptr, k.received.get());
}

void forget_keepalive(ssh_session session) {
  std::lock_guard lock(keepalive_mutex);
  const auto found = keepalives.find(session);
  if (found == keepalives.end()) return;
  ssh_set_counters(session, nullptr, nullptr);  // before the counter it points at goes
  keepalives.erase(found);
}

std::string libssh_error(ssh_session session) {
  {
    std::lock_guard lock(keepalive_mutex);
    const auto found = keepalives.find(session);
    if (found != keepalives.end() && found->second.dead) {
      return "the server answered none of " + std::to_string(found->second.count_max) + " keepalives sent " +
             std::to_string(found->second.interval.count()) +
             " s apart (ServerAliveInterval / ServerAliveCountMax in the ssh config)";
    }
  }
  const char* text = ssh_get_error(session);
  return text != nullptr && *text != '\0' ? text : "unknown libssh error";
}

bluegreen::Error libssh_failure(const std::string& host, const std::string& doing, ssh_session session,
                                bluegreen::ErrorCode code) {
  return bluegreen::Error{"ssh " + host + ": " + doing + ": " + libssh_error(session), code};
}

bool wait_readable(ssh_session session, SshClock::time_point until) {
  using std::chrono::milliseconds;
  const auto slice =
      std::clamp(std::chrono::duration_cast<milliseconds>(until - SshClock::now()), milliseconds(1), milliseconds(50));
  pollfd socket{ssh_get_fd(session), POLLIN, 0};
  const int ready = ::poll(&socket, 1, static_cast<int>(slice.count()));
  if (ready < 0 && errno != EINTR) return false;
  return keepalive_alive(session, ready > 0);
}

}  // namespace bluegreen::remote
