#include "mcp/tool_registry.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace bluegreen::mcp {

void ToolRegistry::add(Tool tool) {
  if (find(tool.definition.name) != nullptr) {
    throw std::logic_error("tool registered twice: " + tool.definition.name);
  }
  if (!tool.handler) throw std::logic_error("tool without a handler: " + tool.definition.name);
  tools_.push_back(std::move(tool));
}

const Tool* ToolRegistry::find(std::string_view name) const {
  for (const auto& tool : tools_) {
    if (tool.definition.name == name) return &tool;
  }
  return nullptr;
}

}  // namespace bluegreen::mcp
