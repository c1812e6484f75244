#pragma once
// Registers the deployment tools (get_deployment_status, deploy_to_standby, switch_traffic, and
// answer_switch_plan, which only the deployment panel sees). `context` must outlive the registry.

#include "mcp/tool_registry.h"
#include "tools/tool_support.h"

namespace bluegreen::tools {

void register_deployment_tools(mcp::ToolRegistry& registry, DeploymentToolsContext& context);

}  // namespace bluegreen::tools
