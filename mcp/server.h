#pragma once
// The MCP server core: lifecycle, dispatch of requests and notifications, tool calls on worker
// threads with progress, logging and cancellation.
//
// Contract:
//  - Every request gets exactly one reply, except a tools/call that the client cancelled (MCP:
//    a cancelled request is not answered) or that was still running at shutdown.
//  - on_message() returns quickly: tools run on worker threads, so ping, status calls and
//    cancellations are served while a long call is in progress.
//  - Requests other than initialize and ping before initialize are rejected.
//  - Malformed input is answered with the matching JSON-RPC error; it never stops the server.
//
// Thread-safety: on_message() and on_oversized_message() are called from one (the transport's)
// thread. Replies and notifications go through the MessageSink from several threads.
// shutdown() may be called from any thread, once the transport has stopped delivering messages.

#include "mcp/json_rpc.h"
#include "mcp/log_level.h"
#include "mcp/message_channel.h"
#include "mcp/tool_registry.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mcp {

struct ServerInfo {
  std::string name = "bluegreen-mcp";
  std::string title;
  std::string version;
  std::string instructions;
};

struct ServerLimits {
  // Tool calls running at once; more are refused with a "server busy" error instead of queuing
  // without bound.
  std::size_t max_concurrent_calls = 32;
};

class Server final : public MessageHandler {
 public:
  Server(ServerInfo info, const ToolRegistry& tools, MessageSink& sink, ServerLimits limits = {});
  ~Server() override;

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void on_message(std::string_view text) override;
  void on_oversized_message(std::size_t limit_bytes) override;

  // Cancels every call in flight and waits up to `grace` for them to end. Returns false when some
  // call ignored its cancellation for that long (the caller should then exit the process rather
  // than destroy the server under a running handler).
  bool shutdown(std::chrono::milliseconds grace);

  // Sends notifications/message to the client when `level` passes the client's threshold.
  void log_to_client(LogLevel level, const std::string& message);

  [[nodiscard]] std::string client_name() const;
  [[nodiscard]] std::size_t calls_in_flight() const;

 private:
  struct Call;
  class CallContext;

  void dispatch(Request& request);
  void dispatch(const Notification& notification);
  json handle_initialize(const json& params);
  json handle_tools_list() const;
  void handle_tools_call(Request& request);
  void handle_set_level(const Request& request);
  void cancel_call(const json& request_id);
  void run_call(const std::shared_ptr<Call>& call, const Tool& tool, const json& arguments);
  void finish_call(const std::shared_ptr<Call>& call);
  void reap_finished_workers();
  void send(const json& message);

  const ServerInfo info_;
  const ToolRegistry& tools_;
  MessageSink& sink_;
  const ServerLimits limits_;

  std::atomic<bool> initialized_{false};
  std::atomic<LogLevel> min_log_level_{LogLevel::kInfo};

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable calls_changed_;
  std::string client_name_;
  json client_capabilities_ = json::object();
  std::map<std::string, std::shared_ptr<Call>> calls_;  // keyed by RequestId::key()
  std::vector<std::thread> finished_workers_;
  bool shutting_down_ = false;
};

}  // namespace mcp
