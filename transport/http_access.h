#pragma once
// Who may use the Streamable HTTP transport (transport/streamable_http.h): the listen address, the
// bearer tokens, and the Host and Origin checks against DNS rebinding. Plain values in and out; no
// HTTP library here.
//
// Rules and where they come from:
// - Bearer tokens: RFC 6750 section 2.1 (`Authorization: Bearer <token>`, the scheme name
//   case-insensitive). The server keeps only each token's SHA-256, read from a file, and compares
//   digests with OpenSSL's CRYPTO_memcmp (constant time), against every entry.
// - Origin: MCP 2025-06-18 and 2025-11-25 basic/transports, "Security Warning": servers MUST
//   validate the Origin header of every request. A request without one (not from a browser) passes
//   this check; with one, its host must be loopback or the whole origin must be allowed by name.
// - Host: a DNS-rebinding page reaches a loopback server under its own name, so the Host header's
//   name must be loopback, the listen address, or allowed by name (RFC 9110 section 7.2).
//
// Thread-safety: TokenList and AccessPolicy are immutable after construction; const methods may be
// called from any thread.

#include "common/result.h"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::transport::http {

// An address to listen on: "HOST:PORT" or "[IPv6]:PORT", PORT 0..65535 (0: the kernel picks one).
struct ListenAddress {
  std::string host;  // without brackets
  int port = 0;
};

// Parses `text`. Errors name what is wrong ("--listen needs HOST:PORT (got \"...\")").
bluegreen::Result<ListenAddress> parse_listen_address(std::string_view text);

// The accepted bearer tokens, as SHA-256 digests.
class TokenList {
 public:
  // Each non-blank line that does not start with '#' is a token's SHA-256 as 64 hex digits
  // (either case), optionally followed by blanks and a label (what `printf %s TOKEN | sha256sum`
  // prints: its "-" label is kept as "-"). Errors: an unreadable file; a line that is not that
  // ("FILE:LINE: ..."); a file without tokens. `source` names the text in errors.
  static bluegreen::Result<TokenList> parse(std::string_view text, const std::string& source);
  // Reads and parses the file at `path`. A file others may read or write is refused: it lets them
  // learn which tokens work or add their own.
  static bluegreen::Result<TokenList> load(const std::string& path);

  // The label of the token that `authorization` (an Authorization header's value) carries, or
  // nullopt for a missing, malformed or unknown one. Takes the same time for every stored entry.
  [[nodiscard]] std::optional<std::string> check(std::string_view authorization) const;
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest{};
    std::string label;
  };
  std::vector<Entry> entries_;
};

// Where requests may come from, by their Host and Origin headers.
class AccessPolicy {
 public:
  // `listen_host`: the address listened on (always allowed as a Host name). `allowed_hosts`: more
  // names for the Host header (e.g. the name a reverse proxy forwards); `allowed_origins`: whole
  // origins ("https://ide.example.com"), compared exactly, without a trailing slash.
  AccessPolicy(const std::string& listen_host, const std::vector<std::string>& allowed_hosts,
               std::vector<std::string> allowed_origins);

  // Whether a Host header's value ("name", "name:port", "[v6]:port") may be served. Empty: no.
  [[nodiscard]] bool host_allowed(std::string_view host_header) const;
  // Whether an Origin header's value may be served; `nullopt` (no header) may.
  [[nodiscard]] bool origin_allowed(const std::optional<std::string>& origin) const;

 private:
  std::string listen_host_;
  std::vector<std::string> allowed_hosts_;
  std::vector<std::string> allowed_origins_;
};

// The name of a Host header or URL authority without its port and brackets ("[::1]:80" -> "::1");
// empty for a malformed one.
std::string host_name_of(std::string_view authority);

// `count` random bytes from OpenSSL's RAND_bytes, as 2*count lower-case hex digits. Errors when
// OpenSSL's generator cannot be seeded.
bluegreen::Result<std::string> random_hex(std::size_t count);

}  // namespace bluegreen::transport::http
