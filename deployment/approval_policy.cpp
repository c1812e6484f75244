#include "deployment/approval_policy.h"

namespace bluegreen::deployment {

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
  return {client_can_ask_human ? ApprovalPath::kAskHuman : ApprovalPath::kIssueToken, ""};
}

SwitchOutcome approval_not_given(const PlanView& view, const std::string& answer, const nlohmann::json& plan) {
  SwitchOutcome outcome;
  outcome.text = "Traffic switch NOT approved (the human answered \"" + answer +
                 "\"). Nothing was changed; HAProxy still routes to " + state::to_upper_string(view.plan.from) + ".";
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
