#include "tools/test_tools.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

namespace bluegreen::tools {
namespace {

using nlohmann::json;

mcp::Tool echo_tool() {
  mcp::ToolDefinition def;
  def.name = "test_echo";
  def.title = "Echo (test only)";
  def.description = "Test-only tool: returns the given text unchanged.";
  def.input_schema = json{{"type", "object"},
                          {"properties", {{"text", {{"type", "string"}, {"maxLength", 10000}}}}},
                          {"required", {"text"}},
                          {"additionalProperties", false}};
  def.output_schema =
      json{{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}, {"required", {"text"}}};
  def.annotations.read_only = true;
  def.annotations.open_world = false;
  return {def, [](const json& args, mcp::ToolContext&) {
            const auto text = args.at("text").get<std::string>();
            return mcp::ToolResult::text(text, json{{"text", text}});
          }};
}

mcp::Tool sleep_tool() {
  mcp::ToolDefinition def;
  def.name = "test_sleep";
  def.title = "Sleep (test only)";
  def.description =
      "Test-only tool: waits `ms` milliseconds in `steps` steps, reporting progress after each step; stops early "
      "when cancelled.";
  def.input_schema = json{{"type", "object"},
                          {"properties",
                           {{"ms", {{"type", "integer"}, {"minimum", 0}, {"maximum", 600000}}},
                            {"steps", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}}}}},
                          {"required", {"ms"}},
                          {"additionalProperties", false}};
  def.annotations.read_only = true;
  def.annotations.open_world = false;
  return {def, [](const json& args, mcp::ToolContext& context) {
            const auto total_ms = args.at("ms").get<std::int64_t>();
            const auto steps = args.value("steps", std::int64_t{1});
            const auto step = std::chrono::milliseconds(total_ms / steps);
            std::mutex mutex;
            std::condition_variable_any wake;
            for (std::int64_t i = 1; i <= steps; ++i) {
              std::unique_lock lock(mutex);
              const auto token = context.stop_token();
              if (wake.wait_for(lock, token, step, [] { return false; }) || token.stop_requested()) {
                return mcp::ToolResult::error("cancelled after step " + std::to_string(i - 1));
              }
              context.report_progress(static_cast<double>(i), static_cast<double>(steps),
                                      "step " + std::to_string(i) + "/" + std::to_string(steps));
            }
            context.log(mcp::LogLevel::kInfo, "test_sleep finished after " + std::to_string(total_ms) + " ms");
            return mcp::ToolResult::text("slept " + std::to_string(total_ms) + " ms");
          }};
}

mcp::Tool fail_tool() {
  mcp::ToolDefinition def;
  def.name = "test_fail";
  def.title = "Fail (test only)";
  def.description = "Test-only tool: always returns an error result with the given message.";
  def.input_schema =
      json{{"type", "object"}, {"properties", {{"message", {{"type", "string"}}}}}, {"additionalProperties", false}};
  def.annotations.read_only = true;
  return {def, [](const json& args, mcp::ToolContext&) {
            return mcp::ToolResult::error(args.value("message", std::string("test failure")));
          }};
}

// Numbered lines ("line 000001 of the long result\n" ...) up to `bytes` bytes: a result too long
// to send whole (ServerLimits::max_result_text_bytes).
mcp::Tool long_tool() {
  mcp::ToolDefinition def;
  def.name = "test_long";
  def.title = "Long result (test only)";
  def.description = "Test-only tool: returns about `bytes` bytes of numbered lines.";
  def.input_schema = json{{"type", "object"},
                          {"properties", {{"bytes", {{"type", "integer"}, {"minimum", 0}, {"maximum", 4000000}}}}},
                          {"required", {"bytes"}},
                          {"additionalProperties", false}};
  def.annotations.read_only = true;
  return {def, [](const json& args, mcp::ToolContext&) {
            const auto bytes = args.at("bytes").get<std::size_t>();
            std::string text;
            text.reserve(bytes + 64);
            for (std::size_t n = 1; text.size() < bytes; ++n) {
              std::string number = std::to_string(n);
              text += "line " + std::string(number.size() < 6 ? 6 - number.size() : 0, '0') + number +
                      " of the long result\n";
            }
            return mcp::ToolResult::text(text);
          }};
}

}  // namespace

void register_test_tools(mcp::ToolRegistry& registry) {
  registry.add(echo_tool());
  registry.add(sleep_tool());
  registry.add(fail_tool());
  registry.add(long_tool());
}

}  // namespace bluegreen::tools
