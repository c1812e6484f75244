#include "tools/answer_switch_plan.h"

#include "deployment/approvals.h"
#include "deployment/shared_routes.h"
#include "state/deployment_state.h"
#include "tools/switch_approval.h"

namespace bluegreen::tools {
namespace {

using nlohmann::json;

mcp::ToolDefinition answer_switch_plan_definition(const config::Config& config) {
  mcp::ToolDefinition def;
  def.name = "answer_switch_plan";
  def.title = "Answer a switch plan in the deployment panel";
  def.description =
      "For the deployment panel's Approve and Reject buttons only (an MCP Apps view; this tool is visible to the "
      "app, not to the model). Approves or rejects the traffic switch plan the panel shows; approve runs the "
      "switch.";
  def.input_schema = {{"type", "object"},
                      {"properties",
                       {{"app", app_argument_schema(config)},
                        {"planId", {{"type", "string"}, {"pattern", "^panel-[0-9a-f]{32}$"}}},
                        {"answer", {{"type", "string"}, {"enum", {"approve", "reject"}}}}}},
                      {"required", {"planId", "answer"}},
                      {"additionalProperties", false}};
  def.output_schema = {
      {"type", "object"},
      {"properties",
       {{"switched", {{"type", "boolean"}}}, {"app", {{"type", "string"}}}, {"switchNumber", {{"type", "integer"}}}}},
      {"required", {"switched"}}};
  def.app_only = true;
  def.annotations.read_only = false;
  def.annotations.destructive = true;
  def.annotations.idempotent = false;
  def.annotations.open_world = false;
  return def;
}

}  // namespace

mcp::Tool make_answer_switch_plan_tool(DeploymentToolsContext& context) {
  return {answer_switch_plan_definition(context.config),
          [&context](const json& arguments, mcp::ToolContext& tool_context) {
            auto app_or_error = resolve_app(context.config, arguments);
            if (!app_or_error) return mcp::ToolResult::error(app_or_error.error().message);
            const config::AppConfig& app = **app_or_error;
            if (auto conflict = deployment::shared_route_conflict(context.config, app); !conflict.empty()) {
              return mcp::ToolResult::error(conflict);
            }
            auto plan = context.services.approvals.redeem(arguments.at("planId").get<std::string>(), app.name,
                                                          deployment::ApprovalBook::Handle::kPanel);
            if (!plan) {
              return refuse_unapproved(context, app, tool_context, false, "panel-refused",
                                       "❌ NOT SWITCHED: " + plan.error().message + " Nothing was changed.",
                                       std::nullopt, "app");
            }
            if (arguments.at("answer") == "reject") {
              return refuse_unapproved(
                  context, app, tool_context, plan->emergency, "declined",
                  "Traffic switch NOT approved: the human rejected the plan in the deployment panel. Nothing was "
                  "changed; the load balancer still routes to " +
                      state::to_upper_string(plan->from) + ".",
                  json{{"switched", false}, {"app", app.name}, {"answer", "reject"}}, "app");
            }
            tool_context.log(mcp::LogLevel::kNotice, "the human approved the switch in the deployment panel");
            return execute_approved(context, app, *plan, "app", tool_context);
          }};
}

}  // namespace bluegreen::tools
