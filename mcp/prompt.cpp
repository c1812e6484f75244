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

namespace {

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (prefix.size() > text.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(text[i]) != lower(prefix[i])) return false;
  }
  return true;
}

bluegreen::Error invalid(std::string message) {
  return bluegreen::Error{std::move(message), bluegreen::ErrorCode::kInvalidArgument};
}

// A client's value for an error message: its JSON, cut to 100 bytes (a name can be megabytes).
std::string quoted(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() <= 100 ? text : text.substr(0, 100) + "...";
}

// params[key] when it is an object; nullptr otherwise.
const json* object_member(const json& params, const char* key) {
  const auto it = params.find(key);
  return it != params.end() && it->is_object() ? &*it : nullptr;
}

}  // namespace

bluegreen::Result<json> complete_prompt_argument(const PromptRegistry& registry, const json& params) {
  const json* ref = object_member(params, "ref");
  const json* argument = object_member(params, "argument");
  if (ref == nullptr || argument == nullptr) {
    return invalid("Invalid params: completion/complete needs \"ref\" and \"argument\" (objects)");
  }
  if (const auto context = params.find("context"); context != params.end() && !context->is_object()) {
    return invalid("Invalid params: \"context\" must be an object ({\"arguments\": {...}})");
  }
  const auto type = ref->find("type");
  if (type == ref->end() || *type != "ref/prompt") {
    return invalid("Invalid params: only prompt arguments can be completed (ref.type \"ref/prompt\"); got " +
                   (type == ref->end() ? std::string("no ref.type") : quoted(*type)));
  }
  const auto name = ref->find("name");
  const Prompt* prompt = name != ref->end() && name->is_string() ? registry.find(name->get<std::string>()) : nullptr;
  if (prompt == nullptr) {
    std::string available;
    for (const auto& p : registry.prompts()) available += (available.empty() ? "" : ", ") + p.definition.name;
    return invalid("Invalid params: " +
                   (name == ref->end() ? std::string("ref.name is missing")
                                       : "ref.name " + quoted(*name) + " is not a prompt of this server") +
                   "; its prompts: " + available);
  }
  const auto arg_name = argument->find("name");
  const auto arg_value = argument->find("value");
  if (arg_name == argument->end() || !arg_name->is_string() || arg_value == argument->end() ||
      !arg_value->is_string()) {
    return invalid("Invalid params: argument needs \"name\" and \"value\" (strings)");
  }
  const PromptArgument* target = nullptr;
  for (const auto& candidate : prompt->definition.arguments) {
    if (candidate.name == arg_name->get_ref<const std::string&>()) target = &candidate;
  }
  if (target == nullptr) {
    return invalid("Invalid params: prompt " + prompt->definition.name + " has no argument " + quoted(*arg_name));
  }
  json values = json::array();
  std::size_t total = 0;
  if (target->values) {
    for (const auto& value : target->values()) {
      if (!starts_with_ignoring_case(value, arg_value->get_ref<const std::string&>())) continue;
      if (++total <= kMaxCompletionValues) values.push_back(value);
    }
  }
  return json{
      {"completion", {{"values", std::move(values)}, {"total", total}, {"hasMore", total > kMaxCompletionValues}}}};
}

const Prompt* PromptRegistry::find(std::string_view name) const {
  for (const auto& prompt : prompts_) {
    if (prompt.definition.name == name) return &prompt;
  }
  return nullptr;
}

}  // namespace bluegreen::mcp
