#pragma once
// The HTML of the approval pages (web/approval_pages.h): the page of one plan in each of its states,
// and the short notices of refused requests. Pure functions of their inputs; no script, no remote
// resource, only inline CSS (the pages' Content-Security-Policy allows that and nothing more).
//
// Thread-safety: pure functions; no shared state.

#include <string>
#include <string_view>

namespace bluegreen::web::html {

// `text` with & < > " ' replaced by their character references; safe in element content and in
// quoted attribute values.
std::string escape(std::string_view text);

// What the page says about its plan.
enum class Shown {
  kPending,    // the form: Approve and Reject
  kSwitching,  // approved, the switch is running: "Approved. Switching…", the page refreshes itself every second
  kSucceeded,  // approved, the switch's outcome is known and it succeeded
  kFailed,     // approved, the switch's outcome is known and it failed
  kRejected,   // "Rejected. Nothing was changed."
  kExpired,    // "This approval expired. Nothing was changed."
  kWithdrawn,  // the page was withdrawn; `text` says why
};

struct PageView {
  std::string_view title;         // one line, text
  std::string_view plan;          // several lines, text, shown preformatted
  bool emergency = false;         // a red banner above the plan
  Shown shown = Shown::kPending;  // what the page says below the plan
  std::string_view page_path;     // kPending: the form's action, "/page/<64 hex>"
  std::string_view form_secret;   // kPending: the hidden field `secret`
  std::string_view text;          // kSucceeded, kFailed: the outcome; kWithdrawn: why (text)
  long long seconds_left = 0;     // kPending: how long the page stays answerable, in seconds
};

// The whole document for `view`. Every string of `view` is escaped.
std::string render_page(const PageView& view);

// A short document for a refused or failed request: `heading` and `text` (both text, escaped).
// With a `continue_path` ("/page/<64 hex>"), it also links there (same origin).
std::string render_notice(std::string_view heading, std::string_view text, std::string_view continue_path = {});

}  // namespace bluegreen::web::html
