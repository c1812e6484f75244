#pragma once
// Shared plumbing of the deployment tools: the objects they use, the common `app` argument, and
// the bridge from deployment progress to MCP progress/log notifications.
//
// Thread-safety: DeploymentToolsContext is shared by concurrent tool calls; everything in it is
// thread-safe (see deployment/services.h).

#include "config/config.h"
#include "deployment/services.h"
#include "mcp/tool.h"

#include <nlohmann/json.hpp>

#include <string>

namespace tools {

struct DeploymentToolsContext {
  const config::Config& config;
  deployment::Services services;
};

// The JSON schema of the optional `app` argument.
nlohmann::json app_argument_schema(const config::Config& config);

// The app the call names (or the default app), or an isError result saying what is configured.
bluegreen::Result<const config::AppConfig*> resolve_app(const config::Config& config, const nlohmann::json& arguments);

// Sends deployment progress to the client: notifications/progress (when it asked) and log lines.
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

}  // namespace tools
