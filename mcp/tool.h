#pragma once
// What a tool is to the protocol core: its advertised definition and a handler that runs it.
//
// A handler runs on a worker thread of its own. It receives arguments that already satisfy its
// inputSchema, and a ToolContext through which it reports progress, logs to the client, asks the
// user a question (elicitation) and learns that it has been cancelled. Expected failures (bad
// state, a remote command that failed) are returned as ToolResult::error(...), never thrown: an
// exception escaping a handler is a bug and is reported to the client as an internal error.

#include "common/result.h"
#include "mcp/log_level.h"
#include "mcp/protocol_version.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>

namespace bluegreen::mcp {

struct ToolAnnotations {
  std::optional<bool> read_only;
  std::optional<bool> destructive;
  std::optional<bool> idempotent;
  std::optional<bool> open_world;
};

struct ToolDefinition {
  std::string name;
  std::string title;
  std::string description;
  nlohmann::json input_schema = nlohmann::json{{"type", "object"}};
  std::optional<nlohmann::json> output_schema;
  ToolAnnotations annotations;
  // MCP Apps (the io.modelcontextprotocol/ui extension, MCP Apps specification "Tool metadata"):
  // the ui:// resource a host renders this tool's results in (`_meta.ui.resourceUri`); "" for none.
  std::string ui_resource_uri{};
  // Who may call the tool (`_meta.ui.visibility`): false for the model and the app (the default);
  // true for ["app"] only: a host keeps it from the model, and this server lists it, and accepts a
  // call to it, only from a client that declared it renders MCP Apps (Server::client_renders_apps).
  bool app_only = false;

  // The definition as MCP's Tool, for a client that negotiated a revision with `features`
  // (protocol_version.h): `title` and `outputSchema` from 2025-06-18, `annotations` from
  // 2025-03-26; name, description and inputSchema always; `_meta.ui` when either field above is set.
  [[nodiscard]] nlohmann::json to_json(const ProtocolFeatures& features = {}) const;
};

struct ToolResult {
  nlohmann::json content = nlohmann::json::array();
  std::optional<nlohmann::json> structured_content;
  bool is_error = false;
  // The result's `_meta` (e.g. what only an MCP Apps view reads); nullopt for none.
  std::optional<nlohmann::json> meta{};

  static ToolResult text(std::string text, std::optional<nlohmann::json> structured = std::nullopt);
  static ToolResult error(std::string text, std::optional<nlohmann::json> structured = std::nullopt);

  // The result as MCP's CallToolResult. This is the one seam where tool output leaves the server:
  // every string in `content` and `structured_content` goes through
  // bluegreen::neutralize_terminal_controls (common/text.h), because tool text carries remote
  // output (command tails, file contents, HAProxy replies) that CLI clients print to a terminal.
  // Progress, log and elicitation messages of a call are neutralised the same way (mcp/server.cpp).
  // `structuredContent` is sent only when `features.structured_output` (2025-06-18 on): an older
  // client reads the text, which says everything the structured content does.
  [[nodiscard]] nlohmann::json to_json(const ProtocolFeatures& features = {}) const;
};

// The user's answer to an elicitation/create request (MCP 2025-06-18, form mode).
struct ElicitationResponse {
  std::string action;                                 // "accept", "decline" or "cancel"
  nlohmann::json content = nlohmann::json::object();  // the submitted fields when accepted; else {}
};

// The running call's window onto the protocol. Owned by the server; valid for the duration of the
// handler call only. All methods are thread-safe.
class ToolContext {
 public:
  virtual ~ToolContext() = default;

  // Set when the client cancelled the call or the server is shutting down. A handler checks it
  // between steps and passes it to anything that blocks.
  [[nodiscard]] virtual std::stop_token stop_token() const = 0;
  [[nodiscard]] bool cancelled() const { return stop_token().stop_requested(); }

  // Sends notifications/progress when the client asked for it (a progressToken in _meta).
  // `progress` must grow with every call; a value that does not is dropped, so clients always see
  // a strictly increasing sequence.
  virtual void report_progress(double progress, std::optional<double> total, std::string message) = 0;

  // Sends notifications/message when `level` is at or above the client's logging/setLevel.
  virtual void log(LogLevel level, std::string message) = 0;

  // The client's name from initialize (clientInfo.name), for audit records.
  [[nodiscard]] virtual std::string client_name() const = 0;
  // The client's version from initialize (clientInfo.version), for audit records; "" when it sent
  // none.
  [[nodiscard]] virtual std::string client_version() const { return ""; }

  // True when the client declared the `elicitation` capability in initialize. Many clients do not
  // (Claude Desktop), so a tool must work without it, e.g. by taking a confirmation argument.
  [[nodiscard]] virtual bool client_supports_elicitation() const = 0;

  // Asks the user, through the client, to fill a form: sends elicitation/create and blocks until
  // the client answers. `requested_schema` is {"type":"object","properties":{...},"required":[...]}
  // with flat primitive properties (string, number, integer, boolean), as the spec allows.
  // Errors (no usable answer): the client lacks the capability, or the schema is not a flat
  // object schema (in both cases nothing is sent); no answer within `timeout` (capped at a day);
  // the call was cancelled ("cancelled"); the server is shutting down; the client answered with a
  // JSON-RPC error or a malformed result (including accepted content that violates the schema).
  // On timeout or cancellation the client is sent notifications/cancelled for the request.
  // Declining or cancelling the form is not an error: check `action`.
  virtual bluegreen::Result<ElicitationResponse> elicit(const std::string& message,
                                                        const nlohmann::json& requested_schema,
                                                        std::chrono::milliseconds timeout) = 0;

  // Protocol 2026-07-28 lets no server ask its client mid-call; a question is a round trip of the
  // whole request instead (basic/patterns/mrtr). There, elicit() answers from the retried request
  // when it carries the human's answer to the same question: `binding` (set here before elicit();
  // the message when none was set) equal, its requestState sealed by this process, unexpired and
  // unused (mcp/request_state.h). Otherwise it records the question and returns an error, and
  // input_required() turns true: the handler must then return at once having changed nothing, as
  // its result is replaced by an input_required one and the client retries the call with the
  // answer. A binding should name what an answer approves, so that an answer to an older question
  // (a switch plan that has changed since) is never taken for the new one.
  virtual void bind_elicitation(const std::string& binding) { (void)binding; }
  [[nodiscard]] virtual bool input_required() const { return false; }

  // True when the negotiated revision is 2025-11-25 or later and the client declared URL-mode
  // elicitation ({"elicitation": {"url": {}}}).
  [[nodiscard]] virtual bool client_supports_url_elicitation() const { return false; }

  // Asks the user, through the client, to open `url` (MCP 2025-11-25, client/elicitation, URL
  // mode): sends elicitation/create {mode: "url", message, url, elicitationId} and blocks until the
  // client answers. "accept" means the user agreed to open the URL, not that anything was done
  // there; "decline" and "cancel" that they did not. `content` is always {}. The URL goes to the
  // client only; the caller must not put it in tool results or logs. Errors: as elicit(), and the
  // client lacks URL mode (nothing is sent).
  virtual bluegreen::Result<ElicitationResponse> elicit_url(const std::string& message, const std::string& url,
                                                            const std::string& elicitation_id,
                                                            std::chrono::milliseconds timeout) {
    (void)message, (void)url, (void)elicitation_id, (void)timeout;
    return bluegreen::Error{"client does not support URL-mode elicitation"};
  }

  // Tells the client that the URL-mode elicitation `elicitation_id` is over
  // (notifications/elicitation/complete); nothing when the client lacks URL mode.
  virtual void complete_elicitation(const std::string& elicitation_id) { (void)elicitation_id; }

  // True when the client declared that it renders MCP Apps (capabilities.extensions
  // ["io.modelcontextprotocol/ui"].mimeTypes lists "text/html;profile=mcp-app") and the negotiated
  // revision has structuredContent (2025-06-18 on), which the views read.
  [[nodiscard]] virtual bool client_renders_apps() const { return false; }

  // Tells a client that subscribed to `uri` (resources/subscribe) that it changed
  // (notifications/resources/updated); nothing for one that did not.
  virtual void resource_updated(const std::string& uri) { (void)uri; }
};

using ToolHandler = std::function<ToolResult(const nlohmann::json& arguments, ToolContext& context)>;

struct Tool {
  ToolDefinition definition;
  ToolHandler handler;
};

}  // namespace bluegreen::mcp
