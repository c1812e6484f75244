#include "remote/libssh_support.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

namespace bluegreen::remote {

void SessionDeleter::operator()(ssh_session session) const {
  if (ssh_is_connected(session) != 0) ssh_disconnect(session);
  ssh_free(session);
}

void ChannelDeleter::operator()(ssh_channel channel) const {
  if (ssh_channel_is_open(channel) != 0) ssh_channel_close(channel);
  ssh_channel_free(channel);
}

std::string libssh_error(ssh_session session) {
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
  return ::poll(&socket, 1, static_cast<int>(slice.count())) >= 0 || errno == EINTR;
}

}  // namespace bluegreen::remote
