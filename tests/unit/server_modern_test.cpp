// Protocol 2026-07-28 on the same server as the initialize era (mcp/request_meta.h,
// mcp/server_modern.cpp): per-request envelopes, server/discover, stamped results, the era's
// errors, and no state carried between requests or into the legacy session.

#include "mcp/request_meta.h"
#include "mcp/request_state.h"
#include "mcp/server.h"
#include "tests/support/server_harness.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using mcp::json;
using test::Harness;

namespace {

// A request's params with the 2026-07-28 envelope.
json modern(json params = json::object(), json capabilities = json::object(),
            std::optional<std::string> log_level = {}) {
  params["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2026-07-28";
  params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = std::move(capabilities);
  params["_meta"]["io.modelcontextprotocol/clientInfo"] = {{"name", "modern-client"}, {"version", "2.3.1"}};
  if (log_level) params["_meta"]["io.modelcontextprotocol/logLevel"] = *log_level;
  return params;
}

const json kFormElicitation = {{"elicitation", json::object()}};
const json kConfirm = {{"type", "object"}, {"properties", {{"ok", {{"type", "boolean"}}}}}};

// "ask": elicits a yes/no; its result says what came back, or why nothing did. Its result carries
// _meta of its own, to see the server's stamp merged beside it.
void add_ask_tool(mcp::ToolRegistry& r) {
  r.add({mcp::ToolDefinition{"ask", "", "asks the user", json{{"type", "object"}}, std::nullopt, {}},
         [](const json&, mcp::ToolContext& c) {
           auto answer = c.elicit("Proceed?", kConfirm, std::chrono::seconds(5));
           auto result = mcp::ToolResult::text(answer ? answer->action : "no elicitation: " + answer.error().message);
           result.meta = json{{"example/own", 1}, {"client", c.client_name()}};
           return result;
         }});
}

}  // namespace

TEST_CASE("2026-07-28: server/discover and requests without initialize", "[server][modern]") {
  Harness h;
  const json discover = h.request(1, "server/discover", modern());
  const json& result = discover["result"];
  CHECK(result["resultType"] == "complete");
  CHECK(result["supportedVersions"] == json::array({"2026-07-28"}));
  CHECK(result["capabilities"].contains("tools"));
  CHECK(result["instructions"] == "Use the tools.");
  CHECK(result["ttlMs"] == 300000);
  CHECK(result["cacheScope"] == "private");
  CHECK(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "bluegreen-mcp");
  CHECK_FALSE(result.contains("serverInfo"));
  CHECK_FALSE(result.contains("protocolVersion"));

  const json list = h.request(2, "tools/list", modern());
  CHECK(list["result"]["resultType"] == "complete");
  CHECK(list["result"]["ttlMs"] == 300000);
  CHECK_FALSE(list["result"]["tools"].empty());
  const json echo = h.request(3, "tools/call", modern({{"name", "test_echo"}, {"arguments", {{"text", "hi"}}}}));
  CHECK(echo["result"]["resultType"] == "complete");
  CHECK(echo["result"]["content"][0]["text"] == "hi");
  CHECK_FALSE(echo["result"].contains("ttlMs"));  // a tool call is not cacheable

  // Nothing of those requests became the session's: a legacy request is still refused, and the
  // session has no version and no client.
  const json legacy = h.request(4, "tools/list");
  CHECK(legacy["error"]["code"] == -32600);
  CHECK(h.server().protocol_version().empty());
  CHECK(h.server().client_name().empty());
}

TEST_CASE("2026-07-28: the envelope's errors and the methods the revision removed", "[server][modern]") {
  Harness h;
  json unsupported = modern();
  unsupported["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2099-01-01";
  const json version = h.request(1, "tools/list", unsupported);
  CHECK(version["error"]["code"] == -32022);
  CHECK(version["error"]["data"]["requested"] == "2099-01-01");
  CHECK(version["error"]["data"]["supported"] == json::array({"2026-07-28"}));
  // A legacy revision claimed per request is not the modern era either.
  unsupported["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2025-11-25";
  CHECK(h.request(2, "tools/list", unsupported)["error"]["code"] == -32022);

  json no_capabilities = modern();
  no_capabilities["_meta"].erase("io.modelcontextprotocol/clientCapabilities");
  const json missing = h.request(3, "tools/list", no_capabilities);
  CHECK(missing["error"]["code"] == -32602);
  CHECK(missing["error"]["data"]["envelope"]["key"] == "io.modelcontextprotocol/clientCapabilities");
  CHECK(h.request(4, "tools/list", modern(json::object(), json::object(), "loud"))["error"]["code"] == -32602);
  json numeric = modern();
  numeric["_meta"]["io.modelcontextprotocol/protocolVersion"] = 20260728;
  CHECK(h.request(5, "tools/list", numeric)["error"]["code"] == -32602);

  for (const char* removed : {"ping", "initialize", "logging/setLevel", "resources/subscribe"}) {
    INFO(removed);
    const json reply = h.request(std::string("removed-") + removed, removed, modern());
    CHECK(reply["error"]["code"] == -32601);
    CHECK_FALSE(reply.contains("result"));
  }
  // initialize asking for 2026-07-28 without the claim is the legacy handshake: the newest legacy
  // revision is offered instead.
  const json init = h.request("init", "initialize",
                              json{{"protocolVersion", "2026-07-28"},
                                   {"capabilities", json::object()},
                                   {"clientInfo", {{"name", "c"}, {"version", "1"}}}});
  CHECK(init["result"]["protocolVersion"] == "2025-11-25");
  CHECK_FALSE(init["result"].contains("resultType"));
}

TEST_CASE("2026-07-28 and legacy requests interleaved on one connection keep their own peers", "[server][modern]") {
  Harness h({}, add_ask_tool);
  h.initialize("2025-06-18", kFormElicitation);

  // The modern request declared no elicitation, and is not asked even though the session declared
  // it (no capability is inferred from another request).
  const json plain = h.request(1, "tools/call", modern({{"name", "ask"}, {"arguments", json::object()}}));
  CHECK_THAT(plain["result"]["content"][0]["text"].get<std::string>(), Catch::Contains("no elicitation"));
  // The tool's own _meta is kept beside the server's stamp; the client is the request's.
  CHECK(plain["result"]["_meta"]["example/own"] == 1);
  CHECK(plain["result"]["_meta"]["client"] == "modern-client");
  CHECK(plain["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["version"] == "9.9.9");
  // With the capability it is asked in the result (input_required), never by a request of the server's.
  const json declared =
      h.request(2, "tools/call", modern({{"name", "ask"}, {"arguments", json::object()}}, kFormElicitation));
  CHECK(declared["result"]["resultType"] == "input_required");

  // The legacy session still elicits, and its results stay unstamped.
  h.send_call(3, "ask", json::object());
  const auto elicitation =
      h.transport().next_matching([](const json& m) { return m.value("method", "") == "elicitation/create"; });
  REQUIRE(elicitation.has_value());
  h.transport().push_message(json{{"jsonrpc", "2.0"},
                                  {"id", (*elicitation)["id"]},
                                  {"result", {{"action", "accept"}, {"content", {{"ok", true}}}}}});
  const auto legacy = h.transport().reply_to(3);
  REQUIRE(legacy.has_value());
  CHECK((*legacy)["result"]["content"][0]["text"] == "accept");
  CHECK((*legacy)["result"]["_meta"]["client"] == "unit-test-client");
  CHECK_FALSE((*legacy)["result"].contains("resultType"));
  CHECK_FALSE((*legacy)["result"]["_meta"].contains("io.modelcontextprotocol/serverInfo"));
  CHECK(h.server().protocol_version() == "2025-06-18");
}

TEST_CASE("2026-07-28: log lines only at the request's own level", "[server][modern]") {
  Harness h;
  const auto logs_of = [&](const json& id, std::optional<std::string> level) {
    json params = modern({{"name", "test_sleep"}, {"arguments", {{"ms", 1}}}}, json::object(), std::move(level));
    h.transport().push_message(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", params}});
    REQUIRE(h.transport().reply_to(id).has_value());
    int lines = 0;
    while (h.transport().next_matching([](const json& m) { return m.value("method", "") == "notifications/message"; },
                                       std::chrono::milliseconds(100))) {
      ++lines;
    }
    return lines;
  };
  CHECK(logs_of(1, std::nullopt) == 0);
  CHECK(logs_of(2, "error") == 0);
  CHECK(logs_of(3, "debug") > 0);
}

TEST_CASE("2026-07-28: request envelopes classified", "[server][modern]") {
  CHECK(std::holds_alternative<mcp::LegacyRequest>(mcp::classify_request(json::object())));
  CHECK(std::holds_alternative<mcp::LegacyRequest>(mcp::classify_request(json{{"_meta", {{"progressToken", 1}}}})));
  CHECK(std::holds_alternative<mcp::LegacyRequest>(
      mcp::classify_request(json{{"_meta", {{"io.modelcontextprotocol/clientCapabilities", json::object()}}}})));
  const auto parsed = mcp::classify_request(modern(json::object(), kFormElicitation, "warning"));
  REQUIRE(std::holds_alternative<mcp::ModernRequest>(parsed));
  const auto& peer = std::get<mcp::ModernRequest>(parsed).peer;
  CHECK(peer.modern);
  CHECK(peer.client_name == "modern-client");
  CHECK(peer.log_level == mcp::LogLevel::kWarning);
  CHECK(mcp::wants_form_elicitation(peer));  // asked through input_required
  CHECK_FALSE(mcp::wants_url_elicitation(peer));
  json info = modern();
  info["_meta"]["io.modelcontextprotocol/clientInfo"] = "a string";
  CHECK(std::holds_alternative<mcp::EnvelopeError>(mcp::classify_request(info)));
}

TEST_CASE("2026-07-28: a question is a round trip of the whole call (input_required)", "[server][modern][mrtr]") {
  Harness h({}, add_ask_tool);
  const json ask = modern({{"name", "ask"}, {"arguments", json::object()}}, kFormElicitation);
  const json first = h.request(1, "tools/call", ask);
  const json& round = first["result"];
  CHECK(round["resultType"] == "input_required");
  CHECK(round["inputRequests"]["elicitation"]["method"] == "elicitation/create");
  CHECK(round["inputRequests"]["elicitation"]["params"]["mode"] == "form");
  CHECK(round["inputRequests"]["elicitation"]["params"]["message"] == "Proceed?");
  CHECK(round["inputRequests"]["elicitation"]["params"]["requestedSchema"] == kConfirm);
  CHECK_FALSE(round.contains("content"));  // the tool's own result is not sent
  const std::string state = round["requestState"].get<std::string>();
  CHECK_THAT(state, Catch::StartsWith("v1."));
  // Nothing went out as a request of the server's own.
  for (const auto& message : h.transport().drain()) CHECK(message.value("method", "") != "elicitation/create");

  const auto retry = [&](const json& id, const std::string& with_state, json answer, const std::string& client = "") {
    json params = ask;
    params["inputResponses"] = {{"elicitation", std::move(answer)}};
    params["requestState"] = with_state;
    if (!client.empty()) params["_meta"]["io.modelcontextprotocol/clientInfo"]["name"] = client;
    return h.request(id, "tools/call", params)["result"];
  };
  const json accept = {{"action", "accept"}, {"content", {{"ok", true}}}};
  // Another client cannot redeem it (the state is bound to the client, the tool and the question).
  CHECK(retry(2, state, accept, "someone-else")["resultType"] == "input_required");
  // A forged or altered state is not an answer: the question is asked again.
  std::string altered = state;
  altered.back() = altered.back() == '0' ? '1' : '0';
  CHECK(retry(3, altered, accept)["resultType"] == "input_required");
  CHECK(retry(4, "v1.99999999999999.00000000000000000000000000000000." + std::string(64, '0'), accept)["resultType"] ==
        "input_required");

  const json answered = retry(5, state, accept);
  CHECK(answered["resultType"] == "complete");
  CHECK(answered["content"][0]["text"] == "accept");
  // Single use: the same state again is asked anew, never answered twice.
  const json replayed = retry(6, state, accept);
  CHECK(replayed["resultType"] == "input_required");
  CHECK(replayed["requestState"] != state);

  // An answer that breaks the schema is refused like one from elicitation/create.
  const json fresh = h.request(7, "tools/call", ask)["result"];
  const json bad =
      retry(8, fresh["requestState"].get<std::string>(), {{"action", "accept"}, {"content", {{"ok", "yes"}}}});
  CHECK_THAT(bad["content"][0]["text"].get<std::string>(), Catch::Contains("does not match the requested schema"));
}

TEST_CASE("2026-07-28: request states expire and are sealed per process", "[server][modern][mrtr]") {
  auto& states = mcp::RequestStates::process();
  const std::string state = states.issue("binding", std::chrono::seconds(1));
  CHECK(states.redeem(state, "other binding") == mcp::RequestStates::Verdict::kForged);
  CHECK(states.redeem("garbage", "binding") == mcp::RequestStates::Verdict::kForged);
  CHECK(states.redeem(state, "binding") == mcp::RequestStates::Verdict::kValid);
  CHECK(states.redeem(state, "binding") == mcp::RequestStates::Verdict::kUsed);
  const std::string short_lived = states.issue("binding", std::chrono::milliseconds(1));  // raised to 1 s
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(states.redeem(short_lived, "binding") == mcp::RequestStates::Verdict::kExpired);
}
