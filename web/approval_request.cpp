#include "web/approval_request.h"

#include <array>
#include <fstream>
#include <random>

namespace bluegreen::web::request {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

}  // namespace

std::string random_hex() {
  std::array<unsigned char, 32> bytes{};
  std::ifstream in("/dev/urandom", std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    std::random_device device;
    for (auto& byte : bytes) byte = static_cast<unsigned char>(device() & 0xffU);
  }
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (const unsigned char byte : bytes) {
    hex += kDigits[byte >> 4U];
    hex += kDigits[byte & 0xfU];
  }
  return hex;
}

bool same_secret(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff = static_cast<unsigned char>(diff |
                                      (static_cast<unsigned char>(given[i]) ^ static_cast<unsigned char>(expected[i])));
  }
  return diff == 0;
}

bool cookie_matches(std::string_view header, std::string_view name, std::string_view expected) {
  bool found = false;
  std::string_view rest = header;
  while (!rest.empty()) {
    const auto semicolon = rest.find(';');
    const std::string_view pair = trim(rest.substr(0, semicolon));
    rest = semicolon == std::string_view::npos ? std::string_view{} : rest.substr(semicolon + 1);
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos || trim(pair.substr(0, equals)) != name) continue;
    if (same_secret(trim(pair.substr(equals + 1)), expected)) found = true;
  }
  return found;
}

std::optional<FormAnswer> parse_form(std::string_view content_type, std::string_view body) {
  constexpr std::string_view kForm = "application/x-www-form-urlencoded";
  if (content_type.substr(0, kForm.size()) != kForm ||
      (content_type.size() > kForm.size() && content_type[kForm.size()] != ';')) {
    return std::nullopt;
  }
  std::optional<std::string_view> decision;
  std::optional<std::string_view> secret;
  std::string_view rest = body;
  while (true) {
    const auto amp = rest.find('&');
    const std::string_view field = rest.substr(0, amp);
    const auto equals = field.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    const std::string_view name = field.substr(0, equals);
    auto& slot = name == "decision" ? decision : secret;
    if ((name != "decision" && name != "secret") || slot) return std::nullopt;
    slot = field.substr(equals + 1);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  if (!decision || !secret || (*decision != "approve" && *decision != "reject")) return std::nullopt;
  return FormAnswer{*decision == "approve", std::string(*secret)};
}

}  // namespace bluegreen::web::request
