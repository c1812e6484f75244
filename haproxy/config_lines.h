#pragma once
// HAProxy's configuration text as lines of words, read the way HAProxy's own tokenizer
// (parse_line() in src/tools.c of HAProxy 2.6) reads them where it matters here:
//  - words are separated by spaces or tabs; "double" and 'single' quotes and backslash escapes
//    group characters into one word (the quotes are not part of the word's value);
//  - `#` outside quotes and not escaped starts a comment that runs to the end of the line;
//  - lines end with "\n" or "\r\n"; the terminator is not part of the line.
// Used by config_file.h (the one selecting line) and routes.h (every route of an app).
//
// Thread-safety: pure functions and value types.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::haproxy {

// One word of a line: where it is in the line (raw, quotes included: [begin, end) in bytes) and
// what HAProxy reads (quotes and escapes removed).
struct ConfigWord {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string value;
};

struct ConfigLine {
  std::size_t number = 0;         // 1-based
  std::size_t offset = 0;         // of the line's first byte in the whole text
  std::string_view text;          // the line without its terminator; points into the text split
  std::vector<ConfigWord> words;  // the comment excluded
};

// Splits `text` into lines of words. The lines' `text` views point into `text`, which must
// outlive them. A final line without a terminator is a line; a final terminator starts none.
std::vector<ConfigLine> split_config_lines(std::string_view text);

// The words of one line (no line terminator in `text`).
std::vector<ConfigWord> split_config_words(std::string_view text);

// Whether `word` opens a section: HAProxy 2.6's section keywords (global, defaults, frontend,
// backend, listen, userlist, peers, mailers, resolvers, program, http-errors, ring, log-forward,
// cache, fcgi-app) and those later versions added (namespace_list, crt-store, traces, acme), so a
// newer config is still split into the right sections.
bool is_section_keyword(std::string_view word);

// The words of `line` from index `first` on, as written (quotes kept), joined by single spaces:
// the whitespace-normalised spelling used to compare conditions.
std::string raw_words_from(const ConfigLine& line, std::size_t first);

// `line` without leading and trailing spaces, tabs and CR: how a line is quoted in messages.
std::string trimmed_line(std::string_view line);

}  // namespace bluegreen::haproxy
