#include "caddy/admin_http.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <utility>

namespace bluegreen::caddy {
namespace {

using bluegreen::Error;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

bool has_control(std::string_view text) { return std::any_of(text.begin(), text.end(), is_control); }

Error invalid(const std::string& message) { return Error(message, ErrorCode::kInvalidArgument); }

// Up to 40 bytes of `bytes` from `at`, for an error message: control characters as '?'.
std::string shown(std::string_view bytes, std::size_t at) {
  if (at >= bytes.size()) return "the end of the input";
  std::string text;
  for (const char c : bytes.substr(at, 40)) text += is_control(c) ? '?' : c;
  if (bytes.size() - at > 40) text += "...";
  return "`" + text + "`";
}

Error garbled(std::string_view bytes, std::size_t at, const std::string& expected) {
  return Error("Caddy's admin API answer is not valid HTTP/1.1: expected " + expected + " at byte " +
               std::to_string(at) + ", found " + shown(bytes, at));
}

Error truncated(std::size_t at, const std::string& expected) {
  return Error("Caddy's admin API answer ended early (truncated at byte " + std::to_string(at) + "): expected " +
               expected + "; the connection closed before the response was complete");
}

std::string_view trim_blanks(std::string_view text, const char* blanks = " \t") {
  const auto begin = text.find_first_not_of(blanks);
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(blanks);
  return text.substr(begin, end - begin + 1);
}

// Reads the input line by line, remembering the offset of each line for error messages.
class LineReader {
 public:
  explicit LineReader(std::string_view bytes) : bytes_(bytes) {}

  // The next line without its terminator (CRLF or LF); nullopt when no terminator is left.
  std::optional<std::string_view> next() {
    const auto newline = bytes_.find('\n', offset_);
    if (newline == std::string_view::npos) return std::nullopt;
    line_start_ = offset_;
    std::string_view line = bytes_.substr(offset_, newline - offset_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    offset_ = newline + 1;
    return line;
  }
  [[nodiscard]] std::size_t line_start() const { return line_start_; }
  [[nodiscard]] std::size_t offset() const { return offset_; }
  void skip(std::size_t count) { offset_ += count; }
  [[nodiscard]] std::string_view rest() const { return bytes_.substr(offset_); }
  [[nodiscard]] std::string_view bytes() const { return bytes_; }

 private:
  std::string_view bytes_;
  std::size_t offset_ = 0;
  std::size_t line_start_ = 0;
};

bluegreen::Status parse_status_line(LineReader& reader, AdminResponse& response) {
  const auto line = reader.next();
  if (!line) {
    if (reader.bytes().empty()) return Error("Caddy's admin API sent nothing: the connection closed without an answer");
    return truncated(reader.bytes().size(), "the status line's CRLF");
  }
  const std::size_t at = reader.line_start();
  const std::string_view version = line->substr(0, 9);
  if (version != "HTTP/1.1 " && version != "HTTP/1.0 ") {
    return garbled(reader.bytes(), at, "a status line `HTTP/1.1 NNN reason`");
  }
  const std::string_view code = line->substr(9, 3);
  int status = 0;
  const auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
  if (ec != std::errc{} || end != code.data() + 3 || code[0] < '1' || code[0] > '5' ||
      (line->size() > 12 && (*line)[12] != ' ')) {
    return garbled(reader.bytes(), at + 9, "a three-digit status code");
  }
  response.status = status;
  response.reason = line->size() > 13 ? std::string(line->substr(13)) : "";
  return ok_status();
}

void add_field(HeaderMap& fields, std::string_view name, std::string_view value) {
  const auto [it, inserted] = fields.try_emplace(std::string(name), std::string(value));
  if (!inserted) it->second += ", " + std::string(value);
}

// Header or trailer fields up to and including the blank line that ends them.
bluegreen::Status parse_fields(LineReader& reader, HeaderMap& fields, const char* section) {
  while (true) {
    const auto line = reader.next();
    if (!line) return truncated(reader.bytes().size(), std::string("the blank line that ends the ") + section);
    if (line->empty()) return ok_status();
    const std::size_t at = reader.line_start();
    if (line->front() == ' ' || line->front() == '\t') {
      return garbled(reader.bytes(), at,
                     std::string("a field `Name: value` (folded lines are obsolete) in the ") + section);
    }
    const auto colon = line->find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        line->substr(0, colon).find_first_of(" \t") != std::string_view::npos) {
      return garbled(reader.bytes(), at, std::string("a field `Name: value` in the ") + section);
    }
    add_field(fields, line->substr(0, colon), trim_blanks(line->substr(colon + 1)));
  }
}

bool ends_with_chunked(std::string_view transfer_encoding) {
  const auto comma = transfer_encoding.rfind(',');
  const auto last =
      trim_blanks(comma == std::string_view::npos ? transfer_encoding : transfer_encoding.substr(comma + 1));
  return last.size() == 7 &&
         std::equal(last.begin(), last.end(), "chunked", [](char a, char b) { return lower(a) == b; });
}

bluegreen::Result<std::size_t> parse_chunk_size(LineReader& reader, std::string_view line) {
  const auto size_text = trim_blanks(line.substr(0, line.find(';')));
  std::size_t size = 0;
  const auto [end, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
  if (size_text.empty() || ec != std::errc{} || end != size_text.data() + size_text.size()) {
    return garbled(reader.bytes(), reader.line_start(), "a chunk size in hex");
  }
  return size;
}

bluegreen::Status parse_chunked(LineReader& reader, AdminResponse& response) {
  while (true) {
    const auto line = reader.next();
    if (!line) return truncated(reader.bytes().size(), "a chunk size line");
    auto size = parse_chunk_size(reader, *line);
    if (!size.ok()) return size.error();
    if (*size == 0) return parse_fields(reader, response.trailers, "trailer section");
    const std::string_view rest = reader.rest();
    if (rest.size() < *size) {
      return truncated(reader.bytes().size(),
                       "a chunk of " + std::to_string(*size) + " bytes (" + std::to_string(rest.size()) + " received)");
    }
    response.body.append(rest.substr(0, *size));
    reader.skip(*size);
    const std::string_view after = reader.rest();
    const std::size_t at = reader.offset();
    if (after.substr(0, 2) == "\r\n") {
      reader.skip(2);
    } else if (after.substr(0, 1) == "\n") {
      reader.skip(1);
    } else if (after.empty() || after == "\r") {
      return truncated(reader.bytes().size(), "the CRLF after a chunk");
    } else {
      return garbled(reader.bytes(), at, "the CRLF that ends a chunk of " + std::to_string(*size) + " bytes");
    }
  }
}

bluegreen::Result<std::size_t> content_length(const AdminResponse& response, std::size_t at) {
  const auto it = response.headers.find("Content-Length");
  // Several equal Content-Length fields were joined with ", ": all must agree (RFC 9112 6.3).
  std::string_view text = it->second;
  std::optional<std::size_t> length;
  while (true) {
    const auto comma = text.find(',');
    const auto item = trim_blanks(text.substr(0, comma));
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc{} || end != item.data() + item.size() || (length && *length != value)) {
      return Error(
          "Caddy's admin API answer is not valid HTTP/1.1: expected a Content-Length that is one number, found `" +
          it->second + "` (header section before byte " + std::to_string(at) + ")");
    }
    length = value;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return *length;
}

bluegreen::Status parse_body(LineReader& reader, AdminResponse& response) {
  if (response.status < 200 || response.status == 204 || response.status == 304) return ok_status();
  const auto encoding = response.headers.find("Transfer-Encoding");
  if (encoding != response.headers.end()) {
    if (ends_with_chunked(encoding->second)) return parse_chunked(reader, response);
    response.body = std::string(reader.rest());
    reader.skip(reader.rest().size());
    return ok_status();
  }
  if (response.headers.find("Content-Length") == response.headers.end()) {
    response.body = std::string(reader.rest());  // the server closed the connection: that is the end
    reader.skip(reader.rest().size());
    return ok_status();
  }
  const auto length = content_length(response, reader.offset());
  if (!length.ok()) return length.error();
  if (reader.rest().size() < *length) {
    return truncated(reader.bytes().size(), "a body of " + std::to_string(*length) + " bytes (Content-Length), " +
                                                std::to_string(reader.rest().size()) + " received");
  }
  response.body = std::string(reader.rest().substr(0, *length));
  reader.skip(*length);
  return ok_status();
}

}  // namespace

bool HeaderNameLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return lower(x) < lower(y); });
}

std::optional<std::string> AdminResponse::field(std::string_view name) const {
  if (const auto it = headers.find(name); it != headers.end()) return it->second;
  if (const auto it = trailers.find(name); it != trailers.end()) return it->second;
  return std::nullopt;
}

bluegreen::Result<std::string> admin_request(const AdminRequest& request) {
  if (request.method.empty() ||
      !std::all_of(request.method.begin(), request.method.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return invalid("admin API request: the method must be an upper-case HTTP method such as GET or PATCH, not `" +
                   request.method + "`");
  }
  if (request.path.empty() || request.path.front() != '/' || has_control(request.path) ||
      request.path.find(' ') != std::string::npos) {
    return invalid(
        "admin API request: the path must start with \"/\" and hold no blank, CR, LF or control character (`" +
        request.path + "`)");
  }
  if (has_control(request.host)) {
    return invalid("admin API request: the Host value must not hold CR, LF or control characters");
  }
  if (has_control(request.if_match)) {
    return invalid("admin API request: the If-Match value must not hold CR, LF or control characters");
  }
  std::string bytes = request.method + " " + request.path + " HTTP/1.1\r\nHost: " + request.host + "\r\n";
  if (request.json_body) {
    bytes += "Content-Type: application/json\r\nContent-Length: " + std::to_string(request.json_body->size()) + "\r\n";
  }
  if (!request.if_match.empty()) bytes += "If-Match: " + request.if_match + "\r\n";
  bytes += "Connection: close\r\n\r\n";
  if (request.json_body) bytes += *request.json_body;
  return bytes;
}

bluegreen::Result<AdminResponse> parse_admin_response(std::string_view bytes) {
  LineReader reader(bytes);
  AdminResponse response;
  if (auto status = parse_status_line(reader, response); !status.ok()) return status.error();
  if (auto status = parse_fields(reader, response.headers, "header section"); !status.ok()) return status.error();
  if (auto status = parse_body(reader, response); !status.ok()) return status.error();
  if (!reader.rest().empty()) {
    return garbled(bytes, reader.offset(), "the end of the response (the server closes the connection after it)");
  }
  return response;
}

std::string admin_error_text(const AdminResponse& response) {
  std::string text = std::to_string(response.status) + (response.reason.empty() ? "" : " " + response.reason);
  if (response.body.empty()) return text;
  const auto json = nlohmann::json::parse(response.body, nullptr, false);
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    return text + ": " + json["error"].get<std::string>();
  }
  std::string quoted;
  const std::string_view body = trim_blanks(response.body, " \t\r\n");
  for (const char c : body.substr(0, 200)) quoted += is_control(c) ? '?' : c;
  if (body.size() > 200) quoted += "...";
  return text + ": `" + quoted + "`";
}

}  // namespace bluegreen::caddy
