#pragma once
// MCP prompts for the workflows users run in chat (the seed's "Release to production" and
// "Emergency rollback"): each renders step-by-step instructions for the assistant that use the
// tools safely (status first, approval by the human, verification after).

#include "mcp/prompt.h"

namespace bluegreen::prompts {

void register_workflow_prompts(mcp::PromptRegistry& registry);

}  // namespace bluegreen::prompts
