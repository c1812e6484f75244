#pragma once
// Caddy's admin API spoken as raw HTTP/1.1 over a byte stream.
//
// The caller carries the bytes: over the SSH connection to the load balancer, to the admin
// endpoint's unix socket (`admin unix//run/caddy/admin.sock`) or to its loopback TCP port
// (`localhost:2019`, Caddy's default). The admin API is never reached over the network. One request
// per connection: the request says `Connection: close`, the caller sends it, reads until the server
// closes the stream (no half-close needed), and hands every byte read to parse_admin_response.
//
// Formats are those of Caddy 2.6.2 (Debian 12's `caddy` 2.6.2-5), captured from a real instance;
// see tests/unit/caddy_fixtures/README.md. What 2.6.2 answers, in short:
//  - GET /config/[path]: 200, `Transfer-Encoding: chunked`, `Trailer: ETag`, the JSON at that path
//    (`null` for a path that does not exist) and then the `Etag: "<path> <hash>"` field as an HTTP
//    *trailer*, after the last chunk (admin.go:handleConfig sets it after writing the body);
//  - PATCH/POST/PUT/DELETE /config/[path]: 200 with an empty body (`Content-Length: 0`) once the new
//    config is running; errors are `{"error":"..."}` with Content-Length: 400 (malformed If-Match,
//    wrong Content-Type), 403 (Host not allowed), 412 (If-Match stale), and 500 for everything else,
//    a path that does not exist and a config that fails to load included (the old config keeps
//    running);
//  - Go's own 400 for a request without a Host header: a reason phrase of its own ("Bad Request:
//    missing required Host header"), no Content-Length, the body ends when the connection closes.
//
// Thread-safety: pure functions and value types.

#include "common/result.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace bluegreen::caddy {

// One request to the admin API.
struct AdminRequest {
  // An HTTP method token, upper case: "GET", "PATCH", "POST", "PUT", "DELETE".
  std::string method = "GET";
  // The request target: starts with "/" ("/config/", "/config/apps/http/servers/srv0/routes",
  // "/reverse_proxy/upstreams"); no blank, CR, LF or other control character.
  std::string path = "/config/";
  // The Host header's value. Caddy 2.6.2 checks it against the endpoint's allowed origins unless
  // the endpoint listens on a wildcard interface (admin.go: allowedOrigins, checkHost; a mismatch
  // is a 403 "host not allowed: ..."):
  //  - unix socket: only the EMPTY value, sent as `Host: ` (RFC 7230 5.4 for a target without an
  //    internet host; caddy's own client sets req.Host = "" in cmd/commandfuncs.go:AdminAPIRequest).
  //    "localhost:2019" is refused with 403; leaving the header out gets Go's 400.
  //  - loopback TCP (the default localhost:2019): "localhost:PORT", "127.0.0.1:PORT", "[::1]:PORT",
  //    or the `admin` address exactly as configured.
  //  - an `origins` list in the admin config replaces all of these with its own entries.
  // No CR or LF.
  std::string host;
  // The body, sent with `Content-Type: application/json` and its Content-Length (Caddy 2.6 refuses
  // any other type with 400). nullopt: no body and no Content-Type.
  std::optional<std::string> json_body;
  // The If-Match value, sent as given: the Etag Caddy returned with GET, quotes included
  // (`"/config/ 3241f081"`). Caddy hashes the running config at the path inside the value (not the
  // request's path) and answers 412 when it differs (caddy.go:changeConfig): the `/config/` Etag
  // guards a PATCH of any sub-path against every change to the whole config. "": not sent. No CR/LF.
  std::string if_match;
};

// The request's bytes: `METHOD PATH HTTP/1.1`, `Host`, `Content-Type` + `Content-Length` with a
// body, `If-Match` when set, `Connection: close`, the blank line, the body. Every line ends in CRLF.
// Errors (kInvalidArgument), naming the field: a method that is not [A-Z]+, a path that is empty,
// does not start with "/" or holds a blank or control character, a host or If-Match value with a
// CR, LF or other control character.
bluegreen::Result<std::string> admin_request(const AdminRequest& request);

// ASCII-case-insensitive ordering for header names ("Etag" and "ETag" are one field).
struct HeaderNameLess {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};
// Header fields by name. A field sent several times is kept once, its values joined with ", "
// (RFC 9110 5.3); the name is kept as first sent. Values have surrounding blanks removed.
using HeaderMap = std::map<std::string, std::string, HeaderNameLess>;

// One complete response, as the server sent it before closing the connection.
struct AdminResponse {
  int status = 0;      // 200, 412, ...
  std::string reason;  // the reason phrase as sent ("OK", "Bad Request: missing required Host header")
  HeaderMap headers;   // the header section
  HeaderMap trailers;  // the trailer section of a chunked body (Caddy 2.6: Etag on GET /config/)
  std::string body;    // the body, chunked transfer coding removed

  // The value of a field, looked up in the headers and then the trailers; nullopt when absent.
  [[nodiscard]] std::optional<std::string> field(std::string_view name) const;
  // The Etag (headers first, then trailers; Caddy 2.6 sends it as a trailer), quotes included, as
  // If-Match wants it back; nullopt when absent.
  [[nodiscard]] std::optional<std::string> etag() const { return field("Etag"); }
};

// Parses every byte read from the connection. The body is delimited as RFC 9112 6.3 says: none for
// 1xx, 204 and 304; chunked when Transfer-Encoding's last coding is chunked (chunk extensions
// ignored, trailer fields kept in `trailers`); else Content-Length bytes; else everything up to
// the end (the server closed the connection). Line ends are CRLF (a bare LF is accepted).
// Errors (kFailed), saying what was expected and at which byte (0-based offset into `bytes`): an
// empty input, a status line that is not `HTTP/1.x NNN reason`, a header line without a colon or
// with a folded continuation, a Content-Length that is not a number (or several that differ), a
// chunk size that is not hex, a chunk or body cut short (truncated: the connection closed early),
// a missing CRLF after a chunk, a missing final blank line, and bytes after the end of the message.
bluegreen::Result<AdminResponse> parse_admin_response(std::string_view bytes);

// A failed answer in words, for an error message: "403 Forbidden: host not allowed: localhost:2019".
// Caddy's `{"error":"..."}` body gives the text after the colon; any other body is quoted (first
// 200 bytes, control characters shown as '?'); no body: the status line alone.
std::string admin_error_text(const AdminResponse& response);

}  // namespace bluegreen::caddy
