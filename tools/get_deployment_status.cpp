#include "tools/get_deployment_status.h"

#include "deployment/status.h"
#include "web/deployment_panel_html.h"

namespace bluegreen::tools {

using nlohmann::json;

mcp::Tool make_get_deployment_status_tool(DeploymentToolsContext& context) {
  mcp::ToolDefinition def;
  def.name = "get_deployment_status";
  def.title = "Deployment status";
  def.description =
      "Shows which colour (BLUE or GREEN) is PROD and which is STANDBY, the health, version and deployed commit of "
      "each of their servers (a colour's version is \"mixed\" when its servers disagree), what HAProxy actually routes "
      "to (the truth) and HAProxy's own view of the servers, the switch history "
      "and last deploy from the state file, and any drift between the state file and HAProxy with what to do. "
      "Changes nothing. Call it first, and after every deploy or switch. Without `app`, when several apps are "
      "configured, reports all of them (structured content: {apps: [...]}).";
  def.input_schema = {{"type", "object"},
                      {"properties", {{"app", app_argument_schema(context.config)}}},
                      {"additionalProperties", false}};
  const json host = {{"type", "object"},
                     {"properties",
                      {{"server", {{"type", "string"}}},
                       {"ip", {{"type", "string"}}},
                       {"healthy", {{"type", "boolean"}}},
                       {"status", {{"type", "string"}}},
                       {"version", {{"type", {"string", "null"}}}},
                       {"deployedCommit", {{"type", {"string", "null"}}}},
                       {"healthyServers", {{"type", "integer"}}},
                       {"servers",
                        {{"type", "array"},
                         {"description", "Each server of the colour (one, or a pool): name, ssh, ip, healthy, "
                                         "status, version, deployedCommit, haproxy{status, check, "
                                         "currentSessions}|null"}}}}},
                     {"required", {"server", "ip", "healthy", "status"}}};
  def.output_schema = {
      {"type", "object"},
      {"properties",
       {{"app", {{"type", "string"}}},
        {"liveColorKnown", {{"type", "boolean"}}},
        {"current", {{"type", {"object", "null"}}, {"properties", {{"prod", host}, {"standby", host}}}}},
        {"problem", {{"type", "string"}}},
        {"haproxy",
         {{"type", "object"},
          {"properties", {{"backend", {{"type", {"string", "null"}}}}, {"status", {{"type", "string"}}}}}}},
        {"history",
         {{"type", "object"},
          {"properties", {{"lastSwitch", {{"type", {"string", "null"}}}}, {"totalSwitches", {{"type", "integer"}}}}}}},
        {"lastDeploy", {{"type", {"object", "null"}}}},
        {"activity",
         {{"type", {"object", "null"}},
          {"description", "A deploy or switch in progress (running=true) or interrupted (its server stopped before "
                          "it finished: interrupted=true), from the activity record on the load balancer."}}},
        {"stateFile", {{"type", "object"}}},
        {"drift", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"warnings", {{"type", "array"}, {"items", {{"type", "string"}}}}}}},
      {"anyOf", json::array({{{"required", {"app", "liveColorKnown", "current", "haproxy", "history", "drift"}}},
                             {{"required", {"apps"}}}})}};
  def.output_schema->at("properties")["apps"] = {{"type", "array"}, {"items", {{"type", "object"}}}};
  def.ui_resource_uri = std::string(web::kDeploymentPanelUri);
  def.annotations.read_only = true;
  def.annotations.idempotent = true;
  def.annotations.open_world = false;

  return {def, [&context](const json& arguments, mcp::ToolContext&) {
            const auto& apps = context.config.apps;
            if (!arguments.contains("app") && apps.size() > 1 && !context.config.default_app) {
              std::vector<const config::AppConfig*> all_apps;
              for (const auto& app : apps) all_apps.push_back(&app);
              const auto reports = deployment::gather_status_all(context.services, all_apps);
              std::string text;
              json all = json::array();
              for (std::size_t i = 0; i < apps.size(); ++i) {
                text += (i == 0 ? "" : "\n\n") + reports[i].to_text(apps[i]);
                all.push_back(reports[i].to_json(apps[i]));
              }
              return mcp::ToolResult::text(text, json{{"apps", all}});
            }
            auto app = resolve_app(context.config, arguments);
            if (!app) return mcp::ToolResult::error(app.error().message);
            const auto report = deployment::gather_status(context.services, **app);
            return mcp::ToolResult::text(report.to_text(**app), report.to_json(**app));
          }};
}

}  // namespace bluegreen::tools
