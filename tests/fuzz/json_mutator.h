#pragma once
// A structure-aware mutator for inputs made of JSON lines (one MCP message per line).
//
// libFuzzer's byte mutations are good at breaking syntax but rarely produce a *valid* message with
// a different value (an id of another length, an extra argument, a wrong type, one more level of
// nesting). Half of the mutations therefore parse one line, change one value in its tree (replace
// it, resize a string, add/remove a member or element, wrap it, copy another subtree over it) and
// write it back; a quarter work on whole lines (duplicate, drop, swap); the rest are libFuzzer's
// own mutations (which include crossover with the corpus).

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace fuzz {

class JsonLineMutator {
 public:
  explicit JsonLineMutator(unsigned seed) : rng_(seed) {}

  std::size_t mutate(std::uint8_t* data, std::size_t size, std::size_t max_size) {
    const unsigned choice = pick(4);
    if (choice == 0 || size == 0) return LLVMFuzzerMutate(data, size, max_size);

    std::vector<std::string> lines = split(std::string_view(reinterpret_cast<const char*>(data), size));
    bool changed = choice == 1 ? mutate_lines(lines) : mutate_value(lines);
    if (!changed) return LLVMFuzzerMutate(data, size, max_size);

    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) out += (i == 0 ? "" : "\n") + lines[i];
    if (out.size() > max_size || out.empty()) return LLVMFuzzerMutate(data, size, max_size);
    std::memcpy(data, out.data(), out.size());
    return out.size();
  }

 private:
  using json = nlohmann::json;

  unsigned pick(unsigned n) { return static_cast<unsigned>(rng_() % n); }
  bool coin() { return pick(2) == 0; }
  template <typename T, std::size_t N>
  const T& one_of(const T (&items)[N]) {
    return items[pick(static_cast<unsigned>(N))];
  }

  static std::vector<std::string> split(std::string_view text) {
    std::vector<std::string> lines;
    for (;;) {
      const auto newline = text.find('\n');
      lines.emplace_back(text.substr(0, newline));
      if (newline == std::string_view::npos) break;
      text.remove_prefix(newline + 1);
    }
    return lines;
  }

  bool mutate_lines(std::vector<std::string>& lines) {
    const std::size_t i = pick(static_cast<unsigned>(lines.size()));
    switch (pick(3)) {
      case 0: lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(i), lines[i]); return true;
      case 1:
        if (lines.size() < 2) return false;
        lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      default: {
        const std::size_t j = pick(static_cast<unsigned>(lines.size()));
        if (i == j) return false;
        std::swap(lines[i], lines[j]);
        return true;
      }
    }
  }

  bool mutate_value(std::vector<std::string>& lines) {
    // Prefer a line that parses; a few tries are enough.
    for (int attempt = 0; attempt < 4; ++attempt) {
      std::string& line = lines[pick(static_cast<unsigned>(lines.size()))];
      json root = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (root.is_discarded()) continue;
      std::vector<json*> nodes;
      collect(root, nodes);
      json& target = *nodes[pick(static_cast<unsigned>(nodes.size()))];
      change(target, nodes);
      line = root.dump(-1, ' ', false, json::error_handler_t::replace);
      return true;
    }
    return false;
  }

  static void collect(json& root, std::vector<json*>& nodes) {
    std::vector<json*> pending{&root};
    while (!pending.empty()) {
      json* node = pending.back();
      pending.pop_back();
      nodes.push_back(node);
      if (node->is_structured()) {
        for (auto& child : *node) pending.push_back(&child);
      }
    }
  }

  void change(json& target, const std::vector<json*>& nodes) {
    switch (pick(7)) {
      case 0: target = random_value(); return;
      case 1:  // resize or tweak a string; otherwise replace
        if (target.is_string()) {
          auto& text = target.get_ref<std::string&>();
          if (coin() && !text.empty()) {
            text.resize(pick(static_cast<unsigned>(text.size())));
          } else {
            text += random_string(1 + pick(8));
          }
        } else if (target.is_number_integer()) {  // a neighbour, wrapping around (no overflow)
          target = static_cast<std::int64_t>(target.get<std::uint64_t>() + pick(5) - 2U);
        } else {
          target = random_value();
        }
        return;
      case 2:  // add a member or an element
        if (target.is_object()) {
          target[word()] = random_value();
        } else if (target.is_array()) {
          target.push_back(random_value());
        } else {
          target = json{{word(), random_value()}};
        }
        return;
      case 3:  // remove a member or an element
        if (target.is_object() && !target.empty()) {
          auto it = target.begin();
          std::advance(it, pick(static_cast<unsigned>(target.size())));
          target.erase(it);
        } else if (target.is_array() && !target.empty()) {
          target.erase(pick(static_cast<unsigned>(target.size())));
        } else {
          target = nullptr;
        }
        return;
      case 4:  // one level deeper
        target = coin() ? json::array({target}) : json{{word(), target}};
        return;
      case 5: {  // copy another subtree (copied first: it may contain `target` or lie inside it)
        json copy = *nodes[pick(static_cast<unsigned>(nodes.size()))];
        target = std::move(copy);
        return;
      }
      default:  // rename a member
        if (target.is_object() && !target.empty()) {
          auto it = target.begin();
          std::advance(it, pick(static_cast<unsigned>(target.size())));
          json value = *it;
          target.erase(it);
          target[word()] = std::move(value);
        } else {
          target = word();
        }
        return;
    }
  }

  json random_value() {
    switch (pick(9)) {
      case 0: return nullptr;
      case 1: return coin();
      case 2: {
        // A table laid out by hand (clang-format would put one entry per line).
        // clang-format off
        static constexpr std::int64_t kIntegers[] = {0, 1, -1, 2, 3, 7, 255, 256, 1000, 600000, 600001,
                                                     std::numeric_limits<std::int32_t>::max(),
                                                     std::numeric_limits<std::int64_t>::min(),
                                                     std::numeric_limits<std::int64_t>::max()};
        // clang-format on
        return one_of(kIntegers);
      }
      case 3: return std::numeric_limits<std::uint64_t>::max() - pick(3);
      case 4: {
        static constexpr double kDoubles[] = {0.5, -0.0, 5.0, 1e308, -1e308, 1e-320, 2.5e9, 9007199254740993.0};
        return one_of(kDoubles);
      }
      case 5: return random_string(pick(coin() ? 4 : 300));
      case 6: return json::object();
      case 7: return json::array();
      default: return word();
    }
  }

  std::string random_string(std::size_t length) {
    // A table laid out by hand (clang-format would put one entry per line).
    // clang-format off
    static constexpr std::string_view kPieces[] = {"a", "Z", "0", "-", "_", ".", "/", " ", "\n", "\t", "\"",
                                                   "\\", "$(", "`", ";", "'", "\xc3\xa9", "\xe2\x82\xac",
                                                   "\xf0\x9f\x98\x80", std::string_view("\0", 1)};
    // clang-format on
    std::string text;
    while (text.size() < length) text += one_of(kPieces);
    return text;
  }

  std::string word() {
    // A table laid out by hand (clang-format would put one entry per line).
    // clang-format off
    static constexpr std::string_view kWords[] = {
        "jsonrpc", "2.0", "id", "method", "params", "result", "error", "code", "message", "data",
        "initialize", "notifications/initialized", "notifications/cancelled", "ping", "tools/list",
        "tools/call", "prompts/list", "prompts/get", "logging/setLevel", "protocolVersion", "2025-06-18",
        "2024-11-05", "capabilities", "elicitation", "clientInfo", "name", "version", "arguments", "_meta",
        "progressToken", "requestId", "reason", "level", "debug", "emergency", "test_echo", "test_sleep",
        "test_fail", "fuzz_elicit", "get_deployment_status", "deploy_to_standby", "switch_traffic",
        "release_to_production", "emergency_rollback", "text", "ms", "steps", "question", "app", "ref",
        "target", "blue", "green", "pullGithub", "runMigrations", "createBackup", "requireApproval",
        "approvalToken", "approve-0123456789abcdef0123456789abcdef", "srv-1", "srv-2", "srv-3", "action",
        "accept", "decline", "cancel", "content", "approve", "note", "count"};
    // clang-format on
    return std::string(one_of(kWords));
  }

  std::minstd_rand rng_;
};

}  // namespace fuzz
