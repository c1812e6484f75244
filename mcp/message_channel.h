#pragma once
// The seam between the protocol core and a transport (stdio, in-memory, later HTTP).
//
// The core never touches file descriptors: a transport delivers each incoming message to a
// MessageHandler and the core writes replies through a MessageSink.

#include <cstddef>
#include <string>
#include <string_view>

namespace bluegreen::mcp {

// Where the server writes outgoing messages. Each call carries one complete serialised message
// (no trailing newline). Implementations must be safe to call from several threads at once and
// must never interleave two messages.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual void send(std::string message) = 0;
  // The same, for a message that belongs to the client's request whose RequestId::key() is
  // `request_key`: progress, log lines, elicitation requests and their cancellations sent while
  // that request runs. A transport with a stream per request (Streamable HTTP, MCP 2025-06-18
  // basic/transports "Sending Messages to the Server") writes it there; the default sends it as
  // any other message.
  virtual void send_for_request(std::string message, const std::string& request_key) {
    static_cast<void>(request_key);
    send(std::move(message));
  }
};

// Receives what a transport reads. Called from the transport's reading thread only, one message
// at a time; implementations must not block for long (long work belongs on worker threads), so
// the transport keeps reading while tools run.
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  virtual void on_message(std::string_view text) = 0;
  // A message longer than the transport's limit was discarded without being buffered whole.
  virtual void on_oversized_message(std::size_t limit_bytes) = 0;
};

}  // namespace bluegreen::mcp
