// The deployment panel (approval.channels "app", issue 17), end to end: the official SDK client
// declares MCP Apps (capabilities.extensions["io.modelcontextprotocol/ui"]); a host built on the
// official ext-apps AppBridge (apps_host.mjs) renders the server's ui:// resource in headless
// Chromium for get_deployment_status and switch_traffic results; a click on Approve calls the
// app-only tool answer_switch_plan through the host, and the lab shows whether traffic moved.
// Also: the app-only tool is absent from tools/list for a client without MCP Apps (and refused
// to it), and absent from what the host shows its model; Reject, a second answer, an expired plan
// and the token echo of an app without "token" each change nothing.
//
// Usage: node --test tests/e2e/deployment_panel_e2e_test.mjs BINARY   (the lab up, HAProxy)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { appsCapabilities, openAppsHost } from "./apps_host.mjs";
import { approvedSwitch, binary, configVariant, frontendColor, ssh, startClient, text, waitForBothUp } from "./support.mjs";

const artifacts = process.env.BLUEGREEN_ARTIFACTS_DIR || "test-artifacts";
const docs = new URL("../../docs/", import.meta.url).pathname;
const panelConfig = (channels, ttlSeconds) => configVariant((c) => {
  c.apps.shop.approval = { channels, ...(ttlSeconds ? { tokenTtlSeconds: ttlSeconds } : {}) };
});
const lastAudit = () => JSON.parse(ssh("lab-lb", "tail -n 1 /var/lib/bluegreen/audit.log").stdout);
const upper = (colour) => colour.toUpperCase();

const opened = [];
after(async () => {
  for (const item of opened.reverse()) await item.close().catch(() => {});
});

// A client that renders MCP Apps (as the host's MCP client) with the host around it.
async function appsHost(config, name = "apps-host", hostOptions = {}) {
  const session = await startClient({ config, name, capabilities: appsCapabilities });
  opened.push(session);
  const host = await openAppsHost({ client: session.client, artifactsDir: artifacts, name, ...hostOptions });
  opened.push(host);
  return { session, host };
}

// The text of the view's element `selector`, once it is there.
async function viewText(frame, selector, timeout = 10000) {
  await frame.waitForSelector(selector, { timeout });
  return (await frame.textContent(selector)).trim();
}

// switch_traffic as the model calls it in the host: the plan comes back for the panel, with no token.
async function planInPanel(host) {
  const { result, frame } = await host.runTool("switch_traffic", {});
  assert.equal(result.isError, false, text(result));
  assert.equal(result.structuredContent.approvalChannel, "app", text(result));
  assert.equal(result.structuredContent.approvalToken, undefined, "a token reached the model");
  const handle = result._meta?.["bluegreen-mcp/panelPlan"];
  assert.match(handle ?? "", /^panel-[0-9a-f]{32}$/);
  const left = Date.parse(result.structuredContent.expiresAt) - Date.now();
  assert.ok(left > 0 && left <= 1000 * result.structuredContent.expiresInSeconds + 1000, result.structuredContent.expiresAt);
  assert.ok(!text(result).includes(handle), "the plan's handle is in the model's text");
  assert.match(text(result), /approves or rejects this plan in the deployment panel/);
  return { result, frame, handle };
}

before(async () => {
  await waitForBothUp();
  mkdirSync(artifacts, { recursive: true });
});

test("the app-only tool: listed and callable only for a client that renders MCP Apps, hidden from its model", async () => {
  const plain = await startClient({ config: panelConfig(["app", "token"]), name: "no-apps" });
  opened.push(plain);
  const plainTools = (await plain.client.listTools()).tools;
  assert.deepEqual(plainTools.map((t) => t.name).sort(), ["deploy_to_standby", "get_deployment_status", "switch_traffic"]);
  await assert.rejects(plain.call("answer_switch_plan", { planId: `panel-${"0".repeat(32)}`, answer: "approve" }),
    /Unknown tool: answer_switch_plan/);

  const { session, host } = await appsHost(panelConfig(["app", "token"]));
  const all = (await session.client.listTools()).tools;
  const hidden = all.find((t) => t.name === "answer_switch_plan");
  assert.deepEqual(hidden?._meta?.ui?.visibility, ["app"]);
  assert.ok(!(await host.modelTools()).some((t) => t.name === "answer_switch_plan"), "the model sees answer_switch_plan");
  const status = all.find((t) => t.name === "get_deployment_status");
  assert.equal(status._meta.ui.resourceUri, "ui://bluegreen-mcp/deployment-panel.html");
  const read = await session.client.readResource({ uri: "ui://bluegreen-mcp/deployment-panel.html" });
  assert.equal(read.contents[0].mimeType, "text/html;profile=mcp-app");
  assert.deepEqual(read.contents[0]._meta, { ui: { prefersBorder: true } });
  assert.doesNotMatch(read.contents[0].text, /<script[^>]+src=|https?:\/\/(?!www\.w3\.org)/, "the view loads nothing");
  // The plain client, with this config, gets a token: the panel is only for clients that render it.
  const plan = await plain.call("switch_traffic", {});
  assert.match(plan.structuredContent.approvalToken ?? "", /^approve-/, text(plan));
});

test("in the host (AppBridge in headless Chromium): the status shows the live colour; Approve switches; the panel and the model learn the outcome", async () => {
  const before = await frontendColor();
  const after = before === "blue" ? "green" : "blue";
  const { host } = await appsHost(panelConfig(["app", "token"]));

  const status = await host.runTool("get_deployment_status", {});
  assert.equal(await viewText(status.frame, ".status .live"), upper(before));
  assert.match(await viewText(status.frame, ".status"), /Lock\s*Free[\s\S]*Last switches \(\d+ in all\)/);
  await host.screenshot("deployment-panel-status.png");

  const { frame, handle } = await planInPanel(host);
  assert.match(await viewText(frame, ".plan h2"), new RegExp(`Switch traffic for shop: ${upper(before)} → ${upper(after)}`));
  assert.match(await viewText(frame, ".plan .lines"), new RegExp(`haproxy\\.cfg:\\d+.*_backend ${before}.*_backend ${after}`));
  assert.match(await viewText(frame, ".plan .expiry"), /valid for \d+ s more/);
  await host.screenshot("deployment-panel-plan.png");
  assert.equal(await frontendColor(), before, "traffic moved before the click");

  await frame.click("button.approve", { timeout: 5000 });
  assert.equal(await viewText(frame, ".outcome .result", 60000), "Done.");
  assert.match(await viewText(frame, ".outcome .result-text"), /TRAFFIC SWITCH COMPLETE/);
  assert.equal(await viewText(frame, ".after .status .live", 30000), upper(after));
  await host.screenshot("deployment-panel-outcome.png");

  assert.equal(await frontendColor(), after);
  const call = host.appToolCalls.find((c) => c.name === "answer_switch_plan");
  assert.deepEqual(call.arguments, { app: "shop", planId: handle, answer: "approve" });
  assert.match(host.modelContext.at(-1)?.content?.[0]?.text ?? "", /deployment panel \(approve\)[\s\S]*TRAFFIC SWITCH COMPLETE/);
  const audit = lastAudit();
  assert.equal(audit.approvedVia, "app");
  assert.equal(audit.client, "apps-host");
  assert.deepEqual(host.teardowns.filter((t) => !t.ok), []);
  assert.deepEqual(host.strayRequests, []);
  for (const name of ["deployment-panel-status.png", "deployment-panel-plan.png", "deployment-panel-outcome.png"]) {
    if (existsSync(docs)) copyFileSync(join(artifacts, name), join(docs, name));
  }

  // Back, through the token (a client without MCP Apps, the same configuration).
  const back = await startClient({ config: panelConfig(["app", "token"]), name: "back" });
  opened.push(back);
  const { done } = await approvedSwitch(back);
  assert.equal(done.structuredContent.switched, true, text(done));
  assert.equal(await frontendColor(), before);
});

test("Reject changes nothing and is audited; the plan cannot be answered twice", async () => {
  const before = await frontendColor();
  const { session, host } = await appsHost(panelConfig(["app"]));
  const { frame, handle } = await planInPanel(host);
  await frame.click("button.reject", { timeout: 5000 });
  assert.equal(await viewText(frame, ".outcome .result", 30000), "Rejected.");
  assert.match(await viewText(frame, ".outcome .result-text"), /the human rejected the plan in the deployment panel/);
  assert.equal(await frontendColor(), before);
  const rejected = lastAudit();
  assert.deepEqual([rejected.outcome, rejected.reason, rejected.channel, rejected.client],
    ["not-approved", "declined", "app", "apps-host"]);
  assert.equal(await frame.isDisabled("button.approve"), true);

  // The same handle again (as a second click in another copy of the panel would send it).
  const again = await session.call("answer_switch_plan", { app: "shop", planId: handle, answer: "approve" });
  assert.equal(again.isError, true);
  assert.match(text(again), /already answered/);
  assert.equal(await frontendColor(), before);
  assert.deepEqual([lastAudit().reason, lastAudit().channel], ["panel-refused", "app"]);
});

test("no reply to Approve (the host's request timed out): the panel says the outcome is unknown, never that nothing happened", async () => {
  const before = await frontendColor();
  const { host } = await appsHost(panelConfig(["app"]), "impatient-host", { viewCallTimeout: 1 });
  const { frame } = await planInPanel(host);
  await frame.click("button.approve", { timeout: 5000 });
  assert.equal(await viewText(frame, ".outcome .result", 30000), "Outcome unknown.");
  const shown = await viewText(frame, ".outcome .result-text");
  assert.match(shown, /The server may have received it and switched: the status below shows what is live now/);
  assert.doesNotMatch(shown, /Nothing was/);
  assert.doesNotMatch(host.modelContext.at(-1)?.content?.[0]?.text ?? "", /Nothing was/);
  // Whatever the server did (cancelled before the switch, or switched), the lab agrees with status.
  await waitForBothUp();
  const live = (await host.runTool("get_deployment_status", {})).result.structuredContent.current.prod.server;
  assert.equal(live.toLowerCase(), await frontendColor());
  if (live.toLowerCase() !== before) {
    const back = await startClient({ config: panelConfig(["app", "token"]), name: "back" });
    opened.push(back);
    assert.equal((await approvedSwitch(back)).done.structuredContent.switched, true);
  }
});

test("an expired plan: the buttons turn off, and an answer after expiry is refused", async () => {
  const before = await frontendColor();
  const { session, host } = await appsHost(panelConfig(["app"], 2));
  const { frame, handle } = await planInPanel(host);
  await sleep(2600);
  assert.equal(await viewText(frame, ".plan .expiry"), "This plan has expired.");
  assert.equal(await frame.isDisabled("button.approve"), true);
  const late = await session.call("answer_switch_plan", { app: "shop", planId: handle, answer: "approve" });
  assert.equal(late.isError, true);
  assert.match(text(late), /this plan expired/);
  assert.equal(await frontendColor(), before);
});

test("channels without \"token\": the model cannot approve by echoing anything; a client without MCP Apps is told how", async () => {
  const before = await frontendColor();
  const { session, host } = await appsHost(panelConfig(["app"]));
  const { handle } = await planInPanel(host);
  const echo = await session.call("switch_traffic", { approvalToken: `approve-${"ab".repeat(16)}` });
  assert.equal(echo.isError, true);
  assert.match(text(echo), /does not accept approval tokens/);
  const handleAsToken = await session.call("switch_traffic", { approvalToken: handle });
  assert.equal(handleAsToken.isError, true);
  assert.match(text(handleAsToken), /approvalToken/);

  const plain = await startClient({ config: panelConfig(["app"]), name: "no-apps" });
  opened.push(plain);
  const refused = await plain.call("switch_traffic", {});
  assert.equal(refused.isError, true);
  assert.match(text(refused), /NO WAY TO APPROVE A SWITCH IN THIS CLIENT[\s\S]*MCP Apps \(the deployment panel\)/);
  assert.equal(await frontendColor(), before);

  // check-config warns who is left without a way, and says who gets the panel.
  const check = (channels) =>
    spawnSync(binary, ["check-config", "--config", panelConfig(channels)], { encoding: "utf8", timeout: 60000 }).stdout;
  assert.match(check(["app"]), /only clients with MCP Apps can approve switches/);
  assert.match(check(["elicitation", "app", "token"]),
    /clients that render MCP Apps show the plan in the deployment panel; others get a single-use token/);
});
