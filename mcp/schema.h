#pragma once
// Validation of tool arguments against the tool's inputSchema.
//
// Supports the JSON Schema subset that tool schemas here use: type (one or a list), properties,
// required, additionalProperties (boolean), enum, const, pattern, minLength, maxLength, minimum,
// maximum, items, minItems, maxItems. Keywords it does not know are ignored, as JSON Schema says.
// Errors name the offending field with a JSON-pointer-like path ("arguments.ref") and say what
// was expected, so an assistant can correct its call.
//
// Thread-safety: pure functions.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace bluegreen::mcp {

// Returns nullopt when `value` satisfies `schema`, otherwise a message naming the first bad field.
std::optional<std::string> validate_against_schema(const nlohmann::json& schema, const nlohmann::json& value,
                                                   const std::string& path = "arguments");

}  // namespace bluegreen::mcp
