#include "mcp/protocol_version.h"
#include "mcp/server.h"
#include "tools/test_tools.h"
#include "transport/memory_transport.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <thread>

using mcp::json;
using namespace std::chrono_literals;

namespace {

// A server wired to an in-memory transport, read on its own thread like the real binary.
class Harness {
 public:
  explicit Harness(mcp::ServerLimits limits = {}, const std::function<void(mcp::ToolRegistry&)>& extra_tools = {}) {
    tools::register_test_tools(registry_);
    if (extra_tools) extra_tools(registry_);
    server_ = std::make_unique<mcp::Server>(mcp::ServerInfo{"bluegreen-mcp", "Blue/Green", "9.9.9", "Use the tools."},
                                            registry_, transport_, limits);
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
    transport_.push_message(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", std::move(params)}});
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
  std::unique_ptr<mcp::Server> server_;
  std::thread reader_;
};

bool is_progress(const json& m) { return m.value("method", "") == "notifications/progress"; }
bool is_log(const json& m) { return m.value("method", "") == "notifications/message"; }

}  // namespace

TEST_CASE("lifecycle: only ping and initialize are served before initialize", "[server][lifecycle]") {
  Harness h;
  CHECK(h.request(1, "ping")["result"] == json::object());
  const json early = h.request(2, "tools/list");
  CHECK(early["error"]["code"] == mcp::error_code::kInvalidRequest);
  CHECK_THAT(early["error"]["message"].get<std::string>(), Catch::Contains("initialize"));

  const json init = h.initialize();
  CHECK(init["result"]["protocolVersion"] == "2025-06-18");
  CHECK(init["result"]["serverInfo"]["name"] == "bluegreen-mcp");
  CHECK(init["result"]["serverInfo"]["version"] == "9.9.9");
  CHECK(init["result"]["capabilities"].contains("tools"));
  CHECK(init["result"]["capabilities"].contains("logging"));
  CHECK_FALSE(init["result"]["capabilities"].contains("resources"));
  CHECK(init["result"]["instructions"] == "Use the tools.");
  CHECK(h.server().client_name() == "unit-test-client");

  CHECK(h.request(3, "tools/list")["result"]["tools"].size() == 3);
  CHECK(h.request(4, "initialize", {{"protocolVersion", "2025-06-18"}})["error"]["code"] ==
        mcp::error_code::kInvalidRequest);
}

TEST_CASE("protocol version negotiation", "[server][lifecycle]") {
  SECTION("2025-11-25 is echoed") {
    Harness h;
    CHECK(h.initialize("2025-11-25")["result"]["protocolVersion"] == "2025-11-25");
  }
  SECTION("an unknown version is answered with the newest supported") {
    Harness h;
    CHECK(h.initialize("1999-01-01")["result"]["protocolVersion"] == std::string(mcp::kLatestProtocolVersion));
  }
  SECTION("a missing protocolVersion is invalid params and leaves the server uninitialized") {
    Harness h;
    CHECK(h.request(1, "initialize", {{"capabilities", json::object()}})["error"]["code"] ==
          mcp::error_code::kInvalidParams);
    CHECK(h.request(2, "tools/list")["error"]["code"] == mcp::error_code::kInvalidRequest);
  }
}

TEST_CASE("unknown methods, notifications and stray responses", "[server]") {
  Harness h;
  h.initialize();
  CHECK(h.request(1, "resources/list")["error"]["code"] == mcp::error_code::kMethodNotFound);
  h.notify("notifications/whatever");
  h.transport().push(R"({"jsonrpc":"2.0","id":"nobody-asked","result":{}})");
  // Neither produced any output: the next message on the wire is the ping reply.
  h.transport().push_message(json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}});
  const auto next = h.transport().next();
  REQUIRE(next.has_value());
  CHECK((*next)["id"] == 2);
}

TEST_CASE("malformed input gets an error and the server keeps serving", "[server]") {
  Harness h;
  h.initialize();
  h.transport().push("{broken");
  auto reply = h.transport().next();
  REQUIRE(reply);
  CHECK((*reply)["error"]["code"] == mcp::error_code::kParseError);
  h.transport().push_oversized();
  reply = h.transport().next();
  REQUIRE(reply);
  CHECK((*reply)["error"]["code"] == mcp::error_code::kInvalidRequest);
  CHECK((*reply)["id"].is_null());
  CHECK(h.request(1, "ping")["result"] == json::object());
}

TEST_CASE("tools/list advertises definitions with schemas and annotations", "[server][tools]") {
  Harness h;
  h.initialize();
  const json tools = h.request(1, "tools/list")["result"]["tools"];
  REQUIRE(tools.size() == 3);
  const json& echo = tools[0];
  CHECK(echo["name"] == "test_echo");
  CHECK(echo["title"] == "Echo (test only)");
  CHECK_FALSE(echo["description"].get<std::string>().empty());
  CHECK(echo["inputSchema"]["type"] == "object");
  CHECK(echo["outputSchema"]["required"] == json{"text"});
  CHECK(echo["annotations"]["readOnlyHint"] == true);
  CHECK(echo["annotations"]["openWorldHint"] == false);
}

TEST_CASE("tools/call validates before running", "[server][tools]") {
  Harness h;
  h.initialize();

  SECTION("success carries text and structured content") {
    const json result = h.call(1, "test_echo", {{"text", "hello"}})["result"];
    CHECK(result["isError"] == false);
    CHECK(result["content"][0] == json{{"type", "text"}, {"text", "hello"}});
    CHECK(result["structuredContent"] == json{{"text", "hello"}});
  }
  SECTION("unknown tool is -32602 and lists the available ones") {
    const json reply = h.call(1, "deploy_everything", json::object());
    CHECK(reply["error"]["code"] == mcp::error_code::kInvalidParams);
    CHECK_THAT(reply["error"]["message"].get<std::string>(), Catch::Contains("test_echo"));
  }
  SECTION("missing name is -32602") {
    CHECK(h.request(1, "tools/call", {{"arguments", json::object()}})["error"]["code"] ==
          mcp::error_code::kInvalidParams);
  }
  SECTION("non-object arguments is -32602") {
    CHECK(h.request(1, "tools/call", {{"name", "test_echo"}, {"arguments", "hi"}})["error"]["code"] ==
          mcp::error_code::kInvalidParams);
  }
  SECTION("a bad argument is an isError result naming the field") {
    const json result = h.call(1, "test_echo", {{"text", 42}})["result"];
    CHECK(result["isError"] == true);
    CHECK_THAT(result["content"][0]["text"].get<std::string>(), Catch::Contains("arguments.text: expected string"));
  }
  SECTION("a missing argument names the field") {
    const json result = h.call(1, "test_echo", json::object())["result"];
    CHECK(result["isError"] == true);
    CHECK_THAT(result["content"][0]["text"].get<std::string>(), Catch::Contains("arguments.text: is required"));
  }
  SECTION("a tool's own failure is an isError result") {
    const json result = h.call(1, "test_fail", {{"message", "standby unhealthy"}})["result"];
    CHECK(result["isError"] == true);
    CHECK(result["content"][0]["text"] == "standby unhealthy");
  }
}

TEST_CASE("an exception escaping a tool is an internal error, and the server survives", "[server][tools]") {
  Harness h({}, [](mcp::ToolRegistry& r) {
    r.add({mcp::ToolDefinition{"boom", "", "throws", json{{"type", "object"}}, std::nullopt, {}},
           [](const json&, mcp::ToolContext&) -> mcp::ToolResult { throw std::runtime_error("bug"); }});
  });
  h.initialize();
  const json reply = h.call(1, "boom", json::object());
  CHECK(reply["error"]["code"] == mcp::error_code::kInternalError);
  CHECK(h.request(2, "ping")["result"] == json::object());
}

TEST_CASE("the server keeps serving while a tool runs", "[server][concurrency]") {
  Harness h;
  h.initialize();
  h.send_call("slow", "test_sleep", {{"ms", 3000}});
  // Served while test_sleep is still sleeping (each reply_to waits at most 5 s, so these
  // would fail only if they queued behind the 3 s call AND the call took over 5 s).
  const auto started = std::chrono::steady_clock::now();
  CHECK(h.request("p", "ping")["result"] == json::object());
  CHECK(h.call("e", "test_echo", {{"text", "meanwhile"}})["result"]["content"][0]["text"] == "meanwhile");
  CHECK(h.server().calls_in_flight() == 1);  // the sleep has not finished: it was not queued behind
  CHECK(std::chrono::steady_clock::now() - started < 3s);
  const auto slow = h.transport().reply_to("slow", 10s);
  REQUIRE(slow);
  CHECK(slow->at("result")["isError"] == false);
}

TEST_CASE("every request gets exactly one reply under a mixed burst", "[server][concurrency]") {
  Harness h;
  h.initialize();
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    switch (i % 4) {
      case 0: h.transport().push_message(json{{"jsonrpc", "2.0"}, {"id", i}, {"method", "ping"}}); break;
      case 1: h.send_call(i, "test_echo", {{"text", std::to_string(i)}}); break;
      case 2: h.send_call(i, "test_sleep", {{"ms", 5}}); break;
      default: h.transport().push_message(json{{"jsonrpc", "2.0"}, {"id", i}, {"method", "no/such"}}); break;
    }
  }
  std::map<int, int> replies;
  while (auto m = h.transport().next(2s)) {
    if (m->contains("id") && (*m)["id"].is_number_integer()) replies[(*m)["id"].get<int>()]++;
  }
  CHECK(replies.size() == kRequests);
  for (const auto& [id, count] : replies) {
    INFO("id " << id);
    CHECK(count == 1);
  }
}

TEST_CASE("cancellation stops the call and suppresses its result", "[server][cancel]") {
  Harness h;
  h.initialize();
  h.send_call(7, "test_sleep", {{"ms", 60000}, {"steps", 600}});
  // Wait until it is really running.
  for (int i = 0; i < 100 && h.server().calls_in_flight() == 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(h.server().calls_in_flight() == 1);

  h.notify("notifications/cancelled", {{"requestId", 7}, {"reason", "user pressed stop"}});
  for (int i = 0; i < 200 && h.server().calls_in_flight() != 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(h.server().calls_in_flight() == 0);  // the handler returned promptly
  CHECK_FALSE(h.transport().reply_to(7, 300ms).has_value());  // and no result was sent
  CHECK(h.request(8, "ping")["result"] == json::object());

  SECTION("cancelling an unknown or finished request is ignored") {
    h.notify("notifications/cancelled", {{"requestId", 12345}});
    h.notify("notifications/cancelled", {{"requestId", 8}});
    CHECK(h.request(9, "ping")["result"] == json::object());
  }
}

TEST_CASE("progress notifications follow the progress token and strictly increase", "[server][progress]") {
  Harness h({}, [](mcp::ToolRegistry& r) {
    r.add({mcp::ToolDefinition{"wobbly", "", "reports non-monotonic progress", json{{"type", "object"}}, std::nullopt, {}},
           [](const json&, mcp::ToolContext& c) {
             for (const double p : {1.0, 1.0, 0.5, 2.0, 3.0}) c.report_progress(p, 3.0, "");
             return mcp::ToolResult::text("done");
           }});
  });
  h.initialize();

  SECTION("test_sleep reports each step before its result") {
    h.send_call(1, "test_sleep", {{"ms", 30}, {"steps", 3}}, json("tok-1"));
    std::vector<json> progress;
    while (auto m = h.transport().next(5s)) {
      if (m->contains("id")) {
        CHECK((*m)["id"] == 1);
        break;
      }
      if (is_progress(*m)) progress.push_back((*m)["params"]);
    }
    REQUIRE(progress.size() == 3);
    for (std::size_t i = 0; i < progress.size(); ++i) {
      CHECK(progress[i]["progressToken"] == "tok-1");
      CHECK(progress[i]["progress"] == static_cast<double>(i + 1));
      CHECK(progress[i]["total"] == 3.0);
      CHECK(progress[i]["message"] == "step " + std::to_string(i + 1) + "/3");
    }
  }
  SECTION("non-increasing values are dropped") {
    h.send_call(2, "wobbly", json::object(), json(99));
    REQUIRE(h.transport().reply_to(2));
    std::vector<double> values;
    for (const auto& m : h.transport().drain()) {
      if (is_progress(m)) values.push_back(m["params"]["progress"].get<double>());
    }
    CHECK(values == std::vector<double>{1.0, 2.0, 3.0});
  }
  SECTION("no token, no progress") {
    h.send_call(3, "test_sleep", {{"ms", 30}, {"steps", 3}});
    REQUIRE(h.transport().reply_to(3));
    for (const auto& m : h.transport().drain()) CHECK_FALSE(is_progress(m));
  }
}

TEST_CASE("logging/setLevel filters notifications/message", "[server][logging]") {
  Harness h;
  h.initialize();
  CHECK(h.request(1, "logging/setLevel", {{"level", "loud"}})["error"]["code"] == mcp::error_code::kInvalidParams);

  CHECK(h.request(2, "logging/setLevel", {{"level", "error"}})["result"] == json::object());
  REQUIRE(h.call(3, "test_sleep", {{"ms", 1}})["result"]["isError"] == false);  // logs at info
  for (const auto& m : h.transport().drain()) CHECK_FALSE(is_log(m));

  CHECK(h.request(4, "logging/setLevel", {{"level", "debug"}})["result"] == json::object());
  REQUIRE(h.call(5, "test_sleep", {{"ms", 1}})["result"]["isError"] == false);
  const auto log = h.transport().next_matching(is_log, 1s);
  REQUIRE(log);
  CHECK((*log)["params"]["level"] == "info");
  CHECK_THAT((*log)["params"]["data"].get<std::string>(), Catch::Contains("test_sleep finished"));
}

TEST_CASE("limits: concurrent calls are bounded and ids in use are refused", "[server][concurrency]") {
  Harness h(mcp::ServerLimits{2});
  h.initialize();
  h.send_call("a", "test_sleep", {{"ms", 2000}, {"steps", 200}});
  h.send_call("b", "test_sleep", {{"ms", 2000}, {"steps", 200}});
  for (int i = 0; i < 100 && h.server().calls_in_flight() < 2; ++i) std::this_thread::sleep_for(10ms);
  CHECK(h.call("c", "test_echo", {{"text", "x"}})["error"]["code"] == mcp::error_code::kServerBusy);
  h.notify("notifications/cancelled", {{"requestId", "b"}});
  for (int i = 0; i < 200 && h.server().calls_in_flight() > 1; ++i) std::this_thread::sleep_for(10ms);
  h.send_call("a", "test_echo", {{"text", "dup"}});
  const auto dup = h.transport().reply_to("a", 1s);
  REQUIRE(dup);
  CHECK((*dup)["error"]["code"] == mcp::error_code::kInvalidRequest);
}

TEST_CASE("end of input cancels calls in flight and shuts down cleanly", "[server][shutdown]") {
  Harness h;
  h.initialize();
  h.send_call(1, "test_sleep", {{"ms", 60000}, {"steps", 600}});
  for (int i = 0; i < 100 && h.server().calls_in_flight() == 0; ++i) std::this_thread::sleep_for(10ms);
  const auto started = std::chrono::steady_clock::now();
  CHECK(h.stop());
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK(h.server().calls_in_flight() == 0);
  CHECK_FALSE(h.transport().reply_to(1, 100ms).has_value());
}
