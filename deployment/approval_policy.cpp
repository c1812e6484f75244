#include "deployment/approval_policy.h"

#include "common/text.h"

namespace bluegreen::deployment {

namespace {

// "elicitation", "elicitation, token", ...
std::string channel_list(const config::AppConfig& app) { return bluegreen::join(app.approval.channels); }

}  // namespace

ApprovalDecision decide_approval(const config::AppConfig& app, const SwitchRequest& request,
                                 bool client_can_ask_human) {
  const bool needed = app.approval.required && !(request.emergency && !app.approval.emergency_requires_approval);
  if (!needed) return {ApprovalPath::kNotRequired, ""};
  if (!request.require_approval) {
    return {
        ApprovalPath::kRefuse,
        "❌ REFUSED: requireApproval=false cannot skip the approval; an assistant cannot approve a traffic switch by "
        "itself. Call switch_traffic without approvalToken to get the plan, show it to the human, and pass the "
        "approvalToken only after they approve. Nothing was changed."};
  }
  if (client_can_ask_human && app.approval.allows("elicitation")) return {ApprovalPath::kAskHuman, ""};
  if (app.approval.allows("token")) return {ApprovalPath::kIssueToken, ""};
  return {ApprovalPath::kRefuse,
          "❌ NO WAY TO APPROVE A SWITCH IN THIS CLIENT: app " + app.name + " accepts approvals only through " +
              channel_list(app) +
              " (approval.channels), and this client cannot be sent an approval form (it did not declare MCP form "
              "elicitation, or its protocol version has none: elicitation came with 2025-06-18); approval tokens "
              "are not accepted. Nothing was changed. Tell the human: run "
              "the switch from a client that supports MCP elicitation (it asks them directly), or have the operator "
              "add \"token\" to approval.channels in the bluegreen-mcp configuration."};
}

std::string token_not_accepted(const config::AppConfig& app) {
  return "❌ APPROVAL REFUSED: app " + app.name +
         " does not accept approval tokens (approval.channels: " + channel_list(app) +
         "): the human approves in the client's own approval form (MCP elicitation). Call switch_traffic without "
         "approvalToken from a client that supports it; it then asks the human directly. Nothing was changed.";
}

std::string no_fallback_to_token(const config::AppConfig& app, const std::string& why) {
  return "❌ NOT SWITCHED: the human could not be asked through the client (" + why + "), and app " + app.name +
         " does not accept approval tokens instead (approval.channels: " + channel_list(app) +
         "). Nothing was changed. Try again; if it keeps failing, the operator can add \"token\" to "
         "approval.channels.";
}

SwitchOutcome approval_not_given(const PlanView& view, const std::string& answer, const nlohmann::json& plan) {
  SwitchOutcome outcome;
  outcome.text = "Traffic switch NOT approved (the human answered \"" + answer +
                 "\"). Nothing was changed; the load balancer still routes to " +
                 state::to_upper_string(view.plan.from) + ".";
  outcome.structured = {{"switched", false}, {"approvalRequired", true}, {"answer", answer}, {"plan", plan}};
  return outcome;
}

SwitchOutcome approval_requested(const config::AppConfig& app, const PlanView& view, const std::string& token,
                                 std::chrono::milliseconds ttl) {
  SwitchOutcome outcome;
  outcome.text = approval_request_text(app, view, token, ttl);
  outcome.structured = {{"switched", false},
                        {"approvalRequired", true},
                        {"approvalToken", token},
                        {"expiresInSeconds", ttl.count() / 1000},
                        {"plan", plan_json(app, view)}};
  return outcome;
}

}  // namespace bluegreen::deployment
