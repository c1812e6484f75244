// bluegreen-mcp: wires the real objects together and runs the stdio transport until the client
// closes stdin, or (`serve`) the Streamable HTTP transport until SIGTERM or SIGINT. All logic lives
// in the libraries.

#include "app/check_config.h"
#include "app/cli.h"
#include "app/logging.h"
#include "app/server_instructions.h"
#include "config/config.h"
#include "deployment/approvals.h"
#include "mcp/prompt.h"
#include "mcp/resource.h"
#include "mcp/result_archive.h"
#include "mcp/server.h"
#include "mcp/tool_registry.h"
#include "prompts/workflow_prompts.h"
#include "remote/ssh_executor.h"
#include "tools/deployment_resources.h"
#include "tools/deployment_tools.h"
#include "tools/test_tools.h"
#include "transport/http_access.h"
#include "transport/stdio_transport.h"
#include "transport/streamable_http.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <pthread.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

#ifndef BLUEGREEN_VERSION
#define BLUEGREEN_VERSION "0.0.0"
#endif

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitCannotListen = 1;

// SIGTERM and SIGINT: how `serve` is stopped.
sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// The end of either transport: exit 0, at once when a call ignored its cancellation (the server
// must not be destroyed under it).
int finish(bool calls_ended) {
  if (!calls_ended) {
    spdlog::error("a tool call ignored cancellation; exiting without waiting for it");
    spdlog::shutdown();
    std::_Exit(0);
  }
  spdlog::info("bye");
  spdlog::shutdown();
  return 0;
}

// What every session of the HTTP transport shares with the stdio one.
struct Shared {
  const mcp::ServerInfo& info;
  const mcp::ToolRegistry& tools;
  const mcp::PromptRegistry& prompts;
  const mcp::ResourceRegistry& resources;
  mcp::ResultArchive& long_results;
};

// `serve`: the Streamable HTTP transport until SIGTERM or SIGINT (blocked in every thread and
// taken here with sigwait, so no handler runs on an arbitrary thread).
int serve(const app::CommandLine& command_line, const Shared& shared) {
  auto address = transport::http::parse_listen_address(command_line.listen);
  if (!address) {
    std::cerr << "bluegreen-mcp: " << address.error().message << "\n";
    return kExitUsage;
  }
  transport::StreamableHttpServer::Options options;
  options.host = address->host;
  options.port = address->port;
  options.allowed_hosts = command_line.allowed_hosts;
  options.allowed_origins = command_line.allowed_origins;
  if (command_line.tokens_file) {
    auto tokens = transport::http::TokenList::load(*command_line.tokens_file);
    if (!tokens) {
      std::cerr << "bluegreen-mcp: " << tokens.error().message << "\n";
      return kExitUsage;
    }
    options.tokens = std::move(tokens.value());
  }
  transport::StreamableHttpServer http(options, [&shared](mcp::MessageSink& sink, const std::string& label) {
    mcp::ServerInfo info = shared.info;
    info.principal = label;  // the bearer token's label goes with the client's name into the audit
    return std::make_unique<mcp::Server>(info, shared.tools, sink, mcp::ServerLimits{}, &shared.prompts,
                                         &shared.resources, &shared.long_results);
  });
  if (auto started = http.start(); !started) {
    std::cerr << "bluegreen-mcp: " << started.error().message << "\n";
    return kExitCannotListen;
  }
  spdlog::info("bluegreen-mcp {} listening on {} ({} tools; {})", BLUEGREEN_VERSION, http.endpoint_url(),
               shared.tools.tools().size(),
               options.tokens ? std::to_string(options.tokens->size()) + " bearer token(s)" : "no bearer tokens");
  const sigset_t signals = stop_signals();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("signal {}: ending {} session(s)", signal_number, http.session_count());
  return finish(http.stop());
}

int run(const app::CommandLine& command_line) {
  config::Config settings;
  if (command_line.config_path) {
    auto loaded = config::load_config(*command_line.config_path);
    if (!loaded) {
      std::cerr << "bluegreen-mcp: invalid configuration " << loaded.error().message << "\n";
      return kExitUsage;
    }
    settings = std::move(loaded.value());
  }

  const std::string level = command_line.log_level.value_or(settings.log_level.value_or("info"));
  const auto log_file = command_line.log_file ? command_line.log_file : settings.log_file;
  if (auto status = app::configure_logging(level, log_file); !status) {
    std::cerr << "bluegreen-mcp: " << status.error().message << "\n";
    return kExitUsage;
  }

  if (command_line.check_config) return app::run_check_config(settings, *command_line.config_path, std::cout);

  // A client that goes away must not kill us with SIGPIPE mid-write; the write fails instead.
  std::signal(SIGPIPE, SIG_IGN);
  if (command_line.serve) {  // before any thread starts, so every thread inherits the mask (serve())
    const sigset_t signals = stop_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  }

  remote::SshExecutor executor(remote::SshSettings{settings.ssh.config_file, settings.ssh.known_hosts_file,
                                                   settings.ssh.identity_files, settings.ssh.connect_timeout});
  deployment::ApprovalBook approvals;
  tools::DeploymentToolsContext deployment_context{settings, deployment::Services{executor, approvals}};

  mcp::ToolRegistry registry;
  tools::register_deployment_tools(registry, deployment_context);
  if (command_line.enable_test_tools) tools::register_test_tools(registry);
  mcp::PromptRegistry prompt_registry;
  std::vector<std::string> app_names;
  for (const auto& app : settings.apps) app_names.push_back(app.name);
  prompts::register_workflow_prompts(prompt_registry, app_names);
  mcp::ResourceRegistry resource_registry;
  tools::register_deployment_resources(resource_registry, deployment_context);
  mcp::ResultArchive long_results;
  long_results.add_resource_template(resource_registry);

  mcp::ServerInfo info{"bluegreen-mcp", "Blue/Green Deployment", BLUEGREEN_VERSION, app::server_instructions(), ""};
  if (settings.apps.empty()) {
    spdlog::warn("no apps configured (start with --config FILE); the deployment tools will say so when called");
  }
  if (command_line.serve) {
    return serve(command_line, Shared{info, registry, prompt_registry, resource_registry, long_results});
  }

  transport::StdioTransport transport(STDIN_FILENO, STDOUT_FILENO);
  mcp::Server server(info, registry, transport, mcp::ServerLimits{}, &prompt_registry, &resource_registry,
                     &long_results);
  spdlog::info("bluegreen-mcp {} ready on stdio ({} tools, {} apps)", BLUEGREEN_VERSION, registry.tools().size(),
               settings.apps.size());
  transport.run(server);

  spdlog::info("input closed; cancelling {} call(s) in flight", server.calls_in_flight());
  return finish(server.shutdown(std::chrono::seconds(10)));
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto command_line = app::parse_command_line(args);
  if (!command_line) {
    std::cerr << "bluegreen-mcp: " << command_line.error().message << "\n";
    return kExitUsage;
  }
  if (command_line->show_help) {
    std::cout << app::help_text("bluegreen-mcp");
    return 0;
  }
  if (command_line->show_version) {
    std::cout << "bluegreen-mcp " << BLUEGREEN_VERSION << "\n";
    return 0;
  }
  return run(*command_line);
}
