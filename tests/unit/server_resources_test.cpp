// resources/list, resources/templates/list, resources/read and completion of template variables,
// against a registry of fake readers (the deployment's own readers run end to end in
// tests/interop/sdk_client_test.mjs and tests/e2e).
#include "mcp/resource.h"
#include "mcp/result_archive.h"
#include "tests/support/server_harness.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main
using mcp::json;
using test::Harness;
using namespace std::chrono_literals;

namespace {

std::atomic<bool> g_reader_stopped{false};

// Two templates: notes/{name} (readable for "a" and "b"; "broken" fails; "slow" waits for its stop
// token) and logs/{day}.txt (no instances, no completions).
void add_test_resources(mcp::ResourceRegistry& r) {
  mcp::ResourceTemplate notes;
  notes.uri_template = "test://notes/{name}";
  notes.name = "note";
  notes.title = "A note";
  notes.description = "One note";
  notes.mime_type = "text/plain";
  notes.reader = [](const std::string& uri, const mcp::UriVariables& v,
                    std::stop_token stop) -> bluegreen::Result<std::vector<mcp::ResourceContents>> {
    const std::string& name = v.at("name");
    if (name == "esc") return std::vector<mcp::ResourceContents>{{uri, "text/plain", "\x1b]0;title\x07\x1b[31mred"}};
    if (name == "broken") return bluegreen::Error{"the disk is on fire", bluegreen::ErrorCode::kUnavailable};
    if (name == "throws") throw std::runtime_error("reader bug");
    if (name == "slow") {
      while (!stop.stop_requested()) std::this_thread::sleep_for(2ms);
      g_reader_stopped = true;
      return bluegreen::Error{"stopped", bluegreen::ErrorCode::kCancelled};
    }
    if (name != "a" && name != "b") return bluegreen::Error{"no note " + name, bluegreen::ErrorCode::kInvalidArgument};
    return std::vector<mcp::ResourceContents>{{uri, "text/plain", "note " + name}};
  };
  notes.instances = [] {
    return std::vector<mcp::ResourceEntry>{{"test://notes/a", "a", "Note A", "first", "text/plain"},
                                           {"test://notes/b", "b", "", "", "text/plain"}};
  };
  notes.completions["name"] = [] { return std::vector<std::string>{"a", "b", "Alpha"}; };
  r.add(std::move(notes));

  mcp::ResourceTemplate logs;
  logs.uri_template = "test://logs/{day}.txt";
  logs.name = "log";
  logs.mime_type = "text/plain";
  logs.reader = [](const std::string& uri, const mcp::UriVariables& v,
                   std::stop_token) -> bluegreen::Result<std::vector<mcp::ResourceContents>> {
    return std::vector<mcp::ResourceContents>{{uri, "text/plain", "log of " + v.at("day")}};
  };
  r.add(std::move(logs));
}

}  // namespace

TEST_CASE("match_uri_template: level-1 templates, one segment per variable", "[resources]") {
  using mcp::match_uri_template;
  CHECK(match_uri_template("x://apps/{app}/status", "x://apps/shop/status") == mcp::UriVariables{{"app", "shop"}});
  CHECK(match_uri_template("x://logs/{day}.txt", "x://logs/2026.12.02.txt") ==
        mcp::UriVariables{{"day", "2026.12.02"}});
  CHECK(match_uri_template("x://a/{x}/b/{y}", "x://a/1/b/2") == mcp::UriVariables{{"x", "1"}, {"y", "2"}});
  CHECK_FALSE(match_uri_template("x://apps/{app}/status", "x://apps//status"));       // empty value
  CHECK_FALSE(match_uri_template("x://apps/{app}/status", "x://apps/a/b/status"));    // '/' in a value
  CHECK_FALSE(match_uri_template("x://apps/{app}/status", "x://apps/a?q=1/status"));  // '?' in a value
  CHECK_FALSE(match_uri_template("x://apps/{app}/status", "x://apps/a/status/"));
  CHECK_FALSE(match_uri_template("x://apps/{app}/status", "y://apps/a/status"));
  CHECK(match_uri_template("x://fixed", "x://fixed") == mcp::UriVariables{});
  // Malformed templates never match.
  CHECK_FALSE(match_uri_template("x://{a", "x://{a"));
  CHECK_FALSE(match_uri_template("x://{}", "x://v"));
  CHECK_FALSE(match_uri_template("x://{a}{b}", "x://vw"));
  CHECK_FALSE(match_uri_template("x://{a}/{a}", "x://v/w"));
  CHECK_FALSE(match_uri_template("x://a}", "x://a}"));
}

TEST_CASE("ResourceRegistry refuses templates it could never serve", "[resources]") {
  mcp::ResourceRegistry r;
  add_test_resources(r);
  mcp::ResourceTemplate no_reader;
  no_reader.uri_template = "test://other/{x}";
  CHECK_THROWS_AS(r.add(no_reader), std::invalid_argument);
  mcp::ResourceTemplate duplicate = r.templates().front();
  CHECK_THROWS_AS(r.add(duplicate), std::invalid_argument);
  mcp::ResourceTemplate malformed = r.templates().front();
  malformed.uri_template = "test://bad/{x";
  CHECK_THROWS_AS(r.add(malformed), std::invalid_argument);
}

TEST_CASE("resources capability is advertised only with resources", "[server][resources]") {
  SECTION("none") {
    Harness h;
    CHECK_FALSE(h.initialize()["result"]["capabilities"].contains("resources"));
    CHECK(h.request(1, "resources/list")["error"]["code"] == mcp::error_code::kMethodNotFound);
    CHECK(h.request(2, "resources/read", {{"uri", "test://notes/a"}})["error"]["code"] ==
          mcp::error_code::kMethodNotFound);
  }
  SECTION("with resources: subscribe, no listChanged; completions with them even without prompts") {
    Harness h({}, {}, {}, add_test_resources);
    CHECK(h.request(1, "resources/list")["error"]["code"] == mcp::error_code::kInvalidRequest);  // before initialize
    const json caps = h.initialize()["result"]["capabilities"];
    CHECK(caps["resources"] == json{{"subscribe", true}, {"listChanged", false}});
    CHECK(caps["completions"] == json::object());
    CHECK_FALSE(caps.contains("prompts"));
  }
}

// "touch": tells the server that resource `uri` changed, as a deployment tool does after a switch.
void add_touch_tool(mcp::ToolRegistry& r) {
  r.add({mcp::ToolDefinition{"touch", "", "reports a changed resource", json{{"type", "object"}}, std::nullopt, {}},
         [](const json& args, mcp::ToolContext& c) {
           c.resource_updated(args.value("uri", ""));
           return mcp::ToolResult::text("touched");
         }});
}

TEST_CASE("resources/subscribe: a listed resource, updates for it only, until resources/unsubscribe",
          "[server][resources]") {
  Harness h({}, add_touch_tool, {}, add_test_resources);
  h.initialize();
  const auto updated = [](const json& m) { return m.value("method", "") == "notifications/resources/updated"; };
  CHECK(h.request(1, "resources/subscribe", {{"uri", "test://notes/a"}})["result"] == json::object());
  // Not listed by its template (no note "zz"), or matched by none: not found, as resources/read says.
  CHECK(h.request(2, "resources/subscribe", {{"uri", "test://notes/zz"}})["error"]["code"] ==
        mcp::error_code::kResourceNotFound);
  CHECK(h.request(3, "resources/subscribe", {{"uri", "test://nothing"}})["error"]["code"] ==
        mcp::error_code::kResourceNotFound);
  // A template that lists no instances (logs/{day}.txt): any matching URI may be subscribed.
  CHECK(h.request(4, "resources/subscribe", {{"uri", "test://logs/monday.txt"}})["result"] == json::object());
  CHECK(h.request(5, "resources/subscribe", json::object())["error"]["code"] == mcp::error_code::kInvalidParams);

  h.transport().drain();
  CHECK(h.call(6, "touch", {{"uri", "test://notes/b"}})["result"]["content"][0]["text"] == "touched");
  for (const auto& m : h.transport().drain()) CHECK_FALSE(updated(m));  // not subscribed
  CHECK(h.call(7, "touch", {{"uri", "test://notes/a"}})["result"]["content"][0]["text"] == "touched");
  bool seen = false;
  for (const auto& m : h.transport().drain()) {
    if (updated(m)) seen = m["params"] == json{{"uri", "test://notes/a"}};
  }
  CHECK(seen);
  CHECK(h.request(8, "resources/unsubscribe", {{"uri", "test://notes/a"}})["result"] == json::object());
  CHECK(h.request(9, "resources/unsubscribe", {{"uri", "test://notes/a"}})["result"] == json::object());  // again
  h.transport().drain();
  h.call(10, "touch", {{"uri", "test://notes/a"}});
  for (const auto& m : h.transport().drain()) CHECK_FALSE(updated(m));
}

TEST_CASE("resources/list and resources/templates/list", "[server][resources]") {
  Harness h({}, {}, {}, add_test_resources);
  SECTION("2025-06-18: titles shown") {
    h.initialize("2025-06-18");
    const json list = h.request(1, "resources/list")["result"];
    REQUIRE(list["resources"].size() == 2);
    CHECK(list["resources"][0] == json{{"uri", "test://notes/a"},
                                       {"name", "a"},
                                       {"title", "Note A"},
                                       {"description", "first"},
                                       {"mimeType", "text/plain"}});
    CHECK(list["resources"][1] == json{{"uri", "test://notes/b"}, {"name", "b"}, {"mimeType", "text/plain"}});
    CHECK_FALSE(list.contains("nextCursor"));
    const json templates = h.request(2, "resources/templates/list")["result"]["resourceTemplates"];
    REQUIRE(templates.size() == 2);
    CHECK(templates[0] == json{{"uriTemplate", "test://notes/{name}"},
                               {"name", "note"},
                               {"title", "A note"},
                               {"description", "One note"},
                               {"mimeType", "text/plain"}});
    CHECK(templates[1]["uriTemplate"] == "test://logs/{day}.txt");
  }
  SECTION("2025-03-26: no titles") {
    h.initialize("2025-03-26");
    CHECK_FALSE(h.request(1, "resources/list")["result"]["resources"][0].contains("title"));
    CHECK_FALSE(h.request(2, "resources/templates/list")["result"]["resourceTemplates"][0].contains("title"));
  }
  SECTION("a cursor is refused: everything is on one page") {
    h.initialize();
    CHECK(h.request(1, "resources/list", {{"cursor", "abc"}})["error"]["code"] == mcp::error_code::kInvalidParams);
    CHECK(h.request(2, "resources/list", {{"cursor", nullptr}})["result"]["resources"].size() == 2);
  }
}

TEST_CASE("resources/read", "[server][resources]") {
  Harness h({}, {}, {}, add_test_resources);
  h.initialize();
  const auto read = [&](const json& id, const json& uri) { return h.request(id, "resources/read", {{"uri", uri}}); };

  SECTION("a listed resource and a template-only one") {
    CHECK(read(1, "test://notes/a")["result"] ==
          json{{"contents", {{{"uri", "test://notes/a"}, {"mimeType", "text/plain"}, {"text", "note a"}}}}});
    CHECK(read(2, "test://logs/monday.txt")["result"]["contents"][0]["text"] == "log of monday");
  }
  SECTION("not found: no template matches, or the reader says the value names nothing") {
    const json none = read(1, "test://elsewhere");
    CHECK(none["error"]["code"] == mcp::error_code::kResourceNotFound);
    CHECK(none["error"]["data"] == json{{"uri", "test://elsewhere"}});
    CHECK_THAT(none["error"]["message"].get<std::string>(),
               Catch::Contains("This server's resources: test://notes/{name}, test://logs/{day}.txt"));
    const json unknown = read(2, "test://notes/zzz");
    CHECK(unknown["error"]["code"] == mcp::error_code::kResourceNotFound);
    CHECK_THAT(unknown["error"]["message"].get<std::string>(), Catch::Contains("no note zzz"));
  }
  SECTION("a reader's failure is an internal error naming the URI; an exception too; the server goes on") {
    const json broken = read(1, "test://notes/broken");
    CHECK(broken["error"]["code"] == mcp::error_code::kInternalError);
    CHECK_THAT(broken["error"]["message"].get<std::string>(),
               Catch::Contains("Reading test://notes/broken failed: the disk is on fire"));
    CHECK(read(2, "test://notes/throws")["error"]["code"] == mcp::error_code::kInternalError);
    CHECK(read(3, "test://notes/b")["result"]["contents"][0]["text"] == "note b");
  }
  SECTION("terminal control sequences are neutralised, as in tool results") {
    const std::string text = read(1, "test://notes/esc")["result"]["contents"][0]["text"];
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find('\x07') == std::string::npos);
    CHECK_THAT(text, Catch::EndsWith("red"));
    const std::string message = read(2, "test://\x1b[2Jwipe")["error"]["message"];
    CHECK(message.find('\x1b') == std::string::npos);
  }
  SECTION("bad params") {
    CHECK(h.request(1, "resources/read")["error"]["code"] == mcp::error_code::kInvalidParams);
    CHECK(read(2, 5)["error"]["code"] == mcp::error_code::kInvalidParams);
  }
  SECTION("a long URI is cut in the reply") {
    const json reply = read(1, "test://" + std::string(5000, 'x'));
    CHECK(reply["error"]["message"].get<std::string>().size() < 600);
  }
  SECTION("runs on a worker: ping is answered meanwhile, and cancellation stops the reader without a reply") {
    g_reader_stopped = false;
    h.transport().push_message(json{
        {"jsonrpc", "2.0"}, {"id", "slow"}, {"method", "resources/read"}, {"params", {{"uri", "test://notes/slow"}}}});
    CHECK(h.request("p", "ping")["result"] == json::object());
    REQUIRE(h.server().calls_in_flight() == 1);
    h.notify("notifications/cancelled", {{"requestId", "slow"}});
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (h.server().calls_in_flight() != 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    CHECK(g_reader_stopped);
    CHECK(h.server().calls_in_flight() == 0);
    CHECK_FALSE(h.transport().reply_to("slow", 300ms).has_value());
  }
}

TEST_CASE("completion/complete completes a resource template's variable", "[server][resources]") {
  Harness h({}, {}, {}, add_test_resources);
  h.initialize();
  const auto complete = [&](const json& uri, const std::string& name, const std::string& value) {
    return h.request("c", "completion/complete",
                     {{"ref", {{"type", "ref/resource"}, {"uri", uri}}},
                      {"argument", {{"name", name}, {"value", value}}}});
  };
  CHECK(complete("test://notes/{name}", "name", "a")["result"]["completion"] ==
        json{{"values", {"a", "Alpha"}}, {"total", 2}, {"hasMore", false}});
  // A concrete URI of the template is accepted too.
  CHECK(complete("test://notes/a", "name", "B")["result"]["completion"]["values"] == json{"b"});
  // A variable without completions completes to nothing.
  CHECK(complete("test://logs/{day}.txt", "day", "")["result"]["completion"]["values"] == json::array());
  CHECK_THAT(complete("test://notes/{name}", "colour", "")["error"]["message"].get<std::string>(),
             Catch::Contains("has no variable \"colour\""));
  CHECK_THAT(complete("test://nope/{x}", "x", "")["error"]["message"].get<std::string>(),
             Catch::Contains("its templates: test://notes/{name}, test://logs/{day}.txt"));
  CHECK(complete(7, "x", "")["error"]["code"] == mcp::error_code::kInvalidParams);
  // Prompt refs on a server without prompts are refused, not thrown on.
  CHECK_THAT(h.request("p", "completion/complete",
                       {{"ref", {{"type", "ref/prompt"}, {"name", "x"}}},
                        {"argument", {{"name", "a"}, {"value", ""}}}})["error"]["message"]
                 .get<std::string>(),
             Catch::Contains("its prompts: none"));
}

TEST_CASE("shorten_text keeps the beginning and the end, on line ends, within the limit", "[resources][results]") {
  const std::string uri = "bluegreen://results/abc";
  CHECK(mcp::shorten_text("short\n", 100, uri) == "short\n");
  // Just over the limit: the shortened text, notes included, stays within it.
  const std::string just_over(60016, 'x');
  CHECK(mcp::shorten_text(just_over, 60000, uri).size() <= 60000);
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "line " + std::to_string(i) + " of text\n";  // ~16 KB
  const std::string shown = mcp::shorten_text(text, 3000, uri);
  CHECK(shown.size() <= 3000);
  CHECK_THAT(shown, Catch::StartsWith("[This result is " + std::to_string(text.size()) + " bytes (about "));
  CHECK_THAT(shown, Catch::Contains("The whole text is the resource bluegreen://results/abc"));
  CHECK_THAT(shown, Catch::Contains("]\n\nline 0 of text\nline 1 of text\n"));
  CHECK_THAT(shown, Catch::EndsWith("line 999 of text\n"));
  // Whole lines on both sides of the marker.
  const auto marker = shown.find("\n[... ");
  REQUIRE(marker != std::string::npos);
  CHECK(shown[marker - 1] == '\n');
  CHECK(shown.substr(shown.find("...]\n\n", marker) + 6, 5) == "line ");
  // No line ends near the cut: the cut never splits a UTF-8 sequence.
  const std::string snowmen = [] {
    std::string s;
    for (int i = 0; i < 5000; ++i) s += "\xE2\x98\x83";  // U+2603, 3 bytes each
    return s;
  }();
  const std::string cut = mcp::shorten_text(snowmen, 1000, uri);
  const auto body_start = cut.find("]\n\n") + 3;
  const auto marker2 = cut.find("\n[... ");
  CHECK((marker2 - body_start) % 3 == 0);
  CHECK((cut.size() - (cut.find("...]\n\n") + 6)) % 3 == 0);
}

TEST_CASE("ResultArchive keeps the newest results and serves them as resources", "[resources][results]") {
  mcp::ResultArchive archive;
  mcp::ResourceRegistry registry;
  archive.add_resource_template(registry);
  const std::string first = archive.keep("first text");
  REQUIRE_THAT(first, Catch::Matches("bluegreen://results/[0-9a-f]{32}"));
  CHECK(archive.keep("x") != first);
  const auto match = registry.match(first);
  REQUIRE(match);
  const auto read = match->resource_template->reader(first, match->variables, {});
  REQUIRE(read);
  CHECK(read->at(0).text == "first text");
  for (std::size_t i = 0; i < mcp::ResultArchive::kMaxEntries; ++i) (void)archive.keep("later");
  CHECK_FALSE(archive.find(first.substr(mcp::kResultUriPrefix.size())));
  const auto gone = match->resource_template->reader(first, match->variables, {});
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == ErrorCode::kInvalidArgument);  // "not found" to the client
}
