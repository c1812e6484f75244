#pragma once
// MCP prompts for the workflows users run in chat (the seed's "Release to production" and
// "Emergency rollback"): each renders step-by-step instructions for the assistant that use the
// tools safely (status first, approval by the human, verification after).

#include "mcp/prompt.h"

#include <string>
#include <vector>

namespace bluegreen::prompts {

// Registers release_to_production and emergency_rollback. Their `app` argument completes to
// `app_names` (the configured apps, in configuration order).
void register_workflow_prompts(mcp::PromptRegistry& registry, const std::vector<std::string>& app_names = {});

}  // namespace bluegreen::prompts
