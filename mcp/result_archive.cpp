#include "mcp/result_archive.h"

#include <random>
#include <vector>

namespace bluegreen::mcp {

namespace {

std::string random_id() {
  std::random_device device;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    auto word = static_cast<std::uint32_t>(device());
    for (int nibble = 0; nibble < 8; ++nibble, word >>= 4U) id += kHex[word & 15U];
  }
  return id;
}

// The largest offset <= `at` that does not fall inside a UTF-8 sequence (not on a continuation
// byte), preferring a line end within the last quarter of [0, at).
std::size_t cut_before(const std::string& text, std::size_t at) {
  at = std::min(at, text.size());
  const std::size_t newline = at == 0 ? std::string::npos : text.rfind('\n', at - 1);
  if (newline != std::string::npos && newline + 1 >= at - at / 4) return newline + 1;
  while (at > 0 && at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0U) == 0x80U) --at;
  return at;
}

// The smallest offset >= `at` on a character boundary, preferring just after a line end within the
// first quarter of [at, size).
std::size_t cut_after(const std::string& text, std::size_t at) {
  at = std::min(at, text.size());
  const std::size_t newline = text.find('\n', at);
  if (newline != std::string::npos && newline + 1 <= at + (text.size() - at) / 4) return newline + 1;
  while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0U) == 0x80U) ++at;
  return at;
}

std::size_t count_lines(std::string_view text) {
  std::size_t lines = 0;
  for (const char c : text) lines += c == '\n' ? 1 : 0;
  return lines;
}

}  // namespace

std::string ResultArchive::keep(std::string text) {
  std::string id = random_id();
  std::lock_guard lock(mutex_);
  bytes_ += text.size();
  entries_.emplace_back(id, std::move(text));
  while (entries_.size() > 1 && (entries_.size() > kMaxEntries || bytes_ > kMaxBytes)) {
    bytes_ -= entries_.front().second.size();
    entries_.pop_front();
  }
  return std::string(kResultUriPrefix) + id;
}

std::optional<std::string> ResultArchive::find(std::string_view id) const {
  std::lock_guard lock(mutex_);
  for (const auto& [entry_id, text] : entries_) {
    if (entry_id == id) return text;
  }
  return std::nullopt;
}

void ResultArchive::add_resource_template(ResourceRegistry& registry) {
  ResourceTemplate results;
  results.uri_template = std::string(kResultUriPrefix) + "{id}";
  results.name = "tool-result";
  results.title = "A whole tool result";
  results.description =
      "The whole text of a tool result that was too long to send (the shortened result names this URI). Kept in "
      "memory for the newest 32 such results only.";
  results.mime_type = "text/plain";
  results.reader = [this](const std::string& uri, const UriVariables& variables,
                          const std::stop_token&) -> bluegreen::Result<std::vector<ResourceContents>> {
    auto text = find(variables.at("id"));
    if (!text) {
      return bluegreen::Error{"no tool result is kept under this id: the server keeps the newest 32 long results "
                              "(in memory only, under the URI their shortened text names); an older one is gone, "
                              "so call the tool again",
                              bluegreen::ErrorCode::kInvalidArgument};
    }
    return std::vector<ResourceContents>{{uri, "text/plain", std::move(*text)}};
  };
  registry.add(std::move(results));
}

std::string shorten_text(const std::string& text, std::size_t max_bytes, const std::string& uri) {
  if (text.size() <= max_bytes) return text;
  const std::string header = "[This result is " + std::to_string(text.size()) + " bytes (about " +
                             std::to_string(text.size() / 4) +
                             " tokens), more than the client should take at once; shown: its beginning and its end. "
                             "The whole text is the resource " +
                             uri + " (resources/read).]\n\n";
  // The notes take their share of `max_bytes` (the marker's numbers are at most 20 digits each).
  const std::size_t notes = header.size() + uri.size() + 100;
  const std::size_t budget = max_bytes > notes ? max_bytes - notes : 0;
  const std::size_t head_end = cut_before(text, budget / 6 * 5);
  const std::size_t tail_start = cut_after(text, text.size() - (budget - head_end));
  const std::string_view left_out = std::string_view(text).substr(head_end, tail_start - head_end);
  const std::size_t lines = count_lines(left_out);
  return header + text.substr(0, head_end) + "\n[... " + std::to_string(left_out.size()) + " bytes, " +
         std::to_string(lines) + (lines == 1 ? " line" : " lines") + " left out: read " + uri + " ...]\n\n" +
         text.substr(tail_start);
}

}  // namespace bluegreen::mcp
