#include "caddy/caddyfile_edit.h"

#include <cctype>
#include <string_view>

namespace bluegreen::caddy {
namespace {

constexpr std::string_view kScheme = "http://";

struct Token {
  std::size_t pos = 0;  // offset in the line
  std::size_t len = 0;
  bool quoted = false;
};

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// The line's tokens up to a comment (Caddyfile lexer rules, see the header). `open`: the quote
// character of a quoted token that the previous lines left open ("" or backquote strings may span
// lines), or 0; updated for the next line.
std::vector<Token> tokens_of(std::string_view line, char& open) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  if (open != 0) {  // the rest of a quoted token
    std::size_t j = 0;
    while (j < line.size() && line[j] != open) j += (line[j] == '\\' && open == '"') ? std::size_t{2} : std::size_t{1};
    tokens.push_back(Token{0, std::min(line.size(), j + 1), true});
    if (j < line.size()) open = 0;
    i = std::min(line.size(), j + 1);
  }
  while (i < line.size()) {
    if (blank(line[i])) {
      ++i;
      continue;
    }
    if (line[i] == '#') break;
    Token token{i, 0, false};
    if (line[i] == '"' || line[i] == '`') {
      const char quote = line[i];
      token.quoted = true;
      std::size_t j = i + 1;
      while (j < line.size() && line[j] != quote)
        j += (line[j] == '\\' && quote == '"') ? std::size_t{2} : std::size_t{1};
      if (j >= line.size()) open = quote;  // goes on on the next line
      i = std::min(line.size(), j + 1);
    } else {
      while (i < line.size() && !blank(line[i])) ++i;
    }
    token.len = i - token.pos;
    tokens.push_back(token);
  }
  return tokens;
}

// Whether `dial` occurs in `text` as an address of its own (not part of a longer number).
bool mentions(std::string_view text, const std::string& dial) {
  for (auto at = text.find(dial); at != std::string_view::npos; at = text.find(dial, at + 1)) {
    const bool digit_before =
        at > 0 && (std::isdigit(static_cast<unsigned char>(text[at - 1])) != 0 || text[at - 1] == '.');
    const auto end = at + dial.size();
    const bool digit_after = end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])) != 0;
    if (!digit_before && !digit_after) return true;
  }
  return false;
}

std::string quoted_line(std::size_t number, std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  std::size_t start = 0;
  while (start < line.size() && blank(line[start])) ++start;
  return "line " + std::to_string(number) + ": `" + std::string(line.substr(start)) + "`";
}

bluegreen::Error refused(std::size_t number, std::string_view line, const std::string& why) {
  return bluegreen::Error{quoted_line(number, line) + " " + why, bluegreen::ErrorCode::kFailedPrecondition};
}

struct LineEdit {
  bool changed = false;
  std::string text;
};

bluegreen::Result<LineEdit> edit_line(std::size_t number, std::string_view line, const std::set<std::string>& from,
                                      const std::set<std::string>& to, const std::vector<std::string>& to_dials,
                                      char& open) {
  const bool continued = open != 0;
  const auto tokens = tokens_of(line, open);
  std::vector<std::size_t> from_tokens;
  bool names_to = false;
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    const auto token = line.substr(tokens[k].pos, tokens[k].len);
    auto core = token;
    if (!tokens[k].quoted && core.substr(0, kScheme.size()) == kScheme) core.remove_prefix(kScheme.size());
    const std::string address(core);
    if (!tokens[k].quoted && from.count(address) != 0) {
      from_tokens.push_back(k);
      continue;
    }
    if (!tokens[k].quoted && to.count(address) != 0) {
      names_to = true;
      continue;
    }
    for (const auto* dials : {&from, &to}) {
      for (const auto& dial : *dials) {
        if (mentions(token, dial)) {
          return refused(number, line,
                         "names " + dial + " inside " +
                             (tokens[k].quoted ? "a quoted string" : "the longer token `" + std::string(token) + "`") +
                             ", which bluegreen-mcp does not rewrite: write each upstream as its own token "
                             "(reverse_proxy HOST:PORT ...)");
        }
      }
    }
  }
  if (from_tokens.empty() && !names_to) return LineEdit{false, std::string(line)};
  const std::string directive =
      tokens.empty() || continued ? "" : std::string(line.substr(tokens[0].pos, tokens[0].len));
  if ((directive != "reverse_proxy" && directive != "to") || (!from_tokens.empty() && from_tokens.front() == 0)) {
    return refused(number, line,
                   "names a server of the app outside a reverse_proxy upstream list; only `reverse_proxy ... "
                   "UPSTREAMS` and `to UPSTREAMS` lines are rewritten by a switch");
  }
  if (!from_tokens.empty() && names_to) {
    return refused(number, line, "names servers of both colours: its proxy would send traffic to both");
  }
  if (from_tokens.empty()) return LineEdit{false, std::string(line)};
  std::string out;
  std::size_t copied = 0;
  for (std::size_t n = 0; n < from_tokens.size(); ++n) {
    const auto& token = tokens[from_tokens[n]];
    if (n == 0) {
      out.append(line.substr(copied, token.pos - copied));
      const bool schemed = line.substr(token.pos, kScheme.size()) == kScheme;
      for (std::size_t d = 0; d < to_dials.size(); ++d) {
        out += (d == 0 ? "" : " ") + std::string(schemed ? kScheme : "") + to_dials[d];
      }
    } else {
      // The blanks before a removed token go with it.
      std::size_t start = token.pos;
      while (start > copied && blank(line[start - 1])) --start;
      out.append(line.substr(copied, start - copied));
    }
    copied = token.pos + token.len;
  }
  out.append(line.substr(copied));
  return LineEdit{true, std::move(out)};
}

}  // namespace

bluegreen::Result<CaddyfileRewrite> rewrite_caddyfile_upstreams(const std::string& text,
                                                                const std::set<std::string>& from_dials,
                                                                const std::vector<std::string>& to_dials) {
  if (to_dials.empty()) return bluegreen::Error{"no upstream to switch to", bluegreen::ErrorCode::kInvalidArgument};
  const std::set<std::string> to(to_dials.begin(), to_dials.end());
  for (const auto* dials : {&from_dials, &to}) {
    for (const auto& dial : *dials) {
      if (dial.empty() || dial.find_first_of(" \t\r\n\"`#") != std::string::npos) {
        return bluegreen::Error{"upstream address \"" + dial + "\" cannot be written as one Caddyfile token",
                                bluegreen::ErrorCode::kInvalidArgument};
      }
    }
  }
  CaddyfileRewrite result;
  char open = 0;  // a quoted token left open by the lines before
  std::size_t start = 0;
  std::size_t number = 0;
  while (start < text.size()) {
    ++number;
    auto end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    const std::string_view whole(text.data() + start, end - start);
    auto body = whole;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
    auto edited = edit_line(number, body, from_dials, to, to_dials, open);
    if (!edited) return edited.error();
    result.after += edited->text;
    result.after.append(whole.substr(body.size()));
    if (edited->changed) result.lines.push_back(number);
    start = end;
  }
  if (result.lines.empty()) {
    std::string dials;
    for (const auto& dial : from_dials) dials += (dials.empty() ? "" : ", ") + dial;
    return bluegreen::Error{"no reverse_proxy line of the Caddyfile names " + dials +
                                " as an upstream (is the app's reverse_proxy in an imported file, or written with "
                                "placeholders?); a switch can only rewrite upstreams written in the Caddyfile itself",
                            bluegreen::ErrorCode::kFailedPrecondition};
  }
  return result;
}

}  // namespace bluegreen::caddy
