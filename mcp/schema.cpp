#include "mcp/schema.h"

#include <cmath>
#include <regex>

namespace bluegreen::mcp {
namespace {

using nlohmann::json;

// Hostile inputs must not make the validator expensive: std::regex is recursive, so very long
// strings are refused before any pattern runs.
constexpr std::size_t kMaxPatternInput = 4096;

std::string describe(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr std::size_t kMax = 80;
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

std::string type_name(const json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  return value.type_name();  // "string", "boolean", "object", "array", "null"
}

bool has_type(const json& value, const std::string& type) {
  if (type == "string") return value.is_string();
  if (type == "integer") {
    if (value.is_number_integer()) return true;
    if (value.is_number_float()) {
      const double d = value.get<double>();
      return std::isfinite(d) && std::floor(d) == d;
    }
    return false;
  }
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "null") return value.is_null();
  return true;  // unknown type keyword: do not reject
}

std::optional<std::string> check_type(const json& schema, const json& value, const std::string& path) {
  const auto type = schema.find("type");
  if (type == schema.end()) return std::nullopt;
  if (type->is_string()) {
    if (has_type(value, type->get<std::string>())) return std::nullopt;
    return path + ": expected " + type->get<std::string>() + ", got " + type_name(value) + " " + describe(value);
  }
  if (type->is_array()) {
    std::string names;
    for (const auto& t : *type) {
      if (!t.is_string()) continue;
      if (has_type(value, t.get<std::string>())) return std::nullopt;
      names += (names.empty() ? "" : " or ") + t.get<std::string>();
    }
    return path + ": expected " + names + ", got " + type_name(value) + " " + describe(value);
  }
  return std::nullopt;
}

std::optional<std::string> check_string(const json& schema, const std::string& text, const std::string& path) {
  if (const auto min = schema.find("minLength"); min != schema.end() && min->is_number_unsigned()) {
    if (text.size() < min->get<std::size_t>()) {
      return path + ": must be at least " + std::to_string(min->get<std::size_t>()) + " characters long";
    }
  }
  if (const auto max = schema.find("maxLength"); max != schema.end() && max->is_number_unsigned()) {
    if (text.size() > max->get<std::size_t>()) {
      return path + ": must be at most " + std::to_string(max->get<std::size_t>()) + " characters long";
    }
  }
  if (const auto pattern = schema.find("pattern"); pattern != schema.end() && pattern->is_string()) {
    const std::string& source = pattern->get_ref<const std::string&>();
    if (text.size() > kMaxPatternInput) {
      return path + ": value is too long (" + std::to_string(text.size()) + " bytes) to match pattern " + source;
    }
    std::regex re;
    try {
      re = std::regex(source, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      return path + ": the tool's schema has an invalid pattern " + source + " (server bug)";
    }
    if (!std::regex_search(text, re)) {
      return path + ": " + describe(json(text)) + " does not match the required pattern " + source;
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_number(const json& schema, const json& value, const std::string& path) {
  const double number = value.get<double>();
  if (const auto min = schema.find("minimum"); min != schema.end() && min->is_number()) {
    if (number < min->get<double>()) return path + ": must be >= " + min->dump() + ", got " + value.dump();
  }
  if (const auto max = schema.find("maximum"); max != schema.end() && max->is_number()) {
    if (number > max->get<double>()) return path + ": must be <= " + max->dump() + ", got " + value.dump();
  }
  return std::nullopt;
}

std::optional<std::string> check_object(const json& schema, const json& value, const std::string& path) {
  const auto properties = schema.find("properties");
  const auto additional = schema.find("additionalProperties");
  const bool closed = additional != schema.end() && additional->is_boolean() && !additional->get<bool>();
  for (const auto& [key, item] : value.items()) {
    const std::string item_path = path + "." + key;
    if (properties != schema.end() && properties->is_object() && properties->contains(key)) {
      if (auto error = validate_against_schema((*properties)[key], item, item_path)) return error;
    } else if (closed) {
      std::string known;
      if (properties != schema.end() && properties->is_object()) {
        for (const auto& [name, unused] : properties->items()) known += (known.empty() ? "" : ", ") + name;
      }
      return item_path + ": unknown argument" + (known.empty() ? std::string() : "; expected one of: " + known);
    }
  }
  // Unknown names are reported first: a misspelt argument also shows up as a missing one.
  if (const auto required = schema.find("required"); required != schema.end() && required->is_array()) {
    for (const auto& name : *required) {
      if (name.is_string() && !value.contains(name.get<std::string>())) {
        return path + "." + name.get<std::string>() + ": is required but missing";
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_array(const json& schema, const json& value, const std::string& path) {
  if (const auto min = schema.find("minItems"); min != schema.end() && min->is_number_unsigned()) {
    if (value.size() < min->get<std::size_t>()) return path + ": needs at least " + min->dump() + " items";
  }
  if (const auto max = schema.find("maxItems"); max != schema.end() && max->is_number_unsigned()) {
    if (value.size() > max->get<std::size_t>()) return path + ": allows at most " + max->dump() + " items";
  }
  if (const auto items = schema.find("items"); items != schema.end() && items->is_object()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (auto error = validate_against_schema(*items, value[i], path + "[" + std::to_string(i) + "]")) return error;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> validate_against_schema(const json& schema, const json& value, const std::string& path) {
  if (!schema.is_object()) return std::nullopt;
  if (auto error = check_type(schema, value, path)) return error;

  if (const auto constant = schema.find("const"); constant != schema.end() && *constant != value) {
    return path + ": must be " + describe(*constant) + ", got " + describe(value);
  }
  if (const auto allowed = schema.find("enum"); allowed != schema.end() && allowed->is_array()) {
    bool found = false;
    for (const auto& candidate : *allowed) found = found || candidate == value;
    if (!found) return path + ": must be one of " + describe(*allowed) + ", got " + describe(value);
  }

  if (value.is_string()) return check_string(schema, value.get_ref<const std::string&>(), path);
  if (value.is_number()) return check_number(schema, value, path);
  if (value.is_object()) return check_object(schema, value, path);
  if (value.is_array()) return check_array(schema, value, path);
  return std::nullopt;
}

}  // namespace bluegreen::mcp
