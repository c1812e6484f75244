#pragma once
// The deployment panel: the MCP Apps view (the io.modelcontextprotocol/ui extension, MCP Apps
// specification 2026-01-26) that hosts which render MCP Apps (Claude, VS Code, Cursor, ChatGPT, ...)
// show for get_deployment_status and switch_traffic results.
//
// One self-contained HTML document: inline style and script, no network access, no external
// resource, so the host's default Content-Security-Policy (no connect, no remote script) suffices.
// Inside the host's sandboxed iframe it speaks the Apps protocol's JSON-RPC 2.0 over postMessage
// to the host (its parent window) only:
//   view -> host: ui/initialize (protocolVersion "2026-01-26"), ui/notifications/initialized,
//                 ui/notifications/size-changed, tools/call (answer_switch_plan and
//                 get_deployment_status), ui/update-model-context (the outcome of a click, so the
//                 model learns it on the next turn);
//   host -> view: ui/notifications/tool-input, ui/notifications/tool-result,
//                 ui/notifications/tool-cancelled, ui/resource-teardown and ping (both answered {}).
// What it shows, from the tool result's structuredContent:
//   - a status ({app, liveColorKnown, current, history, activity, drift, ...}, or {apps: [...]}):
//     which colour is live, the health, version and commit of PROD and STANDBY, the lock (a running
//     deploy or switch), drift and warnings, and the last switches;
//   - a plan for this panel ({approvalChannel: "app", plan, expiresInSeconds}, with the plan's
//     handle in the result's _meta["bluegreen-mcp/panelPlan"]): from -> to, emergency, the standby's
//     health, version and commit, each configuration line now -> after, the expiry, and Approve /
//     Reject buttons that call answer_switch_plan once; then the outcome and the fresh status;
//   - anything else: the result's text.
// All remote text is put into the page as text (textContent), never as markup.
//
// The view side of the protocol is written here by hand, not with the official App class
// (@modelcontextprotocol/ext-apps): the server is C++ and ships this page in its binary, and
// embedding that JavaScript library (and its dependencies, ~0.5 MB) would vendor it. The e2e test
// drives this page from the official host-side library (AppBridge) in Chromium.

#include <string>
#include <string_view>

namespace bluegreen::web {

// The panel's resource URI and MIME type (MCP Apps: "ui://" URIs; "text/html;profile=mcp-app").
inline constexpr std::string_view kDeploymentPanelUri = "ui://bluegreen-mcp/deployment-panel.html";
inline constexpr std::string_view kAppHtmlMimeType = "text/html;profile=mcp-app";
// The key of the tool result's _meta that carries a pending plan's handle to the panel.
inline constexpr std::string_view kPanelPlanMetaKey = "bluegreen-mcp/panelPlan";

// The panel's HTML document (UTF-8, ~12 KB). Thread-safety: a pure function.
std::string deployment_panel_html();

}  // namespace bluegreen::web
