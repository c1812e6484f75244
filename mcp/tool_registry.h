#pragma once
// The set of tools a server offers, in registration order (the order tools/list shows).
//
// Thread-safety: fill it before the server starts; afterwards it is only read, from any thread.

#include "mcp/tool.h"

#include <string_view>
#include <vector>

namespace bluegreen::mcp {

class ToolRegistry {
 public:
  // Registers a tool. A second tool with the same name is a programming error (throws).
  void add(Tool tool);

  [[nodiscard]] const Tool* find(std::string_view name) const;
  [[nodiscard]] const std::vector<Tool>& tools() const { return tools_; }
  [[nodiscard]] bool empty() const { return tools_.empty(); }

 private:
  std::vector<Tool> tools_;
};

}  // namespace bluegreen::mcp
