#pragma once
// nginx's configuration text as a tree of directives, read the way nginx's own tokenizer
// (ngx_conf_read_token() and ngx_conf_parse() in src/core/ngx_conf_file.c of nginx 1.22) reads it:
//  - words are separated by spaces, tabs, CR and LF; `;` ends a directive and `{` opens its block,
//    also right after a word (`listen 80;`); `}` closes a block where a word would start (inside a
//    word it is a plain character);
//  - `#` at the start of a word starts a comment that runs to the end of the line (inside a word
//    it is a plain character: `http://a#b`);
//  - a word that starts with `"` or `'` runs to the matching quote, which must be followed by a
//    space, `;` or `{`; the quotes are not part of its value;
//  - a backslash takes the next character literally; in the value, `\"`, `\'` and `\\` become the
//    character, `\t`, `\r` and `\n` the control character, and any other pair is kept as written;
//  - `${` inside a word belongs to a variable name and opens no block.
// `include` is not followed here (routes.h resolves it against the files nginx loaded).
//
// Thread-safety: pure functions and value types.

#include "common/result.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::nginx {

// One word of a directive: what nginx reads (quotes removed, escapes resolved) and where it is
// written in the file's text (bytes [begin, end), quotes included).
struct Word {
  std::string value;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t line = 0;  // 1-based, of the word's first byte
  bool quoted = false;
};

// A directive: its name and arguments (words[0] is the name), and its block's directives when it
// has one (`server { ... }`).
struct Directive {
  std::vector<Word> words;
  bool has_block = false;
  std::vector<Directive> children;
  std::size_t line = 0;  // 1-based, of the name
  std::size_t end = 0;   // byte just after its `;` or its block's `}`

  [[nodiscard]] const std::string& name() const { return words.front().value; }
  // The argument at `index` (0 = the first after the name), or "" when there is none.
  [[nodiscard]] std::string arg(std::size_t index) const;
};

// The directives of `text` (one file). `file` names it in errors.
// Errors (kInvalidArgument, "FILE:LINE: what nginx would say"): an unterminated quote, a quote
// followed by another character, `;` or `{` without a directive name, a `}` without its `{`, a
// block or directive left open at the end of the file.
bluegreen::Result<std::vector<Directive>> parse_config(std::string_view text, std::string_view file);

// `text`'s line `number` (1-based) without its terminator and leading and trailing blanks: how a
// line is quoted in messages. "" when there is no such line.
std::string line_at(std::string_view text, std::size_t number);

}  // namespace bluegreen::nginx
