#include "deployment/approval_policy.h"

#include "common/text.h"

namespace bluegreen::deployment {

namespace {

// "elicitation", "elicitation, token", ...
std::string channel_list(const config::AppConfig& app) { return bluegreen::join(app.approval.channels); }

// What `client` can show, for refusals.
std::string shown(ClientChannels client) {
  std::vector<std::string> can;
  if (client.form) can.emplace_back("a form (MCP form elicitation)");
  if (client.url) can.emplace_back("a link (MCP URL-mode elicitation)");
  if (client.app) can.emplace_back("an MCP Apps panel");
  if (!can.empty()) return "only " + bluegreen::join(can, " and ") + ", which approval.channels does not list";
  return "no form, link or panel (it declared no MCP elicitation and no MCP Apps, or its protocol version has "
         "none: form elicitation and MCP Apps need 2025-06-18 or later, URL mode 2025-11-25)";
}

// The client features the app's channels need, for refusals.
std::string wanted(const config::AppConfig& app) {
  std::string text;
  for (const auto& channel : app.approval.channels) {
    const char* feature = channel == "elicitation" ? "MCP form elicitation"
                          : channel == "url"       ? "MCP URL-mode elicitation (an approval page)"
                          : channel == "app"       ? "MCP Apps (the deployment panel)"
                                                   : nullptr;
    if (feature != nullptr) text += (text.empty() ? "" : " or ") + std::string(feature);
  }
  return text.empty() ? "MCP elicitation" : text;
}

}  // namespace

ApprovalDecision decide_approval(const config::AppConfig& app, const SwitchRequest& request, ClientChannels client) {
  const bool needed = app.approval.required && !(request.emergency && !app.approval.emergency_requires_approval);
  if (!needed) return {ApprovalPath::kNotRequired, ""};
  if (!request.require_approval) {
    return {
        ApprovalPath::kRefuse,
        "❌ REFUSED: requireApproval=false cannot skip the approval; an assistant cannot approve a traffic switch by "
        "itself. Call switch_traffic without requireApproval=false: the human then approves the plan (in the "
        "client when it can ask them or show the plan, else through the approval token you pass on only after "
        "they approve). Nothing was changed."};
  }
  for (const auto& channel : app.approval.channels) {
    if (channel == "elicitation" && client.form) return {ApprovalPath::kAskHuman, ""};
    if (channel == "url" && client.url) return {ApprovalPath::kAskOnPage, ""};
    if (channel == "app" && client.app) return {ApprovalPath::kShowInPanel, ""};
  }
  if (app.approval.allows("token")) return {ApprovalPath::kIssueToken, ""};
  return {ApprovalPath::kRefuse,
          "❌ NO WAY TO APPROVE A SWITCH IN THIS CLIENT: app " + app.name + " accepts approvals only through " +
              channel_list(app) + " (approval.channels), and this client can show the human " + shown(client) +
              "; approval tokens are not accepted. Nothing was changed. Tell the human: run the switch from a "
              "client that supports " +
              wanted(app) +
              ", or have the operator add \"token\" to approval.channels in the "
              "bluegreen-mcp configuration."};
}

std::string token_not_accepted(const config::AppConfig& app) {
  return "❌ APPROVAL REFUSED: app " + app.name +
         " does not accept approval tokens (approval.channels: " + channel_list(app) +
         "): the human approves through " + wanted(app) +
         " in the client. Call switch_traffic without approvalToken from a client that supports it: the client "
         "then asks the human directly, or shows the plan where they answer it. Never approve on their behalf. "
         "Nothing was changed.";
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
