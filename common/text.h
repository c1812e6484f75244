#pragma once
// Small text helpers for messages built from remote output.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <string>
#include <string_view>

namespace bluegreen {

// `text` without trailing newlines, carriage returns, spaces and tabs.
inline std::string trim_trailing(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

// The last `max_bytes` bytes of `text` behind "..." when it is longer (remote output: the end is
// where the error is), trailing blanks trimmed. May cut a multi-byte UTF-8 character at the start;
// callers that put it in JSON rely on nlohmann's replacement of invalid sequences.
inline std::string tail_of(std::string_view text, std::size_t max_bytes) {
  std::string out = text.size() > max_bytes ? "..." + std::string(text.substr(text.size() - max_bytes)) : std::string(text);
  return trim_trailing(std::move(out));
}

}  // namespace bluegreen
