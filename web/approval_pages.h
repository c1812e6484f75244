#pragma once
// The approval page (issue 17): a human approves or rejects one switch plan in a browser, on a
// page this server serves on a loopback address, reached from a URL-mode elicitation
// (MCP 2025-11-25, client/elicitation "URL Mode Elicitation Requests"). The model never sees the
// page's URL or secrets: they go to the client in elicitation/create only, never into tool results
// or logs.
//
// How a page is reached, and why so:
// - open() gives a single-use link, http://127.0.0.1:PORT/approve/<64 hex>. The first GET of it
//   consumes it: the server sets a session cookie (HttpOnly, SameSite=Strict, Path of the page)
//   and redirects (303) to the page, /page/<64 hex other>. A second GET of the link is refused
//   (410) with a text saying the link was already opened and, if that was not the human, to
//   cancel the request in the assistant and not approve.
// - GET of the page needs that cookie. It shows the plan, with Approve and Reject buttons in a
//   form that carries a per-page secret (distinct from the cookie) in a hidden field. Without the
//   cookie it is refused (403) with a same-origin "Continue" link to the page and nothing else: a
//   browser drops a SameSite=Strict cookie on a redirect that a cross-site navigation started (a
//   link clicked in a web client), and sends it on that click.
// - POST of the page is accepted only with the cookie, the per-page secret, an Origin header equal
//   to the page's own origin (http://127.0.0.1:PORT) and, when sent, Sec-Fetch-Site: same-origin;
//   only while the page is pending and not expired; once. Anything else is refused (403 for a
//   missing or foreign Origin, a wrong secret or cookie; 409 for an answered, withdrawn or expired
//   page; 400 for a body that is not decision=approve|reject&secret=..., form-encoded) and changes
//   nothing. A good POST redirects (303) to the page, which then shows the answer, "switching…"
//   (refreshing itself every second, no script) until show_outcome(), then the outcome.
// - Every request's Host must be exactly 127.0.0.1:PORT, the configured host and the port (DNS
//   rebinding); any other is refused with 421. Secrets (link, page, cookie, form: four independent
//   256-bit values from /dev/urandom) are compared in constant time. Responses carry
//   Cache-Control: no-store, Referrer-Policy: same-origin, X-Frame-Options: DENY,
//   X-Content-Type-Options: nosniff and a Content-Security-Policy that allows no script, no remote
//   resource, inline styles only, and form actions to 'self' only. Referrer-Policy is same-origin
//   rather than no-referrer because under no-referrer browsers send "Origin: null" with the form's
//   POST, which the Origin check above would refuse; the pages link nowhere else. Bodies over
//   4 KiB are refused (413); PUT, DELETE, PATCH, OPTIONS and a HEAD of the link (which does not
//   consume it) get 405; unknown paths 404.
// - At most 64 pages are kept: an answered, expired or withdrawn page is dropped by the first
//   open() 10 minutes after its expiry (or earlier, the first to expire first, when 64 are kept and
//   another is opened).
// - Nothing here logs: the URL and the secrets are never written anywhere but to open()'s caller.
//
// Thread-safety: all methods are thread-safe. The listener runs on threads of its own (started by
// the first open()), stopped by the destructor, which also withdraws every pending page, wakes
// every wait() and waits for the wait() calls in progress to return before it returns; no other
// call may start once the destructor has begun.

#include "common/result.h"

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

namespace bluegreen::web {

// What the page shows about the plan. Every string is text (HTML-escaped when rendered).
struct ApprovalPageContent {
  std::string title;       // one line: "Switch traffic for shop: BLUE → GREEN"
  std::string plan;        // the whole plan as the human reads it (several lines, shown preformatted)
  bool emergency = false;  // shown as a warning banner
};

struct OpenedPage {
  std::string id;   // opaque handle for wait/show_outcome/withdraw (not the URL's secret)
  std::string url;  // the single-use link for the elicitation: http://127.0.0.1:PORT/approve/<64 hex>
};

enum class PageAnswer {
  kApproved,   // the human pressed Approve in time
  kRejected,   // the human pressed Reject
  kExpired,    // the page's time ran out unanswered
  kWithdrawn,  // withdraw() was called, or the server is stopping
  kStopped,    // wait()'s stop_token was triggered (the page stays pending until withdrawn)
};

class ApprovalPages {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // loopback only: anything else is refused by open()
    int port = 0;                    // 0: a free port chosen by the kernel; else 1..65535
    // The time expiry is measured on; called from any thread (the listener's, wait()'s), so it must
    // be thread-safe. wait() reads it at least every 100 ms, so a fake clock's jump is noticed.
    std::function<std::chrono::steady_clock::time_point()> clock = [] { return std::chrono::steady_clock::now(); };
  };
  explicit ApprovalPages(Options options);
  ApprovalPages();
  ~ApprovalPages();
  ApprovalPages(const ApprovalPages&) = delete;
  ApprovalPages& operator=(const ApprovalPages&) = delete;

  // A new page for `content`, answerable for `ttl` (ms) from now on Options::clock. Starts the
  // listener on first use ("localhost" is bound as 127.0.0.1; the URL keeps the configured name).
  // Errors: a non-loopback host (not 127.0.0.0/8, ::1 or "localhost"), a port outside 0..65535 or
  // a ttl <= 0 (kInvalidArgument, nothing bound); the listener cannot bind (kFailed, with the
  // address and errno text; a later open() tries again); 64 pages already pending (kBusy).
  bluegreen::Result<OpenedPage> open(ApprovalPageContent content, std::chrono::milliseconds ttl);

  // Blocks until the page `id` is answered, expires, is withdrawn, or `stop` is requested; returns
  // at once if one of these has already happened (an answer first, then kStopped). An unknown id
  // (never opened, or dropped as above) is kWithdrawn. Expiry is noticed within 100 ms of the clock
  // passing it, with no request needed. While the page is pending, `tick` (when set) is called
  // every `tick_every` by the clock with the time left until expiry (ms, >= 0), on the waiting
  // thread and without the pages' lock held (a tool reports progress with it, so that a client
  // that times out requests without progress keeps waiting for the human).
  PageAnswer wait(const std::string& id, std::stop_token stop,
                  const std::function<void(std::chrono::milliseconds left)>& tick = {},
                  std::chrono::milliseconds tick_every = std::chrono::seconds(10));

  // After kApproved: what the switch did, shown on the page in place of "switching…".
  // `ok`: the switch succeeded; `text`: its result for the human (plain text). No effect on a page
  // that was not approved, or on an unknown id; a second call replaces the first's outcome.
  void show_outcome(const std::string& id, bool ok, std::string text);

  // A pending page can no longer be answered (the client declined, the call was cancelled);
  // later visits show `why` (plain text); wait() returns kWithdrawn. No effect on an answered or
  // expired page, or on an unknown id.
  void withdraw(const std::string& id, std::string why);

  // The port the listener is bound to; 0 before the first open().
  [[nodiscard]] int port() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bluegreen::web
