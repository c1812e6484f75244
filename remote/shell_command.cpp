#include "remote/shell_command.h"

#include <algorithm>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::string show(std::string_view value) {
  std::string shown;
  for (const char c : value.substr(0, 60)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      shown += "\\x";
      shown += kHex[u >> 4];
      shown += kHex[u & 0xf];
    } else {
      shown += c;
    }
  }
  if (value.size() > 60) shown += "...";
  return "\"" + shown + "\"";
}

Error refuse(std::string_view field, std::string_view value, std::string_view why, std::string_view accepted) {
  return Error{std::string(field) + ": " + show(value) + " " + std::string(why) + "; " + std::string(accepted)};
}

}  // namespace

std::string shell_quote(std::string_view value) {
  std::string quoted = "'";
  for (const char c : value) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

bluegreen::Result<std::string> validate_git_ref(std::string_view value, std::string_view field) {
  constexpr std::string_view kAccepted =
      "expected a branch, tag or commit: letters, digits and . _ / - (at most 200), not starting with - or /";
  if (value.empty()) return refuse(field, value, "is empty", kAccepted);
  if (value.size() > 200) return refuse(field, value, "is too long", kAccepted);
  if (value.front() == '-') return refuse(field, value, "starts with '-' (it would be read as an option)", kAccepted);
  if (value.front() == '/' || value.front() == '.') return refuse(field, value, "starts with '/' or '.'", kAccepted);
  const bool charset_ok = std::all_of(value.begin(), value.end(), [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '/' || c == '-';
  });
  if (!charset_ok) return refuse(field, value, "contains characters that are not allowed", kAccepted);
  // git check-ref-format rules that the character set alone does not cover.
  if (value.find("..") != std::string_view::npos || value.find("//") != std::string_view::npos || value.back() == '/' ||
      value.back() == '.' || (value.size() >= 5 && value.substr(value.size() - 5) == ".lock")) {
    return refuse(field, value, "is not a valid git ref name", kAccepted);
  }
  return std::string(value);
}

bluegreen::Result<std::string> validate_name(std::string_view value, std::string_view field) {
  constexpr std::string_view kAccepted =
      "expected a name: a letter or digit, then letters, digits, '.', '_' or '-' (at most 64)";
  if (value.empty()) return refuse(field, value, "is empty", kAccepted);
  if (value.size() > 64) return refuse(field, value, "is too long", kAccepted);
  if (!is_alnum(value.front())) return refuse(field, value, "must start with a letter or digit", kAccepted);
  const bool charset_ok =
      std::all_of(value.begin(), value.end(), [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
  if (!charset_ok) return refuse(field, value, "contains characters that are not allowed", kAccepted);
  return std::string(value);
}

bluegreen::Result<std::string> validate_absolute_path(std::string_view value, std::string_view field) {
  constexpr std::string_view kAccepted =
      "expected an absolute path of letters, digits and / . _ - + (no '..' components, at most 1024)";
  if (value.empty() || value.front() != '/') return refuse(field, value, "is not an absolute path", kAccepted);
  if (value.size() > 1024) return refuse(field, value, "is too long", kAccepted);
  const bool charset_ok = std::all_of(value.begin(), value.end(), [](char c) {
    return is_alnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '+';
  });
  if (!charset_ok) return refuse(field, value, "contains characters that are not allowed", kAccepted);
  for (std::size_t start = 0; start <= value.size();) {
    const auto end = std::min(value.find('/', start), value.size());
    if (value.substr(start, end - start) == "..") return refuse(field, value, "contains a '..' component", kAccepted);
    start = end + 1;
  }
  return std::string(value);
}

std::string substitute_placeholders(std::string_view trusted_text, const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t at = 0;
  while (at < trusted_text.size()) {
    const auto open = trusted_text.find('{', at);
    const auto close = open == std::string_view::npos ? open : trusted_text.find('}', open);
    if (close == std::string_view::npos) {
      out.append(trusted_text.substr(at));
      break;
    }
    out.append(trusted_text.substr(at, open - at));
    const auto value = values.find(std::string(trusted_text.substr(open + 1, close - open - 1)));
    if (value != values.end()) {
      out += shell_quote(value->second);
    } else {
      out.append(trusted_text.substr(open, close - open + 1));
    }
    at = close + 1;
  }
  return out;
}

}  // namespace bluegreen::remote
