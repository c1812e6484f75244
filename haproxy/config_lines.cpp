#include "haproxy/config_lines.h"

#include <algorithm>
#include <array>

namespace bluegreen::haproxy {
namespace {

constexpr std::array<std::string_view, 19> kSectionKeywords{"global",      "defaults", "frontend",    "backend",
                                                            "listen",      "userlist", "peers",       "mailers",
                                                            "resolvers",   "program",  "http-errors", "ring",
                                                            "log-forward", "cache",    "fcgi-app",    "namespace_list",
                                                            "crt-store",   "traces",   "acme"};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

bool is_section_keyword(std::string_view word) {
  return std::find(kSectionKeywords.begin(), kSectionKeywords.end(), word) != kSectionKeywords.end();
}

std::vector<ConfigWord> split_config_words(std::string_view text) {
  std::vector<ConfigWord> words;
  // A plain flag rather than std::optional<ConfigWord>: GCC 12 at -O2 reports a false
  // maybe-uninitialized for the optional's string.
  ConfigWord current;
  bool in_word = false;
  bool in_single = false;
  bool in_double = false;
  auto finish = [&](std::size_t at) {
    if (in_word) {
      current.end = at;
      words.push_back(std::move(current));
      current = ConfigWord{};
      in_word = false;
    }
  };
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_single && !in_double) {
      if (is_blank(c)) {
        finish(i);
        continue;
      }
      if (c == '#') break;
    }
    if (!in_word) {
      current = ConfigWord{i, i, {}};
      in_word = true;
    }
    if (c == '\\' && !in_single && i + 1 < text.size()) {
      current.value += text[++i];
    } else if (c == '\'' && !in_double) {
      in_single = !in_single;
    } else if (c == '"' && !in_single) {
      in_double = !in_double;
    } else {
      current.value += c;
    }
  }
  finish(i);
  return words;
}

std::vector<ConfigLine> split_config_lines(std::string_view text) {
  std::vector<ConfigLine> lines;
  std::size_t offset = 0;
  std::size_t number = 1;
  while (offset < text.size()) {
    const std::size_t newline = text.find('\n', offset);
    std::size_t end = newline == std::string_view::npos ? text.size() : newline;
    const std::size_t next = newline == std::string_view::npos ? text.size() : newline + 1;
    if (end > offset && text[end - 1] == '\r' && newline != std::string_view::npos) --end;
    ConfigLine line;
    line.number = number++;
    line.offset = offset;
    line.text = text.substr(offset, end - offset);
    line.words = split_config_words(line.text);
    lines.push_back(std::move(line));
    offset = next;
  }
  return lines;
}

std::string raw_words_from(const ConfigLine& line, std::size_t first) {
  std::string joined;
  for (std::size_t i = first; i < line.words.size(); ++i) {
    if (!joined.empty()) joined += ' ';
    joined += line.text.substr(line.words[i].begin, line.words[i].end - line.words[i].begin);
  }
  return joined;
}

std::string trimmed_line(std::string_view line) {
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return "";
  const auto last = line.find_last_not_of(" \t\r");
  return std::string(line.substr(first, last - first + 1));
}

}  // namespace bluegreen::haproxy
