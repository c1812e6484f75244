#pragma once
// Keeps tool results too large for a client's context and serves them back as resources.
//
// Clients cap what a tool result may put in the model's context (Claude Code refuses results over
// 25,000 tokens, its MAX_MCP_OUTPUT_TOKENS default). A status of many apps, or a deploy's command
// output, can exceed that. The server then sends a shortened text instead (shorten_text) and keeps
// the whole text here, readable as the resource `bluegreen://results/{id}` (text/plain) for as
// long as the archive keeps it: the newest kMaxEntries results, kMaxBytes in all, the oldest
// dropped first; nothing survives a restart.
//
// Ids are 128 random bits in hex (std::random_device), so a client cannot read another's results
// by guessing (the HTTP transport serves several clients from one archive).
//
// Thread-safety: every method may be called from several threads at once.

#include "common/result.h"
#include "mcp/resource.h"

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace bluegreen::mcp {

inline constexpr std::string_view kResultUriPrefix = "bluegreen://results/";

class ResultArchive {
 public:
  static constexpr std::size_t kMaxEntries = 32;
  static constexpr std::size_t kMaxBytes = std::size_t{64} * 1024 * 1024;

  // Keeps `text` and returns its URI ("bluegreen://results/<32 hex digits>"). A text larger than
  // kMaxBytes is kept whole all the same (and everything older is dropped).
  std::string keep(std::string text);
  // The text kept under `id` (the URI's last segment); nullopt when unknown or already dropped.
  [[nodiscard]] std::optional<std::string> find(std::string_view id) const;

  // Registers the template `bluegreen://results/{id}` in `registry`, reading from this archive (an
  // id it does not hold is "resource not found", saying results are kept only for a while). The
  // archive must outlive the registry. No instances are listed: the URIs are in the shortened
  // results.
  void add_resource_template(ResourceRegistry& registry);

 private:
  mutable std::mutex mutex_;
  std::deque<std::pair<std::string, std::string>> entries_;  // (id, text), oldest first
  std::size_t bytes_ = 0;
};

// `text` when it is at most `max_bytes` long; otherwise a first line saying the result was
// shortened (its size in bytes and an estimate of tokens at 4 bytes each) and that the whole text
// is the resource `uri`, then the text's first part (about 5/6 of `max_bytes`) and its last part
// (the rest), with a marker between them saying how many bytes and lines were left out. Cuts fall
// on line ends where one is near, and never inside a UTF-8 sequence. The result is at most
// `max_bytes` bytes, notes included (for a `max_bytes` well above the notes' size, ~400 bytes).
// Thread-safety: a pure function.
std::string shorten_text(const std::string& text, std::size_t max_bytes, const std::string& uri);

}  // namespace bluegreen::mcp
