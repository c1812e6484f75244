// common/text.h: neutralize_terminal_controls, the filter every tool result passes through
// (mcp::ToolResult::to_json), so remote output cannot drive the terminal of a CLI client.
#include "common/text.h"
#include "mcp/tool.h"

#include <catch2/catch.hpp>

#include <string>

using bluegreen::neutralize_terminal_controls;

namespace {

bool has_byte_in(const std::string& text, unsigned char low, unsigned char high) {
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= low && b <= high) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("plain text, UTF-8, newlines and tabs pass unchanged", "[text]") {
  for (const std::string& text : {std::string(""), std::string("build ok\n\tall 12 tests passed\n"),
                                  std::string("grüße, 日本語, emoji \xF0\x9F\x9A\x80, — ✓")}) {
    CHECK(neutralize_terminal_controls(text) == text);
  }
}

TEST_CASE("complete escape sequences are removed whole", "[text]") {
  // Colours (CSI SGR), cursor movement, erase line, private modes.
  CHECK(neutralize_terminal_controls("\x1b[31mERROR\x1b[0m: build failed") == "ERROR: build failed");
  CHECK(neutralize_terminal_controls("a\x1b[2K\x1b[1A\x1b[?25lb") == "ab");
  // OSC: window title (terminated by BEL or ST), hyperlink, clipboard write.
  CHECK(neutralize_terminal_controls("x\x1b]0;pwned\x07y") == "xy");
  CHECK(neutralize_terminal_controls("x\x1b]2;pwned\x1b\\y") == "xy");
  CHECK(neutralize_terminal_controls("\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\") == "link");
  CHECK(neutralize_terminal_controls("\x1b]52;c;ZWNobyBoaQ==\x07"
                                     "done") == "done");
  // DCS, APC, and two-byte escapes (reset, charset selection, save cursor).
  CHECK(neutralize_terminal_controls("a\x1bPq#0;2;0;0;0\x1b\\b") == "ab");
  CHECK(neutralize_terminal_controls("a\x1b_payload\x1b\\b") == "ab");
  CHECK(neutralize_terminal_controls("a\x1b"
                                     "cb\x1b(B\x1b"
                                     "7c") == "abc");
  // The C1 (UTF-8 encoded) forms: CSI U+009B, OSC U+009D ... ST U+009C.
  CHECK(neutralize_terminal_controls("a\xC2\x9B"
                                     "31mb") == "ab");
  CHECK(neutralize_terminal_controls("a\xC2\x9D"
                                     "0;title\xC2\x9C"
                                     "b") == "ab");
}

TEST_CASE("an ESC that starts no complete sequence is shown, never passed through", "[text]") {
  CHECK(neutralize_terminal_controls("end\x1b") == "end\xE2\x90\x9B");  // ␛
  const auto unterminated = neutralize_terminal_controls("a\x1b]0;title never ends");
  CHECK(unterminated == "a\xE2\x90\x9B]0;title never ends");
  const auto bad_csi = neutralize_terminal_controls("a\x1b[31\x01m");
  CHECK(bad_csi.find('\x1b') == std::string::npos);
  CHECK(bad_csi.find('\x01') == std::string::npos);
  // Many unterminated introducers: linear time, every ESC shown.
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "\x1b]x";
  const auto shown = neutralize_terminal_controls(many);
  CHECK(shown.find('\x1b') == std::string::npos);
  CHECK(shown.size() == 20000 * (3 + 2));
}

TEST_CASE("carriage returns cannot overprint a line", "[text]") {
  CHECK(neutralize_terminal_controls("line one\r\nline two\r\n") == "line one\nline two\n");
  CHECK(neutralize_terminal_controls("deploy FAILED\rdeploy ok    ") == "deploy FAILED\ndeploy ok    ");
}

TEST_CASE("other control characters are shown as control pictures", "[text]") {
  CHECK(neutralize_terminal_controls(std::string("a\0b", 3)) == "a\xE2\x90\x80"
                                                                "b");               // ␀
  CHECK(neutralize_terminal_controls("bell\x07") == "bell\xE2\x90\x87");            // ␇
  CHECK(neutralize_terminal_controls("back\x08space") == "back\xE2\x90\x88space");  // ␈
  CHECK(neutralize_terminal_controls("del\x7f") == "del\xE2\x90\xA1");              // ␡
  // A C1 control that introduces nothing (NEL U+0085) becomes U+FFFD.
  CHECK(neutralize_terminal_controls("a\xC2\x85"
                                     "b") == "a\xEF\xBF\xBD"
                                             "b");
}

TEST_CASE("invalid UTF-8 becomes U+FFFD, one per byte, and 8-bit C1 bytes never survive", "[text]") {
  const std::string replacement = "\xEF\xBF\xBD";
  CHECK(neutralize_terminal_controls("a\xff"
                                     "b") == "a" + replacement + "b");
  CHECK(neutralize_terminal_controls("\x9b"
                                     "31m") == replacement + "31m");                               // a raw 8-bit CSI
  CHECK(neutralize_terminal_controls("\xC0\xAF") == replacement + replacement);                    // overlong '/'
  CHECK(neutralize_terminal_controls("\xED\xA0\x80") == replacement + replacement + replacement);  // surrogate
  CHECK(neutralize_terminal_controls("\xF4\x90\x80\x80").find("\xF4") == std::string::npos);       // > U+10FFFF
  CHECK(neutralize_terminal_controls("cut \xE6\x97") == "cut " + replacement + replacement);       // truncated
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const auto out = neutralize_terminal_controls(all + all);
  CHECK_FALSE(has_byte_in(out, 0x00, 0x08));
  CHECK_FALSE(has_byte_in(out, 0x0B, 0x1F));
  CHECK_FALSE(has_byte_in(out, 0x7F, 0x7F));
  CHECK_NOTHROW(nlohmann::json::parse(nlohmann::json(out).dump()));  // valid UTF-8: dump() would throw
}

TEST_CASE("every string of a tool result is neutralised, text and structured content", "[text][mcp]") {
  const auto result =
      bluegreen::mcp::ToolResult::error("step build failed:\n\x1b[31mnpm ERR!\x1b[0m\x1b]0;owned\x07",
                                        nlohmann::json{{"steps",
                                                        {{{"name", "build"}, {"output", "\x1b[1mred\x1b[0m\r"}}}},
                                                       {"count", 3},
                                                       {"nested", {{"deeper", {"\x1b[2J", "ok"}}}}})
          .to_json();
  const std::string dumped = result.dump();
  CHECK(dumped.find("\\u001b") == std::string::npos);
  CHECK(result["content"][0]["text"] == "step build failed:\nnpm ERR!");
  CHECK(result["structuredContent"]["steps"][0]["output"] == "red\n");
  CHECK(result["structuredContent"]["nested"]["deeper"][0] == "");
  CHECK(result["structuredContent"]["count"] == 3);
  CHECK(result["isError"] == true);
}
