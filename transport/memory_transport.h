#pragma once
// An in-memory transport for tests: the test plays the client, pushing raw lines in and reading
// the server's messages out, with timeouts so a missing reply fails the test instead of hanging.
//
// Thread-safety: every method may be called from any thread.

#include "transport/transport.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace bluegreen::transport {

class MemoryTransport final : public Transport {
 public:
  // --- server side ---
  void run(mcp::MessageHandler& handler) override;  // until close_input()
  void send(std::string message) override;

  // --- client side ---
  void push(std::string line);  // one raw message, as a client would write it
  void push_message(const nlohmann::json& message);
  void push_oversized();  // simulates a line the transport had to discard
  void close_input();     // end of input: run() returns after queued messages

  // Next message the server sent, or nullopt after `timeout`.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Next message satisfying `match`; messages skipped on the way are kept for later calls.
  std::optional<nlohmann::json> next_matching(const std::function<bool(const nlohmann::json&)>& match,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The reply (result or error) to request `id`.
  std::optional<nlohmann::json> reply_to(const nlohmann::json& id,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Everything sent so far that has not been consumed.
  std::deque<nlohmann::json> drain();

 private:
  struct Incoming {
    std::string line;
    bool oversized = false;
  };

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Incoming> incoming_;
  bool input_closed_ = false;
  std::deque<nlohmann::json> outgoing_;
};

}  // namespace bluegreen::transport
