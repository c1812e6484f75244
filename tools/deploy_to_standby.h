#pragma once
// deploy_to_standby: backup, fetch, install, migrate, build and restart on the STANDBY host only,
// then a health gate; never touches PROD. Reports progress per step.

#include "mcp/tool.h"
#include "tools/tool_support.h"

namespace bluegreen::tools {

mcp::Tool make_deploy_to_standby_tool(DeploymentToolsContext& context);

}  // namespace bluegreen::tools
