#pragma once
// The deployment's resources (MCP resources/list, resources/templates/list, resources/read), one
// template each, with one concrete resource per configured app:
//   bluegreen://apps/{app}/status   text/plain        get_deployment_status's text for the app
//                                                      (read live: SSH to the hosts and the LB)
//   bluegreen://apps/{app}/history  application/json  {app, loadBalancer, stateFile, state}: the
//                                                      state file (prod, switchCount, history of
//                                                      switches, deploys, generation) or null
//                                                      when there is none yet
//   bluegreen://apps/{app}/audit    text/plain        the audit log's last kAuditLines JSON lines
//                                                      (at most kAuditBytes), oldest first
// and one fixed resource, the deployment panel (web/deployment_panel_html.h):
//   ui://bluegreen-mcp/deployment-panel.html  text/html;profile=mcp-app  the MCP Apps view of
//                                                      get_deployment_status and switch_traffic,
//                                                      _meta.ui {prefersBorder: true}, no CSP domains
// {app} is the app's name (config names are [A-Za-z0-9][A-Za-z0-9._-]*, safe in a URI). History
// and audit come from the app's first load balancer (for an LB pair, `loadBalancer` in the JSON
// says which). `{app}` completes to the configured names. An app that is not configured is
// "resource not found" (naming up to 20 configured apps); an LB that cannot be read is an error
// naming the host and the file. The registration must happen before the server starts; the
// readers are thread-safe as gather_status and StateStore are. `context` must outlive the registry.

#include "mcp/resource.h"
#include "tools/tool_support.h"

#include <cstddef>

namespace bluegreen::tools {

inline constexpr std::size_t kAuditLines = 100;
inline constexpr std::size_t kAuditBytes = std::size_t{64} * 1024;

void register_deployment_resources(mcp::ResourceRegistry& registry, DeploymentToolsContext& context);

// Tells a client subscribed to any of `app`'s resources (status, history, audit) that they may have
// changed (ToolContext::resource_updated): called after each deploy, switch or refusal this server
// made for `app`. Changes made elsewhere (another server, by hand) are not noticed.
void report_app_resources_changed(mcp::ToolContext& tool_context, const std::string& app);

}  // namespace bluegreen::tools
