#include "tools/deploy_to_standby.h"

#include "deployment/deploy.h"
#include "tools/deployment_resources.h"

namespace bluegreen::tools {

using nlohmann::json;

mcp::Tool make_deploy_to_standby_tool(DeploymentToolsContext& context) {
  mcp::ToolDefinition def;
  def.name = "deploy_to_standby";
  def.title = "Deploy to standby";
  def.description =
      "Deploys code to the STANDBY colour only (whichever of BLUE/GREEN HAProxy does not route to; every server "
      "of it when it is a pool, deploy.maxParallel at a time): backups "
      "(createBackup), git fetch + checkout of `ref` (pullGithub), install, database migrations (runMigrations), "
      "build, restart, then a health gate that waits for consecutive healthy checks reporting the deployed commit. "
      "Holds the app's lock so no switch can run meanwhile; stops at the first failing step. PROD is never touched. "
      "Sends progress per step. Afterwards, switch_traffic moves users to the new code (with approval).";
  def.input_schema = {
      {"type", "object"},
      {"properties",
       {{"app", app_argument_schema(context.config)},
        {"pullGithub", {{"type", "boolean"}, {"default", true}, {"description", "Fetch and check out `ref` first."}}},
        {"runMigrations",
         {{"type", "boolean"},
          {"default", false},
          {"description", "Run database migrations. They affect the shared database, so PROD too: only "
                          "backward-compatible migrations are safe."}}},
        {"createBackup", {{"type", "boolean"}, {"default", true}, {"description", "Run the backup steps first."}}},
        {"ref",
         {{"type", "string"},
          {"pattern", "^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$"},
          {"description", "Branch, tag or commit to deploy (default: the app's configured defaultRef)."}}},
        {"target",
         {{"type", "string"},
          {"enum", {"blue", "green"}},
          {"description", "Optional safety check: the colour you believe is STANDBY. The deploy is refused if it "
                          "is actually PROD."}}}}},
      {"additionalProperties", false}};
  def.output_schema = {{"type", "object"},
                       {"properties",
                        {{"ok", {{"type", "boolean"}}},
                         {"app", {{"type", "string"}}},
                         {"outcome", {{"type", "string"}}},
                         {"ref", {{"type", "string"}}},
                         {"commit", {{"type", {"string", "null"}}}},
                         {"steps", {{"type", "array"}}},
                         {"servers",
                          {{"type", "array"},
                           {"description", "Each standby server: server, ssh, ip, status (ok, failed, cancelled, "
                                           "stopped, not started), commit, version, durationMs, steps[], error"}}}}},
                       {"required", {"ok", "app", "outcome", "steps"}}};
  def.annotations.read_only = false;
  def.annotations.destructive = true;
  def.annotations.idempotent = false;
  def.annotations.open_world = false;

  return {def, [&context](const json& arguments, mcp::ToolContext& tool_context) {
            auto app = resolve_app(context.config, arguments);
            if (!app) return mcp::ToolResult::error(app.error().message);
            deployment::DeployRequest request;
            request.pull_github = arguments.value("pullGithub", true);
            request.run_migrations = arguments.value("runMigrations", false);
            request.create_backup = arguments.value("createBackup", true);
            if (arguments.contains("ref")) request.ref = arguments["ref"].get<std::string>();
            if (arguments.contains("target"))
              request.expected_target = state::parse_color(arguments["target"].get<std::string>());
            ToolReporter reporter(tool_context);
            const auto outcome =
                deployment::deploy_to_standby(context.services, **app, request, tool_context.client_name(), reporter,
                                              tool_context.stop_token());
            report_app_resources_changed(tool_context, (*app)->name);
            if (outcome.ok) return mcp::ToolResult::text(outcome.text, outcome.structured);
            return mcp::ToolResult::error(outcome.text, outcome.structured);
          }};
}

}  // namespace bluegreen::tools
