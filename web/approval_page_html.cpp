#include "web/approval_page_html.h"

namespace bluegreen::web::html {
namespace {

constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#1a1a1a;"
    "background:#fff}"
    "h1{font-size:1.4em}"
    "pre{background:#f4f4f4;border:1px solid #ccc;padding:1em;overflow:auto;white-space:pre-wrap}"
    ".banner{background:#b00020;color:#fff;font-weight:bold;padding:.75em 1em;margin:1em 0}"
    ".status{font-size:1.2em;font-weight:bold}"
    ".ok{border-left:.4em solid #1b7f3b;background:#e9f6ee;padding:.5em 1em;white-space:pre-wrap}"
    ".failed{border-left:.4em solid #b00020;background:#fbeaea;padding:.5em 1em;white-space:pre-wrap}"
    "button{font-size:1.1em;padding:.5em 1.5em;margin-right:1em;cursor:pointer}"
    ".approve{background:#1b7f3b;color:#fff;border:1px solid #1b7f3b}"
    ".reject{background:#eee;color:#1a1a1a;border:1px solid #888}";

// The document's start up to and including <body>. `refresh`: reload every second.
std::string head(std::string_view title, bool refresh) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  if (refresh) out += "<meta http-equiv=\"refresh\" content=\"1\">\n";
  out += "<title>" + escape(title) + "</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<main>\n";
  return out;
}

constexpr std::string_view kTail = "</main>\n</body>\n</html>\n";

std::string duration_text(long long seconds) {
  if (seconds < 60) return std::to_string(seconds) + " s";
  const long long minutes = seconds / 60;
  const long long rest = seconds % 60;
  return std::to_string(minutes) + " min" + (rest == 0 ? "" : " " + std::to_string(rest) + " s");
}

std::string pending_section(const PageView& view) {
  std::string out = "<p>Approve only if this is the switch you asked for. This page can be answered for about " +
                    duration_text(view.seconds_left < 0 ? 0 : view.seconds_left) + " more.</p>\n";
  out += "<form method=\"post\" action=\"" + escape(view.page_path) + "\">\n";
  out += "<input type=\"hidden\" name=\"secret\" value=\"" + escape(view.form_secret) + "\">\n";
  out += "<button type=\"submit\" class=\"approve\" name=\"decision\" value=\"approve\">Approve</button>\n";
  out += "<button type=\"submit\" class=\"reject\" name=\"decision\" value=\"reject\">Reject</button>\n";
  out += "</form>\n";
  return out;
}

// The part of the page below the plan: the form or what became of the plan.
std::string status_section(const PageView& view) {
  switch (view.shown) {
    case Shown::kPending: return pending_section(view);
    case Shown::kSwitching: return "<p class=\"status\">Approved. Switching…</p>\n";
    case Shown::kSucceeded:
      return "<p class=\"status\">Approved. The switch succeeded.</p>\n<div class=\"ok\">" + escape(view.text) +
             "</div>\n";
    case Shown::kFailed:
      return "<p class=\"status\">Approved. The switch failed.</p>\n<div class=\"failed\">" + escape(view.text) +
             "</div>\n";
    case Shown::kRejected: return "<p class=\"status\">Rejected. Nothing was changed.</p>\n";
    case Shown::kExpired: return "<p class=\"status\">This approval expired. Nothing was changed.</p>\n";
    case Shown::kWithdrawn:
      return "<p class=\"status\">This approval was withdrawn. Nothing was changed.</p>\n<p>" + escape(view.text) +
             "</p>\n";
  }
  return {};
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_page(const PageView& view) {
  std::string out = head(view.title, view.shown == Shown::kSwitching);
  if (view.emergency) {
    out += "<div class=\"banner\">Emergency switch: the standby does not have to be healthy. Traffic moves even if "
           "it is not.</div>\n";
  }
  out += "<h1>" + escape(view.title) + "</h1>\n";
  out += "<pre>" + escape(view.plan) + "</pre>\n";
  out += status_section(view);
  out += kTail;
  return out;
}

std::string render_notice(std::string_view heading, std::string_view text, std::string_view continue_path) {
  std::string out = head(heading, false);
  out += "<h1>" + escape(heading) + "</h1>\n<p>" + escape(text) + "</p>\n";
  if (!continue_path.empty()) out += "<p><a href=\"" + escape(continue_path) + "\">Continue</a></p>\n";
  out += kTail;
  return out;
}

}  // namespace bluegreen::web::html
