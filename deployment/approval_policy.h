#pragma once
// Who must approve a traffic switch, and how: decided from the server's configuration and what
// the client can do, never from what the model asks for (`requireApproval=false` cannot skip a
// required approval). The MCP adapter (tools/switch_traffic.cpp) only carries the decision out.
//
// Thread-safety: pure functions.

#include "config/config.h"
#include "deployment/switch_plan.h"
#include "deployment/switch_report.h"

#include <chrono>
#include <string>

namespace bluegreen::deployment {

enum class ApprovalPath {
  kRefuse,       // the call tried to skip a required approval: answer with `refusal`, plan nothing
  kNotRequired,  // the configuration turns approval off for this switch: plan, then execute
  kAskHuman,     // plan, then ask the human directly (elicitation); on failure fall back to kIssueToken
  kAskOnPage,    // plan, then send the human to the approval page (URL-mode elicitation, web/approval_pages.h);
                 // on failure fall back to kIssueToken
  kShowInPanel,  // plan, then return it for the deployment panel (MCP Apps), whose Approve and Reject
                 // buttons call the app-only tool answer_switch_plan; no token reaches the model
  kIssueToken,   // plan, then return it with a single-use token the human's approval unlocks
};

struct SwitchRequest {
  bool emergency = false;
  bool require_approval = true;  // the seed's argument; it can only ask for more safety
};

struct ApprovalDecision {
  ApprovalPath path = ApprovalPath::kIssueToken;
  std::string refusal;  // for kRefuse: what the assistant must do instead
};

// What the client can show the human (MCP 2025-11-25 client/elicitation): a form, a URL, or both.
struct ClientChannels {
  bool form = false;  // form-mode elicitation (declared, and the protocol version has it)
  bool url = false;   // URL-mode elicitation (declared, and 2025-11-25 or later)
  bool app = false;   // renders MCP Apps (mcp::ToolContext::client_renders_apps)
};

// approval.required (config) decides; approval.emergencyRequiresApproval=false lets an emergency
// switch through without one. Then approval.channels: the first of "elicitation" (kAskHuman),
// "url" (kAskOnPage) and "app" (kShowInPanel), in the configuration's order, that is listed and that
// `client` can show;
// else kIssueToken when "token" is listed (a token rests on the model, so it comes last whatever
// the order); else kRefuse with a text that says how the human can approve (another client, or
// the operator adds "token").
ApprovalDecision decide_approval(const config::AppConfig& app, const SwitchRequest& request, ClientChannels client);

// The refusal of an approvalToken for an app whose approval.channels lack "token". Nothing changes.
std::string token_not_accepted(const config::AppConfig& app);

// The refusal when asking the human through the client failed (`why`) and approval.channels lack
// "token", so there is no fallback. Nothing changes.
std::string no_fallback_to_token(const config::AppConfig& app, const std::string& why);

// The human saw `view` and did not approve (`answer`: "decline", "cancel", or an accept without
// approve=true). Nothing changed.
SwitchOutcome approval_not_given(const PlanView& view, const std::string& answer, const nlohmann::json& plan);

// The plan with `token` for the human to approve, valid `ttl`:
// structured {switched:false, approvalRequired:true, approvalToken, expiresInSeconds, plan}.
SwitchOutcome approval_requested(const config::AppConfig& app, const PlanView& view, const std::string& token,
                                 std::chrono::milliseconds ttl);

}  // namespace bluegreen::deployment
