#pragma once
// A session of the Streamable HTTP transport (transport/streamable_http.h), and the SSE streams its
// messages go out on. Internal to the transport; in a header of its own so the server's file stays
// one idea (the HTTP handling).
//
// Routing: a reply goes to the stream of the request it answers, and ends it; a message sent for
// a request (MessageSink::send_for_request: progress, log lines, elicitation) goes to that
// request's stream while it is open, else to the session's GET stream; anything else goes to the
// GET stream. With no open stream a message is dropped (logged at debug).
//
// Thread-safety: every member below `mu` is guarded by it; `changed` is notified on each change.

#include "mcp/message_channel.h"
#include "mcp/server.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace bluegreen::transport::http {

// One SSE response: what waits to be written, and whether it ends.
struct Stream {
  std::deque<std::string> events;
  bool done = false;  // end once `events` is written
  bool gone = false;  // the client closed it: drop what comes
};

// A session: its mcp::Server, and where that server's messages go.
class Session final : public mcp::MessageSink {
 public:
  explicit Session(std::string session_id) : id(std::move(session_id)) {}
  // Ends the server's calls before the members they write to (mu, the streams) go away. A call that
  // ignores its cancellation for 10 s leaves its server alive (leaked) rather than crash under it.
  ~Session() override {
    if (server && !server->shutdown(std::chrono::seconds(10))) {
      spdlog::error("http session {}…: a call ignored cancellation; its server is left running", id.substr(0, 8));
      static_cast<void>(server.release());
    }
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string id;
  std::string label;                    // the bearer token's label, for logs
  std::unique_ptr<mcp::Server> server;  // set once, before the session is shared

  std::mutex deliver_mutex;  // one on_message at a time (mcp::Server's contract)
  bool ended = false;        // guarded by deliver_mutex and mu: no more messages are delivered

  std::mutex mu;  // guards what follows
  std::condition_variable changed;
  std::map<std::string, std::shared_ptr<Stream>> requests;  // open request streams by RequestId::key()
  std::shared_ptr<Stream> standalone;                       // the GET stream
  std::chrono::steady_clock::time_point last_used = std::chrono::steady_clock::now();

  void send(std::string message) override {
    // A response ends its request's stream; anything else without a request goes to the GET stream.
    std::optional<std::string> key;
    const nlohmann::json parsed = nlohmann::json::parse(message, nullptr, false);
    if (parsed.is_object() && !parsed.contains("method") && parsed.contains("id")) key = parsed["id"].dump();
    route(std::move(message), key ? &*key : nullptr, key.has_value());
  }

  void send_for_request(std::string message, const std::string& request_key) override {
    route(std::move(message), &request_key, false);
  }

  // Ends the stream of request `key` without a reply (the client cancelled it).
  void end_stream(const std::string& key) {
    std::lock_guard lock(mu);
    if (auto it = requests.find(key); it != requests.end()) {
      it->second->done = true;
      requests.erase(it);
      changed.notify_all();
    }
  }

  // Marks every stream done; new messages are dropped.
  void end_streams() {
    std::lock_guard lock(mu);
    ended = true;
    for (auto& [key, stream] : requests) stream->done = true;
    requests.clear();
    if (standalone) standalone->done = true;
    changed.notify_all();
  }

  [[nodiscard]] std::chrono::steady_clock::time_point last_use() {
    std::lock_guard lock(mu);
    return last_used;
  }

  // Unused since before `cutoff`, with nothing running and no stream open.
  [[nodiscard]] bool idle_since(std::chrono::steady_clock::time_point cutoff) {
    {
      std::lock_guard lock(mu);
      if (last_used >= cutoff || !requests.empty() || (standalone && !standalone->done && !standalone->gone)) {
        return false;
      }
    }
    // Asked without `mu`: the server sends (and so takes `mu`) while holding its own lock.
    return server->calls_in_flight() == 0;
  }

 private:
  void route(std::string message, const std::string* key, bool final) {
    std::lock_guard lock(mu);
    std::shared_ptr<Stream> target;
    if (key != nullptr) {
      if (auto it = requests.find(*key); it != requests.end()) {
        target = it->second;
        if (final) requests.erase(it);
      }
    }
    if (!target && !final) target = standalone;
    if (!target || target->gone || target->done) {
      spdlog::debug("http session {}…: no open stream for a message; dropped", id.substr(0, 8));
      return;
    }
    target->events.push_back(std::move(message));
    if (final) target->done = true;
    changed.notify_all();
  }
};

}  // namespace bluegreen::transport::http
