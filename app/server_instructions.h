#pragma once
// The `instructions` text sent in the initialize reply: how the tools fit together.

#include <string>

namespace bluegreen::app {

std::string server_instructions();

}  // namespace bluegreen::app
