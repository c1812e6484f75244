#pragma once
// Small text helpers for messages built from remote output.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen {

// `parts` joined with `separator` between them ("a, b, c" for ", "); "" when there are none.
inline std::string join(const std::vector<std::string>& parts, std::string_view separator = ", ") {
  std::string joined;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) joined += separator;
    joined += parts[i];
  }
  return joined;
}

// Line `number` (1-based) of `text` as written, without its terminator ("\n" or "\r\n"); "" when
// there is no such line.
inline std::string line_text(const std::string& text, std::size_t number) {
  std::size_t offset = 0;
  for (std::size_t n = 1; n < number && offset != std::string::npos; ++n) {
    offset = text.find('\n', offset);
    if (offset != std::string::npos) ++offset;
  }
  if (number == 0 || offset == std::string::npos || offset > text.size()) return "";
  auto end = text.find('\n', offset);
  if (end == std::string::npos) end = text.size();
  if (end > offset && text[end - 1] == '\r') --end;
  return text.substr(offset, end - offset);
}

// At most `max_bytes` bytes of the start of `text`, never ending inside a UTF-8 sequence (a cut
// sequence is dropped whole).
inline std::string utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
  return std::string(text.substr(0, end));
}

// `text` without trailing newlines, carriage returns, spaces and tabs.
inline std::string trim_trailing(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

// `text` with trailing blanks trimmed, then its last `max_bytes` bytes behind "..." when longer
// (remote output: the end is where the error is). Empty when `text` is only blanks. May cut a
// multi-byte UTF-8 character at the start; callers that put it in JSON rely on nlohmann's
// replacement of invalid sequences.
inline std::string tail_of(std::string_view text, std::size_t max_bytes) {
  std::string out = trim_trailing(std::string(text));
  return out.size() > max_bytes ? "..." + out.substr(out.size() - max_bytes) : out;
}

namespace text_detail {

inline constexpr char kEsc = '\x1b';
inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER

// Length of the well-formed UTF-8 sequence of a non-ASCII character at `text[at]` (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), its code point in `code`; 0 when the
// bytes there are not one.
inline std::size_t utf8_sequence(std::string_view text, std::size_t at, std::uint32_t& code) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(text[i])); };
  const std::uint32_t lead = byte(at);
  std::size_t length = 0;
  std::uint32_t min = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, min = 0x80, code = lead & 0x1FU;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, min = 0x800, code = lead & 0x0FU;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, min = 0x10000, code = lead & 0x07U;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  for (std::size_t i = at + 1; i < at + length; ++i) {
    if ((byte(i) & 0xC0U) != 0x80U) return 0;
    code = (code << 6U) | (byte(i) & 0x3FU);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

// Where the control sequence body starting at `from` ends (the index after it), or npos when it
// is not a complete one. CSI (ECMA-48 5.4): parameter bytes 0x30-0x3F, intermediate bytes
// 0x20-0x2F, one final byte 0x40-0x7E.
inline std::size_t csi_end(std::string_view text, std::size_t from) {
  std::size_t i = from;
  while (i < text.size() && text[i] >= 0x30 && text[i] <= 0x3F) ++i;
  while (i < text.size() && text[i] >= 0x20 && text[i] <= 0x2F) ++i;
  return i < text.size() && text[i] >= 0x40 && text[i] <= 0x7E ? i + 1 : std::string_view::npos;
}

// A command string (OSC, DCS, SOS, PM, APC) ends at BEL, ST as ESC \, or ST as C1 (U+009C).
inline std::size_t string_end(std::string_view text, std::size_t from) {
  for (std::size_t i = from; i < text.size(); ++i) {
    if (text[i] == '\x07') return i + 1;
    if (text[i] == kEsc && i + 1 < text.size() && text[i + 1] == '\\') return i + 2;
    if (text[i] == '\xC2' && i + 1 < text.size() && text[i + 1] == '\x9C') return i + 2;
  }
  return std::string_view::npos;
}

// Any other escape sequence (ECMA-35/48): intermediates 0x20-0x2F, then a final byte 0x30-0x7E.
inline std::size_t escape_end(std::string_view text, std::size_t from) {
  std::size_t i = from;
  while (i < text.size() && text[i] >= 0x20 && text[i] <= 0x2F) ++i;
  return i < text.size() && text[i] >= 0x30 && text[i] <= 0x7E ? i + 1 : std::string_view::npos;
}

inline bool is_string_introducer(std::uint32_t kind) {
  return kind == ']' || kind == 'P' || kind == 'X' || kind == '^' || kind == '_' || kind == 0x9D || kind == 0x90 ||
         kind == 0x98 || kind == 0x9E || kind == 0x9F;
}

// Finds the ends of escape sequences in one text. Remembers where a command string search found no
// terminator (none can be found from any later position either), so many unterminated
// introducers cost linear, not quadratic, time.
class SequenceFinder {
 public:
  explicit SequenceFinder(std::string_view text) : text_(text) {}

  // The end (index after it) of the sequence introduced by ESC at `at`, or by the C1 code point
  // `c1` (0 for ESC) whose encoding ends before `body`; npos when it is not a complete sequence.
  std::size_t end_of(std::size_t at, std::uint32_t c1, std::size_t body) {
    if (c1 == 0) {
      const std::uint32_t kind = at + 1 < text_.size() ? static_cast<unsigned char>(text_[at + 1]) : 0U;
      if (kind == '[') return csi_end(text_, at + 2);
      if (is_string_introducer(kind)) return string_end_from(at + 2);
      return escape_end(text_, at + 1);
    }
    if (c1 == 0x9B) return csi_end(text_, body);
    if (is_string_introducer(c1)) return string_end_from(body);
    return std::string_view::npos;
  }

 private:
  std::size_t string_end_from(std::size_t from) {
    if (from >= unterminated_from_) return std::string_view::npos;
    const std::size_t end = string_end(text_, from);
    if (end == std::string_view::npos) unterminated_from_ = from;
    return end;
  }

  std::string_view text_;
  std::size_t unterminated_from_ = std::string_view::npos;
};

// A C0 control as its visible Unicode "control picture" (U+2400 + code; DEL is U+2421).
inline void append_control_picture(std::string& out, unsigned char c) {
  const std::uint32_t code = c == 0x7F ? 0x2421 : 0x2400U + c;
  out += static_cast<char>(0xE0U | (code >> 12U));
  out += static_cast<char>(0x80U | ((code >> 6U) & 0x3FU));
  out += static_cast<char>(0x80U | (code & 0x3FU));
}

}  // namespace text_detail

// `text` made safe to show in a terminal and to put into JSON: remote output (a step's stdout and
// stderr, a file's content, HAProxy's replies, an app's health JSON) reaches tool results, which
// CLI clients print to a terminal, where an escape sequence could recolour or rewrite what the user
// reads (hide a failure, fake a success line), set the window title or the clipboard (OSC 0/52), or
// worse on buggy terminals. Replaced:
//  - complete ANSI/ECMA-48 sequences are removed whole: CSI (ESC [ or U+009B, e.g. colours
//    "ESC[31m"), command strings OSC/DCS/SOS/PM/APC (ESC ] P X ^ _, or U+009D U+0090 U+0098
//    U+009E U+009F) up to BEL or ST, and other escapes (ESC, intermediates, final byte);
//  - an ESC that starts no complete sequence shows as "␛", so nothing after it can be interpreted;
//  - CR LF becomes LF, and a lone CR becomes LF (so "ok\rFAILED" cannot overprint a line);
//  - other C0 controls except LF and TAB, and DEL, show as their control pictures (U+2400 + code,
//    U+2421), e.g. "␀" for NUL, "␇" for BEL;
//  - other C1 controls (U+0080-U+009F) and every byte that is not well-formed UTF-8 (stray
//    continuation bytes, overlong forms, surrogates, truncated sequences; RFC 3629) become U+FFFD,
//    one per byte, so the result is always valid UTF-8.
// Printable text, LF, TAB and all other Unicode characters are kept as they are. Linear time.
inline std::string neutralize_terminal_controls(std::string_view text) {
  using namespace text_detail;
  std::string out;
  out.reserve(text.size());
  SequenceFinder sequences(text);
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::uint32_t code = c;
    std::size_t length = 1;
    if (c >= 0x80 && (length = utf8_sequence(text, i, code)) == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (c == kEsc || (code >= 0x80 && code <= 0x9F)) {
      const std::size_t sequence_end = sequences.end_of(i, c == kEsc ? 0U : code, i + length);
      if (sequence_end != std::string_view::npos) {
        i = sequence_end;
        continue;
      }
      if (c == kEsc) append_control_picture(out, c);
      else out += kReplacement;
      i += length;
      continue;
    }
    if (c == '\r') {
      out += '\n';
      i += (i + 1 < text.size() && text[i + 1] == '\n') ? 2U : 1U;
    } else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
      append_control_picture(out, c);
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

}  // namespace bluegreen
