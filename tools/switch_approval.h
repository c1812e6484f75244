#pragma once
// What the two tools that end a switch plan share (switch_traffic, and answer_switch_plan for the
// deployment panel): executing a plan once a channel approved it, and refusing one that got no
// approval, each recorded in every LB's audit log (deployment/approval_audit.h).
//
// Thread-safety: as DeploymentToolsContext (tool_support.h); each call runs on its own thread.

#include "config/config.h"
#include "deployment/approvals.h"
#include "mcp/tool.h"
#include "tools/tool_support.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace bluegreen::tools {

// Executes `plan`, approved through `channel` ("elicitation", "url", "app", "token" or
// "not-required"; recorded in the audit log with the client's name and version), with progress
// through `tool_context`. The switch's report as the result: an error result unless it switched.
mcp::ToolResult execute_approved(DeploymentToolsContext& context, const config::AppConfig& app,
                                 deployment::SwitchPlan plan, const std::string& channel,
                                 mcp::ToolContext& tool_context);

// Refuses a switch that got no approval: records `reason` (approval_audit.h's reasons, e.g.
// "declined", "token-refused") in every LB's audit log and returns `text` with `structured`: a
// plain result for a human's "no" (`reason` "declined"), an error result otherwise. A failure to
// write the audit log is appended to the text. Nothing on the LB changes.
// `channel` ("app" for the panel; "" when the refusal came from no channel's answer) is recorded
// as the audit record's `channel`.
mcp::ToolResult refuse_unapproved(DeploymentToolsContext& context, const config::AppConfig& app,
                                  mcp::ToolContext& tool_context, bool emergency, const std::string& reason,
                                  const std::string& text, std::optional<nlohmann::json> structured = std::nullopt,
                                  const std::string& channel = "");

}  // namespace bluegreen::tools
