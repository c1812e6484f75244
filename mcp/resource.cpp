#include "mcp/resource.h"

#include "common/text.h"

#include <set>
#include <stdexcept>
#include <utility>

namespace bluegreen::mcp {

using nlohmann::json;

namespace {

// A level-1 template split into its parts: literal text and `{name}` expressions, alternating.
struct TemplatePart {
  bool variable = false;
  std::string text;  // the literal, or the variable's name
};

std::optional<std::vector<TemplatePart>> split_template(std::string_view uri_template) {
  std::vector<TemplatePart> parts;
  std::set<std::string> names;
  std::size_t pos = 0;
  while (pos < uri_template.size()) {
    const std::size_t open = uri_template.find('{', pos);
    const std::size_t close_before = uri_template.find('}', pos);
    if (close_before < open) return std::nullopt;  // a '}' outside an expression
    if (open == std::string_view::npos) {
      parts.push_back({false, std::string(uri_template.substr(pos))});
      break;
    }
    if (open > pos) parts.push_back({false, std::string(uri_template.substr(pos, open - pos))});
    const std::size_t close = uri_template.find('}', open);
    if (close == std::string_view::npos) return std::nullopt;
    std::string name(uri_template.substr(open + 1, close - open - 1));
    if (name.empty() || name.find_first_of("{/?#") != std::string::npos || !names.insert(name).second) {
      return std::nullopt;
    }
    // Two variables side by side could split a value anywhere: not level-1 usage we support.
    if (!parts.empty() && parts.back().variable) return std::nullopt;
    parts.push_back({true, std::move(name)});
    pos = close + 1;
  }
  return parts;
}

bool allowed_in_value(char c) { return c != '/' && c != '?' && c != '#' && c != '{' && c != '}'; }

bool match_parts(const std::vector<TemplatePart>& parts, std::size_t index, std::string_view uri,
                 UriVariables& variables) {
  if (index == parts.size()) return uri.empty();
  const TemplatePart& part = parts[index];
  if (!part.variable) {
    if (uri.substr(0, part.text.size()) != part.text) return false;
    return match_parts(parts, index + 1, uri.substr(part.text.size()), variables);
  }
  // The value is one or more allowed characters; the shortest that lets the rest match wins.
  for (std::size_t length = 1; length <= uri.size() && allowed_in_value(uri[length - 1]); ++length) {
    if (match_parts(parts, index + 1, uri.substr(length), variables)) {
      variables[part.text] = std::string(uri.substr(0, length));
      return true;
    }
  }
  return false;
}

// `entry` with the members a Resource and a ResourceTemplate share, each only when set (`title`
// only when the revision has titles).
json with_descriptions(json entry, const std::string& title, const std::string& description,
                       const std::string& mime_type, const ProtocolFeatures& features) {
  if (!title.empty() && features.titles) entry["title"] = title;
  if (!description.empty()) entry["description"] = description;
  if (!mime_type.empty()) entry["mimeType"] = mime_type;
  return entry;
}

}  // namespace

json ResourceContents::to_json() const {
  json contents{{"uri", uri}, {"mimeType", mime_type}, {"text", bluegreen::neutralize_terminal_controls(text)}};
  if (meta) contents["_meta"] = *meta;
  return contents;
}

json ResourceEntry::to_json(const ProtocolFeatures& features) const {
  return with_descriptions(json{{"uri", uri}, {"name", name}}, title, description, mime_type, features);
}

json ResourceTemplate::to_json(const ProtocolFeatures& features) const {
  return with_descriptions(json{{"uriTemplate", uri_template}, {"name", name}}, title, description, mime_type,
                           features);
}

std::optional<UriVariables> match_uri_template(std::string_view uri_template, std::string_view uri) {
  const auto parts = split_template(uri_template);
  if (!parts) return std::nullopt;
  UriVariables variables;
  if (!match_parts(*parts, 0, uri, variables)) return std::nullopt;
  return variables;
}

void ResourceRegistry::add(ResourceTemplate resource_template) {
  if (!resource_template.reader) {
    throw std::invalid_argument("resource template " + resource_template.uri_template + " has no reader");
  }
  if (!split_template(resource_template.uri_template)) {
    throw std::invalid_argument("resource template " + resource_template.uri_template +
                                " is not a level-1 URI template with distinct, separated {names}");
  }
  if (find_template(resource_template.uri_template) != nullptr) {
    throw std::invalid_argument("resource template " + resource_template.uri_template + " is registered twice");
  }
  templates_.push_back(std::move(resource_template));
}

std::optional<ResourceRegistry::Match> ResourceRegistry::match(std::string_view uri) const {
  for (const auto& candidate : templates_) {
    if (auto variables = match_uri_template(candidate.uri_template, uri))
      return Match{&candidate, std::move(*variables)};
  }
  return std::nullopt;
}

const ResourceTemplate* ResourceRegistry::find_template(std::string_view uri_template) const {
  for (const auto& candidate : templates_) {
    if (candidate.uri_template == uri_template) return &candidate;
  }
  return nullptr;
}

}  // namespace bluegreen::mcp
