#pragma once
// Reading and switching the one line of an HAProxy configuration that selects the live backend.
//
// Switching traffic means changing exactly one `default_backend` or `use_backend` line and
// nothing else, so that the change reviewed by the operator (and validated by `haproxy -c`) is
// the change made. The functions here work on the configuration text only; fetching, writing,
// validating and reloading are the caller's job.
//
// How the text is read, following HAProxy's own tokenizer where it matters:
//  - a line whose first word is a section keyword (global, defaults, frontend, backend, listen,
//    peers, resolvers, userlist, mailers, program, http-errors, ring, log-forward, cache,
//    fcgi-app, ...) starts a section that runs until the next such line; leading whitespace is
//    allowed everywhere;
//  - `#` outside quotes and not escaped by a backslash starts a comment that runs to the end of the
//    line, so a commented-out directive never counts; blank lines are ignored;
//  - words are separated by spaces or tabs; "double" and 'single' quotes and backslash escapes
//    group characters into one word as HAProxy does;
//  - lines end with "\n" or "\r\n"; the terminator is preserved on rewrite.
// Conditional blocks (`.if` / `.endif`) are not evaluated: a directive that appears in two
// branches is reported as ambiguous rather than guessed.
//
// Thread-safety: pure functions and value types.

#include "common/result.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::haproxy {

// Which line selects the live backend.
struct Selector {
  // Section keyword and name exactly as in the file, e.g. "frontend fe_app" or "listen www".
  // Whitespace between the two words is not significant.
  std::string section;
  // "default_backend" or "use_backend".
  std::string directive;
  // For use_backend: the words after the backend name, e.g. "if is_app" or "if { path_beg /api }".
  // Compared word by word, so runs of spaces or tabs do not matter, but quoting does. Empty
  // selects an unconditional `use_backend NAME`. Must be empty for default_backend.
  std::string condition;
};

// The line that the selector found.
struct LiveSelection {
  std::size_t line_number = 0;  // 1-based
  std::string line;             // the whole original line, without its "\n" or "\r\n"
  std::string backend;          // the backend name as HAProxy reads it (quotes removed)
};

// Finds the one line in `config_text` that `selector` designates.
// Errors (each message names the section and directive, and says what was found instead):
//  - the selector itself is malformed (unknown directive, section not "KEYWORD NAME", a
//    condition given for default_backend);
//  - the section does not exist, or exists more than once;
//  - no matching line in the section (lines with other conditions are listed);
//  - more than one matching line ("ambiguous", with their line numbers);
//  - the matching line names no backend.
bluegreen::Result<LiveSelection> find_live_backend(std::string_view config_text, const Selector& selector);

// Returns `config_text` with the backend name on the selected line replaced by `new_backend`.
// Every other byte is unchanged: the line's indentation, spacing, condition and trailing comment,
// all other lines, the line terminators and the presence or absence of a final newline.
// Refuses (without changing anything):
//  - a `new_backend` that is not [A-Za-z0-9._:-]+;
//  - a `new_backend` that is not defined as a `backend NAME` or `listen NAME` section in the text,
//    so a switch never points traffic nowhere;
//  - every error of find_live_backend.
// Rewriting to the backend that is already live returns the text unchanged.
bluegreen::Result<std::string> rewrite_live_backend(std::string_view config_text, const Selector& selector,
                                                    std::string_view new_backend);

// Names of the sections that can receive traffic from use_backend/default_backend: every
// `backend NAME` and `listen NAME`, in file order, each name once.
std::vector<std::string> backend_names(std::string_view config_text);

}  // namespace bluegreen::haproxy
