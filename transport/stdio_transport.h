#pragma once
// MCP's stdio transport: newline-delimited JSON over a pair of file descriptors (stdin/stdout in
// production, pipes in tests).
//
// Reading is bounded: a line longer than `max_message_bytes` is discarded as it streams in (memory
// stays at the limit) and reported through MessageHandler::on_oversized_message. Writes are
// serialised by a mutex; a failed write (the client went away) marks the transport closed and
// later sends are dropped.

#include "transport/transport.h"

#include <cstddef>
#include <mutex>

namespace bluegreen::transport {

class StdioTransport final : public Transport {
 public:
  static constexpr std::size_t kDefaultMaxMessageBytes = std::size_t{4} * 1024 * 1024;

  StdioTransport(int input_fd, int output_fd, std::size_t max_message_bytes = kDefaultMaxMessageBytes);

  void run(mcp::MessageHandler& handler) override;
  void send(std::string message) override;

 private:
  const int input_fd_;
  const int output_fd_;
  const std::size_t max_message_bytes_;
  std::mutex write_mutex_;
  bool output_closed_ = false;  // guarded by write_mutex_
};

}  // namespace bluegreen::transport
