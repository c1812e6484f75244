#pragma once
// answer_switch_plan: the deployment panel's Approve and Reject buttons (approval.channels "app").
// An app-only tool (MCP Apps `_meta.ui.visibility: ["app"]`): a host that renders MCP Apps keeps it
// from the model and lets only this server's panel call it, and this server lists it to, and runs
// it for, such a client only (mcp::Server::client_renders_apps). It takes the plan's handle, which
// switch_traffic gave the panel in its result's _meta, and consumes it: "approve" runs the switch
// (as switch_traffic with a token would: the plan is re-checked under the lock, lines and all),
// "reject" changes nothing; both are recorded in the audit log (approvedVia "app", or reason
// "declined"), as is a refused handle (reason "panel-refused": unknown, already answered, expired,
// another app).

#include "mcp/tool.h"
#include "tools/tool_support.h"

namespace bluegreen::tools {

mcp::Tool make_answer_switch_plan_tool(DeploymentToolsContext& context);

}  // namespace bluegreen::tools
