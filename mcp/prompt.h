#pragma once
// What a prompt is to the protocol core (MCP prompts/list and prompts/get): its advertised
// definition and a handler that renders it into messages for the client to show the model.
//
// A handler runs on the transport's thread (rendering is quick and must not block). It receives
// the client's arguments, already checked to be strings with every required one present, and
// returns the `messages` array of a prompts/get result, e.g.
//   [{"role": "user", "content": {"type": "text", "text": "..."}}]
// An argument value it cannot use is returned as an Error, which the client sees as invalid
// params carrying the error's message; an exception escaping a handler is a bug (internal error).
//
// Thread-safety: fill a PromptRegistry before the server starts; afterwards it is only read, from
// any thread.

#include "common/result.h"
#include "mcp/protocol_version.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::mcp {

struct PromptArgument {
  std::string name;
  std::string description;
  bool required = false;
  // The values this argument can take, offered by completion/complete (e.g. the configured app
  // names); called on the transport's thread, so it must be quick and must not block. Empty: none
  // offered.
  std::function<std::vector<std::string>()> values{};
};

struct PromptDefinition {
  std::string name;
  std::string title;
  std::string description;
  std::vector<PromptArgument> arguments;

  // The definition as MCP's Prompt; `title` only when `features.titles` (2025-06-18 on).
  [[nodiscard]] nlohmann::json to_json(const ProtocolFeatures& features = {}) const;
};

// Returns the messages array of the prompts/get result.
using PromptHandler =
    std::function<bluegreen::Result<nlohmann::json>(const std::map<std::string, std::string>& arguments)>;

struct Prompt {
  PromptDefinition definition;
  PromptHandler handler;
};

// The set of prompts a server offers, in registration order (the order prompts/list shows).
class PromptRegistry {
 public:
  // Registers a prompt. A second prompt with the same name, or one without a handler, is a
  // programming error (throws).
  void add(Prompt prompt);

  [[nodiscard]] const Prompt* find(std::string_view name) const;
  [[nodiscard]] const std::vector<Prompt>& prompts() const { return prompts_; }
  [[nodiscard]] bool empty() const { return prompts_.empty(); }

 private:
  std::vector<Prompt> prompts_;
};

}  // namespace bluegreen::mcp
