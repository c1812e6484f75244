#include "transport/stdio_transport.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>

namespace bluegreen::transport {
namespace {

// Lines may end in "\r\n" when a client on another platform wrote them.
std::string_view trim_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// strerror() may share one buffer between threads (send() runs on every tool call's thread); the
// error category's message is thread-safe.
std::string error_text(int error) { return std::generic_category().message(error); }

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

}  // namespace

StdioTransport::StdioTransport(int input_fd, int output_fd, std::size_t max_message_bytes)
    : input_fd_(input_fd), output_fd_(output_fd), max_message_bytes_(max_message_bytes) {}

void StdioTransport::run(mcp::MessageHandler& handler) {
  std::string pending;      // bytes of the current, incomplete line
  bool discarding = false;  // inside a line that already exceeded the limit
  char chunk[64 * 1024];

  const auto deliver = [&](std::string_view line) {
    line = trim_line(line);
    if (!is_blank(line)) handler.on_message(line);
  };

  while (true) {
    const ssize_t n = ::read(input_fd_, chunk, sizeof chunk);
    if (n == 0) break;  // end of input: the client closed stdin
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("reading input failed: {}", error_text(errno));
      break;
    }
    std::string_view data(chunk, static_cast<std::size_t>(n));
    while (!data.empty()) {
      const auto newline = data.find('\n');
      const std::string_view part = data.substr(0, newline);
      if (discarding) {
        if (newline != std::string_view::npos) discarding = false;
      } else if (pending.size() + part.size() > max_message_bytes_) {
        pending.clear();
        pending.shrink_to_fit();
        handler.on_oversized_message(max_message_bytes_);
        discarding = newline == std::string_view::npos;
      } else if (newline == std::string_view::npos) {
        pending.append(part);
      } else if (pending.empty()) {
        deliver(part);  // common case: a whole line inside one read, no copy
      } else {
        pending.append(part);
        deliver(pending);
        pending.clear();
      }
      if (newline == std::string_view::npos) break;
      data.remove_prefix(newline + 1);
    }
  }
  // A final message without a trailing newline still counts.
  if (!discarding && !pending.empty()) deliver(pending);
}

void StdioTransport::send(std::string message) {
  message.push_back('\n');
  std::lock_guard lock(write_mutex_);
  if (output_closed_) return;
  std::string_view remaining(message);
  while (!remaining.empty()) {
    const ssize_t n = ::write(output_fd_, remaining.data(), remaining.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("writing output failed ({}); dropping further messages", error_text(errno));
      output_closed_ = true;
      return;
    }
    remaining.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace bluegreen::transport
