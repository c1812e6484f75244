#pragma once
// What a tool is to the protocol core: its advertised definition and a handler that runs it.
//
// A handler runs on a worker thread of its own. It receives arguments that already satisfy its
// inputSchema, and a ToolContext through which it reports progress, logs to the client and learns
// that it has been cancelled. Expected failures (bad state, a remote command that failed) are
// returned as ToolResult::error(...), never thrown: an exception escaping a handler is a bug and
// is reported to the client as an internal error.

#include "mcp/log_level.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <stop_token>
#include <string>

namespace mcp {

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

  [[nodiscard]] nlohmann::json to_json() const;
};

struct ToolResult {
  nlohmann::json content = nlohmann::json::array();
  std::optional<nlohmann::json> structured_content;
  bool is_error = false;

  static ToolResult text(std::string text, std::optional<nlohmann::json> structured = std::nullopt);
  static ToolResult error(std::string text, std::optional<nlohmann::json> structured = std::nullopt);

  [[nodiscard]] nlohmann::json to_json() const;
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
};

using ToolHandler = std::function<ToolResult(const nlohmann::json& arguments, ToolContext& context)>;

struct Tool {
  ToolDefinition definition;
  ToolHandler handler;
};

}  // namespace mcp
