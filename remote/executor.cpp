#include "remote/executor.h"

namespace remote {

std::string CommandResult::summary() const {
  const std::string took = std::to_string(duration.count()) + " ms";
  if (cancelled) return "cancelled after " + took;
  if (timed_out) return "timed out after " + took;
  if (!exit_status) return "no exit status after " + took + (problem.empty() ? "" : " (" + problem + ")");
  return "exit " + std::to_string(*exit_status) + " in " + took;
}

}  // namespace remote
