#pragma once
// switch_traffic: the two-step, approval-gated cutover of HAProxy to the STANDBY colour.
// Step 1 (no token) returns the plan and a single-use approval token, or asks the human directly
// through elicitation when the client supports it; step 2 (with the token) carries it out.
// `requireApproval=false` never skips the approval unless the configuration turns it off.

#include "mcp/tool.h"
#include "tools/tool_support.h"

namespace bluegreen::tools {

mcp::Tool make_switch_traffic_tool(DeploymentToolsContext& context);

}  // namespace bluegreen::tools
