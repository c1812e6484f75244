#pragma once
// Harness: an mcp::Server wired to an in-memory transport, read on its own thread like the real
// binary, with the test tools (tools/test_tools.h) and optional extra tools, prompts and
// resources. request()/call() block until the reply (REQUIRE fails the test when none comes).
//
// Thread-safety: used from the test's thread; the server answers from its reader and worker
// threads into the transport, which is thread-safe.

#include "mcp/prompt.h"
#include "mcp/resource.h"
#include "mcp/server.h"
#include "mcp/tool_registry.h"
#include "tools/test_tools.h"
#include "transport/memory_transport.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace bluegreen::test {

using nlohmann::json;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace): test helper

class Harness {
 public:
  explicit Harness(mcp::ServerLimits limits = {}, const std::function<void(mcp::ToolRegistry&)>& extra_tools = {},
                   const std::function<void(mcp::PromptRegistry&)>& prompts = {},
                   const std::function<void(mcp::ResourceRegistry&)>& resources = {}) {
    tools::register_test_tools(registry_);
    if (extra_tools) extra_tools(registry_);
    if (prompts) prompts(prompts_);
    if (resources) resources(resources_);
    server_ =
        std::make_unique<mcp::Server>(mcp::ServerInfo{"bluegreen-mcp", "Blue/Green", "9.9.9", "Use the tools.", ""},
                                      registry_, transport_, limits, prompts ? &prompts_ : nullptr,
                                      resources ? &resources_ : nullptr);
    reader_ = std::thread([this] { transport_.run(*server_); });
  }
  ~Harness() { stop(); }

  // Ends input and waits for the server like main() does. Returns shutdown()'s verdict.
  bool stop() {
    if (!reader_.joinable()) return true;
    transport_.close_input();
    reader_.join();
    return server_->shutdown(5s);
  }

  json request(const json& id, const std::string& method, json params = json::object()) {
    transport_.push_message(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    auto reply = transport_.reply_to(id);
    REQUIRE(reply.has_value());
    return *reply;
  }

  void notify(const std::string& method, json params = json::object()) {
    transport_.push_message(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }

  json initialize(const std::string& version = "2025-06-18", json capabilities = json::object()) {
    json reply = request("init", "initialize",
                         json{{"protocolVersion", version},
                              {"capabilities", std::move(capabilities)},
                              {"clientInfo", {{"name", "unit-test-client"}, {"version", "1.0"}}}});
    notify("notifications/initialized");
    return reply;
  }

  void send_call(const json& id, const std::string& tool, json arguments, std::optional<json> progress_token = {}) {
    json params{{"name", tool}, {"arguments", std::move(arguments)}};
    if (progress_token) params["_meta"] = {{"progressToken", *progress_token}};
    transport_.push_message(
        json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", std::move(params)}});
  }

  json call(const json& id, const std::string& tool, json arguments) {
    send_call(id, tool, std::move(arguments));
    auto reply = transport_.reply_to(id);
    REQUIRE(reply.has_value());
    return *reply;
  }

  transport::MemoryTransport& transport() { return transport_; }
  mcp::Server& server() { return *server_; }

 private:
  transport::MemoryTransport transport_;
  mcp::ToolRegistry registry_;
  mcp::PromptRegistry prompts_;
  mcp::ResourceRegistry resources_;
  std::unique_ptr<mcp::Server> server_;
  std::thread reader_;
};

}  // namespace bluegreen::test
