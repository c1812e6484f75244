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

// `text` with trailing blanks trimmed, then its last `max_bytes` bytes behind "..." when longer
// (remote output: the end is where the error is). Empty when `text` is only blanks. May cut a
// multi-byte UTF-8 character at the start; callers that put it in JSON rely on nlohmann's
// replacement of invalid sequences.
inline std::string tail_of(std::string_view text, std::size_t max_bytes) {
  std::string out = trim_trailing(std::string(text));
  return out.size() > max_bytes ? "..." + out.substr(out.size() - max_bytes) : out;
}

}  // namespace bluegreen
