#include "transport/http_access.h"

#include "common/host.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

namespace bluegreen::transport::http {
namespace {

using bluegreen::Error;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

}  // namespace

bluegreen::Result<ListenAddress> parse_listen_address(std::string_view text) {
  const auto bad = [&] {
    return Error{"--listen needs HOST:PORT, e.g. 127.0.0.1:8931 or [::1]:8931 (got \"" + std::string(text) + "\")"};
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string host(text.substr(0, colon));
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return bad();  // an IPv6 address needs brackets
  }
  const std::string_view port_text = text.substr(colon + 1);
  int port = -1;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port < 0 || port > 65535) return bad();
  return ListenAddress{host, port};
}

bluegreen::Result<TokenList> TokenList::parse(std::string_view text, const std::string& source) {
  TokenList list;
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const auto end = line.find_first_of(" \t", start);
    const std::string hex = line.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const auto where = source + ":" + std::to_string(number) + ": ";
    if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), [](char c) { return hex_value(c) >= 0; })) {
      return Error{where + "expected a token's SHA-256 as 64 hex digits, then an optional label (write one with: "
                           "printf %s \"$TOKEN\" | sha256sum >> FILE)"};
    }
    Entry entry;
    for (std::size_t i = 0; i < entry.digest.size(); ++i) {
      entry.digest[i] = static_cast<unsigned char>(hex_value(hex[2 * i]) * 16 + hex_value(hex[2 * i + 1]));
    }
    if (end != std::string::npos) {
      const auto label_start = line.find_first_not_of(" \t", end);
      if (label_start != std::string::npos) entry.label = line.substr(label_start);
    }
    if (entry.label.empty()) entry.label = "token " + std::to_string(list.entries_.size() + 1);
    list.entries_.push_back(std::move(entry));
  }
  if (list.entries_.empty()) {
    return Error{source + ": no tokens (one SHA-256 per line: printf %s \"$TOKEN\" | sha256sum >> " + source + ")"};
  }
  return list;
}

bluegreen::Result<TokenList> TokenList::load(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return Error{"cannot read the tokens file " + path};
  if ((info.st_mode & (S_IWGRP | S_IWOTH | S_IROTH)) != 0) {
    return Error{"the tokens file " + path + " may be read or written by others; chmod 600 (or 640) it"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read the tokens file " + path};
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::optional<std::string> TokenList::check(std::string_view authorization) const {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() || lower(authorization.substr(0, kScheme.size())) != kScheme) {
    return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  const auto digest = sha256(token);
  const Entry* match = nullptr;
  for (const auto& entry : entries_) {  // every entry is compared: the time does not tell which matched
    if (CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0) match = &entry;
  }
  if (match == nullptr) return std::nullopt;
  return match->label;
}

AccessPolicy::AccessPolicy(const std::string& listen_host, const std::vector<std::string>& allowed_hosts,
                           std::vector<std::string> allowed_origins)
    : listen_host_(lower(listen_host)), allowed_origins_(std::move(allowed_origins)) {
  for (const auto& host : allowed_hosts) allowed_hosts_.push_back(lower(host));
}

std::string host_name_of(std::string_view authority) {
  if (authority.empty()) return {};
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return {};
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {};
    return lower(authority.substr(1, close - 1));
  }
  const auto colon = authority.find(':');
  if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) return {};
  return lower(authority.substr(0, colon));
}

bool AccessPolicy::host_allowed(std::string_view host_header) const {
  const std::string name = host_name_of(host_header);
  if (name.empty()) return false;
  if (host::is_loopback(name) || name == listen_host_) return true;
  return std::find(allowed_hosts_.begin(), allowed_hosts_.end(), name) != allowed_hosts_.end();
}

bool AccessPolicy::origin_allowed(const std::optional<std::string>& origin) const {
  if (!origin) return true;
  if (std::find(allowed_origins_.begin(), allowed_origins_.end(), *origin) != allowed_origins_.end()) return true;
  // scheme://authority, nothing after it; "null" and anything else is refused.
  const std::string value = lower(*origin);
  std::string_view rest;
  if (value.rfind("http://", 0) == 0) {
    rest = std::string_view(value).substr(7);
  } else if (value.rfind("https://", 0) == 0) {
    rest = std::string_view(value).substr(8);
  } else {
    return false;
  }
  if (rest.find('/') != std::string_view::npos || rest.find('@') != std::string_view::npos) return false;
  const std::string name = host_name_of(rest);
  return !name.empty() && host::is_loopback(name);
}

bluegreen::Result<std::string> random_hex(std::size_t count) {
  std::vector<unsigned char> bytes(count);
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Error{"OpenSSL's random generator failed (RAND_bytes)"};
  }
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * count);
  for (const unsigned char byte : bytes) {
    hex += kDigits[byte >> 4U];
    hex += kDigits[byte & 0xfU];
  }
  return hex;
}

}  // namespace bluegreen::transport::http
