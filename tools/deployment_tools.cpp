#include "tools/deployment_tools.h"

#include "tools/answer_switch_plan.h"
#include "tools/deploy_to_standby.h"
#include "tools/get_deployment_status.h"
#include "tools/switch_traffic.h"

namespace bluegreen::tools {

void register_deployment_tools(mcp::ToolRegistry& registry, DeploymentToolsContext& context) {
  registry.add(make_get_deployment_status_tool(context));
  registry.add(make_deploy_to_standby_tool(context));
  registry.add(make_switch_traffic_tool(context));
  registry.add(make_answer_switch_plan_tool(context));
}

}  // namespace bluegreen::tools
