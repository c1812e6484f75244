#pragma once
// Rewriting the upstreams of an app's `reverse_proxy` directives in a Caddyfile's text, so that a
// switch persists where the Caddyfile is the source of truth (Caddy is then reloaded from it:
// `caddy reload`, which POSTs the adapted file to the admin API's /load).
//
// Only tokens are touched, never the rest of a line: a token is a run of non-blank characters
// (Caddyfile lexer, caddyconfig/caddyfile/lexer.go in Caddy 2.6: blanks separate tokens, a `#` that
// starts a token starts a comment up to the end of the line, `"..."` and backquotes quote). A
// token names a colour's server when it is exactly one of its dials ("127.0.31.11:9000"), or that
// dial after "http://" (the scheme the Caddyfile allows on an upstream address). Such tokens may
// stand only on a `reverse_proxy` line (after the directive and its matcher) or on a `to` line
// (the subdirective inside a reverse_proxy block); anywhere else (another directive, a quoted
// string, inside a longer token such as a placeholder default) the rewrite is refused with the
// line, so a switch never changes something that is not an upstream.
//
// This is a text edit, not a Caddyfile parser: the caller proves it right by adapting the edited
// file with Caddy itself (`caddy adapt`) and comparing the JSON with the running configuration
// rewritten the same way (caddy/config_json.h rewrite_proxies); any difference refuses the switch.
//
// Thread-safety: pure functions.

#include "common/result.h"

#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace bluegreen::caddy {

struct CaddyfileRewrite {
  std::string after;               // the whole Caddyfile after the rewrite
  std::vector<std::size_t> lines;  // the 1-based numbers of the lines changed, in order
};

// In `text`, on every line that names one of `from_dials`, the first such token becomes every dial
// of `to_dials` (in order, space-separated, with that token's "http://" if it had one) and the
// line's other `from_dials` tokens are removed. Line ends and every other byte stay as they are.
// Errors (kFailedPrecondition, naming the line as "line N: `text`"):
//  - a token of `from_dials` or `to_dials` on a line that is not `reverse_proxy ...` or `to ...`;
//  - a line that names both colours' dials (the proxy would send traffic to both);
//  - a dial inside a longer token or a quoted string (not rewritten by a token edit);
//  - no line names any of `from_dials` (the Caddyfile does not route the app to that colour: the
//    app's proxy is in an imported file, or written with placeholders).
// kInvalidArgument: `to_dials` empty, or a dial that is empty or holds a blank.
bluegreen::Result<CaddyfileRewrite> rewrite_caddyfile_upstreams(const std::string& text,
                                                                const std::set<std::string>& from_dials,
                                                                const std::vector<std::string>& to_dials);

}  // namespace bluegreen::caddy
