#include "mcp/tool.h"

#include "common/text.h"

#include <utility>
#include <vector>

namespace bluegreen::mcp {

using nlohmann::json;

namespace {

// Every string value in `value` (not object keys: those are the tools' own field names) through
// neutralize_terminal_controls. Iterative, so a deeply nested value cannot exhaust the stack.
void neutralize_strings(json& value) {
  std::vector<json*> pending{&value};
  while (!pending.empty()) {
    json* item = pending.back();
    pending.pop_back();
    if (item->is_string()) {
      auto& text = item->get_ref<std::string&>();
      text = neutralize_terminal_controls(text);
    } else if (item->is_structured()) {
      for (auto& child : *item) pending.push_back(&child);
    }
  }
}

}  // namespace

json ToolDefinition::to_json(const ProtocolFeatures& features) const {
  json tool{{"name", name}, {"description", description}, {"inputSchema", input_schema}};
  if (!title.empty() && features.titles) tool["title"] = title;
  if (output_schema && features.structured_output) tool["outputSchema"] = *output_schema;
  if (!ui_resource_uri.empty() || app_only) {
    json ui = json::object();
    if (!ui_resource_uri.empty()) ui["resourceUri"] = ui_resource_uri;
    if (app_only) ui["visibility"] = json::array({"app"});
    tool["_meta"] = {{"ui", std::move(ui)}};
  }
  if (!features.tool_annotations) return tool;

  json hints = json::object();
  if (!title.empty()) hints["title"] = title;
  if (annotations.read_only) hints["readOnlyHint"] = *annotations.read_only;
  if (annotations.destructive) hints["destructiveHint"] = *annotations.destructive;
  if (annotations.idempotent) hints["idempotentHint"] = *annotations.idempotent;
  if (annotations.open_world) hints["openWorldHint"] = *annotations.open_world;
  tool["annotations"] = std::move(hints);
  return tool;
}

ToolResult ToolResult::text(std::string text, std::optional<json> structured) {
  ToolResult result;
  result.content.push_back(json{{"type", "text"}, {"text", std::move(text)}});
  result.structured_content = std::move(structured);
  return result;
}

ToolResult ToolResult::error(std::string text, std::optional<json> structured) {
  ToolResult result = ToolResult::text(std::move(text), std::move(structured));
  result.is_error = true;
  return result;
}

json ToolResult::to_json(const ProtocolFeatures& features) const {
  json result{{"content", content}, {"isError", is_error}};
  if (structured_content && features.structured_output) result["structuredContent"] = *structured_content;
  if (meta) result["_meta"] = *meta;
  neutralize_strings(result);
  return result;
}

}  // namespace bluegreen::mcp
