#include "tools/deployment_resources.h"

#include "common/text.h"
#include "deployment/services.h"
#include "deployment/status.h"
#include "state/deployment_state.h"
#include "web/deployment_panel_html.h"

#include <nlohmann/json.hpp>

#include <utility>
#include <vector>

namespace bluegreen::tools {

using nlohmann::json;

namespace {

constexpr std::string_view kUriPrefix = "bluegreen://apps/";

struct Kind {
  const char* segment;  // the URI's last segment
  const char* title;
  const char* description;
  const char* mime_type;
};

constexpr Kind kStatus{"status", "Deployment status",
                       "Which colour is PROD and which STANDBY, their health, versions and deployed commits, what the "
                       "load balancer routes to, and any drift (read live, as get_deployment_status).",
                       "text/plain"};
constexpr Kind kHistory{"history", "Switch and deploy history",
                        "The state file on the load balancer: prod, the switch count, every recorded switch and "
                        "deploy, and its generation (JSON; state is null when there is no state file yet).",
                        "application/json"};
constexpr Kind kAudit{"audit", "Audit log",
                      "The last 100 lines of the audit log on the load balancer (JSON Lines, oldest first): every "
                      "deploy, switch and refusal, with the client that asked and the outcome.",
                      "text/plain"};

std::string uri_of(const std::string& app, const Kind& kind) {
  return std::string(kUriPrefix) + app + "/" + kind.segment;
}

// The configured app named `name`; kInvalidArgument (resource not found) when none is.
bluegreen::Result<const config::AppConfig*> app_named(const config::Config& config, const std::string& name) {
  std::vector<std::string> names;
  for (const auto& app : config.apps) {
    if (app.name == name) return &app;
    if (names.size() < 20) names.push_back(app.name);
  }
  std::string known = bluegreen::join(names);
  if (config.apps.size() > names.size()) known += " and " + std::to_string(config.apps.size() - names.size()) + " more";
  return bluegreen::Error{"no app \"" + name.substr(0, 100) + "\" is configured" +
                              (config.apps.empty() ? std::string(" (no apps are configured: start the server with "
                                                                 "--config FILE)")
                                                   : "; configured apps: " + known),
                          bluegreen::ErrorCode::kInvalidArgument};
}

using Read = bluegreen::Result<std::string> (*)(DeploymentToolsContext&, const config::AppConfig&);

bluegreen::Result<std::string> read_status(DeploymentToolsContext& context, const config::AppConfig& app) {
  return deployment::gather_status(context.services, app).to_text(app);
}

bluegreen::Result<std::string> read_history(DeploymentToolsContext& context, const config::AppConfig& app) {
  const auto store = deployment::store_for(context.services.executor, app);
  auto state = store.read();
  if (!state) {
    return bluegreen::Error{"reading the state file " + app.load_balancer.state_file + " on " + app.load_balancer.ssh +
                                " failed: " + state.error().message,
                            state.error().code == bluegreen::ErrorCode::kInvalidArgument ? bluegreen::ErrorCode::kFailed
                                                                                         : state.error().code};
  }
  json body{{"app", app.name}, {"loadBalancer", app.load_balancer.ssh}, {"stateFile", app.load_balancer.state_file}};
  body["state"] = state->has_value() ? json::parse(state::serialize_state(**state)) : json(nullptr);
  return body.dump(2) + "\n";
}

bluegreen::Result<std::string> read_audit(DeploymentToolsContext& context, const config::AppConfig& app) {
  auto text = deployment::store_for(context.services.executor, app).read_audit_tail(kAuditLines, kAuditBytes);
  if (!text && text.error().code == bluegreen::ErrorCode::kInvalidArgument) {
    return bluegreen::Error{text.error().message};  // a failure to read, never "not found"
  }
  return text;
}

void add_kind(mcp::ResourceRegistry& registry, DeploymentToolsContext& context, const Kind& kind, Read read) {
  mcp::ResourceTemplate resource;
  resource.uri_template = std::string(kUriPrefix) + "{app}/" + kind.segment;
  resource.name = std::string("app-") + kind.segment;
  resource.title = kind.title;
  resource.description = kind.description;
  resource.mime_type = kind.mime_type;
  resource.reader = [&context, &kind,
                     read](const std::string& uri, const mcp::UriVariables& variables,
                           const std::stop_token&) -> bluegreen::Result<std::vector<mcp::ResourceContents>> {
    auto app = app_named(context.config, variables.at("app"));
    if (!app) return app.error();
    auto text = read(context, **app);
    if (!text) return text.error();
    return std::vector<mcp::ResourceContents>{{uri, kind.mime_type, std::move(*text)}};
  };
  resource.instances = [&context, &kind] {
    std::vector<mcp::ResourceEntry> entries;
    for (const auto& app : context.config.apps) {
      entries.push_back({uri_of(app.name, kind), app.name + "-" + kind.segment,
                         std::string(kind.title) + ": " + app.name, kind.description, kind.mime_type});
    }
    return entries;
  };
  resource.completions["app"] = [&context] {
    std::vector<std::string> names;
    for (const auto& app : context.config.apps) names.push_back(app.name);
    return names;
  };
  registry.add(std::move(resource));
}

void add_panel(mcp::ResourceRegistry& registry) {
  mcp::ResourceTemplate resource;
  resource.uri_template = std::string(web::kDeploymentPanelUri);
  resource.name = "deployment-panel";
  resource.title = "Deployment panel";
  resource.description =
      "The MCP Apps view of get_deployment_status and switch_traffic: the live colour, health, version, lock, "
      "drift and last switches, and Approve/Reject for a plan shown in it.";
  resource.mime_type = std::string(web::kAppHtmlMimeType);
  resource.reader = [](const std::string& uri, const mcp::UriVariables&,
                       const std::stop_token&) -> bluegreen::Result<std::vector<mcp::ResourceContents>> {
    mcp::ResourceContents contents{uri, std::string(web::kAppHtmlMimeType), web::deployment_panel_html()};
    contents.meta = nlohmann::json{{"ui", {{"prefersBorder", true}}}};
    return std::vector<mcp::ResourceContents>{std::move(contents)};
  };
  resource.instances = [] {
    return std::vector<mcp::ResourceEntry>{{std::string(web::kDeploymentPanelUri), "deployment-panel",
                                            "Deployment panel", "The MCP Apps view of the deployment tools.",
                                            std::string(web::kAppHtmlMimeType)}};
  };
  registry.add(std::move(resource));
}

}  // namespace

void report_app_resources_changed(mcp::ToolContext& tool_context, const std::string& app) {
  for (const Kind* kind : {&kStatus, &kHistory, &kAudit}) tool_context.resource_updated(uri_of(app, *kind));
}

void register_deployment_resources(mcp::ResourceRegistry& registry, DeploymentToolsContext& context) {
  add_panel(registry);
  add_kind(registry, context, kStatus, read_status);
  add_kind(registry, context, kHistory, read_history);
  add_kind(registry, context, kAudit, read_audit);
}

}  // namespace bluegreen::tools
