#include "tools/switch_traffic.h"

#include "deployment/approval_policy.h"
#include "deployment/shared_routes.h"
#include "deployment/traffic_switch.h"
#include "state/state_store.h"
#include "tools/switch_approval.h"
#include "web/deployment_panel_html.h"

#include <optional>

namespace bluegreen::tools {
namespace {

using nlohmann::json;

// What an approval of `plan` binds (deployment/approvals.h SwitchPlan), as one string.
std::string plan_identity(const deployment::SwitchPlan& plan) {
  std::string identity = plan.app + "|" + state::to_upper_string(plan.from) + ">" + state::to_upper_string(plan.to) +
                         "|" + std::to_string(plan.generation) + "|" + (plan.emergency ? "emergency" : "") + "|" +
                         plan.recovers;
  for (const auto& line : plan.lines) identity += "\n" + line;
  return identity;
}

// Asks the human through the client (form-mode elicitation) and executes on approval. Errors:
// the client could not ask (the caller falls back to a token).
bluegreen::Result<mcp::ToolResult> ask_human(DeploymentToolsContext& context, const config::AppConfig& app,
                                             const deployment::PlanView& view, mcp::ToolContext& tool_context) {
  const json schema{{"type", "object"},
                    {"properties",
                     {{"approve",
                       {{"type", "boolean"},
                        {"title", "Approve this traffic switch"},
                        {"description", "Move production traffic as described above."}}}}},
                    {"required", {"approve"}}};
  const std::string message = deployment::approval_request_text(app, view, "", app.approval.token_ttl);
  // In 2026-07-28 the answer comes back with a retried call, which makes its own plan: it counts
  // only for a plan identical in what the approval binds (ApprovalBook re-checks it under the lock).
  // The standby's commit too: a change of code on it since the plan was shown asks the human again.
  tool_context.bind_elicitation(plan_identity(view.plan) + "\ncommit " + view.standby_commit.value_or("unknown"));
  auto answer = tool_context.elicit(message, schema, app.approval.token_ttl);
  if (!answer) return answer.error();
  if (answer->action == "accept" && answer->content.value("approve", false)) {
    tool_context.log(mcp::LogLevel::kNotice, "the human approved the switch through the client");
    return execute_approved(context, app, view.plan, "elicitation", tool_context);
  }
  // "accept" with approve false is a no, not an acceptance.
  const auto declined = deployment::approval_not_given(view, answer->action == "accept" ? "no" : answer->action,
                                                       deployment::plan_json(app, view));
  return refuse_unapproved(context, app, tool_context, view.plan.emergency, "declined", declined.text,
                           declined.structured);
}

// `text` (a client's error message) without the page's link or its secret part: the link goes to
// the client only, never into a result.
std::string without_link(std::string text, const std::string& url) {
  const std::string secret = url.substr(url.rfind('/') + 1);
  for (const auto& part : {url, secret}) {
    for (auto at = text.find(part); !part.empty() && at != std::string::npos; at = text.find(part)) {
      text.replace(at, part.size(), "<the approval link>");
    }
  }
  return text;
}

// The plan as the approval page shows it.
web::ApprovalPageContent page_content(const config::AppConfig& app, const deployment::PlanView& view) {
  return {"Switch traffic for " + app.name + ": " + state::to_upper_string(view.plan.from) + " \u2192 " +
              state::to_upper_string(view.plan.to) + (view.plan.emergency ? " (EMERGENCY)" : ""),
          deployment::plan_text(app, view) +
              "\nApprove to switch now, or reject to leave everything as it is (this "
              "plan is valid for " +
              std::to_string(app.approval.token_ttl.count() / 1000) + " s).",
          view.plan.emergency};
}

// Shows the plan in the deployment panel (MCP Apps, approval.channels "app"): the host renders the
// panel with this result, and the plan's handle rides in the result's _meta, which the host gives
// the panel; the model gets the plan and is told that the human answers there. Nothing waits: the
// panel's buttons call answer_switch_plan.
mcp::ToolResult show_in_panel(DeploymentToolsContext& context, const config::AppConfig& app,
                              const deployment::PlanView& view, mcp::ToolContext& tool_context) {
  const auto ttl = app.approval.token_ttl;
  const std::string handle = context.services.approvals.issue(view.plan, ttl, deployment::ApprovalBook::Handle::kPanel);
  tool_context.log(mcp::LogLevel::kNotice, "the plan is shown in the deployment panel for the human to answer");
  const std::string text =
      deployment::plan_text(app, view) +
      "\nThe human approves or rejects this plan in the deployment panel shown with this result (valid " +
      std::to_string(ttl.count() / 1000) +
      " s). Nothing changes until they click Approve there; the panel then runs the switch and shows the "
      "outcome. Ask the human to answer in the panel. Do not call switch_traffic again for this plan and never "
      "approve on their behalf: no tool you can call approves it. Afterwards, get_deployment_status shows what "
      "happened.";
  auto result =
      mcp::ToolResult::text(text, json{{"switched", false},
                                       {"approvalRequired", true},
                                       {"approvalChannel", "app"},
                                       {"expiresInSeconds", ttl.count() / 1000},
                                       {"expiresAt", state::utc_timestamp(std::chrono::system_clock::now() + ttl)},
                                       {"plan", deployment::plan_json(app, view)}});
  result.meta = json{{std::string(web::kPanelPlanMetaKey), handle}};
  return result;
}

// Sends the human to the approval page (URL-mode elicitation) and executes on Approve; the page
// then shows the outcome. The page's URL goes to the client only, never into the result. Errors:
// the page or the elicitation could not be made (the caller falls back to a token where allowed).
bluegreen::Result<mcp::ToolResult> ask_on_page(DeploymentToolsContext& context, const config::AppConfig& app,
                                               const deployment::PlanView& view, mcp::ToolContext& tool_context) {
  auto& pages = *context.pages;
  const auto ttl = app.approval.token_ttl;
  auto page = pages.open(page_content(app, view), ttl);
  if (!page) return bluegreen::Error{"the approval page could not be served: " + page.error().message};
  const std::string message = "Approve or reject the traffic switch for app " + app.name + " (" +
                              state::to_upper_string(view.plan.from) + " \u2192 " +
                              state::to_upper_string(view.plan.to) + (view.plan.emergency ? ", EMERGENCY" : "") +
                              ") on its approval page, which shows the whole plan. It is valid for " +
                              std::to_string(ttl.count() / 1000) + " s.";
  auto answer = tool_context.elicit_url(message, page->url, page->id, ttl);
  // Ends the page with `why` whatever the human did there meanwhile (they may answer on the page
  // before the client answers the request): a pending page is withdrawn, an approved one says that
  // nothing was switched, never "switching…" for ever.
  const auto end_page = [&](const std::string& why) {
    pages.withdraw(page->id, why);
    pages.show_outcome(page->id, false, "Not switched. " + why);
  };
  const auto refuse = [&](const std::string& reason, const std::string& answer_text) {
    tool_context.complete_elicitation(page->id);
    const auto declined = deployment::approval_not_given(view, answer_text, deployment::plan_json(app, view));
    return refuse_unapproved(context, app, tool_context, view.plan.emergency, reason, declined.text,
                             declined.structured);
  };
  if (!answer) {
    const std::string why = without_link(answer.error().message, page->url);
    end_page("The assistant could not show this page's link to the human (" + why + "). Nothing was changed.");
    return bluegreen::Error{why, answer.error().code};
  }
  if (answer->action != "accept") {
    end_page("The human " + std::string(answer->action == "decline" ? "declined" : "dismissed") +
             " the link in the assistant. Nothing was changed.");
    return refuse("declined", answer->action);
  }
  tool_context.log(mcp::LogLevel::kNotice, "waiting for the human's answer on the approval page");
  // Progress while the human reads the page, below the switch's own steps (1, 2, ...), so that a
  // client that gives up on a request without progress keeps waiting.
  double waited = 0;
  const auto tick = [&](std::chrono::milliseconds left) {
    waited += 1;
    tool_context.report_progress(1.0 - 1.0 / (waited + 1), std::nullopt,
                                 "waiting for the human on the approval page (" + std::to_string(left.count() / 1000) +
                                     " s left)");
  };
  switch (pages.wait(page->id, tool_context.stop_token(), tick)) {
    case web::PageAnswer::kApproved: {
      tool_context.log(mcp::LogLevel::kNotice, "the human approved the switch on the approval page");
      auto result = execute_approved(context, app, view.plan, "url", tool_context);
      const auto shown = result.to_json();
      std::string text;
      for (const auto& block : shown.value("content", nlohmann::json::array())) text += block.value("text", "");
      pages.show_outcome(page->id, !result.is_error, text);
      tool_context.complete_elicitation(page->id);
      return result;
    }
    case web::PageAnswer::kRejected: return refuse("declined", "reject");
    case web::PageAnswer::kExpired:
      tool_context.complete_elicitation(page->id);
      return refuse_unapproved(context, app, tool_context, view.plan.emergency, "page-expired",
                               "Traffic switch NOT approved: nobody answered on the approval page within " +
                                   std::to_string(ttl.count() / 1000) +
                                   " s. Nothing was changed; the load balancer still routes to " +
                                   state::to_upper_string(view.plan.from) + ".");
    case web::PageAnswer::kStopped:
      end_page("The assistant cancelled the request. Nothing was changed.");
      return mcp::ToolResult::error("cancelled");
    case web::PageAnswer::kWithdrawn: break;
  }
  return mcp::ToolResult::error("the approval page was withdrawn (the server is stopping). Nothing was changed.");
}

mcp::ToolDefinition switch_traffic_definition(const config::Config& config) {
  mcp::ToolDefinition def;
  def.name = "switch_traffic";
  def.title = "Switch traffic";
  def.description =
      "Moves production traffic in HAProxy from PROD to STANDBY (BLUE <-> GREEN), in two steps. Call it first "
      "WITHOUT approvalToken: nothing changes; it returns the plan (from -> to, every HAProxy line that routes the "
      "app, "
      "now and after, the standby's health and version) and a single-use approvalToken that expires. Show the plan to "
      "the human and "
      "call again WITH approvalToken only after the human explicitly approves; never approve on your own. Clients "
      "that support elicitation are asked directly instead (a form, or a link to an approval page); clients that "
      "render "
      "MCP Apps show the plan in the deployment panel, where the human clicks Approve or Reject. The switch "
      "validates the new config (haproxy -c), "
      "reloads HAProxy without dropping connections (or, for map-based routing, updates its running map with no "
      "reload), verifies the new routing (rolling back if it fails) and updates "
      "the state file. emergency=true is for rolling back from a broken PROD: it skips the standby health "
      "requirement, not the approval (unless the server's configuration exempts emergencies). requireApproval=false "
      "cannot bypass the approval.";
  def.input_schema = {
      {"type", "object"},
      {"properties",
       {{"app", app_argument_schema(config)},
        {"requireApproval",
         {{"type", "boolean"},
          {"default", true},
          {"description", "Kept for compatibility: approval is required whatever this says, unless the server's "
                          "configuration turns approval off."}}},
        {"emergency",
         {{"type", "boolean"},
          {"default", false},
          {"description", "Emergency rollback: switch even if STANDBY fails its health check."}}},
        {"approvalToken",
         {{"type", "string"},
          {"pattern", "^approve-[0-9a-f]{32}$"},
          {"description", "The token from the approval request, passed only after the human approved that plan. "
                          "The approved plan (including its emergency flag) is what gets executed."}}}}},
      {"additionalProperties", false}};
  def.output_schema = {{"type", "object"},
                       {"properties",
                        {{"switched", {{"type", "boolean"}}},
                         {"approvalRequired", {{"type", "boolean"}}},
                         {"approvalToken", {{"type", "string"}}},
                         {"approvalChannel", {{"type", "string"}}},
                         {"expiresInSeconds", {{"type", "integer"}}},
                         {"plan", {{"type", "object"}}},
                         {"app", {{"type", "string"}}},
                         {"switchNumber", {{"type", "integer"}}}}},
                       {"required", {"switched"}}};
  def.ui_resource_uri = std::string(web::kDeploymentPanelUri);
  def.annotations.read_only = false;
  def.annotations.destructive = true;
  def.annotations.idempotent = false;
  def.annotations.open_world = false;
  return def;
}

}  // namespace

mcp::Tool make_switch_traffic_tool(DeploymentToolsContext& context) {
  return {switch_traffic_definition(context.config), [&context](const json& arguments, mcp::ToolContext& tool_context) {
            auto app_or_error = resolve_app(context.config, arguments);
            if (!app_or_error) return mcp::ToolResult::error(app_or_error.error().message);
            const config::AppConfig& app = **app_or_error;
            if (auto conflict = deployment::shared_route_conflict(context.config, app); !conflict.empty()) {
              return mcp::ToolResult::error(conflict);
            }

            // Step 2: an approved plan.
            if (const auto token = arguments.find("approvalToken"); token != arguments.end()) {
              if (!app.approval.allows("token")) {
                return refuse_unapproved(context, app, tool_context, false, "token-not-accepted",
                                         deployment::token_not_accepted(app));
              }
              auto plan = context.services.approvals.redeem(token->get<std::string>(), app.name);
              if (!plan) {
                return refuse_unapproved(context, app, tool_context, false, "token-refused",
                                         "❌ APPROVAL REFUSED: " + plan.error().message + " Nothing was changed.");
              }
              return execute_approved(context, app, *plan, "token", tool_context);
            }

            const deployment::SwitchRequest request{arguments.value("emergency", false),
                                                    arguments.value("requireApproval", true)};
            const auto decision = deployment::decide_approval(app, request,
                                                              {tool_context.client_supports_elicitation(),
                                                               tool_context.client_supports_url_elicitation(),
                                                               tool_context.client_renders_apps()});
            if (decision.path == deployment::ApprovalPath::kRefuse) {
              return refuse_unapproved(context, app, tool_context, request.emergency,
                                       request.require_approval ? "no-approval-channel" : "require-approval-false",
                                       decision.refusal);
            }

            auto view = deployment::plan_switch(context.services, app, request.emergency);
            if (!view) return mcp::ToolResult::error("❌ CANNOT SWITCH TRAFFIC: " + view.error().message);
            if (decision.path == deployment::ApprovalPath::kNotRequired) {
              tool_context.log(mcp::LogLevel::kNotice,
                               "approval is turned off in the configuration for app " + app.name);
              return execute_approved(context, app, view->plan, "not-required", tool_context);
            }
            if (decision.path == deployment::ApprovalPath::kShowInPanel) {
              return show_in_panel(context, app, *view, tool_context);
            }
            std::string elicitation_note;
            if (decision.path == deployment::ApprovalPath::kAskHuman ||
                decision.path == deployment::ApprovalPath::kAskOnPage) {
              auto asked = decision.path == deployment::ApprovalPath::kAskHuman
                               ? ask_human(context, app, *view, tool_context)
                               : ask_on_page(context, app, *view, tool_context);
              if (asked) return std::move(asked.value());
              if (tool_context.cancelled()) return mcp::ToolResult::error("cancelled");
              // 2026-07-28: the question goes out with this round's result, which the server
              // replaces; nothing was done.
              if (tool_context.input_required()) return mcp::ToolResult::error("input required");
              if (!app.approval.allows("token")) {
                return refuse_unapproved(context, app, tool_context, request.emergency,
                                         decision.path == deployment::ApprovalPath::kAskHuman ? "form-failed"
                                                                                              : "page-failed",
                                         deployment::no_fallback_to_token(app, asked.error().message));
              }
              elicitation_note = "\n\n(Asking the human directly did not work: " + asked.error().message + ".)";
            }
            const std::string token = context.services.approvals.issue(view->plan, app.approval.token_ttl);
            auto requested = deployment::approval_requested(app, *view, token, app.approval.token_ttl);
            return mcp::ToolResult::text(requested.text + elicitation_note, requested.structured);
          }};
}

}  // namespace bluegreen::tools
