#include "app/server_instructions.h"

namespace bluegreen::app {

std::string server_instructions() {
  return R"(bluegreen-mcp runs blue/green deployments: two colours of app hosts (BLUE and GREEN) behind a
load balancer (HAProxy, nginx or Caddy). One colour is PROD (receives traffic), the other is STANDBY.
Typical flow: get_deployment_status first (which colour is live, health, versions, drift); then
deploy_to_standby (never touches PROD); then switch_traffic. Traffic moves only after a human
approves the plan: in clients that can, the human is asked directly (a form, a link to an approval
page, or the deployment panel) and the call reports the outcome; otherwise the first call returns
the plan and a single-use approvalToken: show the plan to the human and call again with
approvalToken only after the human explicitly approves. Never approve a switch on your own.
For an emergency rollback, call switch_traffic with emergency=true (skips the standby health
requirement, not the approval). When a tool returns isError, read its text: it says what failed
and what to do next; do not retry destructive calls blindly.)";
}

}  // namespace bluegreen::app
