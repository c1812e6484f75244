#include "remote/ssh_route.h"

#include "remote/local_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;

constexpr int kMaxHops = 8;

std::optional<std::array<int, 2>> socket_pair() {
  std::array<int, 2> pair{-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair.data()) != 0) return std::nullopt;
  return pair;
}

// Relays between a direct-tcpip channel on the jump host's session and the socket the target's
// session reads and writes.
class JumpRoute final : public SshRoute {
 public:
  JumpRoute(std::string hop, SshLogin login, ChannelPtr channel, int fd)
      : hop_(std::move(hop)), login_(std::move(login)), channel_(std::move(channel)), fd_(fd) {
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    thread_ = std::thread([this] { relay(); });
  }
  ~JumpRoute() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    channel_.reset();  // before the session it belongs to
    ::close(fd_);
  }
  JumpRoute(const JumpRoute&) = delete;
  JumpRoute& operator=(const JumpRoute&) = delete;

  [[nodiscard]] std::string describe() const override {
    return "via " + hop_ + " (" + login_.endpoint + (login_.route ? " " + login_.route_text : "") + ")";
  }
  [[nodiscard]] std::string diagnostics() override {
    std::lock_guard lock(mutex_);
    return problem_;
  }

 private:
  void fail(const std::string& problem) {
    std::lock_guard lock(mutex_);
    if (problem_.empty()) problem_ = problem;
  }

  // Moves what is pending each way; false when either side ended.
  bool pump(std::string& to_socket, std::string& to_channel) {
    std::array<char, 16384> buffer{};
    const int got = ssh_channel_read_nonblocking(channel_.get(), buffer.data(), buffer.size(), 0);
    if (got == SSH_ERROR || (got == 0 && ssh_channel_is_eof(channel_.get()) != 0)) {
      if (got == SSH_ERROR)
        fail("the jump host " + hop_ + " dropped the connection: " + libssh_error(login_.session.get()));
      return false;
    }
    if (got > 0) to_socket.append(buffer.data(), static_cast<std::size_t>(got));
    if (!to_socket.empty()) {
      const ssize_t sent = ::send(fd_, to_socket.data(), to_socket.size(), MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN && errno != EINTR) return false;
      if (sent > 0) to_socket.erase(0, static_cast<std::size_t>(sent));
    }
    if (to_channel.size() < buffer.size()) {
      const ssize_t read = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (read == 0) return false;  // the target's session closed its socket
      if (read < 0 && errno != EAGAIN && errno != EINTR) return false;
      if (read > 0) to_channel.append(buffer.data(), static_cast<std::size_t>(read));
    }
    if (!to_channel.empty()) {
      const int written =
          ssh_channel_write(channel_.get(), to_channel.data(), static_cast<uint32_t>(to_channel.size()));
      if (written == SSH_ERROR) {
        fail("the jump host " + hop_ + " dropped the connection: " + libssh_error(login_.session.get()));
        return false;
      }
      if (written > 0) to_channel.erase(0, static_cast<std::size_t>(written));
    }
    return true;
  }

  void relay() {
    ssh_set_blocking(login_.session.get(), 0);
    std::string to_socket;
    std::string to_channel;
    while (!stop_ && pump(to_socket, to_channel)) {
      std::array<pollfd, 2> fds{pollfd{ssh_get_fd(login_.session.get()), POLLIN, 0},
                                pollfd{fd_, static_cast<short>(to_socket.empty() ? POLLIN : POLLIN | POLLOUT), 0}};
      if (!to_channel.empty()) fds[0].events |= POLLOUT;
      ::poll(fds.data(), fds.size(), 50);
    }
    ::shutdown(fd_, SHUT_RDWR);  // the target's session sees the end at once
  }

  const std::string hop_;
  SshLogin login_;
  ChannelPtr channel_;
  const int fd_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::string problem_;
  std::thread thread_;
};

class CommandRoute final : public SshRoute {
 public:
  CommandRoute(std::string command, ChildProcess child) : command_(std::move(command)), child_(std::move(child)) {}
  [[nodiscard]] std::string describe() const override { return "via ProxyCommand `" + command_ + "`"; }
  [[nodiscard]] std::string diagnostics() override {
    const std::string text = child_.diagnostics();
    return text.empty() ? text : "the ProxyCommand said: " + text;
  }

 private:
  const std::string command_;
  ChildProcess child_;
};

bluegreen::Result<OpenedRoute> open_jump(const SshDestination& target, const LoginContext& context, int depth) {
  const std::string hop = target.proxy_jump.back();
  auto resolved = context.resolver.resolve(hop);
  if (!resolved) return Error{"jump host " + hop + ": " + resolved.error().message, resolved.error().code};
  SshDestination hop_destination = resolved.value();
  if (target.proxy_jump.size() > 1) {
    // As `ssh -J a,b target` reaches b with `-J a`: the chain replaces b's own proxy settings.
    hop_destination.proxy_jump.assign(target.proxy_jump.begin(), target.proxy_jump.end() - 1);
    hop_destination.proxy_command.clear();
  }
  auto login = open_login(hop, hop_destination, context, depth + 1);  // its errors name the jump host
  if (!login) return login.error();
  ChannelPtr channel(ssh_channel_new(login->session.get()));
  if (!channel ||
      ssh_channel_open_forward(channel.get(), target.hostname.c_str(), target.port, "127.0.0.1", 0) != SSH_OK) {
    return Error{"the jump host " + hop + " (" + login->endpoint + ") could not open a connection to " +
                     target.hostname + ":" + std::to_string(target.port) + ": " + libssh_error(login->session.get()) +
                     " (does the jump host resolve that name and reach that port, and allow TCP forwarding?)",
                 ErrorCode::kUnavailable};
  }
  const auto pair = socket_pair();
  if (!pair) return Error{"cannot relay through " + hop + ": no socket pair", ErrorCode::kUnavailable};
  OpenedRoute opened;
  opened.route = std::make_unique<JumpRoute>(hop, std::move(login.value()), std::move(channel), (*pair)[0]);
  opened.fd = (*pair)[1];
  return opened;
}

// ProxyCommand with its tokens expanded, and OpenSSH's ssh made strict and non-interactive.
bluegreen::Result<std::string> proxy_command_line(const SshDestination& target) {
  auto expanded = expand_ssh_tokens(target.proxy_command, target, "ProxyCommand");
  if (!expanded) return expanded.error();
  std::string command = expanded.value();
  const auto first_end = command.find_first_of(" \t");
  const std::string program = command.substr(0, first_end);
  const auto slash = program.rfind('/');
  if ((slash == std::string::npos ? program : program.substr(slash + 1)) == "ssh") {
    command.insert(program.size(), " -o BatchMode=yes -o StrictHostKeyChecking=yes");
  }
  return command;
}

bluegreen::Result<OpenedRoute> open_command(const SshDestination& target) {
  auto command = proxy_command_line(target);
  if (!command) return command.error();
  const auto pair = socket_pair();
  if (!pair) return Error{"cannot start the ProxyCommand: no socket pair", ErrorCode::kUnavailable};
  auto child = spawn_on_socket(command.value(), (*pair)[0]);
  ::close((*pair)[0]);
  if (!child) {
    ::close((*pair)[1]);
    return child.error();
  }
  OpenedRoute opened;
  opened.route = std::make_unique<CommandRoute>(command.value(), std::move(child.value()));
  opened.fd = (*pair)[1];
  return opened;
}

}  // namespace

bluegreen::Result<OpenedRoute> open_route(const SshDestination& target, const LoginContext& context, int depth) {
  if (target.proxy_jump.empty() && target.proxy_command.empty()) return OpenedRoute{};
  if (depth >= kMaxHops) {
    return Error{"more than " + std::to_string(kMaxHops) +
                     " jump hosts on the way: do the ProxyJump settings of the jump hosts form a loop?",
                 ErrorCode::kFailedPrecondition};
  }
  if (!target.proxy_jump.empty()) return open_jump(target, context, depth);
  return open_command(target);
}

}  // namespace bluegreen::remote
