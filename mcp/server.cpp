#include "mcp/server.h"

#include "common/text.h"
#include "mcp/completion.h"
#include "mcp/protocol_version.h"
#include "mcp/schema.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bluegreen::mcp {

Server::Server(ServerInfo info, const ToolRegistry& tools, MessageSink& sink, ServerLimits limits,
               const PromptRegistry* prompts, const ResourceRegistry* resources, ResultArchive* results)
    : info_(std::move(info)),
      tools_(tools),
      prompts_(prompts),
      resources_(resources),
      results_(results),
      sink_(sink),
      limits_(limits) {}

Server::~Server() { shutdown(std::chrono::milliseconds::max()); }

void Server::send(const json& message) {
  if (message.contains("id") && !message.contains("method")) {  // a reply
    std::optional<std::string> modern_method;
    {
      std::lock_guard lock(modern_mutex_);
      if (const auto it = modern_replies_.find(message["id"].dump()); it != modern_replies_.end()) {
        modern_method = std::move(it->second);
        modern_replies_.erase(it);
      }
    }
    if (modern_method) {
      sink_.send(serialize(stamp_modern_reply(*modern_method, message)));
      return;
    }
  }
  sink_.send(serialize(message));
}

void Server::on_message(std::string_view text) {
  reap_finished_workers();
  ParsedMessage parsed = parse_message(text);

  if (auto* rejected = std::get_if<Rejected>(&parsed)) {
    spdlog::debug("rejected message: {}", rejected->reply["error"]["message"].get<std::string>());
    send(rejected->reply);
    return;
  }
  if (auto* response = std::get_if<Response>(&parsed)) {
    deliver_response(std::move(*response));
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

  // JSON-RPC ids must be unique among requests in flight: a second request with the id of a running
  // call would get a reply the client cannot tell from the call's (start_call checks again, under
  // the lock, for the calls it starts).
  if (id_in_flight(request.id)) {
    send(make_error(id, error_code::kInvalidRequest,
                    "Invalid request: id " + request.id.key() + " is already used by a request in progress"));
    return;
  }
  auto era = classify_request(request.params);
  if (auto* error = std::get_if<EnvelopeError>(&era)) {
    send(make_error(id, error->code, error->message, error->data));
    return;
  }
  if (auto* modern = std::get_if<ModernRequest>(&era)) {
    dispatch_modern(request, *modern);
    return;
  }
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
  if (method == "logging/setLevel") {
    handle_set_level(request);
  } else if ((method == "resources/subscribe" || method == "resources/unsubscribe") && has_resources()) {
    send(handle_resources_subscription(request, method == "resources/subscribe"));
  } else if (!dispatch_shared(request, session_peer())) {
    send(make_error(id, error_code::kMethodNotFound, "Method not found: " + method));
  }
}

bool Server::dispatch_shared(Request& request, const Peer& peer) {
  const std::string& method = request.method;
  const json& id = request.id.value;
  if (method == "tools/list") {
    send(make_result(id, handle_tools_list(peer)));
  } else if (method == "tools/call") {
    handle_tools_call(request, peer);
  } else if (method == "prompts/list" && has_prompts()) {
    send(make_result(id, handle_prompts_list(peer)));
  } else if (method == "prompts/get" && has_prompts()) {
    handle_prompts_get(request);
  } else if ((method == "resources/list" || method == "resources/templates/list") && has_resources()) {
    send(handle_resources_list(request, method == "resources/templates/list", peer));
  } else if (method == "resources/read" && has_resources()) {
    handle_resources_read(request, peer);
  } else if (method == "completion/complete" && (has_prompts() || has_resources())) {
    auto completion = complete_argument(prompts_, resources_, request.params);
    send(completion ? make_result(id, std::move(*completion))
                    : make_error(id, error_code::kInvalidParams, completion.error().message));
  } else {
    return false;
  }
  return true;
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
  const ProtocolFeatures features = features_of(version);
  {
    std::lock_guard lock(mutex_);
    protocol_version_ = version;
    features_ = features;
    if (const auto client = params.find("clientInfo"); client != params.end() && client->is_object()) {
      // Only a string is a name; anything else (null, a number) is ignored like a missing one, rather
      // than throwing and failing initialize with an internal error.
      if (const auto name = client->find("name"); name != client->end() && name->is_string()) {
        client_name_ = bluegreen::utf8_prefix(name->get_ref<const std::string&>(), kMaxClientNameBytes);
      }
      if (const auto client_version = client->find("version");
          client_version != client->end() && client_version->is_string()) {
        client_version_ = bluegreen::utf8_prefix(client_version->get_ref<const std::string&>(), kMaxClientNameBytes);
        // As JSON strings: a name is the client's to choose, and must not forge log lines.
        const auto quoted = [](const std::string& text) {
          return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
        };
        spdlog::info("client {} {} requested protocol {} (answering {})", quoted(client_name_), quoted(client_version_),
                     quoted(requested.substr(0, 40)), version);
      }
    }
    if (const auto caps = params.find("capabilities"); caps != params.end() && caps->is_object()) {
      client_capabilities_ = *caps;
    }
  }
  initialized_ = true;

  json server_info{{"name", info_.name}, {"version", info_.version}};
  if (!info_.title.empty() && features.titles) server_info["title"] = info_.title;
  Peer peer;
  peer.features = features;
  json result{
      {"protocolVersion", version},
      {"capabilities", capabilities_for(peer)},
      {"serverInfo", std::move(server_info)},
  };
  if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
  return result;
}

json Server::capabilities_for(const Peer& peer) const {
  json capabilities{{"tools", {{"listChanged", false}}}, {"logging", json::object()}};
  if (has_prompts()) capabilities["prompts"] = {{"listChanged", false}};
  // 2026-07-28 removed resources/subscribe (subscriptions/listen replaces it; not offered).
  if (has_resources()) capabilities["resources"] = {{"subscribe", !peer.modern}, {"listChanged", false}};
  if ((has_prompts() || has_resources()) && peer.features.completions) capabilities["completions"] = json::object();
  return capabilities;
}

Peer Server::session_peer() const {
  std::lock_guard lock(mutex_);
  Peer peer;
  peer.features = features_;
  peer.capabilities = client_capabilities_;
  peer.client_name = client_name_;
  peer.client_version = client_version_;
  return peer;
}

std::string Server::protocol_version() const {
  std::lock_guard lock(mutex_);
  return protocol_version_;
}

json Server::handle_tools_list(const Peer& peer) const {
  const bool apps = renders_apps(peer);
  json list = json::array();
  for (const auto& tool : tools_.tools()) {
    if (tool.definition.app_only && !apps) continue;  // a client that cannot keep it from its model
    list.push_back(tool.definition.to_json(peer.features));
  }
  return json{{"tools", std::move(list)}};
}

json Server::handle_prompts_list(const Peer& peer) const {
  json list = json::array();
  for (const auto& prompt : prompts_->prompts()) list.push_back(prompt.definition.to_json(peer.features));
  return json{{"prompts", std::move(list)}};
}

void Server::handle_prompts_get(const Request& request) {
  const json& id = request.id.value;
  const auto name = request.params.find("name");
  if (name == request.params.end() || !name->is_string()) {
    send(make_error(id, error_code::kInvalidParams, "Invalid params: prompts/get needs \"name\" (a string)"));
    return;
  }
  const Prompt* prompt = prompts_->find(name->get<std::string>());
  if (prompt == nullptr) {
    std::vector<std::string> available;
    for (const auto& p : prompts_->prompts()) available.push_back(p.definition.name);
    send(make_error(id, error_code::kInvalidParams,
                    "Unknown prompt: " + name->get<std::string>() +
                        ". Available prompts: " + bluegreen::join(available)));
    return;
  }
  std::map<std::string, std::string> arguments;
  if (const auto args = request.params.find("arguments"); args != request.params.end() && !args->is_null()) {
    if (!args->is_object()) {
      send(make_error(id, error_code::kInvalidParams, "Invalid params: \"arguments\" must be an object of strings"));
      return;
    }
    for (const auto& [key, value] : args->items()) {
      if (!value.is_string()) {
        send(make_error(id, error_code::kInvalidParams,
                        "Invalid params: argument \"" + key + "\" must be a string (prompt arguments are strings)"));
        return;
      }
      arguments.emplace(key, value.get<std::string>());
    }
  }
  std::vector<std::string> missing;
  for (const auto& argument : prompt->definition.arguments) {
    if (argument.required && arguments.count(argument.name) == 0) missing.push_back(argument.name);
  }
  if (!missing.empty()) {
    send(make_error(id, error_code::kInvalidParams,
                    "Invalid params: prompt " + prompt->definition.name + " needs the argument(s) " +
                        bluegreen::join(missing)));
    return;
  }

  auto messages = prompt->handler(arguments);
  if (!messages) {
    send(make_error(id, error_code::kInvalidParams, messages.error().message));
    return;
  }
  if (!messages->is_array()) {  // a bug in the handler; on_message reports it as an internal error
    throw std::logic_error("prompt " + prompt->definition.name + " returned messages that are not an array");
  }
  send(make_result(id, json{{"description", prompt->definition.description}, {"messages", std::move(*messages)}}));
}

json Server::handle_resources_subscription(const Request& request, bool subscribe) {
  const json& id = request.id.value;
  const auto uri_field = request.params.find("uri");
  if (uri_field == request.params.end() || !uri_field->is_string()) {
    return make_error(id, error_code::kInvalidParams,
                      std::string("Invalid params: ") + (subscribe ? "resources/subscribe" : "resources/unsubscribe") +
                          " needs \"uri\" (a string)");
  }
  const std::string uri = uri_field->get<std::string>();
  if (!subscribe) {
    std::lock_guard lock(mutex_);
    subscriptions_.erase(uri);
    return make_result(id, json::object());
  }
  const auto match = resources_->match(uri);
  bool listed = match.has_value();
  if (match && match->resource_template->instances) {
    const auto entries = match->resource_template->instances();
    listed = std::any_of(entries.begin(), entries.end(), [&uri](const ResourceEntry& e) { return e.uri == uri; });
  }
  const std::string shown = uri.size() <= 200 ? uri : uri.substr(0, 200) + "...";
  if (!listed) {
    return make_error(id, error_code::kResourceNotFound,
                      bluegreen::neutralize_terminal_controls("Resource not found: " + shown), json{{"uri", shown}});
  }
  std::lock_guard lock(mutex_);
  if (subscriptions_.size() >= kMaxSubscriptions && subscriptions_.count(uri) == 0) {
    return make_error(id, error_code::kInvalidParams,
                      "Invalid params: at most " + std::to_string(kMaxSubscriptions) + " subscriptions per client");
  }
  subscriptions_.insert(uri);
  return make_result(id, json::object());
}

void Server::resource_updated(const std::string& uri) {
  {
    std::lock_guard lock(mutex_);
    if (subscriptions_.count(uri) == 0) return;
  }
  send(make_notification("notifications/resources/updated", json{{"uri", uri}}));
}

json Server::handle_resources_list(const Request& request, bool templates, const Peer& peer) const {
  if (const auto cursor = request.params.find("cursor"); cursor != request.params.end() && !cursor->is_null()) {
    return make_error(request.id.value, error_code::kInvalidParams,
                      "Invalid params: unknown cursor (this server lists everything in one page and hands out no "
                      "cursors)");
  }
  const ProtocolFeatures& negotiated = peer.features;
  json list = json::array();
  for (const auto& resource_template : resources_->templates()) {
    if (templates) {
      // A URI without variables is one resource (resources/list), not a template.
      if (resource_template.uri_template.find('{') == std::string::npos) continue;
      list.push_back(resource_template.to_json(negotiated));
    } else if (resource_template.instances) {
      for (const auto& entry : resource_template.instances()) list.push_back(entry.to_json(negotiated));
    }
  }
  return make_result(request.id.value, json{{templates ? "resourceTemplates" : "resources", std::move(list)}});
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

void Server::log_to_client(LogLevel level, const std::string& message) {
  if (level < min_log_level_.load()) return;
  send(log_notification(level, message));
}

json Server::log_notification(LogLevel level, const std::string& message) const {
  return make_notification("notifications/message",
                           json{{"level", to_string(level)}, {"logger", info_.name}, {"data", message}});
}

std::string Server::client_name() const {
  std::lock_guard lock(mutex_);
  return client_name_;
}

std::string Server::client_version() const {
  std::lock_guard lock(mutex_);
  return client_version_;
}

}  // namespace bluegreen::mcp
