#pragma once
// get_deployment_status: which colour is PROD and which is STANDBY, their health and versions,
// what HAProxy routes to, the state file's history, and any drift between them. Read-only.

#include "mcp/tool.h"
#include "tools/tool_support.h"

namespace bluegreen::tools {

mcp::Tool make_get_deployment_status_tool(DeploymentToolsContext& context);

}  // namespace bluegreen::tools
