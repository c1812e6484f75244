// The server's work on worker threads (tools/call, resources/read: started, cancelled, answered,
// joined) and its own requests to the client on behalf of that work (elicitation/create). The
// dispatch and lifecycle are in server.cpp.
#include "mcp/server.h"

#include "common/text.h"
#include "mcp/request_state.h"
#include "mcp/schema.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bluegreen::mcp {

namespace {

// Form-mode elicitation allows only a flat object of primitive fields; clients reject anything
// else, so a bad schema is caught here, before the user is involved.
// The action of a client's answer to elicitation/create (either mode), with empty content; an
// Error when it is not "accept", "decline" or "cancel".
bluegreen::Result<ElicitationResponse> answered_action(const json& result) {
  const json action = result.is_object() ? result.value("action", json()) : json();
  if (action != "accept" && action != "decline" && action != "cancel") {
    return bluegreen::Error{"the client answered elicitation/create without a valid \"action\": " + result.dump()};
  }
  return ElicitationResponse{action.get<std::string>(), json::object()};
}

std::optional<std::string> check_elicitation_schema(const json& schema) {
  if (!schema.is_object() || schema.value("type", json()) != "object") return "it must have \"type\": \"object\"";
  const auto properties = schema.find("properties");
  if (properties == schema.end() || !properties->is_object()) return "it must have a \"properties\" object";
  for (const auto& [name, property] : properties->items()) {
    const json type = property.is_object() ? property.value("type", json()) : json();
    if (type != "string" && type != "number" && type != "integer" && type != "boolean") {
      return "property \"" + name + "\" must have type string, number, integer or boolean";
    }
  }
  return std::nullopt;
}

}  // namespace

// One request running on a worker thread: a tools/call or a resources/read.
struct Server::Call {
  RequestId id;
  std::string name;  // what runs, for logs: "tool deploy_to_standby", "resources/read bluegreen://..."
  std::optional<json> progress_token;
  Peer peer;  // who asked: the session's, or the request's own (2026-07-28)
  // 2026-07-28 multi-round-trip (ToolContext::elicit): the retried request's answers and state,
  // and what this round asks (set by the tool's thread only).
  json input_responses;
  std::string request_state;
  std::string binding;
  std::optional<json> input_requests;
  std::string next_state;
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
      spdlog::debug("{}: dropped non-increasing progress {} (last {})", call_.name, progress, *call_.last_progress);
      return;
    }
    call_.last_progress = progress;
    json params{{"progressToken", *call_.progress_token}, {"progress", progress}};
    if (!call_.peer.features.progress_message) message.clear();
    if (total) params["total"] = *total;
    if (!message.empty()) params["message"] = bluegreen::neutralize_terminal_controls(message);
    // Sent while holding progress_mutex so two threads of one handler cannot reorder values.
    server_.send_for(call_, make_notification("notifications/progress", std::move(params)));
  }

  // Tool log lines carry remote output as tool results do (see ToolResult::to_json).
  // A 2026-07-28 call logs only at or above the level its own request asked for, if any
  // (server/utilities/logging, "Per-request log level"); a legacy one as logging/setLevel says.
  void log(LogLevel level, std::string message) override {
    if (call_.peer.modern ? !call_.peer.log_level || level < *call_.peer.log_level
                          : level < server_.min_log_level_.load()) {
      return;
    }
    server_.send_for(call_, server_.log_notification(level, bluegreen::neutralize_terminal_controls(message)));
  }

  [[nodiscard]] std::string client_name() const override {
    const std::string& principal = server_.info_.principal;
    return principal.empty() ? call_.peer.client_name : call_.peer.client_name + " (token " + principal + ")";
  }
  [[nodiscard]] std::string client_version() const override { return call_.peer.client_version; }

  [[nodiscard]] bool client_supports_elicitation() const override { return wants_form_elicitation(call_.peer); }

  [[nodiscard]] bool client_supports_url_elicitation() const override { return wants_url_elicitation(call_.peer); }

  bluegreen::Result<ElicitationResponse> elicit_url(const std::string& message, const std::string& url,
                                                    const std::string& elicitation_id,
                                                    std::chrono::milliseconds timeout) override {
    if (!wants_url_elicitation(call_.peer)) {
      return bluegreen::Error{"client does not support URL-mode elicitation"};
    }
    auto answer = server_.request_client(call_, "elicitation/create",
                                         json{{"mode", "url"},
                                              {"message", bluegreen::neutralize_terminal_controls(message)},
                                              {"url", url},
                                              {"elicitationId", elicitation_id}},
                                         timeout);
    if (!answer) return answer.error();
    return answered_action(*answer);
  }

  [[nodiscard]] bool client_renders_apps() const override { return renders_apps(call_.peer); }

  void resource_updated(const std::string& uri) override { server_.resource_updated(uri); }

  void complete_elicitation(const std::string& elicitation_id) override {
    if (!wants_url_elicitation(call_.peer)) return;
    server_.send_for(call_,
                     make_notification("notifications/elicitation/complete", json{{"elicitationId", elicitation_id}}));
  }

  void bind_elicitation(const std::string& binding) override { call_.binding = binding; }
  [[nodiscard]] bool input_required() const override { return call_.input_requests.has_value(); }

  bluegreen::Result<ElicitationResponse> elicit(const std::string& message, const json& requested_schema,
                                                std::chrono::milliseconds timeout) override {
    if (!wants_form_elicitation(call_.peer)) return bluegreen::Error{"client does not support elicitation"};
    if (auto problem = check_elicitation_schema(requested_schema)) {
      return bluegreen::Error{"invalid elicitation schema: " + *problem};
    }
    if (call_.peer.modern) return elicit_in_rounds(message, requested_schema, timeout);
    auto answer = server_.request_client(call_, "elicitation/create",
                                         json{{"message", bluegreen::neutralize_terminal_controls(message)},
                                              {"requestedSchema", requested_schema}},
                                         timeout);
    if (!answer) return answer.error();

    return read_answer(*answer, requested_schema);
  }

 private:
  // The key of the one question a call asks (inputRequests / inputResponses).
  static constexpr const char* kInputKey = "elicitation";

  static bluegreen::Result<ElicitationResponse> read_answer(const json& result, const json& requested_schema) {
    auto answered = answered_action(result);
    if (!answered) return answered.error();
    ElicitationResponse response = std::move(answered.value());
    if (const auto content = result.find("content"); content != result.end() && !content->is_null()) {
      response.content = *content;
    }
    if (response.action == "accept") {
      // The spec asks both sides to validate: a client may not enforce the schema it was given.
      if (auto problem = validate_against_schema(requested_schema, response.content, "content")) {
        return bluegreen::Error{"the client's elicitation answer does not match the requested schema: " + *problem};
      }
    }
    return response;
  }

  // elicit() in 2026-07-28: the answer from the retried request, or an input_required round.
  bluegreen::Result<ElicitationResponse> elicit_in_rounds(const std::string& message, const json& requested_schema,
                                                          std::chrono::milliseconds timeout) {
    const std::string binding =
        call_.name + "\n" + client_name() + "\n" + (call_.binding.empty() ? message : call_.binding);
    if (!call_.request_state.empty() && call_.input_responses.is_object() &&
        call_.input_responses.contains(kInputKey)) {
      const auto verdict = RequestStates::process().redeem(call_.request_state, binding);
      if (verdict == RequestStates::Verdict::kValid)
        return read_answer(call_.input_responses[kInputKey], requested_schema);
      spdlog::info("{}: the answer's requestState is {}; asking again", call_.name, to_string(verdict));
    }
    call_.input_requests = json{{kInputKey,
                                 {{"method", "elicitation/create"},
                                  {"params",
                                   {{"mode", "form"},
                                    {"message", bluegreen::neutralize_terminal_controls(message)},
                                    {"requestedSchema", requested_schema}}}}}};
    call_.next_state = RequestStates::process().issue(binding, timeout);
    return bluegreen::Error{"the question goes to the client with the result (input required)"};
  }

  Server& server_;
  Call& call_;
};

void Server::handle_tools_call(Request& request, const Peer& peer) {
  const json& id = request.id.value;
  const auto name = request.params.find("name");
  if (name == request.params.end() || !name->is_string()) {
    send(make_error(id, error_code::kInvalidParams, "Invalid params: tools/call needs \"name\" (a string)"));
    return;
  }
  const bool apps = renders_apps(peer);
  const Tool* tool = tools_.find(name->get<std::string>());
  if (tool != nullptr && tool->definition.app_only && !apps) tool = nullptr;  // not listed to this client
  if (tool == nullptr) {
    std::string available;
    for (const auto& t : tools_.tools()) {
      if (!t.definition.app_only || apps) available += (available.empty() ? "" : ", ") + t.definition.name;
    }
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
                             .to_json(peer.features)));
    return;
  }

  auto call = std::make_shared<Call>();
  call->id = request.id;
  call->peer = peer;
  call->name = "tool " + tool->definition.name;
  if (peer.modern) {  // a retry with the human's answer (2026-07-28 multi-round-trip)
    call->input_responses = request.params.value("inputResponses", json());
    const json state = request.params.value("requestState", json());
    if (state.is_string()) call->request_state = state.get<std::string>();
  }
  if (const auto meta = request.params.find("_meta"); meta != request.params.end() && meta->is_object()) {
    if (const auto token = meta->find("progressToken");
        token != meta->end() && (token->is_string() || token->is_number_integer())) {
      call->progress_token = *token;
    }
  }
  start_call(call, [this, tool, arguments = std::move(arguments)](Call& running) {
    CallContext context(*this, running);
    ToolResult result = tool->handler(arguments, context);
    if (running.input_requests) {  // the tool asked a question: it goes out instead of the result
      return make_result(running.id.value, json{{"resultType", "input_required"},
                                                {"inputRequests", *running.input_requests},
                                                {"requestState", running.next_state}});
    }
    return make_result(running.id.value, shorten_long_text(std::move(result)).to_json(running.peer.features));
  });
}

bool Server::id_in_flight(const RequestId& id) const {
  std::lock_guard lock(mutex_);
  return calls_.count(id.key()) != 0;
}

ToolResult Server::shorten_long_text(ToolResult result) const {
  if (results_ == nullptr || !result.content.is_array()) return result;
  for (auto& item : result.content) {
    if (!item.is_object() || item.value("type", json()) != "text") continue;
    const auto text = item.find("text");
    if (text == item.end() || !text->is_string() ||
        text->get_ref<const std::string&>().size() <= limits_.max_result_text_bytes) {
      continue;
    }
    // Neutralised first (as to_json would), so the kept text and the sizes shown are what is sent.
    std::string whole = bluegreen::neutralize_terminal_controls(text->get_ref<const std::string&>());
    if (whole.size() <= limits_.max_result_text_bytes) {
      *text = std::move(whole);
      continue;
    }
    const std::string uri = results_->keep(whole);
    *text = shorten_text(whole, limits_.max_result_text_bytes, uri);
    spdlog::info("a tool result of {} bytes was shortened; the whole text is {}", whole.size(), uri);
  }
  return result;
}

void Server::handle_resources_read(const Request& request, const Peer& peer) {
  const json& id = request.id.value;
  const auto uri_field = request.params.find("uri");
  if (uri_field == request.params.end() || !uri_field->is_string()) {
    send(make_error(id, error_code::kInvalidParams, "Invalid params: resources/read needs \"uri\" (a string)"));
    return;
  }
  const std::string uri = uri_field->get<std::string>();
  const std::string shown = uri.size() <= 200 ? uri : uri.substr(0, 200) + "...";
  auto match = resources_->match(uri);
  if (!match) {
    std::vector<std::string> templates;
    for (const auto& t : resources_->templates()) templates.push_back(t.uri_template);
    send(make_error(id, error_code::kResourceNotFound,
                    bluegreen::neutralize_terminal_controls("Resource not found: " + shown +
                                                            ". This server's resources: " + bluegreen::join(templates)),
                    json{{"uri", shown}}));
    return;
  }
  auto call = std::make_shared<Call>();
  call->id = request.id;
  call->peer = peer;
  call->name = "resources/read " + shown;
  start_call(call, [uri, shown, match = std::move(*match)](Call& running) {
    auto contents = match.resource_template->reader(uri, match.variables, running.stop.get_token());
    if (!contents) {
      const bool not_found = contents.error().code == bluegreen::ErrorCode::kInvalidArgument;
      return make_error(running.id.value, not_found ? error_code::kResourceNotFound : error_code::kInternalError,
                        bluegreen::neutralize_terminal_controls(
                            (not_found ? "Resource not found: " : "Reading " + shown + " failed: ") +
                            contents.error().message),
                        json{{"uri", shown}});
    }
    json items = json::array();
    for (const auto& item : *contents) items.push_back(item.to_json());
    return make_result(running.id.value, json{{"contents", std::move(items)}});
  });
}

void Server::start_call(const std::shared_ptr<Call>& call, std::function<json(Call&)> work) {
  const json& id = call->id.value;
  std::lock_guard lock(mutex_);
  if (shutting_down_) {
    send(make_error(id, error_code::kServerBusy, "Server is shutting down"));
    return;
  }
  if (calls_.count(call->id.key()) != 0) {
    send(make_error(id, error_code::kInvalidRequest,
                    "Invalid request: id " + call->id.key() + " is already used by a request in progress"));
    return;
  }
  if (calls_.size() >= limits_.max_concurrent_calls) {
    send(make_error(id, error_code::kServerBusy,
                    "Server busy: " + std::to_string(calls_.size()) +
                        " requests are already running; retry when one finishes"));
    return;
  }
  calls_.emplace(call->id.key(), call);
  call->worker = std::thread([this, call, work = std::move(work)] { run_call(call, work); });
}

void Server::run_call(const std::shared_ptr<Call>& call, const std::function<json(Call&)>& work) {
  json reply;
  try {
    reply = work(*call);
  } catch (const std::exception& e) {
    spdlog::error("{} failed with an exception: {}", call->name, e.what());
    reply = make_error(call->id.value, error_code::kInternalError, "Internal error in " + call->name + ": " + e.what());
  } catch (...) {
    reply = make_error(call->id.value, error_code::kInternalError, "Internal error in " + call->name);
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
    spdlog::info("{} (id {}) was cancelled; no result sent", call->name, call->id.key());
    std::lock_guard lock(modern_mutex_);
    modern_replies_.erase(call->id.key());
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
  spdlog::info("cancelling {} (id {})", it->second->name, it->first);
}

void Server::deliver_response(Response response) {
  std::lock_guard lock(mutex_);
  const auto it = client_requests_.find(response.id.key());
  if (it == client_requests_.end() || it->second) {
    // Not ours, already answered, or its waiter gave up (timeout, cancellation) and removed it.
    spdlog::debug("ignoring response to unknown request {}", response.id.key());
    return;
  }
  it->second = std::move(response);
  client_answered_.notify_all();
}

bluegreen::Result<json> Server::request_client(const Call& call, const std::string& method, json params,
                                               std::chrono::milliseconds timeout) {
  // Longer waits would overflow the deadline arithmetic; no human answers a form after a day.
  timeout = std::clamp<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(0), std::chrono::hours(24));
  const std::stop_token stop = call.stop.get_token();

  std::string id;
  std::string key;
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) return bluegreen::Error{"the server is shutting down"};
    if (stop.stop_requested()) return bluegreen::Error{"cancelled"};
    id = "srv-" + std::to_string(++last_client_request_);
    key = json(id).dump();
    client_requests_.emplace(key, std::nullopt);
  }
  // Sent without the lock: the sink may block on a slow client, and the reader must stay free to
  // deliver the answer, which may arrive before the wait below starts (it is then found at once).
  spdlog::debug("{}: sending {} {}", call.name, method, id);
  send_for(call, make_request(id, method, std::move(params)));

  std::unique_lock lock(mutex_);
  auto& slot = client_requests_.at(key);  // map nodes are stable; only this thread erases it
  // wait_until releases mutex_ while waiting, and wakes on an answer, the deadline or `stop`
  // (which cancel_call() and shutdown() request).
  client_answered_.wait_until(lock, stop, std::chrono::steady_clock::now() + timeout,
                              [&] { return slot.has_value() || shutting_down_; });
  std::optional<Response> response = std::move(slot);
  client_requests_.erase(key);
  const bool shutting_down = shutting_down_;
  lock.unlock();

  if (response) {
    if (response->error) {
      const json& error = *response->error;
      const std::string message = error.is_object() && error.contains("message") && error["message"].is_string()
                                      ? error["message"].get<std::string>()
                                      : error.dump();
      return bluegreen::Error{"the client answered " + method + " with an error: " + message};
    }
    return std::move(*response->result);
  }
  if (shutting_down) return bluegreen::Error{"the server is shutting down"};
  // Tell the client to drop the request (e.g. close the form): nobody will read the answer.
  const bool cancelled = stop.stop_requested();
  send_for(call, make_notification("notifications/cancelled",
                                   json{{"requestId", id},
                                        {"reason", cancelled ? "the tool call was cancelled" : "timed out"}}));
  if (cancelled) return bluegreen::Error{"cancelled"};
  return bluegreen::Error{"no answer to " + method + " within " + std::to_string(timeout.count()) + " ms"};
}

void Server::send_for(const Call& call, const json& message) {
  sink_.send_for_request(serialize(message), call.id.key());
}

std::size_t Server::client_requests_pending() const {
  std::lock_guard lock(mutex_);
  return client_requests_.size();
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

std::size_t Server::calls_in_flight() const {
  std::lock_guard lock(mutex_);
  return calls_.size();
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
    client_answered_.notify_all();  // waiters re-check shutting_down_
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

}  // namespace bluegreen::mcp
