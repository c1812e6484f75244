#pragma once
// The approval pages' secrets and request parsing (web/approval_pages.h): random 256-bit secrets,
// their constant-time comparison, the Cookie header and
// the form's body. No HTTP library here: plain strings in, plain values out.
//
// Thread-safety: free functions; no shared state (random_hex opens /dev/urandom per call).

#include <optional>
#include <string>
#include <string_view>

namespace bluegreen::web::request {

// 256 bits from /dev/urandom (std::random_device only if that cannot be read), as 64 lower-case
// hex digits.
std::string random_hex();

// Whether `given` equals `expected`, in a time that depends on the lengths only (not on where they
// differ).
bool same_secret(std::string_view given, std::string_view expected);

// Whether the Cookie header value `header` ("a=b; name=value; c=d", spaces and tabs around the
// pairs allowed) holds a cookie `name` whose value is `expected`. Every cookie of that name is
// compared, each with same_secret().
bool cookie_matches(std::string_view header, std::string_view name, std::string_view expected);

struct FormAnswer {
  bool approve = false;  // decision=approve (else decision=reject)
  std::string secret;    // the form's hidden field, as sent
};

// The approval form's POST: Content-Type application/x-www-form-urlencoded (parameters after ';'
// allowed) and a body of exactly the fields decision=approve|reject and secret=<value>, each once,
// in either order. Anything else is nullopt. Values are not percent-decoded: the form's own values
// never need it.
std::optional<FormAnswer> parse_form(std::string_view content_type, std::string_view body);

}  // namespace bluegreen::web::request
