#include "nginx/config_parse.h"

#include <optional>

namespace bluegreen::nginx {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

enum class TokenKind { kWord, kSemicolon, kOpen, kClose };

struct Token {
  TokenKind kind = TokenKind::kWord;
  Word word;  // kWord; for the others only begin, end and line
};

// The value of a word's raw bytes (quotes already removed): escapes resolved as nginx's
// ngx_conf_read_token() copies a word.
std::string unescape(std::string_view raw) {
  std::string value;
  value.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\' || i + 1 == raw.size()) {
      value += raw[i];
      continue;
    }
    const char next = raw[i + 1];
    switch (next) {
      case '"':
      case '\'':
      case '\\': value += next; break;
      case 't': value += '\t'; break;
      case 'r': value += '\r'; break;
      case 'n': value += '\n'; break;
      default: value += '\\'; value += next;
    }
    ++i;
  }
  return value;
}

class Lexer {
 public:
  Lexer(std::string_view text, std::string_view file) : text_(text), file_(file) {}

  // The next token, nullopt at the end of the text; an Error for text nginx refuses.
  bluegreen::Result<std::optional<Token>> next() {
    skip_blanks_and_comments();
    if (pos_ >= text_.size()) return std::optional<Token>{};
    const char c = text_[pos_];
    Token token;
    token.word.begin = pos_;
    token.word.line = line_;
    if (c == ';' || c == '{' || c == '}') {
      token.kind = c == ';' ? TokenKind::kSemicolon : (c == '{' ? TokenKind::kOpen : TokenKind::kClose);
      token.word.end = ++pos_;
      return std::optional<Token>{token};
    }
    auto word = c == '"' || c == '\'' ? quoted_word() : plain_word();
    if (!word) return word.error();
    token.word = std::move(*word);
    return std::optional<Token>{token};
  }

  [[nodiscard]] std::size_t line() const { return line_; }

  [[nodiscard]] bluegreen::Error error(std::size_t line, const std::string& what) const {
    return bluegreen::Error(std::string(file_) + ":" + std::to_string(line) + ": " + what,
                            bluegreen::ErrorCode::kInvalidArgument);
  }

 private:
  void skip_blanks_and_comments() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (is_space(c)) {
        if (c == '\n') ++line_;
        ++pos_;
      } else {
        return;
      }
    }
  }

  bluegreen::Result<Word> quoted_word() {
    const char quote = text_[pos_];
    Word word;
    word.begin = pos_;
    word.line = line_;
    word.quoted = true;
    std::size_t i = pos_ + 1;
    for (; i < text_.size() && text_[i] != quote; ++i) {
      if (text_[i] == '\n') ++line_;
      if (text_[i] == '\\' && i + 1 < text_.size()) {
        if (text_[i + 1] == '\n') ++line_;
        ++i;
      }
    }
    if (i >= text_.size()) return error(word.line, std::string("unexpected end of file, expecting ") + quote);
    word.value = unescape(text_.substr(pos_ + 1, i - pos_ - 1));
    pos_ = i + 1;
    word.end = pos_;
    if (pos_ < text_.size() && !is_space(text_[pos_]) && text_[pos_] != ';' && text_[pos_] != '{') {
      return error(line_, std::string("unexpected \"") + text_[pos_] + "\" after a quoted word");
    }
    return word;
  }

  bluegreen::Result<Word> plain_word() {
    Word word;
    word.begin = pos_;
    word.line = line_;
    bool variable = false;
    std::size_t i = pos_;
    for (; i < text_.size(); ++i) {
      const char c = text_[i];
      if (c == '\\' && i + 1 < text_.size()) {
        ++i;
        variable = false;
        continue;
      }
      if (c == '{' && variable) continue;  // `${name}`
      // Inside a word, `}` is a plain character (`${name}`, `a}b`): only a blank, `;` or `{` ends it.
      if (is_space(c) || c == ';' || c == '{') break;
      variable = c == '$';
    }
    word.value = unescape(text_.substr(pos_, i - pos_));
    pos_ = i;
    word.end = pos_;
    return word;
  }

  std::string_view text_;
  std::string_view file_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

// The directives of one block (or of the file, `top`), read from `lexer` up to its `}`; `close_end`
// gets the byte just after that `}`.
bluegreen::Result<std::vector<Directive>> parse_block(Lexer& lexer, bool top, std::size_t opened_at,
                                                      std::size_t* close_end) {
  std::vector<Directive> directives;
  Directive current;
  for (;;) {
    auto token = lexer.next();
    if (!token) return token.error();
    if (!*token) {
      if (!current.words.empty()) {
        return lexer.error(current.line,
                           "unexpected end of file, expecting \";\" or \"}\" after \"" + current.name() + "\"");
      }
      if (!top) return lexer.error(opened_at, "unexpected end of file, expecting \"}\" for the \"{\" on this line");
      return directives;
    }
    const Token& t = **token;
    if (t.kind == TokenKind::kWord) {
      if (current.words.empty()) current.line = t.word.line;
      current.words.push_back(t.word);
      continue;
    }
    if (t.kind == TokenKind::kClose) {
      if (!current.words.empty()) {
        return lexer.error(t.word.line, "unexpected \"}\": \"" + current.name() + "\" is not terminated by \";\"");
      }
      if (top) return lexer.error(t.word.line, "unexpected \"}\"");
      *close_end = t.word.end;
      return directives;
    }
    const bool open = t.kind == TokenKind::kOpen;
    if (current.words.empty()) return lexer.error(t.word.line, open ? "unexpected \"{\"" : "unexpected \";\"");
    current.end = t.word.end;
    if (open) {
      auto children = parse_block(lexer, false, t.word.line, &current.end);
      if (!children) return children.error();
      current.has_block = true;
      current.children = std::move(*children);
    }
    directives.push_back(std::move(current));
    current = Directive{};
  }
}

}  // namespace

std::string Directive::arg(std::size_t index) const {
  return index + 1 < words.size() ? words[index + 1].value : std::string();
}

bluegreen::Result<std::vector<Directive>> parse_config(std::string_view text, std::string_view file) {
  Lexer lexer(text, file);
  std::size_t unused = 0;
  return parse_block(lexer, true, 0, &unused);
}

std::string line_at(std::string_view text, std::size_t number) {
  std::size_t start = 0;
  for (std::size_t n = 1; n < number; ++n) {
    const auto newline = text.find('\n', start);
    if (newline == std::string_view::npos) return {};
    start = newline + 1;
  }
  if (number == 0 || start > text.size()) return {};
  auto end = text.find('\n', start);
  if (end == std::string_view::npos) end = text.size();
  auto line = text.substr(start, end - start);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
  return std::string(line);
}

}  // namespace bluegreen::nginx
