#include "mcp/prompt.h"

#include <stdexcept>
#include <utility>

namespace bluegreen::mcp {

using nlohmann::json;

json PromptDefinition::to_json(const ProtocolFeatures& features) const {
  json args = json::array();
  for (const auto& argument : arguments) {
    args.push_back(
        json{{"name", argument.name}, {"description", argument.description}, {"required", argument.required}});
  }
  json prompt{{"name", name}, {"description", description}, {"arguments", std::move(args)}};
  if (!title.empty() && features.titles) prompt["title"] = title;
  return prompt;
}

void PromptRegistry::add(Prompt prompt) {
  if (find(prompt.definition.name) != nullptr) {
    throw std::logic_error("prompt registered twice: " + prompt.definition.name);
  }
  if (!prompt.handler) throw std::logic_error("prompt without a handler: " + prompt.definition.name);
  prompts_.push_back(std::move(prompt));
}

const Prompt* PromptRegistry::find(std::string_view name) const {
  for (const auto& prompt : prompts_) {
    if (prompt.definition.name == name) return &prompt;
  }
  return nullptr;
}

}  // namespace bluegreen::mcp
