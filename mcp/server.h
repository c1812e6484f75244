#pragma once
// The MCP server core: lifecycle, dispatch of requests and notifications, tool calls and resource
// reads on worker threads with progress, logging and cancellation, prompts, resources,
// completions, and requests of its own to the client (elicitation/create) on behalf of a running
// tool.
//
// Contract:
//  - Every request gets exactly one reply, except a tools/call or resources/read that the client
//    cancelled (MCP: a cancelled request is not answered) or that was still running at shutdown.
//  - on_message() returns quickly: tools run on worker threads, so ping, status calls,
//    cancellations and the client's answers to the server's own requests are served while a long
//    call is in progress (or waits for such an answer).
//  - The server's own requests use string ids "srv-1", "srv-2", ...; a response whose id matches
//    no request still waiting is ignored.
//  - The prompts capability is advertised only when a non-empty PromptRegistry is given, the
//    resources capability (subscribe, no listChanged) only when a non-empty ResourceRegistry
//    is; completion/complete then completes their arguments (the `completions` capability from
//    2025-03-26).
//  - resources/read of a URI no template matches, or that its reader says names nothing, is
//    answered with -32002 "Resource not found" and the URI in `data` (MCP 2025-06-18 and
//    2025-11-25, server/resources "Error Handling"); a reader's other errors with -32603.
//    resources/list and resources/templates/list return everything in one page: a cursor (which
//    this server never hands out) is -32602.
//  - Requests other than initialize and ping before initialize are rejected.
//  - Malformed input is answered with the matching JSON-RPC error; it never stops the server.
//
// Thread-safety: on_message() and on_oversized_message() are called from one (the transport's)
// thread. Replies and notifications go through the MessageSink from several threads.
// shutdown() may be called from any thread, once the transport has stopped delivering messages.

#include "mcp/json_rpc.h"
#include "mcp/log_level.h"
#include "mcp/message_channel.h"
#include "mcp/prompt.h"
#include "mcp/protocol_version.h"
#include "mcp/request_meta.h"
#include "mcp/resource.h"
#include "mcp/result_archive.h"
#include "mcp/tool_registry.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace bluegreen::mcp {

struct ServerInfo {
  std::string name = "bluegreen-mcp";
  std::string title;
  std::string version;
  std::string instructions;
  // Who the transport authenticated, e.g. the label of an HTTP bearer token ("" for none). A
  // client names itself (clientInfo), so the name the tools see (locks, the state history, the
  // audit log) is "<clientInfo.name> (token <principal>)" when this is set.
  std::string principal;
};

struct ServerLimits {
  // Tool calls and resource reads running at once; more are refused with a "server busy" error
  // instead of queuing without bound.
  std::size_t max_concurrent_calls = 32;
  // A tool result's text item longer than this (bytes) is sent shortened, the whole text kept as a
  // resource, when the server has a ResultArchive (mcp/result_archive.h). 60,000 bytes is about
  // 15,000 tokens of English and 20,000 of denser text: under Claude Code's 25,000-token limit.
  std::size_t max_result_text_bytes = 60000;
};

class Server final : public MessageHandler {
 public:
  // `tools`, `prompts`, `resources` and `results` (the last three optional) must outlive the
  // server. With `results`, long tool results are shortened (ServerLimits::max_result_text_bytes);
  // its resource template must then be in `resources` (ResultArchive::add_resource_template).
  Server(ServerInfo info, const ToolRegistry& tools, MessageSink& sink, ServerLimits limits = {},
         const PromptRegistry* prompts = nullptr, const ResourceRegistry* resources = nullptr,
         ResultArchive* results = nullptr);
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

  // Sends notifications/resources/updated {uri} when the client subscribed to `uri`
  // (resources/subscribe; MCP 2025-06-18 server/resources "Subscriptions"); nothing otherwise.
  // Thread-safe (tools call it through ToolContext::resource_updated).
  void resource_updated(const std::string& uri);

  // At most this many subscribed URIs per client; a subscription past it is refused (-32602).
  static constexpr std::size_t kMaxSubscriptions = 1000;

  // clientInfo.name and .version are kept (for logs, locks, the state file and the audit log) up
  // to this many bytes, cut on a UTF-8 boundary: a client's name can be megabytes.
  static constexpr std::size_t kMaxClientNameBytes = mcp::kMaxClientNameBytes;
  [[nodiscard]] std::string client_name() const;
  // clientInfo.version from initialize (cut as the name is); "" before it or when not a string.
  [[nodiscard]] std::string client_version() const;
  // The protocol revision negotiated by initialize (mcp/protocol_version.h); "" before it.
  [[nodiscard]] std::string protocol_version() const;
  [[nodiscard]] std::size_t calls_in_flight() const;
  // Requests the server sent to the client that are still waiting for an answer.
  [[nodiscard]] std::size_t client_requests_pending() const;

 private:
  struct Call;
  class CallContext;

  void dispatch(Request& request);
  // A request of protocol 2026-07-28 (mcp/request_meta.h), answered for its own peer; its reply is
  // stamped by send() (stamp_modern_reply).
  void dispatch_modern(Request& request, const ModernRequest& modern);
  // The methods both eras serve alike, answered for `peer`; false (nothing sent) for any other.
  bool dispatch_shared(Request& request, const Peer& peer);
  void dispatch(const Notification& notification);
  json handle_initialize(const json& params);
  // server/discover's result (2026-07-28 server/discover).
  json handle_discover() const;
  // The server's capabilities as answered to `peer` (initialize and server/discover).
  json capabilities_for(const Peer& peer) const;
  json handle_tools_list(const Peer& peer) const;
  void handle_tools_call(Request& request, const Peer& peer);
  json handle_prompts_list(const Peer& peer) const;
  void handle_prompts_get(const Request& request);
  void handle_set_level(const Request& request);
  [[nodiscard]] bool has_prompts() const { return prompts_ != nullptr && !prompts_->empty(); }
  [[nodiscard]] bool has_resources() const { return resources_ != nullptr && !resources_->empty(); }
  // resources/list and resources/templates/list (`templates`): the reply to `request`.
  json handle_resources_list(const Request& request, bool templates, const Peer& peer) const;
  void handle_resources_read(const Request& request, const Peer& peer);
  // resources/subscribe (a URI a template matches and, when the template lists instances, one of
  // them; else -32002) and resources/unsubscribe (always {}).
  json handle_resources_subscription(const Request& request, bool subscribe);
  // Runs `work` on a worker thread for `call` (whose id and name are set) and sends what it
  // returns as the reply, unless the call is cancelled first; refuses (replying at once) when the
  // server is shutting down, the id is in use by a running request, or the limit is reached.
  void start_call(const std::shared_ptr<Call>& call, std::function<json(Call&)> work);
  // True while a tools/call or resources/read with this id runs.
  [[nodiscard]] bool id_in_flight(const RequestId& id) const;
  // `result` with each text item over limits_.max_result_text_bytes shortened and kept in results_.
  ToolResult shorten_long_text(ToolResult result) const;
  void cancel_call(const json& request_id);
  void run_call(const std::shared_ptr<Call>& call, const std::function<json(Call&)>& work);
  void finish_call(const std::shared_ptr<Call>& call);
  void reap_finished_workers();
  // Sends `message`; a reply to a 2026-07-28 request (see modern_replies_) is stamped first.
  void send(const json& message);
  // A reply to the 2026-07-28 request `method`: a result gets resultType "complete", the
  // serverInfo in _meta (merged with what is there), and for the cacheable methods ttlMs and
  // cacheScope (2026-07-28 basic/index "ResultType", server/utilities/caching); error -32002
  // becomes -32602 (server/resources "Error Handling").
  json stamp_modern_reply(const std::string& method, json message) const;
  // send(), for a message that belongs to `call` (MessageSink::send_for_request).
  void send_for(const Call& call, const json& message);
  // notifications/message carrying `message` at `level`, from this server's logger.
  [[nodiscard]] json log_notification(LogLevel level, const std::string& message) const;
  void deliver_response(Response response);
  // The session's peer (from initialize; every feature and no capability before it). App-only
  // tools are listed to, and callable by, a peer that renders_apps() only.
  [[nodiscard]] Peer session_peer() const;
  // Sends a request to the client on behalf of `call` and blocks the calling (tool) thread until
  // the answer, the timeout, the call's cancellation or shutdown. Returns the result member; a
  // JSON-RPC error answer is an Error carrying its message.
  bluegreen::Result<json> request_client(const Call& call, const std::string& method, json params,
                                         std::chrono::milliseconds timeout);

  const ServerInfo info_;
  const ToolRegistry& tools_;
  const PromptRegistry* const prompts_;      // null or empty: no prompts capability
  const ResourceRegistry* const resources_;  // null or empty: no resources capability
  ResultArchive* const results_;             // null: tool results are sent whole
  MessageSink& sink_;
  const ServerLimits limits_;

  std::atomic<bool> initialized_{false};
  std::atomic<LogLevel> min_log_level_{LogLevel::kInfo};

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable calls_changed_;
  std::string client_name_;
  std::string client_version_;
  json client_capabilities_ = json::object();
  std::string protocol_version_;                        // negotiated by initialize
  std::set<std::string> subscriptions_;                 // resources/subscribe, at most kMaxSubscriptions
  ProtocolFeatures features_;                           // of protocol_version_
  std::map<std::string, std::shared_ptr<Call>> calls_;  // keyed by RequestId::key()
  std::vector<std::thread> finished_workers_;
  bool shutting_down_ = false;
  // The server's own requests awaiting an answer, keyed by RequestId::key(); the value is filled
  // by the reader thread. Each entry is added and removed by the one tool thread that waits on it.
  std::map<std::string, std::optional<Response>> client_requests_;
  std::uint64_t last_client_request_ = 0;
  // Wakes waiters in request_client(). condition_variable_any because it can also wait on a
  // stop_token, so cancelling a call wakes its wait without a lost-wakeup race.
  std::condition_variable_any client_answered_;

  // 2026-07-28 requests whose reply is not sent yet: RequestId::key() -> method. Its own mutex, as
  // send() is called with mutex_ held.
  mutable std::mutex modern_mutex_;
  std::map<std::string, std::string> modern_replies_;
};

}  // namespace bluegreen::mcp
