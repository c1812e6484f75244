#include "web/deployment_panel_html.h"

namespace bluegreen::web {
namespace {

constexpr std::string_view kPanelHtml = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bluegreen-mcp deployment panel</title>
<style>
  :root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #ffffff;
          --blue: #0969da; --green: #1a7f37; --bad: #cf222e; --warn: #9a6700; --card: #f6f8fa; }
  @media (prefers-color-scheme: dark) {
    :root { --fg: #e6edf3; --muted: #8d96a0; --line: #30363d; --bg: #0d1117; --card: #161b22;
            --blue: #4493f8; --green: #3fb950; --bad: #f85149; --warn: #d29922; } }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
         background: var(--bg); margin: 0; padding: 12px; }
  h2 { font-size: 16px; margin: 0 0 8px; } h3 { font-size: 13px; margin: 12px 0 4px; color: var(--muted); }
  .card { border: 1px solid var(--line); border-radius: 8px; padding: 12px; margin-bottom: 12px; background: var(--card); }
  .badge { display: inline-block; font-weight: 700; padding: 2px 10px; border-radius: 999px; color: #fff; }
  .blue { background: var(--blue); } .green { background: var(--green); } .unknown { background: var(--bad); }
  .emergency { background: var(--bad); margin-left: 6px; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: 3px 6px;
  border-bottom: 1px solid var(--line); vertical-align: top; } th { color: var(--muted); font-weight: 600; }
  code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; word-break: break-all; }
  .ok { color: var(--green); } .bad { color: var(--bad); } .warn { color: var(--warn); } .muted { color: var(--muted); }
  .buttons { display: flex; gap: 8px; margin-top: 12px; }
  button { font: inherit; font-weight: 600; padding: 6px 18px; border-radius: 6px; border: 1px solid var(--line); cursor: pointer; }
  button.approve { background: var(--green); color: #fff; border-color: var(--green); }
  button.reject { background: var(--bg); color: var(--fg); }
  button:disabled { opacity: .5; cursor: default; }
  pre { white-space: pre-wrap; margin: 8px 0 0; font-size: 12px; }
  ul { margin: 4px 0; padding-left: 18px; }
</style>
</head>
<body>
<div id="root"><p class="muted">Waiting for the deployment tool's result…</p></div>
<script>
"use strict";
(() => {
  const root = document.getElementById("root");
  let nextId = 1;
  const pending = new Map();
  let hostCapabilities = {};
  let shownResult = false;

  // JSON-RPC 2.0 over postMessage, to the host (the parent window) only.
  const post = (message) => window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");
  const request = (method, params) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    post({ id, method, params });
  });
  const notify = (method, params) => post({ method, params });

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value; else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    }
    return node;
  };
  const colourBadge = (name) => el("span", { class: "badge " + (name ? String(name).toLowerCase() : "unknown") },
                                   name ? String(name).toUpperCase() : "UNKNOWN");
  const short = (commit) => (typeof commit === "string" ? commit.slice(0, 12) : "—");
  const list = (value) => (Array.isArray(value) ? value.filter((item) => item && typeof item === "object") : []);
  const textOf = (result) => (result && Array.isArray(result.content) ? result.content : [])
    .filter((block) => block && block.type === "text").map((block) => block.text).join("\n");

  const resize = () => {
    const height = Math.ceil(document.documentElement.scrollHeight);
    notify("ui/notifications/size-changed", { width: Math.ceil(document.documentElement.scrollWidth), height });
  };
  const show = (...nodes) => { root.replaceChildren(...nodes); resize(); };

  function colourRow(role, colour) {
    if (!colour) return null;
    return el("tr", {}, el("td", {}, role), el("td", {}, colourBadge(colour.server)),
              el("td", { class: colour.healthy ? "ok" : "bad" }, colour.status || (colour.healthy ? "UP" : "DOWN")),
              el("td", {}, colour.version || "—"), el("td", { class: "mono" }, short(colour.deployedCommit)));
  }

  function statusCard(s) {
    const card = el("div", { class: "card status", "data-app": s.app || "" });
    const live = s.liveColorKnown && s.current && s.current.prod ? s.current.prod.server : null;
    card.append(el("h2", {}, "Deployment status: " + (s.app || "")));
    card.append(el("p", {}, "Live: ", el("span", { class: "live" }, colourBadge(live))));
    if (!s.liveColorKnown) card.append(el("p", { class: "bad problem" }, s.problem || "Which colour is live is unknown."));
    const table = el("table", {}, el("tr", {}, el("th", {}, "Role"), el("th", {}, "Colour"), el("th", {}, "Health"),
                                      el("th", {}, "Version"), el("th", {}, "Commit")));
    if (s.current) {
      table.append(colourRow("PROD", s.current.prod), colourRow("STANDBY", s.current.standby));
    } else if (s.hosts) {
      table.append(colourRow("—", s.hosts.blue), colourRow("—", s.hosts.green));
    }
    card.append(table);
    const activity = s.activity;
    card.append(el("h3", {}, "Lock"));
    card.append(el("p", { class: "lock" }, activity && activity.running
      ? "Held: " + (activity.action || "work") + " in progress" + (activity.client ? " (" + activity.client + ")" : "")
      : activity && activity.interrupted ? "Free; the last " + (activity.action || "activity") + " was interrupted"
      : "Free"));
    const drift = [...(Array.isArray(s.drift) ? s.drift : []), ...(Array.isArray(s.warnings) ? s.warnings : [])];
    if (drift.length) {
      card.append(el("h3", {}, "Drift and warnings"));
      card.append(el("ul", { class: "drift warn" }, ...drift.map((d) => el("li", {}, String(d)))));
    }
    const history = s.history || {};
    card.append(el("h3", {}, "Last switches (" + (history.totalSwitches || 0) + " in all)"));
    const recent = list(history.recent).slice().reverse();
    card.append(recent.length
      ? el("ul", { class: "history" }, ...recent.map((h) => el("li", {}, (h.timestamp || "") + "  ",
          colourBadge(h.from), " → ", colourBadge(h.to), h.emergency ? " (emergency)" : "")))
      : el("p", { class: "muted" }, "None recorded."));
    return card;
  }

  function renderStatus(structured) {
    const reports = Array.isArray(structured.apps) ? list(structured.apps) : [structured];
    if (!reports.length) return show(el("p", { class: "muted" }, "No apps in this status."));
    show(...reports.map(statusCard));
  }

  async function refreshStatus(app, into) {
    try {
      const result = await request("tools/call", { name: "get_deployment_status", arguments: { app } });
      if (result && result.structuredContent) into.replaceChildren(statusCard(result.structuredContent));
    } catch (error) {
      into.replaceChildren(el("p", { class: "muted" }, "Status not refreshed: " + (error.message || error)));
    }
    resize();
  }

  function renderPlan(result) {
    const s = result.structuredContent;
    const plan = s.plan || {};
    const handle = result._meta ? result._meta["bluegreen-mcp/panelPlan"] : undefined;
    const app = plan.app || s.app;
    const card = el("div", { class: "card plan" });
    card.append(el("h2", {}, "Switch traffic for " + app + ": ", colourBadge(plan.from && plan.from.server), " → ",
                   colourBadge(plan.to && plan.to.server), plan.emergency ? el("span", { class: "badge emergency" }, "EMERGENCY") : null));
    const standby = plan.standby || {};
    card.append(el("p", {}, "New PROD: ", el("span", { class: standby.healthy ? "ok" : "bad" }, standby.health || "health unknown"),
                   " · deployed commit ", el("span", { class: "mono" }, short(standby.commit))));
    const lines = list(plan.haproxy && plan.haproxy.lines);
    if (lines.length) {
      card.append(el("h3", {}, "Configuration lines that change"));
      card.append(el("table", { class: "lines" }, el("tr", {}, el("th", {}, "Where"), el("th", {}, "Now"), el("th", {}, "After")),
        ...lines.map((l) => el("tr", {}, el("td", { class: "mono" }, l.file + ":" + l.line),
                               el("td", { class: "mono" }, l.now), el("td", { class: "mono" }, l.after)))));
    }
    // The earlier of the server's expiry time and the time left counted from now: a result drawn late
    // (or again, from history) shows no live buttons for a plan that is over.
    const atServer = Date.parse(s.expiresAt || "");
    const expires = Math.min(Date.now() + 1000 * (s.expiresInSeconds || 0), Number.isFinite(atServer) ? atServer : Infinity);
    const expiry = el("p", { class: "muted expiry" });
    const tick = () => {
      const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
      expiry.textContent = left > 0 ? "This plan is valid for " + left + " s more." : "This plan has expired.";
      return left > 0;
    };
    const timer = setInterval(() => { if (!tick()) { clearInterval(timer); approve.disabled = reject.disabled = true; } }, 1000);
    card.append(expiry);
    const outcome = el("div", { class: "outcome" });
    const status = el("div", { class: "after" });
    const approve = el("button", { class: "approve", type: "button" }, "Approve");
    const reject = el("button", { class: "reject", type: "button" }, "Reject");
    if (!handle) { approve.disabled = reject.disabled = true; outcome.append(el("p", { class: "bad" }, "This result carries no plan to answer.")); }
    if (!tick()) { clearInterval(timer); approve.disabled = reject.disabled = true; }
    const answer = async (choice) => {
      approve.disabled = reject.disabled = true;
      clearInterval(timer);
      expiry.textContent = "Answered: " + choice + ".";
      outcome.replaceChildren(el("p", { class: "muted" }, choice === "approve" ? "Switching…" : "Rejecting…"));
      resize();
      let text;
      let verdict;
      let ok = false;
      try {
        const answered = await request("tools/call", { name: "answer_switch_plan", arguments: { app, planId: handle, answer: choice } });
        text = textOf(answered);
        ok = !answered.isError;
        verdict = ok ? (choice === "approve" ? "Done." : "Rejected.") : "Not switched.";
      } catch (error) {
        // The answer may have reached the server and the switch may have run: say so, never "nothing".
        verdict = "Outcome unknown.";
        text = "No reply came back for the " + choice + " (" + (error.message || error) + "). The server may have " +
               "received it" + (choice === "approve" ? " and switched" : "") + ": the status below shows what is live " +
               "now; get_deployment_status and the audit log say what happened. Do not answer this plan again.";
      }
      outcome.replaceChildren(el("p", { class: ok ? "ok result" : "bad result" }, verdict),
                              el("pre", { class: "result-text" }, text));
      resize();
      if (hostCapabilities.updateModelContext) {
        request("ui/update-model-context", { content: [{ type: "text", text: "The human answered the traffic switch plan for app " +
          app + " in the deployment panel (" + choice + "). Outcome:\n" + text }] }).catch(() => {});
      }
      await refreshStatus(app, status);
    };
    approve.addEventListener("click", () => answer("approve"));
    reject.addEventListener("click", () => answer("reject"));
    card.append(el("div", { class: "buttons" }, approve, reject), outcome);
    show(card, status);
  }

  function renderResult(result) {
    const s = result && result.structuredContent;
    if (s && s.approvalChannel === "app" && s.plan) return renderPlan(result);
    if (s && (s.liveColorKnown !== undefined || Array.isArray(s.apps))) return renderStatus(s);
    show(el("div", { class: "card" }, el("pre", { class: result && result.isError ? "bad" : "" }, textOf(result))));
  }

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.id !== undefined && message.method === undefined) {  // a response to our request
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error.message || "error")); else waiter.resolve(message.result);
      return;
    }
    if (message.id !== undefined) {  // a request from the host
      if (message.method === "ui/resource-teardown" || message.method === "ping") post({ id: message.id, result: {} });
      else post({ id: message.id, error: { code: -32601, message: "Method not found: " + message.method } });
      return;
    }
    // A result, once shown, stays: input or a cancellation arriving after it does not replace it.
    if (message.method === "ui/notifications/tool-result") {
      shownResult = true;
      try { renderResult(message.params || {}); } catch (error) {
        show(el("div", { class: "card" }, el("p", { class: "bad" }, "This result could not be shown: " + error.message),
                el("pre", {}, textOf(message.params))));
      }
    } else if (message.method === "ui/notifications/tool-input" && !shownResult) {
      show(el("p", { class: "muted" }, "Running the tool…"));
    } else if (message.method === "ui/notifications/tool-cancelled" && !shownResult) {
      show(el("p", { class: "muted" }, "The tool call was cancelled."));
    }
  });

  request("ui/initialize", {
    appInfo: { name: "bluegreen-mcp deployment panel", version: "1" },
    appCapabilities: {},
    protocolVersion: "2026-01-26",
  }).then((result) => {
    hostCapabilities = (result && result.hostCapabilities) || {};
    notify("ui/notifications/initialized", {});
    resize();
  }).catch(() => show(el("p", { class: "bad" }, "The host did not accept this panel (ui/initialize failed).")));
})();
</script>
</body>
</html>
)HTML";

}  // namespace

std::string deployment_panel_html() { return std::string(kPanelHtml); }

}  // namespace bluegreen::web
