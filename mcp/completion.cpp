#include "mcp/completion.h"

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bluegreen::mcp {

using nlohmann::json;

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

using ValuesFunction = std::function<std::vector<std::string>()>;

// The values function of the prompt argument `argument_name` of the prompt ref.name. Null function:
// the argument exists and offers no values.
bluegreen::Result<ValuesFunction> prompt_values(const PromptRegistry* prompts, const json& ref,
                                                const std::string& argument_name) {
  const auto name = ref.find("name");
  const Prompt* prompt =
      prompts != nullptr && name != ref.end() && name->is_string() ? prompts->find(name->get<std::string>()) : nullptr;
  if (prompt == nullptr) {
    std::string available;
    if (prompts != nullptr) {
      for (const auto& p : prompts->prompts()) available += (available.empty() ? "" : ", ") + p.definition.name;
    }
    return invalid("Invalid params: " +
                   (name == ref.end() ? std::string("ref.name is missing")
                                      : "ref.name " + quoted(*name) + " is not a prompt of this server") +
                   "; its prompts: " + (available.empty() ? "none" : available));
  }
  for (const auto& candidate : prompt->definition.arguments) {
    if (candidate.name == argument_name) return candidate.values;
  }
  return invalid("Invalid params: prompt " + prompt->definition.name + " has no argument " +
                 quoted(json(argument_name)));
}

// The values function of the variable `argument_name` of the resource template ref.uri.
bluegreen::Result<ValuesFunction> resource_values(const ResourceRegistry* resources, const json& ref,
                                                  const std::string& argument_name) {
  const auto uri = ref.find("uri");
  const ResourceTemplate* found = nullptr;
  if (resources != nullptr && uri != ref.end() && uri->is_string()) {
    const auto& text = uri->get_ref<const std::string&>();
    found = resources->find_template(text);
    if (found == nullptr) {
      if (auto match = resources->match(text)) found = match->resource_template;
    }
  }
  if (found == nullptr) {
    std::string available;
    if (resources != nullptr) {
      for (const auto& t : resources->templates()) available += (available.empty() ? "" : ", ") + t.uri_template;
    }
    return invalid("Invalid params: " +
                   (uri == ref.end() ? std::string("ref.uri is missing")
                                     : "ref.uri " + quoted(*uri) + " is not a resource template of this server") +
                   "; its templates: " + (available.empty() ? "none" : available));
  }
  if (found->uri_template.find("{" + argument_name + "}") == std::string::npos) {
    return invalid("Invalid params: resource template " + found->uri_template + " has no variable " +
                   quoted(json(argument_name)));
  }
  const auto values = found->completions.find(argument_name);
  return values == found->completions.end() ? ValuesFunction{} : values->second;
}

}  // namespace

bluegreen::Result<json> complete_argument(const PromptRegistry* prompts, const ResourceRegistry* resources,
                                          const json& params) {
  const json* ref = object_member(params, "ref");
  const json* argument = object_member(params, "argument");
  if (ref == nullptr || argument == nullptr) {
    return invalid("Invalid params: completion/complete needs \"ref\" and \"argument\" (objects)");
  }
  if (const auto context = params.find("context"); context != params.end() && !context->is_object()) {
    return invalid("Invalid params: \"context\" must be an object ({\"arguments\": {...}})");
  }
  const auto arg_name = argument->find("name");
  const auto arg_value = argument->find("value");
  if (arg_name == argument->end() || !arg_name->is_string() || arg_value == argument->end() ||
      !arg_value->is_string()) {
    return invalid("Invalid params: argument needs \"name\" and \"value\" (strings)");
  }
  const auto& name = arg_name->get_ref<const std::string&>();
  const auto type = ref->find("type");
  bluegreen::Result<ValuesFunction> values = ValuesFunction{};
  if (type != ref->end() && *type == "ref/prompt") {
    values = prompt_values(prompts, *ref, name);
  } else if (type != ref->end() && *type == "ref/resource") {
    values = resource_values(resources, *ref, name);
  } else {
    return invalid("Invalid params: ref.type must be \"ref/prompt\" or \"ref/resource\"; got " +
                   (type == ref->end() ? std::string("no ref.type") : quoted(*type)));
  }
  if (!values) return values.error();

  json matching = json::array();
  std::size_t total = 0;
  if (*values) {
    for (const auto& value : (*values)()) {
      if (!starts_with_ignoring_case(value, arg_value->get_ref<const std::string&>())) continue;
      if (++total <= kMaxCompletionValues) matching.push_back(value);
    }
  }
  return json{
      {"completion", {{"values", std::move(matching)}, {"total", total}, {"hasMore", total > kMaxCompletionValues}}}};
}

}  // namespace bluegreen::mcp
