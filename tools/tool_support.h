#pragma once
// Shared plumbing of the deployment tools: the objects they use, the common `app` argument, and
// the bridge from deployment progress to MCP progress/log notifications.
//
// Thread-safety: one DeploymentToolsContext is shared by every tool call, each on its own thread.
// The config is never changed after startup (concurrent reads only); the services' executor,
// approval book and commit cache lock internally (see deployment/services.h), and so do the
// approval pages (web/approval_pages.h). A ToolReporter belongs to one call.

#include "config/config.h"
#include "deployment/services.h"
#include "mcp/tool.h"
#include "web/approval_pages.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace bluegreen::tools {

struct DeploymentToolsContext {
  const config::Config& config;
  deployment::Services services;
  // The approval pages of the "url" channel; listens on 127.0.0.1 from the first page on.
  std::unique_ptr<web::ApprovalPages> pages = std::make_unique<web::ApprovalPages>();
};

// The JSON schema of the optional `app` argument.
nlohmann::json app_argument_schema(const config::Config& config);

// The app named by the call's `app` argument; without one, the configured defaultApp, or the only
// app. Otherwise an Error saying which apps are configured (the tools return it as an isError
// result).
bluegreen::Result<const config::AppConfig*> resolve_app(const config::Config& config, const nlohmann::json& arguments);

// Sends deployment progress to the client: each step as notifications/progress (only when the
// call carried a progressToken) and as an info log line (notifications/message, subject to the
// client's logging/setLevel); each note as an info log line only.
class ToolReporter final : public deployment::Reporter {
 public:
  explicit ToolReporter(mcp::ToolContext& context) : context_(context) {}
  void step(double done, double total, const std::string& message) override {
    context_.report_progress(done, total, message);
    context_.log(mcp::LogLevel::kInfo, message);
  }
  void note(const std::string& message) override { context_.log(mcp::LogLevel::kInfo, message); }

 private:
  mcp::ToolContext& context_;
};

}  // namespace bluegreen::tools
