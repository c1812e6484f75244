#include "tools/switch_approval.h"

#include "deployment/approval_audit.h"
#include "deployment/traffic_switch.h"
#include "tools/deployment_resources.h"

#include <utility>

namespace bluegreen::tools {

mcp::ToolResult execute_approved(DeploymentToolsContext& context, const config::AppConfig& app,
                                 deployment::SwitchPlan plan, const std::string& channel,
                                 mcp::ToolContext& tool_context) {
  ToolReporter reporter(tool_context);
  plan.approved_via = channel;
  plan.client_version = tool_context.client_version();
  const auto outcome = deployment::execute_switch(context.services, app, plan, tool_context.client_name(), reporter,
                                                  tool_context.stop_token());
  report_app_resources_changed(tool_context, app.name);
  if (outcome.switched) return mcp::ToolResult::text(outcome.text, outcome.structured);
  return mcp::ToolResult::error(outcome.text, outcome.structured);
}

mcp::ToolResult refuse_unapproved(DeploymentToolsContext& context, const config::AppConfig& app,
                                  mcp::ToolContext& tool_context, bool emergency, const std::string& reason,
                                  const std::string& text, std::optional<nlohmann::json> structured,
                                  const std::string& channel) {
  const bool declined = reason == "declined";
  const auto problem =
      deployment::audit_approval_refusal(context.services, app,
                                         {emergency, tool_context.client_name(), tool_context.client_version(),
                                          declined ? "not-approved" : "refused", reason, text, channel});
  const std::string shown =
      problem.empty() ? text : text + "\n\n⚠️ This refusal is not in the audit log: " + problem;
  if (problem.empty()) report_app_resources_changed(tool_context, app.name);  // the audit log grew
  return declined ? mcp::ToolResult::text(shown, std::move(structured))
                  : mcp::ToolResult::error(shown, std::move(structured));
}

}  // namespace bluegreen::tools
