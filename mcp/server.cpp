#include "mcp/server.h"

#include "mcp/protocol_version.h"
#include "mcp/schema.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <optional>
#include <utility>

namespace mcp {

// One tools/call in progress.
struct Server::Call {
  RequestId id;
  std::string tool_name;
  std::optional<json> progress_token;
  std::stop_source stop;
  std::thread worker;      // assigned under Server::mutex_ before the worker can finish
  bool replied = false;    // guarded by Server::mutex_: the reply has been claimed
  bool cancelled = false;  // guarded by Server::mutex_: no reply will be sent

  std::mutex progress_mutex;
  std::optional<double> last_progress;  // guarded by progress_mutex
};

class Server::CallContext final : public ToolContext {
 public:
  CallContext(Server& server, Call& call) : server_(server), call_(call) {}

  [[nodiscard]] std::stop_token stop_token() const override { return call_.stop.get_token(); }

  void report_progress(double progress, std::optional<double> total, std::string message) override {
    if (!call_.progress_token || call_.stop.stop_requested()) return;
    std::lock_guard lock(call_.progress_mutex);
    if (call_.last_progress && progress <= *call_.last_progress) {
      spdlog::debug("{}: dropped non-increasing progress {} (last {})", call_.tool_name, progress, *call_.last_progress);
      return;
    }
    call_.last_progress = progress;
    json params{{"progressToken", *call_.progress_token}, {"progress", progress}};
    if (total) params["total"] = *total;
    if (!message.empty()) params["message"] = std::move(message);
    // Sent while holding progress_mutex so two threads of one handler cannot reorder values.
    server_.send(make_notification("notifications/progress", std::move(params)));
  }

  void log(LogLevel level, std::string message) override { server_.log_to_client(level, message); }

  [[nodiscard]] std::string client_name() const override { return server_.client_name(); }

 private:
  Server& server_;
  Call& call_;
};

Server::Server(ServerInfo info, const ToolRegistry& tools, MessageSink& sink, ServerLimits limits)
    : info_(std::move(info)), tools_(tools), sink_(sink), limits_(limits) {}

Server::~Server() { shutdown(std::chrono::milliseconds::max()); }

void Server::send(const json& message) { sink_.send(serialize(message)); }

void Server::on_message(std::string_view text) {
  reap_finished_workers();
  ParsedMessage parsed = parse_message(text);

  if (auto* rejected = std::get_if<Rejected>(&parsed)) {
    spdlog::debug("rejected message: {}", rejected->reply["error"]["message"].get<std::string>());
    send(rejected->reply);
    return;
  }
  if (auto* response = std::get_if<Response>(&parsed)) {
    // The server sends no requests of its own yet, so any response is unsolicited.
    spdlog::debug("ignoring response to unknown request {}", response->id.key());
    return;
  }
  if (auto* notification = std::get_if<Notification>(&parsed)) {
    try {
      dispatch(*notification);
    } catch (const std::exception& e) {
      spdlog::error("internal error handling {}: {}", notification->method, e.what());
    }
    return;
  }

  auto& request = std::get<Request>(parsed);
  try {
    dispatch(request);
  } catch (const std::exception& e) {
    spdlog::error("internal error handling {}: {}", request.method, e.what());
    send(make_error(request.id.value, error_code::kInternalError, std::string("Internal error: ") + e.what()));
  }
}

void Server::on_oversized_message(std::size_t limit_bytes) {
  send(make_error(nullptr, error_code::kInvalidRequest,
                  "Invalid request: message exceeds the " + std::to_string(limit_bytes) +
                      "-byte limit and was discarded"));
}

void Server::dispatch(Request& request) {
  const std::string& method = request.method;
  const json& id = request.id.value;

  if (method == "ping") {
    send(make_result(id, json::object()));
    return;
  }
  if (method == "initialize") {
    if (initialized_) {
      send(make_error(id, error_code::kInvalidRequest, "Invalid request: initialize was already received"));
      return;
    }
    const auto version = request.params.find("protocolVersion");
    if (version == request.params.end() || !version->is_string()) {
      send(make_error(id, error_code::kInvalidParams,
                      "Invalid params: initialize needs \"protocolVersion\" (a string such as \"" +
                          std::string(kLatestProtocolVersion) + "\")"));
      return;
    }
    send(make_result(id, handle_initialize(request.params)));
    return;
  }
  if (!initialized_) {
    send(make_error(id, error_code::kInvalidRequest,
                    "Invalid request: the server is not initialized; send initialize first"));
    return;
  }
  if (method == "tools/list") {
    send(make_result(id, handle_tools_list()));
  } else if (method == "tools/call") {
    handle_tools_call(request);
  } else if (method == "logging/setLevel") {
    handle_set_level(request);
  } else {
    send(make_error(id, error_code::kMethodNotFound, "Method not found: " + method));
  }
}

void Server::dispatch(const Notification& notification) {
  if (notification.method == "notifications/cancelled") {
    if (const auto id = notification.params.find("requestId"); id != notification.params.end()) {
      cancel_call(*id);
    }
  } else if (notification.method == "notifications/initialized") {
    spdlog::debug("client reports initialized");
  } else {
    spdlog::debug("ignoring notification {}", notification.method);
  }
}

json Server::handle_initialize(const json& params) {
  const std::string requested = params["protocolVersion"].get<std::string>();
  const std::string_view version = negotiate_protocol_version(requested);
  {
    std::lock_guard lock(mutex_);
    if (const auto client = params.find("clientInfo"); client != params.end() && client->is_object()) {
      client_name_ = client->value("name", std::string());
      if (const auto client_version = client->find("version"); client_version != client->end() && client_version->is_string()) {
        spdlog::info("client {} {} requested protocol {} (answering {})", client_name_,
                     client_version->get<std::string>(), requested, version);
      }
    }
    if (const auto caps = params.find("capabilities"); caps != params.end() && caps->is_object()) {
      client_capabilities_ = *caps;
    }
  }
  initialized_ = true;

  json server_info{{"name", info_.name}, {"version", info_.version}};
  if (!info_.title.empty()) server_info["title"] = info_.title;
  json result{
      {"protocolVersion", version},
      {"capabilities", {{"tools", {{"listChanged", false}}}, {"logging", json::object()}}},
      {"serverInfo", std::move(server_info)},
  };
  if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
  return result;
}

json Server::handle_tools_list() const {
  json list = json::array();
  for (const auto& tool : tools_.tools()) list.push_back(tool.definition.to_json());
  return json{{"tools", std::move(list)}};
}

void Server::handle_set_level(const Request& request) {
  const auto level_field = request.params.find("level");
  const auto level = level_field != request.params.end() && level_field->is_string()
                         ? parse_log_level(level_field->get<std::string>())
                         : std::nullopt;
  if (!level) {
    send(make_error(request.id.value, error_code::kInvalidParams,
                    "Invalid params: \"level\" must be one of debug, info, notice, warning, error, critical, "
                    "alert, emergency"));
    return;
  }
  min_log_level_ = *level;
  send(make_result(request.id.value, json::object()));
}

void Server::handle_tools_call(Request& request) {
  const json& id = request.id.value;
  const auto name = request.params.find("name");
  if (name == request.params.end() || !name->is_string()) {
    send(make_error(id, error_code::kInvalidParams, "Invalid params: tools/call needs \"name\" (a string)"));
    return;
  }
  const Tool* tool = tools_.find(name->get<std::string>());
  if (tool == nullptr) {
    std::string available;
    for (const auto& t : tools_.tools()) available += (available.empty() ? "" : ", ") + t.definition.name;
    send(make_error(id, error_code::kInvalidParams,
                    "Unknown tool: " + name->get<std::string>() +
                        (available.empty() ? std::string() : ". Available tools: " + available)));
    return;
  }
  json arguments = json::object();
  if (const auto args = request.params.find("arguments"); args != request.params.end() && !args->is_null()) {
    if (!args->is_object()) {
      send(make_error(id, error_code::kInvalidParams, "Invalid params: \"arguments\" must be an object"));
      return;
    }
    arguments = *args;
  }
  if (auto problem = validate_against_schema(tool->definition.input_schema, arguments)) {
    send(make_result(id, ToolResult::error("Invalid arguments for " + tool->definition.name + ": " + *problem +
                                           ". Fix this argument and call the tool again.")
                             .to_json()));
    return;
  }

  auto call = std::make_shared<Call>();
  call->id = request.id;
  call->tool_name = tool->definition.name;
  if (const auto meta = request.params.find("_meta"); meta != request.params.end() && meta->is_object()) {
    if (const auto token = meta->find("progressToken");
        token != meta->end() && (token->is_string() || token->is_number_integer())) {
      call->progress_token = *token;
    }
  }

  std::lock_guard lock(mutex_);
  if (shutting_down_) {
    send(make_error(id, error_code::kServerBusy, "Server is shutting down"));
    return;
  }
  if (calls_.count(call->id.key()) != 0) {
    send(make_error(id, error_code::kInvalidRequest,
                    "Invalid request: id " + call->id.key() + " is already used by a call in progress"));
    return;
  }
  if (calls_.size() >= limits_.max_concurrent_calls) {
    send(make_error(id, error_code::kServerBusy,
                    "Server busy: " + std::to_string(calls_.size()) +
                        " tool calls are already running; retry when one finishes"));
    return;
  }
  calls_.emplace(call->id.key(), call);
  call->worker = std::thread([this, call, tool, arguments = std::move(arguments)] { run_call(call, *tool, arguments); });
}

void Server::run_call(const std::shared_ptr<Call>& call, const Tool& tool, const json& arguments) {
  CallContext context(*this, *call);
  json reply;
  try {
    reply = make_result(call->id.value, tool.handler(arguments, context).to_json());
  } catch (const std::exception& e) {
    spdlog::error("tool {} failed with an exception: {}", tool.definition.name, e.what());
    reply = make_error(call->id.value, error_code::kInternalError,
                       "Internal error in tool " + tool.definition.name + ": " + e.what());
  } catch (...) {
    reply = make_error(call->id.value, error_code::kInternalError, "Internal error in tool " + tool.definition.name);
  }

  bool send_reply = false;
  {
    std::lock_guard lock(mutex_);
    if (!call->cancelled) {
      call->replied = true;
      send_reply = true;
    }
  }
  if (send_reply) {
    send(reply);
  } else {
    spdlog::info("tool {} (id {}) was cancelled; no result sent", tool.definition.name, call->id.key());
  }
  finish_call(call);
}

void Server::finish_call(const std::shared_ptr<Call>& call) {
  std::lock_guard lock(mutex_);
  calls_.erase(call->id.key());
  finished_workers_.push_back(std::move(call->worker));
  calls_changed_.notify_all();
}

void Server::cancel_call(const json& request_id) {
  if (!request_id.is_string() && !request_id.is_number_integer()) return;
  std::lock_guard lock(mutex_);
  const auto it = calls_.find(request_id.dump());
  if (it == calls_.end() || it->second->replied) return;  // unknown or already answered: ignore
  it->second->cancelled = true;
  it->second->stop.request_stop();
  spdlog::info("cancelling tool {} (id {})", it->second->tool_name, it->first);
}

void Server::reap_finished_workers() {
  std::vector<std::thread> finished;
  {
    std::lock_guard lock(mutex_);
    finished.swap(finished_workers_);
  }
  for (auto& worker : finished) {
    if (worker.joinable()) worker.join();
  }
}

bool Server::shutdown(std::chrono::milliseconds grace) {
  bool all_done = true;
  {
    std::unique_lock lock(mutex_);
    shutting_down_ = true;
    for (auto& [key, call] : calls_) {
      if (!call->replied) call->cancelled = true;
      call->stop.request_stop();
    }
    const auto done = [this] { return calls_.empty(); };
    if (grace == std::chrono::milliseconds::max()) {
      calls_changed_.wait(lock, done);
    } else {
      all_done = calls_changed_.wait_for(lock, grace, done);
    }
  }
  if (all_done) reap_finished_workers();
  return all_done;
}

void Server::log_to_client(LogLevel level, const std::string& message) {
  if (level < min_log_level_.load()) return;
  send(make_notification("notifications/message",
                         json{{"level", to_string(level)}, {"logger", info_.name}, {"data", message}}));
}

std::string Server::client_name() const {
  std::lock_guard lock(mutex_);
  return client_name_;
}

std::size_t Server::calls_in_flight() const {
  std::lock_guard lock(mutex_);
  return calls_.size();
}

}  // namespace mcp
