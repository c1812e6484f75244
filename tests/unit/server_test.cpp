#include "mcp/server.h"
#include "mcp/protocol_version.h"
#include "tests/support/server_harness.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <thread>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using mcp::json;
using namespace std::chrono_literals;

namespace {

using test::Harness;

bool is_progress(const json& m) { return m.value("method", "") == "notifications/progress"; }
bool is_log(const json& m) { return m.value("method", "") == "notifications/message"; }
bool is_elicitation(const json& m) { return m.value("method", "") == "elicitation/create"; }
bool is_cancel(const json& m) { return m.value("method", "") == "notifications/cancelled"; }

template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 2s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

const json kConfirmSchema = {
    {"type", "object"},
    {"properties", {{"confirm", {{"type", "boolean"}}}, {"reason", {{"type", "string"}}}}},
    {"required", {"confirm"}},
};

// "ask": elicits kConfirmSchema (or `schema`) with an optional `message` and reports the answer as
// its result.
void add_ask_tool(mcp::ToolRegistry& r) {
  r.add({mcp::ToolDefinition{"ask", "", "asks the user", json{{"type", "object"}}, std::nullopt, {}},
         [](const json& args, mcp::ToolContext& c) {
           const std::chrono::milliseconds timeout(args.value("timeout_ms", 5000));
           const std::string message = args.value("message", "Switch traffic to green?");
           auto answer = c.elicit(message, args.value("schema", kConfirmSchema), timeout);
           if (!answer) return mcp::ToolResult::error(answer.error().message);
           return mcp::ToolResult::text(answer->action, json{{"action", answer->action}, {"content", answer->content}});
         }});
}

void add_test_prompts(mcp::PromptRegistry& r) {
  r.add({mcp::PromptDefinition{"plan_release",
                               "Plan a release",
                               "Plans a blue/green release",
                               {{"service", "the service to release", true,
                                 [] {
                                   return std::vector<std::string>{"api", "web", "admin", "Worker"};
                                 }},
                                {"ref", "git ref", false},
                                {"shard", "a shard (150 of them)", false,
                                 [] {
                                   std::vector<std::string> shards;
                                   for (int i = 0; i < 150; ++i) shards.push_back("shard-" + std::to_string(i));
                                   return shards;
                                 }}}},
         [](const std::map<std::string, std::string>& args) -> bluegreen::Result<json> {
           const auto ref = args.count("ref") != 0 ? args.at("ref") : std::string("main");
           if (ref == "bad") return bluegreen::Error{"ref \"bad\" is not a git ref"};
           const std::string text = "Release " + args.at("service") + " at " + ref;
           return json::array({{{"role", "user"}, {"content", {{"type", "text"}, {"text", text}}}}});
         }});
  r.add({mcp::PromptDefinition{"checklist", "", "The pre-release checklist", {}},
         [](const std::map<std::string, std::string>&) -> bluegreen::Result<json> {
           return json::array({{{"role", "user"}, {"content", {{"type", "text"}, {"text", "Check everything"}}}}});
         }});
}

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

  CHECK(h.request(3, "tools/list")["result"]["tools"].size() == 4);
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

TEST_CASE("older revisions: each is echoed, and what it lacks is not sent", "[server][lifecycle]") {
  // test_echo has a title, an outputSchema, annotations and structured results; test_sleep reports
  // progress with a message. Fields by revision: schema/<version>/schema.ts of the specification.
  const auto progress_messages = [](Harness& h) {
    h.send_call(9, "test_sleep", {{"ms", 10}, {"steps", 2}}, json("tok"));
    REQUIRE(h.transport().reply_to(9));
    std::vector<json> progress;
    for (const auto& m : h.transport().drain()) {
      if (is_progress(m)) progress.push_back(m["params"]);
    }
    REQUIRE(progress.size() == 2);
    return progress;
  };
  const auto echo_definition = [](Harness& h) {
    const json reply = h.request(2, "tools/list");
    for (const auto& tool : reply["result"]["tools"]) {
      if (tool["name"] == "test_echo") return tool;
    }
    FAIL("test_echo is not listed");
    return json();
  };

  SECTION("2024-11-05: no annotations, titles, outputSchema, structuredContent or progress message") {
    Harness h({}, add_ask_tool, add_test_prompts);
    const json init = h.initialize("2024-11-05", {{"elicitation", json::object()}});
    CHECK(init["result"]["protocolVersion"] == "2024-11-05");
    CHECK_FALSE(init["result"]["serverInfo"].contains("title"));
    CHECK(init["result"]["instructions"] == "Use the tools.");
    CHECK(h.server().protocol_version() == "2024-11-05");
    const json echo = echo_definition(h);
    CHECK(echo.contains("inputSchema"));
    CHECK_FALSE(echo.contains("title"));
    CHECK_FALSE(echo.contains("outputSchema"));
    CHECK_FALSE(echo.contains("annotations"));
    const json result = h.call(3, "test_echo", {{"text", "hi"}})["result"];
    CHECK(result["content"][0]["text"] == "hi");
    CHECK_FALSE(result.contains("structuredContent"));
    // A validation failure is a result too, built on another path.
    CHECK_FALSE(h.call(4, "test_echo", {{"text", 5}})["result"].contains("structuredContent"));
    for (const auto& p : progress_messages(h)) CHECK_FALSE(p.contains("message"));
    CHECK_FALSE(h.request(5, "prompts/list")["result"]["prompts"][0].contains("title"));
    // Elicitation came in 2025-06-18: not sent even to a client that claims the capability.
    CHECK(h.call(6, "ask", json::object())["result"]["content"][0]["text"] == "client does not support elicitation");
    for (const auto& m : h.transport().drain()) CHECK_FALSE(is_elicitation(m));
  }
  SECTION("2025-03-26: annotations and progress messages, no titles, outputSchema or structuredContent") {
    Harness h;
    CHECK(h.initialize("2025-03-26")["result"]["protocolVersion"] == "2025-03-26");
    const json echo = echo_definition(h);
    CHECK(echo["annotations"]["readOnlyHint"] == true);
    CHECK(echo["annotations"]["title"] == "Echo (test only)");  // ToolAnnotations.title is 2025-03-26's
    CHECK_FALSE(echo.contains("title"));
    CHECK_FALSE(echo.contains("outputSchema"));
    CHECK_FALSE(h.call(3, "test_echo", {{"text", "hi"}})["result"].contains("structuredContent"));
    for (const auto& p : progress_messages(h)) CHECK(p["message"].is_string());
  }
  SECTION("2025-06-18 and 2025-11-25: everything") {
    for (const std::string version : {"2025-06-18", "2025-11-25"}) {
      Harness h;
      CHECK(h.initialize(version)["result"]["serverInfo"]["title"] == "Blue/Green");
      const json echo = echo_definition(h);
      CHECK(echo["title"] == "Echo (test only)");
      CHECK(echo.contains("outputSchema"));
      CHECK(h.call(3, "test_echo", {{"text", "hi"}})["result"]["structuredContent"] == json{{"text", "hi"}});
    }
  }
}

// Regression (found by tests/fuzz): a clientInfo.name that is not a string made initialize throw,
// so the client got "Internal error" and the server stayed uninitialized.
TEST_CASE("initialize tolerates a clientInfo whose name is not a string", "[server][lifecycle]") {
  for (const json& name : {json(nullptr), json(42), json::object(), json::array({"x"})}) {
    Harness h;
    const json init = h.request("init", "initialize",
                                json{{"protocolVersion", "2025-06-18"},
                                     {"capabilities", json::object()},
                                     {"clientInfo", {{"name", name}, {"version", "1.0"}}}});
    CHECK(init.contains("result"));
    CHECK(h.server().client_name().empty());
    CHECK(h.request(1, "tools/list").contains("result"));
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
  REQUIRE(tools.size() == 4);
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
  // The sleep has not finished: it was not queued behind. (The echo call leaves calls_in_flight
  // just after its reply is sent, hence the short wait.)
  CHECK(eventually([&] { return h.server().calls_in_flight() == 1; }));
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
  CHECK(h.server().calls_in_flight() == 0);                   // the handler returned promptly
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
    r.add({mcp::ToolDefinition{
               "wobbly", "", "reports non-monotonic progress", json{{"type", "object"}}, std::nullopt, {}},
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

TEST_CASE("any request with the id of a running call is refused, not answered beside it", "[server][concurrency]") {
  Harness h;
  h.initialize();
  h.send_call("long", "test_sleep", {{"ms", 60000}, {"steps", 600}});
  for (int i = 0; i < 100 && h.server().calls_in_flight() < 1; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(h.server().calls_in_flight() == 1);
  const json ping = h.request("long", "ping");
  REQUIRE(ping.contains("error"));
  CHECK(ping["error"]["code"] == mcp::error_code::kInvalidRequest);
  CHECK_THAT(ping["error"]["message"].get<std::string>(), Catch::Contains("already used by a request in progress"));
  CHECK(h.server().calls_in_flight() == 1);  // the call runs on
  h.notify("notifications/cancelled", {{"requestId", "long"}});
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

TEST_CASE("prompts capability is advertised only when prompts are registered", "[server][prompts]") {
  SECTION("no prompts: no capability, and prompts/* are unknown methods") {
    Harness h;
    const json caps = h.initialize()["result"]["capabilities"];
    CHECK_FALSE(caps.contains("prompts"));
    CHECK_FALSE(caps.contains("completions"));
    CHECK(h.request(1, "prompts/list")["error"]["code"] == mcp::error_code::kMethodNotFound);
    CHECK(h.request(2, "completion/complete")["error"]["code"] == mcp::error_code::kMethodNotFound);
  }
  SECTION("an empty registry counts as none") {
    Harness h({}, {}, [](mcp::PromptRegistry&) {});
    CHECK_FALSE(h.initialize()["result"]["capabilities"].contains("prompts"));
  }
  SECTION("with prompts") {
    Harness h({}, {}, add_test_prompts);
    CHECK(h.request(1, "prompts/list")["error"]["code"] == mcp::error_code::kInvalidRequest);  // before initialize
    const json caps = h.initialize()["result"]["capabilities"];
    CHECK(caps["prompts"] == json{{"listChanged", false}});
    CHECK(caps["completions"] == json::object());
    CHECK(caps.contains("tools"));
  }
  SECTION("2024-11-05 has no completions capability (2025-03-26 added it), and still answers") {
    Harness h({}, {}, add_test_prompts);
    const json caps = h.initialize("2024-11-05")["result"]["capabilities"];
    CHECK(caps.contains("prompts"));
    CHECK_FALSE(caps.contains("completions"));
    CHECK(h.request(1, "completion/complete",
                    {{"ref", {{"type", "ref/prompt"}, {"name", "plan_release"}}},
                     {"argument", {{"name", "service"}, {"value", "a"}}}})["result"]["completion"]["values"] ==
          json{"api", "admin"});
  }
}

TEST_CASE("completion/complete offers a prompt argument's values", "[server][prompts]") {
  Harness h({}, {}, add_test_prompts);
  h.initialize();
  const auto complete = [&](json ref, json argument) {
    return h.request("c", "completion/complete", {{"ref", std::move(ref)}, {"argument", std::move(argument)}});
  };
  const json plan = {{"type", "ref/prompt"}, {"name", "plan_release"}};
  const auto completion = [&](const std::string& argument, const std::string& value) {
    return complete(plan, {{"name", argument}, {"value", value}})["result"]["completion"];
  };
  const auto error_message = [](const json& reply) {
    CHECK(reply["error"]["code"] == mcp::error_code::kInvalidParams);
    return reply["error"].value("message", std::string());
  };

  SECTION("values that start with the partial value, ASCII case ignored, in their order") {
    CHECK(completion("service", "") ==
          json{{"values", {"api", "web", "admin", "Worker"}}, {"total", 4}, {"hasMore", false}});
    CHECK(completion("service", "A")["values"] == json{"api", "admin"});
    CHECK(completion("service", "wOr")["values"] == json{"Worker"});
    CHECK(completion("service", "none") == json{{"values", json::array()}, {"total", 0}, {"hasMore", false}});
  }
  SECTION("an argument without values completes to nothing") {
    CHECK(completion("ref", "ma") == json{{"values", json::array()}, {"total", 0}, {"hasMore", false}});
  }
  SECTION("at most 100 values, with the total and hasMore") {
    const json many = completion("shard", "");
    CHECK(many["values"].size() == 100);
    CHECK(many["values"][0] == "shard-0");
    CHECK(many["total"] == 150);
    CHECK(many["hasMore"] == true);
    CHECK(completion("shard", "shard-14")["values"].size() == 11);  // shard-14, shard-140 .. shard-149
  }
  SECTION("refused: not a prompt ref, unknown prompt or argument, missing fields") {
    CHECK_THAT(error_message(
                   complete({{"type", "ref/resource"}, {"uri", "file:///x"}}, {{"name", "a"}, {"value", ""}})),
               Catch::Contains("its templates: none"));
    CHECK_THAT(error_message(complete({{"type", "ref/other"}}, {{"name", "a"}, {"value", ""}})),
               Catch::Contains("must be \"ref/prompt\" or \"ref/resource\""));
    CHECK_THAT(error_message(complete({{"type", "ref/prompt"}, {"name", "nope"}}, {{"name", "a"}, {"value", ""}})),
               Catch::Contains("its prompts: plan_release, checklist"));
    CHECK_THAT(error_message(complete(plan, {{"name", "colour"}, {"value", ""}})),
               Catch::Contains("has no argument \"colour\""));
    CHECK_THAT(error_message(complete(plan, {{"name", "service"}})), Catch::Contains("\"value\""));
    CHECK_THAT(error_message(h.request("x", "completion/complete", {{"ref", plan}})),
               Catch::Contains("needs \"ref\" and \"argument\""));
    // Fields of the wrong type are refused, not thrown on (tests/fuzz sends such).
    CHECK_THAT(error_message(complete({{"type", 5}, {"name", "plan_release"}}, {{"name", "service"}, {"value", ""}})),
               Catch::Contains("got 5"));
    CHECK_THAT(error_message(complete({{"type", "ref/prompt"}}, {{"name", "service"}, {"value", ""}})),
               Catch::Contains("ref.name is missing; its prompts"));
    CHECK_THAT(error_message(
                   h.request("z", "completion/complete",
                             {{"ref", plan}, {"argument", {{"name", "service"}, {"value", ""}}}, {"context", "x"}})),
               Catch::Contains("\"context\" must be an object"));
    const std::string long_name(100000, 'n');
    CHECK(
        error_message(complete({{"type", "ref/prompt"}, {"name", long_name}}, {{"name", "a"}, {"value", ""}})).size() <
        300);
    CHECK_THAT(error_message(complete(plan, {{"name", "service"}, {"value", 7}})), Catch::Contains("\"value\""));
    CHECK(h.request("y", "ping")["result"] == json::object());  // still serving
  }
}

TEST_CASE("prompts/list and prompts/get", "[server][prompts]") {
  Harness h({}, {}, add_test_prompts);
  h.initialize();
  const auto get = [&](json params) { return h.request("g", "prompts/get", std::move(params)); };
  const auto error_message = [](const json& reply) {
    CHECK(reply["error"]["code"] == mcp::error_code::kInvalidParams);
    return reply["error"].value("message", std::string());
  };

  SECTION("list shows definitions in registration order") {
    const json prompts = h.request(1, "prompts/list")["result"]["prompts"];
    REQUIRE(prompts.size() == 2);
    CHECK(prompts[0] == json{{"name", "plan_release"},
                             {"title", "Plan a release"},
                             {"description", "Plans a blue/green release"},
                             {"arguments",
                              {{{"name", "service"}, {"description", "the service to release"}, {"required", true}},
                               {{"name", "ref"}, {"description", "git ref"}, {"required", false}},
                               {{"name", "shard"}, {"description", "a shard (150 of them)"}, {"required", false}}}}});
    CHECK(prompts[1] ==
          json{{"name", "checklist"}, {"description", "The pre-release checklist"}, {"arguments", json::array()}});
  }
  SECTION("get renders the messages with the arguments") {
    const json result = get({{"name", "plan_release"}, {"arguments", {{"service", "shop"}, {"ref", "v2"}}}})["result"];
    CHECK(result["description"] == "Plans a blue/green release");
    REQUIRE(result["messages"].size() == 1);
    CHECK(result["messages"][0]["role"] == "user");
    CHECK(result["messages"][0]["content"]["text"] == "Release shop at v2");
  }
  SECTION("arguments may be absent when none is required") {
    CHECK(get({{"name", "checklist"}})["result"]["messages"][0]["content"]["text"] == "Check everything");
  }
  SECTION("unknown prompt names the available ones") {
    const std::string message = error_message(get({{"name", "deploy"}}));
    CHECK_THAT(message, Catch::Contains("deploy") && Catch::Contains("plan_release") && Catch::Contains("checklist"));
  }
  SECTION("missing name") { error_message(get({{"arguments", json::object()}})); }
  SECTION("a missing required argument is named") {
    CHECK_THAT(error_message(get({{"name", "plan_release"}, {"arguments", {{"ref", "v2"}}}})),
               Catch::Contains("service"));
  }
  SECTION("arguments must be an object of strings") {
    CHECK_THAT(error_message(get({{"name", "plan_release"}, {"arguments", "shop"}})), Catch::Contains("object"));
    CHECK_THAT(error_message(get({{"name", "plan_release"}, {"arguments", {{"service", 42}}}})),
               Catch::Contains("\"service\""));
  }
  SECTION("a handler error is invalid params with its message") {
    CHECK(error_message(get({{"name", "plan_release"}, {"arguments", {{"service", "shop"}, {"ref", "bad"}}}})) ==
          "ref \"bad\" is not a git ref");
  }
}

TEST_CASE("PromptRegistry refuses duplicates and prompts without a handler", "[server][prompts]") {
  mcp::PromptRegistry registry;
  add_test_prompts(registry);
  CHECK(registry.find("checklist") != nullptr);
  CHECK(registry.find("nope") == nullptr);
  CHECK_THROWS_AS(registry.add({mcp::PromptDefinition{"checklist", "", "", {}},
                                [](const std::map<std::string, std::string>&) -> bluegreen::Result<json> {
                                  return json::array();
                                }}),
                  std::logic_error);
  CHECK_THROWS_AS(registry.add({mcp::PromptDefinition{"empty", "", "", {}}, {}}), std::logic_error);
}

TEST_CASE("elicitation is sent only to a client that declares its form mode", "[server][elicitation]") {
  // 2025-11-25, client/elicitation: {} means form mode; {"url": {}} alone must get no form request.
  for (const json& declared : {json{{"url", json::object()}}, json{{"url", json::object()}, {"form", json::object()}},
                               json{{"form", json::object()}}, json::object()}) {
    Harness h({}, add_ask_tool);
    h.initialize("2025-11-25", {{"elicitation", declared}});
    const bool form = declared.empty() || declared.contains("form");
    h.send_call(1, "ask", {{"timeout_ms", 2000}});
    if (form) {
      const auto request = h.transport().next_matching(is_elicitation);
      REQUIRE(request);
      h.transport().push_message(
          json{{"jsonrpc", "2.0"}, {"id", (*request)["id"]}, {"result", {{"action", "decline"}}}});
      CHECK(h.transport().reply_to(1).value()["result"]["content"][0]["text"] == "decline");
    } else {
      CHECK(h.transport().reply_to(1).value()["result"]["content"][0]["text"] == "client does not support elicitation");
      for (const auto& m : h.transport().drain()) CHECK_FALSE(is_elicitation(m));
    }
  }
}

TEST_CASE("elicitation needs the client's capability", "[server][elicitation]") {
  Harness h({}, add_ask_tool);
  h.initialize("2025-06-18", {{"roots", json::object()}});
  const json result = h.call(1, "ask", json::object())["result"];
  CHECK(result["isError"] == true);
  CHECK(result["content"][0]["text"] == "client does not support elicitation");
  for (const auto& m : h.transport().drain()) CHECK_FALSE(is_elicitation(m));  // nothing was sent
  CHECK(h.server().client_requests_pending() == 0);
}

TEST_CASE("elicitation round trips through the client", "[server][elicitation]") {
  Harness h({}, add_ask_tool);
  h.initialize("2025-06-18", {{"elicitation", json::object()}});
  const auto answer = [&](const json& request, json result) {
    h.transport().push_message(json{{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", std::move(result)}});
  };

  SECTION("accept: the tool gets the content; stray responses are ignored") {
    h.send_call(1, "ask", json::object());
    const auto request = h.transport().next_matching(is_elicitation);
    REQUIRE(request);
    CHECK((*request)["id"] == "srv-1");
    CHECK((*request)["params"] == json{{"message", "Switch traffic to green?"}, {"requestedSchema", kConfirmSchema}});
    CHECK(h.server().client_requests_pending() == 1);

    // Neither matches the server's request: an unknown server id, and the client's own call id.
    h.transport().push(R"({"jsonrpc":"2.0","id":"srv-999","result":{"action":"decline"}})");
    h.transport().push(R"({"jsonrpc":"2.0","id":1,"result":{"action":"decline"}})");
    answer(*request, {{"action", "accept"}, {"content", {{"confirm", true}, {"reason", "tested"}}}});

    const auto reply = h.transport().reply_to(1);
    REQUIRE(reply);
    CHECK((*reply)["result"]["isError"] == false);
    CHECK((*reply)["result"]["structuredContent"] ==
          json{{"action", "accept"}, {"content", {{"confirm", true}, {"reason", "tested"}}}});
    CHECK(h.server().client_requests_pending() == 0);
    // The server's ids keep counting.
    h.send_call(2, "ask", json::object());
    const auto second = h.transport().next_matching(is_elicitation);
    REQUIRE(second);
    CHECK((*second)["id"] == "srv-2");
    answer(*second, {{"action", "cancel"}});
    REQUIRE(h.transport().reply_to(2));
  }
  SECTION("decline is an answer, not an error") {
    h.send_call(1, "ask", json::object());
    const auto request = h.transport().next_matching(is_elicitation);
    REQUIRE(request);
    answer(*request, {{"action", "decline"}});
    const json result = h.transport().reply_to(1).value()["result"];
    CHECK(result["isError"] == false);
    CHECK(result["structuredContent"] == json{{"action", "decline"}, {"content", json::object()}});
  }
  SECTION("a JSON-RPC error from the client is an error with its message") {
    h.send_call(1, "ask", json::object());
    const auto request = h.transport().next_matching(is_elicitation);
    REQUIRE(request);
    h.transport().push_message(json{{"jsonrpc", "2.0"},
                                    {"id", (*request)["id"]},
                                    {"error", {{"code", -1}, {"message", "user closed the window"}}}});
    const json result = h.transport().reply_to(1).value()["result"];
    CHECK(result["isError"] == true);
    CHECK_THAT(result["content"][0]["text"].get<std::string>(), Catch::Contains("user closed the window"));
  }
  SECTION("accepted content that violates the schema is an error") {
    h.send_call(1, "ask", json::object());
    const auto request = h.transport().next_matching(is_elicitation);
    REQUIRE(request);
    answer(*request, {{"action", "accept"}, {"content", {{"reason", "no confirm"}}}});
    const json result = h.transport().reply_to(1).value()["result"];
    CHECK(result["isError"] == true);
    CHECK_THAT(result["content"][0]["text"].get<std::string>(), Catch::Contains("content.confirm"));
  }
  SECTION("a schema that is not a flat object is refused before anything is sent") {
    const json nested{{"type", "object"}, {"properties", {{"target", {{"type", "object"}}}}}};
    const json result = h.call(1, "ask", {{"schema", nested}})["result"];
    CHECK(result["isError"] == true);
    CHECK_THAT(result["content"][0]["text"].get<std::string>(), Catch::Contains("\"target\""));
    for (const auto& m : h.transport().drain()) CHECK_FALSE(is_elicitation(m));
  }
  SECTION("timeout: the tool gets an error naming it, the client is told, a late answer is ignored") {
    h.send_call(1, "ask", {{"timeout_ms", 100}});
    const auto request = h.transport().next_matching(is_elicitation);
    REQUIRE(request);
    const json result = h.transport().reply_to(1).value()["result"];
    CHECK(result["isError"] == true);
    CHECK_THAT(result["content"][0]["text"].get<std::string>(), Catch::Contains("100 ms"));
    const auto cancel = h.transport().next_matching(is_cancel);
    REQUIRE(cancel);
    CHECK((*cancel)["params"]["requestId"] == (*request)["id"]);
    CHECK(h.server().client_requests_pending() == 0);

    answer(*request, {{"action", "accept"}, {"content", {{"confirm", true}}}});
    h.transport().push_message(json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}});
    const auto next = h.transport().next();
    REQUIRE(next);
    CHECK((*next)["id"] == 2);
  }
  SECTION("cancelling the tool call ends the wait; no result is sent") {
    h.send_call(7, "ask", {{"timeout_ms", 60000}});
    const auto request = h.transport().next_matching(is_elicitation);
    REQUIRE(request);
    h.notify("notifications/cancelled", {{"requestId", 7}});
    CHECK(eventually([&] { return h.server().calls_in_flight() == 0; }));
    CHECK(h.server().client_requests_pending() == 0);
    CHECK_FALSE(h.transport().reply_to(7, 300ms).has_value());
    const auto cancel = h.transport().next_matching(is_cancel);
    REQUIRE(cancel);
    CHECK((*cancel)["params"]["requestId"] == (*request)["id"]);
  }
  SECTION("several calls elicit at once and each gets its own answer") {
    h.send_call("a", "ask", {{"message", "from a"}});
    h.send_call("b", "ask", {{"message", "from b"}});
    const auto first = h.transport().next_matching(is_elicitation);
    const auto second = h.transport().next_matching(is_elicitation);
    REQUIRE(first);
    REQUIRE(second);
    CHECK((*first)["id"] != (*second)["id"]);
    CHECK(h.server().client_requests_pending() == 2);
    // Answered in reverse order, each echoing the message of the request it answers.
    for (const auto& request : {*second, *first}) {
      const json content{{"confirm", true}, {"reason", request["params"]["message"]}};
      answer(request, {{"action", "accept"}, {"content", content}});
    }
    for (const char* id : {"a", "b"}) {
      const auto reply = h.transport().reply_to(id);
      REQUIRE(reply);
      CHECK((*reply)["result"]["structuredContent"]["content"]["reason"] == std::string("from ") + id);
    }
    CHECK(h.server().client_requests_pending() == 0);
  }
  SECTION("shutdown ends the wait promptly without a result") {
    h.send_call(1, "ask", {{"timeout_ms", 60000}});
    REQUIRE(h.transport().next_matching(is_elicitation));
    const auto started = std::chrono::steady_clock::now();
    CHECK(h.stop());
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    CHECK(h.server().client_requests_pending() == 0);
    CHECK_FALSE(h.transport().reply_to(1, 100ms).has_value());
  }
}

// Remote output reaches a client through a call's result, progress and log messages: none of them
// may carry a terminal escape sequence (common/text.h, neutralize_terminal_controls).
TEST_CASE("a tool's result, progress and log messages carry no terminal escape sequences", "[server][text]") {
  Harness h({}, [](mcp::ToolRegistry& r) {
    r.add({mcp::ToolDefinition{"noisy", "", "prints escapes", json{{"type", "object"}}, std::nullopt, {}},
           [](const json&, mcp::ToolContext& c) {
             c.report_progress(1.0, 2.0, "step \x1b[31mred\x1b[0m");
             c.log(mcp::LogLevel::kInfo, "log \x1b]0;title\x07line\r");
             return mcp::ToolResult::error("failed: \x1b[1mbold\x1b[0m", json{{"tail", "\x1b[2Jcleared"}});
           }});
  });
  h.initialize();
  h.send_call(1, "noisy", json::object(), json("tok"));
  const auto reply = h.transport().reply_to(1);
  REQUIRE(reply);
  CHECK((*reply)["result"]["content"][0]["text"] == "failed: bold");
  CHECK((*reply)["result"]["structuredContent"]["tail"] == "cleared");
  bool saw_progress = false;
  bool saw_log = false;
  for (const auto& m : h.transport().drain()) {
    if (is_progress(m)) {
      saw_progress = true;
      CHECK(m["params"]["message"] == "step red");
    }
    if (is_log(m) && m["params"]["data"].get<std::string>().rfind("log ", 0) == 0) {
      saw_log = true;
      CHECK(m["params"]["data"] == "log line\n");
    }
  }
  CHECK(saw_progress);
  CHECK(saw_log);
}

// "panel_only": an app-only tool (MCP Apps visibility ["app"]) whose result carries _meta, beside
// the harness's ordinary tools; it reports whether the client renders MCP Apps.
void add_panel_tool(mcp::ToolRegistry& r) {
  mcp::ToolDefinition def{"panel_only", "", "for an MCP Apps view only", json{{"type", "object"}}, std::nullopt, {}};
  def.app_only = true;
  def.ui_resource_uri = "ui://test/panel.html";
  r.add({def, [](const json&, mcp::ToolContext& c) {
           auto result = mcp::ToolResult::text(c.client_renders_apps() ? "renders apps" : "no apps");
           result.meta = json{{"test/handle", "h-1"}};
           return result;
         }});
}

TEST_CASE("an app-only tool is listed to, and runs for, only a client that renders MCP Apps", "[server][apps]") {
  const json apps{{"extensions", {{"io.modelcontextprotocol/ui", {{"mimeTypes", {"text/html;profile=mcp-app"}}}}}}};
  const auto listed = [](Harness& h) {
    std::vector<std::string> names;
    const json reply = h.request(1, "tools/list");  // kept: the loop reads into it
    for (const auto& tool : reply["result"]["tools"]) names.push_back(tool["name"]);
    return std::find(names.begin(), names.end(), "panel_only") != names.end();
  };
  SECTION("the MIME type as RFC 9110 compares it: any case, spaces around ';'") {
    Harness h({}, add_panel_tool);
    h.initialize("2025-06-18",
                 {{"extensions", {{"io.modelcontextprotocol/ui", {{"mimeTypes", {"Text/HTML; profile=mcp-app"}}}}}}});
    CHECK(listed(h));
  }
  SECTION("declared: listed with _meta.ui, runs, and its result keeps _meta") {
    Harness h({}, add_panel_tool);
    h.initialize("2025-11-25", apps);
    CHECK(listed(h));
    json tool;
    const json reply = h.request(2, "tools/list");
    for (const auto& t : reply["result"]["tools"]) {
      if (t["name"] == "panel_only") tool = t;
    }
    CHECK(tool["_meta"] == json{{"ui", {{"resourceUri", "ui://test/panel.html"}, {"visibility", {"app"}}}}});
    const json result = h.call(3, "panel_only", json::object())["result"];
    CHECK(result["content"][0]["text"] == "renders apps");
    CHECK(result["_meta"] == json{{"test/handle", "h-1"}});
  }
  // Each: another MIME type, no extensions, a malformed declaration, and a revision without
  // structuredContent (which the views read).
  for (const auto& [version, caps] : std::vector<std::pair<std::string, json>>{
           {"2025-11-25", {{"extensions", {{"io.modelcontextprotocol/ui", {{"mimeTypes", {"text/html"}}}}}}}},
           {"2025-11-25", json::object()},
           {"2025-11-25", {{"extensions", {{"io.modelcontextprotocol/ui", true}}}}},
           {"2025-03-26", apps}}) {
    Harness h({}, add_panel_tool);
    h.initialize(version, caps);
    CHECK_FALSE(listed(h));
    const json reply = h.call(4, "panel_only", json::object());
    CHECK(reply["error"]["code"] == -32602);
    const std::string message = reply["error"]["message"];
    CHECK(message.find("Unknown tool: panel_only") != std::string::npos);
    CHECK(message.find("Available tools:") != std::string::npos);
    CHECK(message.find("panel_only", 20) == std::string::npos);  // not offered among the available ones
  }
}
