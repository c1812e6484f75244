#include "remote/agent_relay.h"

#include "common/base64.h"
#include "remote/libssh_support.h"
#include "remote/ssh_host_key.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;

// Message numbers of the agent protocol (draft-miller-ssh-agent section 5.1).
constexpr unsigned char kFailure = 5;
constexpr unsigned char kRequestIdentities = 11;
constexpr unsigned char kIdentitiesAnswer = 12;
constexpr unsigned char kSignRequest = 13;
constexpr unsigned char kSignResponse = 14;
constexpr std::uint32_t kMaxMessage = 256 * 1024;

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, std::size_t size, std::string& into) {
  into.resize(size);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::recv(fd, into.data() + done, size - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::uint32_t get_u32(const std::string& data, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8U) | static_cast<unsigned char>(data[at + i]);
  return value;
}

std::string put_u32(std::size_t size) {
  const auto value = static_cast<std::uint32_t>(size);
  return {static_cast<char>(value >> 24U), static_cast<char>(value >> 16U), static_cast<char>(value >> 8U),
          static_cast<char>(value)};
}

// One length-prefixed message; false on a closed or broken socket or an oversized message.
bool read_message(int fd, std::string& message) {
  std::string length;
  if (!read_all(fd, 4, length)) return false;
  const std::uint32_t size = get_u32(length, 0);
  return size > 0 && size <= kMaxMessage && read_all(fd, size, message);
}

bool write_message(int fd, const std::string& message) { return write_all(fd, put_u32(message.size()) + message); }

// An SSH "string" at `at` (advanced past it), or nullopt when it runs past the end.
std::optional<std::string> get_string(const std::string& data, std::size_t& at) {
  if (at + 4 > data.size()) return std::nullopt;
  const std::uint32_t size = get_u32(data, at);
  if (size > data.size() - at - 4) return std::nullopt;
  std::string value = data.substr(at + 4, size);
  at += 4 + size;
  return value;
}

std::string describe_blob(const std::string& blob) {
  std::size_t at = 0;
  const auto type = get_string(blob, at);
  ssh_key raw = nullptr;
  if (!type || ssh_pki_import_pubkey_base64(base64_encode(blob).c_str(), ssh_key_type_from_name(type->c_str()), &raw) !=
                   SSH_OK) {
    return "an unreadable key";
  }
  const KeyPtr key(raw);
  return describe_key(key.get());
}

int refuse_passphrase(const char*, char*, std::size_t, int, int, void*) { return -1; }

}  // namespace

std::optional<std::string> identity_public_blob(const std::string& file) {
  const bool is_public = file.size() > 4 && file.compare(file.size() - 4, 4, ".pub") == 0;
  ssh_key raw = nullptr;
  if (ssh_pki_import_pubkey_file((is_public ? file : file + ".pub").c_str(), &raw) != SSH_OK) {
    raw = nullptr;
    ssh_key private_key = nullptr;
    if (is_public ||
        ssh_pki_import_privkey_file(file.c_str(), nullptr, refuse_passphrase, nullptr, &private_key) != SSH_OK) {
      return std::nullopt;
    }
    const KeyPtr owned(private_key);
    if (ssh_pki_export_privkey_to_pubkey(private_key, &raw) != SSH_OK) return std::nullopt;
  }
  const KeyPtr key(raw);
  char* text = nullptr;
  if (ssh_pki_export_pubkey_base64(key.get(), &text) != SSH_OK || text == nullptr) return std::nullopt;
  std::string blob = text;
  ssh_string_free_char(text);
  return blob;
}

bluegreen::Result<std::unique_ptr<AgentRelay>> AgentRelay::open(const std::string& socket_path,
                                                                std::vector<std::string> preferred,
                                                                bool identities_only) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    return Error{"the agent socket path " + socket_path + " is too long", ErrorCode::kUnavailable};
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int agent = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const timeval timeout{5, 0};
  ::setsockopt(agent, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(agent, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (agent < 0 || ::connect(agent, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const std::string reason = std::generic_category().message(errno);
    if (agent >= 0) ::close(agent);
    return Error{"cannot reach the ssh-agent at " + socket_path + " (" + reason +
                     "): check that the agent runs and the path is right",
                 ErrorCode::kUnavailable};
  }
  std::array<int, 2> pair{-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair.data()) != 0) {
    ::close(agent);
    return Error{"cannot relay to the ssh-agent: " + std::string(std::generic_category().message(errno)),
                 ErrorCode::kUnavailable};
  }
  return std::unique_ptr<AgentRelay>(new AgentRelay(agent, pair[0], pair[1], std::move(preferred), identities_only));
}

AgentRelay::AgentRelay(int agent_fd, int own_fd, int libssh_fd, std::vector<std::string> preferred,
                       bool identities_only)
    : agent_fd_(agent_fd),
      own_fd_(own_fd),
      libssh_fd_(libssh_fd),
      preferred_(std::move(preferred)),
      identities_only_(identities_only) {
  thread_ = std::thread([this] { serve(); });
}

AgentRelay::~AgentRelay() {
  stop_ = true;
  ::shutdown(own_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(own_fd_);
  ::close(agent_fd_);
  if (libssh_fd_ >= 0) ::close(libssh_fd_);
}

int AgentRelay::take_libssh_fd() { return std::exchange(libssh_fd_, -1); }

std::vector<std::string> AgentRelay::offered() const {
  std::lock_guard lock(mutex_);
  return offered_;
}

std::optional<std::string> AgentRelay::signed_key() const {
  std::lock_guard lock(mutex_);
  return signed_;
}

std::size_t AgentRelay::rank(const std::string& blob) const {
  const std::string text = base64_encode(blob);
  return static_cast<std::size_t>(std::find(preferred_.begin(), preferred_.end(), text) - preferred_.begin());
}

bool AgentRelay::allowed(const std::string& blob) const { return !identities_only_ || rank(blob) < preferred_.size(); }

void AgentRelay::serve() {
  while (!stop_) {
    pollfd fd{own_fd_, POLLIN, 0};
    if (::poll(&fd, 1, 100) <= 0) continue;
    std::string request;
    if (!read_message(own_fd_, request)) return;
    std::string reply;
    if (!handle(request, reply)) reply = std::string(1, static_cast<char>(kFailure));
    if (!write_message(own_fd_, reply)) return;
  }
}

// Fills `reply` for one request; false answers FAILURE.
bool AgentRelay::handle(const std::string& request, std::string& reply) {
  const auto type = static_cast<unsigned char>(request[0]);
  if (type == kSignRequest) {
    std::size_t at = 1;
    const auto blob = get_string(request, at);
    if (!blob || !allowed(*blob)) return false;
    if (!write_message(agent_fd_, request) || !read_message(agent_fd_, reply)) return false;
    if (static_cast<unsigned char>(reply[0]) == kSignResponse) {
      std::lock_guard lock(mutex_);
      signed_ = describe_blob(*blob);
    }
    return true;
  }
  if (type != kRequestIdentities) return false;
  std::string answer;
  if (!write_message(agent_fd_, request) || !read_message(agent_fd_, answer)) return false;
  if (static_cast<unsigned char>(answer[0]) != kIdentitiesAnswer || answer.size() < 5) return false;
  const std::uint32_t count = get_u32(answer, 1);
  agent_keys_ = count;
  std::size_t at = 5;
  std::vector<std::pair<std::string, std::string>> keys;  // blob, comment
  for (std::uint32_t i = 0; i < count; ++i) {
    auto blob = get_string(answer, at);
    auto comment = get_string(answer, at);
    if (!blob || !comment) return false;
    if (allowed(*blob)) keys.emplace_back(std::move(*blob), std::move(*comment));
  }
  std::stable_sort(keys.begin(), keys.end(),
                   [this](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
  reply = std::string(1, static_cast<char>(kIdentitiesAnswer)) + put_u32(keys.size());
  std::lock_guard lock(mutex_);
  for (const auto& [blob, comment] : keys) {
    reply += put_u32(blob.size()) + blob + put_u32(comment.size()) + comment;
    offered_.push_back(describe_blob(blob));
  }
  return true;
}

}  // namespace bluegreen::remote
