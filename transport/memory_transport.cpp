#include "transport/memory_transport.h"

#include "transport/stdio_transport.h"

#include <utility>

namespace bluegreen::transport {

void MemoryTransport::run(mcp::MessageHandler& handler) {
  while (true) {
    Incoming message;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return !incoming_.empty() || input_closed_; });
      if (incoming_.empty()) return;
      message = std::move(incoming_.front());
      incoming_.pop_front();
    }
    if (message.oversized) {
      handler.on_oversized_message(StdioTransport::kDefaultMaxMessageBytes);
    } else {
      handler.on_message(message.line);
    }
  }
}

void MemoryTransport::send(std::string message) {
  // Every outgoing message must be a single line of JSON, exactly as on stdio.
  auto parsed = nlohmann::json::parse(message);
  std::lock_guard lock(mutex_);
  if (message.find('\n') != std::string::npos) {
    parsed = nlohmann::json{{"transport_error", "message contains a newline"}, {"message", message}};
  }
  outgoing_.push_back(std::move(parsed));
  changed_.notify_all();
}

void MemoryTransport::push(std::string line) {
  std::lock_guard lock(mutex_);
  incoming_.push_back(Incoming{std::move(line), false});
  changed_.notify_all();
}

void MemoryTransport::push_message(const nlohmann::json& message) { push(message.dump()); }

void MemoryTransport::push_oversized() {
  std::lock_guard lock(mutex_);
  incoming_.push_back(Incoming{std::string(), true});
  changed_.notify_all();
}

void MemoryTransport::close_input() {
  std::lock_guard lock(mutex_);
  input_closed_ = true;
  changed_.notify_all();
}

std::optional<nlohmann::json> MemoryTransport::next(std::chrono::milliseconds timeout) {
  return next_matching([](const nlohmann::json&) { return true; }, timeout);
}

std::optional<nlohmann::json> MemoryTransport::next_matching(const std::function<bool(const nlohmann::json&)>& match,
                                                             std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::optional<nlohmann::json> found;
  changed_.wait_for(lock, timeout, [&] {
    for (auto it = outgoing_.begin(); it != outgoing_.end(); ++it) {
      if (match(*it)) {
        found = std::move(*it);
        outgoing_.erase(it);
        return true;
      }
    }
    return false;
  });
  return found;
}

std::optional<nlohmann::json> MemoryTransport::reply_to(const nlohmann::json& id, std::chrono::milliseconds timeout) {
  return next_matching(
      [&](const nlohmann::json& m) { return m.contains("id") && m["id"] == id && !m.contains("method"); }, timeout);
}

std::deque<nlohmann::json> MemoryTransport::drain() {
  std::lock_guard lock(mutex_);
  return std::exchange(outgoing_, {});
}

}  // namespace bluegreen::transport
