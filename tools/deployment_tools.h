#pragma once
// Registers the three deployment tools (get_deployment_status, deploy_to_standby,
// switch_traffic). `context` must outlive the registry.

#include "mcp/tool_registry.h"
#include "tools/tool_support.h"

namespace bluegreen::tools {

void register_deployment_tools(mcp::ToolRegistry& registry, DeploymentToolsContext& context);

}  // namespace bluegreen::tools
