// The approval page (approval.channels "url", issue 17), end to end: the official SDK client
// declares URL-mode elicitation and gets elicitation/create {mode: "url"}; the test then acts as
// the human's browser over real HTTP (the page's cookie, its form secret, its Origin), and the lab
// shows whether traffic moved. Also: which channel each kind of client gets, refusals on the page
// (no secret, a foreign Origin, a second opening of the link, an answer after the first), reject,
// expiry, a declined link, and that nothing about the page reaches the tool result.
//
// Usage: node --test tests/e2e/approval_page_e2e_test.mjs BINARY   (the lab up, HAProxy)
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ElicitRequestSchema, ElicitationCompleteNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { chromium } from "playwright-core";
import { configVariant, frontendColor, ssh, startClient, text, waitForBothUp } from "./support.mjs";

const pageConfig = (channels, ttlSeconds) => configVariant((c) => {
  c.apps.shop.approval = { channels, ...(ttlSeconds ? { tokenTtlSeconds: ttlSeconds } : {}) };
});
const urlChannels = pageConfig(["url", "token"]);

const clients = [];
after(async () => {
  for (const c of clients) await c.close().catch(() => {});
});

// A client declaring `capabilities`, whose elicitation requests are kept in `asked` and answered by
// `answer(params)` (default: accept a URL, approve a form). Completion notifications go to `completed`.
async function humanClient(config, capabilities, answer) {
  const human = await startClient({ config, name: "page-client", capabilities });
  clients.push(human);
  human.asked = [];
  human.completed = [];
  if (!capabilities.elicitation) return human;  // the SDK takes no elicitation handler then
  human.client.setRequestHandler(ElicitRequestSchema, async (request) => {
    human.asked.push(request.params);
    if (answer) return answer(request.params);
    return request.params.mode === "url" ? { action: "accept" } : { action: "accept", content: { approve: true } };
  });
  human.client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => human.completed.push(n.params));
  return human;
}

// The human's browser, over plain HTTP: follows the link once (keeping its cookie) and reads the
// page. Returns { page, origin, cookie, secret, html }.
async function openLink(url) {
  const link = await fetch(url, { redirect: "manual" });
  assert.equal(link.status, 303, `the link answers ${link.status}`);
  const cookie = link.headers.get("set-cookie").split(";")[0];
  const origin = new URL(url).origin;
  const page = new URL(link.headers.get("location"), origin).href;
  const html = await (await fetch(page, { headers: { cookie } })).text();
  const secret = /name="secret" value="([0-9a-f]+)"/.exec(html)?.[1];  // none once answered
  return { page, origin, cookie, secret, html };
}

function post(browser, decision, { origin = browser.origin, secret = browser.secret, cookie = browser.cookie } = {}) {
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  if (origin) headers.origin = origin;
  if (cookie) headers.cookie = cookie;
  return fetch(browser.page, {
    method: "POST", redirect: "manual", headers,
    body: `decision=${decision}${secret ? `&secret=${secret}` : ""}`,
  });
}

const pageText = async (browser) => (await fetch(browser.page, { headers: { cookie: browser.cookie } })).text();
const lastAudit = () => JSON.parse(ssh("lab-lb", "tail -n 1 /var/lib/bluegreen/audit.log").stdout);

// Runs switch_traffic on `human` while `browse(url)` plays the human on the page once the link is
// accepted; returns the result.
async function switchThroughPage(human, browse) {
  let browsing;
  const call = human.call("switch_traffic", {});
  while (!human.asked.some((a) => a.mode === "url")) await sleep(20);
  browsing = browse(human.asked.find((a) => a.mode === "url").url);
  const [result] = await Promise.all([call, browsing]);
  return result;
}

test("a URL-mode client approves on the page: traffic moves, the page shows the outcome, the result holds no URL", async () => {
  await waitForBothUp();
  const before = await frontendColor();
  const human = await humanClient(urlChannels, { elicitation: { url: {} } });
  let browser;
  const result = await switchThroughPage(human, async (url) => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/approve\/[0-9a-f]{64}$/);
    browser = await openLink(url);
    assert.match(browser.secret, /^[0-9a-f]{64}$/);
    assert.match(browser.html, /TRAFFIC SWITCH APPROVAL REQUIRED/);
    assert.match(browser.html, /default_backend/);
    const approved = await post(browser, "approve");
    assert.equal(approved.status, 303);
  });
  assert.equal(result.structuredContent.switched, true, text(result));
  const after = await frontendColor();
  assert.notEqual(after, before);
  const [asked] = human.asked;
  assert.equal(asked.mode, "url");
  assert.match(asked.message, /approval page/);
  assert.deepEqual(human.completed.map((c) => c.elicitationId), [asked.elicitationId]);
  // Nothing of the page in what the model sees.
  const seen = JSON.stringify(result);
  const secrets = [new URL(asked.url).pathname.split("/")[2], new URL(browser.page).pathname.split("/")[2], browser.secret];
  for (const s of secrets) assert.ok(!seen.includes(s), "a page secret is in the tool result");
  const audit = lastAudit();
  assert.equal(audit.approvedVia, "url");
  assert.equal(audit.client, "page-client");
  assert.match(audit.changeDigest, /^sha256:[0-9a-f]{64}$/);
  await sleep(50);
  assert.match(await pageText(browser), /TRAFFIC SWITCH COMPLETE/);
  // The link works once; an answer after the first is refused.
  assert.equal((await fetch(asked.url, { redirect: "manual" })).status, 410);
  assert.equal((await post(browser, "approve")).status, 409);
  assert.equal(await frontendColor(), after);
});

// Screenshots of the page go here (ctest: <build>/test-artifacts).
const artifacts = process.env.BLUEGREEN_ARTIFACTS_DIR || "test-artifacts";

test("in a real browser (Debian's headless Chromium): the human reads the plan, clicks Approve, sees the outcome", async () => {
  await waitForBothUp();
  const before = await frontendColor();
  mkdirSync(artifacts, { recursive: true });
  // The browser binary itself (/usr/bin/chromium is a wrapper script); root needs --no-sandbox.
  const executablePath = existsSync("/usr/lib/chromium/chromium") ? "/usr/lib/chromium/chromium" : "/usr/bin/chromium";
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], headless: true, timeout: 30000 });
  try {
    const human = await humanClient(urlChannels, { elicitation: { url: {} } });
    const result = await switchThroughPage(human, async (url) => {
      const tab = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
      await tab.goto(url, { timeout: 10000 });
      assert.match(new URL(tab.url()).pathname, /^\/page\/[0-9a-f]{64}$/);
      await tab.getByText("TRAFFIC SWITCH APPROVAL REQUIRED").waitFor({ timeout: 5000 });
      await tab.screenshot({ path: join(artifacts, "approval-page.png"), fullPage: true });
      await tab.click("button[value=approve]", { timeout: 5000 });
      await tab.getByText("TRAFFIC SWITCH COMPLETE").waitFor({ timeout: 30000 });  // the page refreshes itself
      await tab.screenshot({ path: join(artifacts, "approval-page-outcome.png"), fullPage: true });
    });
    assert.equal(result.structuredContent.switched, true, text(result));
    assert.notEqual(await frontendColor(), before);
    assert.equal(lastAudit().approvedVia, "url");
  } finally {
    await browser.close();
  }
});

test("refused on the page, nothing changes: no secret, a foreign Origin, no Origin, no cookie; then reject", async () => {
  await waitForBothUp();
  const before = await frontendColor();
  const human = await humanClient(urlChannels, { elicitation: { url: {} } });
  let browser;
  const result = await switchThroughPage(human, async (url) => {
    browser = await openLink(url);
    assert.equal((await post(browser, "approve", { secret: "" })).status, 400);  // no secret field at all
    assert.equal((await post(browser, "approve", { secret: "0".repeat(64) })).status, 403);
    assert.equal((await post(browser, "approve", { origin: "http://evil.example" })).status, 403);
    assert.equal((await post(browser, "approve", { origin: "" })).status, 403);
    assert.equal((await post(browser, "approve", { cookie: "" })).status, 403);
    assert.equal(await frontendColor(), before);
    assert.equal((await post(browser, "reject")).status, 303);
  });
  assert.equal(result.structuredContent.switched, false, text(result));
  assert.match(text(result), /NOT approved \(the human answered "reject"\)/);
  assert.equal(await frontendColor(), before);
  assert.match(await pageText(browser), /Rejected/);
  const audit = lastAudit();
  assert.deepEqual([audit.outcome, audit.reason], ["not-approved", "declined"]);
});

test("a page nobody answers expires: progress meanwhile, not switched, audited, and a late approval is refused", async () => {
  const before = await frontendColor();
  const human = await humanClient(pageConfig(["url"], 12), { elicitation: { url: {} } });
  let browser;
  const result = await switchThroughPage(human, async (url) => {
    browser = await openLink(url);
  });
  assert.match(text(result), /NOT approved: nobody answered on the approval page within 12 s/);
  // Progress every 10 s while the page waits, so a client that times out silent requests keeps waiting.
  assert.ok(human.progress.some((p) => /waiting for the human on the approval page \(\d+ s left\)/.test(p.message)),
    JSON.stringify(human.progress));
  assert.equal((await post(browser, "approve")).status, 409);
  assert.match(await pageText(browser), /expired/);
  assert.equal(await frontendColor(), before);
  assert.equal(lastAudit().reason, "page-expired");
});

test("the human declines the link in the client: not switched, the page says so", async () => {
  const before = await frontendColor();
  const human = await humanClient(urlChannels, { elicitation: { url: {} } }, () => ({ action: "decline" }));
  const result = await human.call("switch_traffic", {});
  assert.equal(result.structuredContent.switched, false, text(result));
  assert.match(text(result), /the human answered "decline"/);
  const browser = await openLink(human.asked[0].url);
  assert.match(browser.html, /declined the link/);
  assert.equal(browser.secret, undefined, "a withdrawn page offers no form");
  assert.equal(await frontendColor(), before);
});

test("approved on the page before the client declines the link: not switched, and the page says so", async () => {
  const before = await frontendColor();
  let approvedOnPage;
  const approved = new Promise((resolve) => (approvedOnPage = resolve));
  let browser;
  // The client answers only after the human has approved on the page, and then declines.
  const human = await humanClient(urlChannels, { elicitation: { url: {} } }, async (params) => {
    browser = await openLink(params.url);
    assert.equal((await post(browser, "approve")).status, 303);
    approvedOnPage();
    return { action: "decline" };
  });
  const result = await human.call("switch_traffic", {});
  await approved;
  assert.equal(result.structuredContent.switched, false, text(result));
  assert.equal(await frontendColor(), before);
  const shown = await pageText(browser);
  assert.match(shown, /Not switched\. The human declined the link in the assistant/);
  assert.doesNotMatch(shown, /http-equiv="refresh"/);
});

test("a client's error that quotes the link does not bring the link into the result", async () => {
  const human = await humanClient(urlChannels, { elicitation: { url: {} } }, (params) => {
    throw new Error(`could not open ${params.url} in a browser`);
  });
  const result = await human.call("switch_traffic", {});
  const url = human.asked[0].url;
  assert.match(result.structuredContent?.approvalToken ?? "", /^approve-/, text(result));  // the token fallback
  assert.match(text(result), /could not open <the approval link> in a browser/);
  assert.ok(!JSON.stringify(result).includes(url.split("/").pop()), "the link's secret is in the result");
});

test("each client gets the channel it declared, in approval.channels' order", async () => {
  const cases = [
    // [channels, capabilities, expected mode or "token" or "refused"]
    [["url", "elicitation"], { elicitation: { form: {} } }, "form"],
    [["elicitation", "url"], { elicitation: { url: {} } }, "url"],
    [["url", "elicitation"], { elicitation: { form: {}, url: {} } }, "url"],
    [["elicitation", "url"], { elicitation: { form: {}, url: {} } }, "form"],
    [["elicitation", "token"], { elicitation: { url: {} } }, "token"],
    [["url", "token"], {}, "token"],
    [["url"], { elicitation: {} }, "refused"],
  ];
  for (const [channels, capabilities, expected] of cases) {
    const before = await frontendColor();
    const human = await humanClient(pageConfig(channels), capabilities,
      () => ({ action: "decline" }));  // nothing may move in this test
    const result = await human.call("switch_traffic", {});
    const what = `${JSON.stringify(channels)} with ${JSON.stringify(capabilities)}`;
    if (expected === "token") {
      assert.match(result.structuredContent?.approvalToken ?? "", /^approve-/, what);
      assert.equal(human.asked.length, 0, what);
    } else if (expected === "refused") {
      assert.equal(result.isError, true, what);
      assert.match(text(result), /NO WAY TO APPROVE A SWITCH IN THIS CLIENT/, what);
      assert.equal(human.asked.length, 0, what);
    } else {
      assert.equal(human.asked.length, 1, what);
      assert.equal(human.asked[0].mode ?? "form", expected, what);
      assert.equal(result.structuredContent.switched, false, what);
    }
    assert.equal(await frontendColor(), before, what);
  }
});
