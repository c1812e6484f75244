// Interop test: the official TypeScript SDK client (@modelcontextprotocol/sdk) spawns the real
// bluegreen-mcp binary over stdio and exercises the protocol core as an IDE would; with a
// configuration of three apps, the completion of a prompt's app argument and the resources' list,
// templates and completion (reading them needs the lab: tests/e2e/tools_e2e_test.mjs).
//
// Usage: node sdk_client_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const binary = process.argv[2];
if (!binary) {
  console.error("usage: node sdk_client_test.mjs /path/to/bluegreen-mcp");
  process.exit(2);
}

const steps = [];
async function step(name, fn) {
  const started = performance.now();
  await fn();
  steps.push(name);
  console.log(`ok - ${name} (${(performance.now() - started).toFixed(1)} ms)`);
}

const transport = new StdioClientTransport({
  command: binary,
  args: ["--enable-test-tools", "--log-level", "info"],
  stderr: "pipe",
  // The SDK passes only a few variables (HOME, PATH, ...); the sanitizer presets' settings too.
  env: {
    ...getDefaultEnvironment(),
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => /^(A|T|UB|L)SAN_OPTIONS$/.test(key))),
  },
});
// The server's stderr log is the only outside view of what it did with a cancelled call.
let serverLog = "";
transport.stderr.on("data", (chunk) => (serverLog += chunk));
const client = new Client({ name: "sdk-interop-test", version: "1.0.0" }, { capabilities: {} });
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));

await step("initialize", async () => {
  await client.connect(transport);
  const info = client.getServerVersion();
  assert.equal(info.name, "bluegreen-mcp");
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  const caps = client.getServerCapabilities();
  assert.ok(caps.tools, "server advertises tools");
  assert.ok(caps.logging, "server advertises logging");
  assert.match(client.getInstructions() ?? "", /switch_traffic/);
});

await step("ping", async () => {
  assert.deepEqual(await client.ping(), {});
});

await step("tools/list", async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  assert.deepEqual(names, [
    "get_deployment_status", "deploy_to_standby", "switch_traffic", "test_echo", "test_sleep", "test_fail", "test_long",
  ]);
  const status = tools[0];
  assert.equal(status.annotations.readOnlyHint, true);
  assert.equal(tools[2].annotations.destructiveHint, true);
  const echo = tools.find((t) => t.name === "test_echo");
  assert.equal(echo.title, "Echo (test only)");
  assert.equal(echo.inputSchema.type, "object");
  assert.equal(echo.annotations.readOnlyHint, true);
  assert.ok(echo.outputSchema, "echo has an outputSchema");
});

await step("tools/call with structured content (validated by the SDK against outputSchema)", async () => {
  const result = await client.callTool({ name: "test_echo", arguments: { text: "héllo\nwörld" } });
  assert.equal(result.isError, false);
  assert.equal(result.content[0].text, "héllo\nwörld");
  assert.deepEqual(result.structuredContent, { text: "héllo\nwörld" });
});

await step("bad arguments give an isError result naming the field", async () => {
  const result = await client.callTool({ name: "test_echo", arguments: { text: 5 } });
  assert.equal(result.isError, true);
  assert.match(result.content[0].text, /arguments\.text: expected string/);
});

await step("a deployment tool without configured apps says how to fix it", async () => {
  const result = await client.callTool({ name: "get_deployment_status", arguments: {} });
  assert.equal(result.isError, true);
  assert.match(result.content[0].text, /no apps are configured/);
});

await step("prompts are listed and rendered", async () => {
  const { prompts } = await client.listPrompts();
  assert.deepEqual(prompts.map((p) => p.name), ["release_to_production", "emergency_rollback"]);
  const rollback = await client.getPrompt({ name: "emergency_rollback", arguments: { app: "shop" } });
  assert.match(rollback.messages[0].content.text, /switch_traffic with app="shop" with emergency=true/);
  await assert.rejects(client.getPrompt({ name: "emergency_rollback", arguments: { app: "$(touch /tmp/x)" } }), /app/);
});

await step("unknown tool is a JSON-RPC error", async () => {
  await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), /Unknown tool: no_such_tool/);
});

await step("progress notifications arrive in order", async () => {
  const seen = [];
  const result = await client.callTool({ name: "test_sleep", arguments: { ms: 300, steps: 3 } }, CallToolResultSchema, {
    onprogress: (p) => seen.push(p),
  });
  assert.equal(result.isError, false);
  // The server writes progress 1, 2, 3 and then the result (the transcript test checks that exact
  // order on the wire). SDK 1.x runs notification handlers a microtask later but handles the
  // response at once, so when the last progress and the result arrive in one read it drops that
  // progress: accept a prefix, in order.
  assert.ok(seen.length >= 2, `only ${seen.length} progress notifications`);
  assert.deepEqual(seen.map((p) => p.progress), [1, 2, 3].slice(0, seen.length));
  assert.deepEqual(seen.map((p) => p.message), ["step 1/3", "step 2/3", "step 3/3"].slice(0, seen.length));
});

await step("logging/setLevel and notifications/message", async () => {
  await client.setLoggingLevel("debug");
  await client.callTool({ name: "test_sleep", arguments: { ms: 1 } });
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(logs.some((l) => /test_sleep finished/.test(l.data)), `got logs ${JSON.stringify(logs)}`);
});

await step("a ping is answered while a long call runs, and cancellation stops the call", async () => {
  const controller = new AbortController();
  const started = performance.now();
  const long = client.callTool({ name: "test_sleep", arguments: { ms: 30000, steps: 300 } }, CallToolResultSchema, {
    signal: controller.signal,
  });
  await new Promise((r) => setTimeout(r, 100));
  await client.ping();
  const pingedAt = performance.now() - started;
  assert.ok(pingedAt < 5000, `ping answered after ${pingedAt} ms`);
  controller.abort("user pressed stop");
  await assert.rejects(long, /user pressed stop/);
  // The SDK sent notifications/cancelled; the server stopped the handler and sent no result.
  for (let i = 0; i < 100 && !/was cancelled; no result sent/.test(serverLog); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(serverLog, /cancelling tool test_sleep/);
  assert.match(serverLog, /tool test_sleep \(id \d+\) was cancelled; no result sent/);
  assert.ok(performance.now() - started < 10000, "cancelled call ran on");
  // The server is still healthy and its calls are done.
  const echo = await client.callTool({ name: "test_echo", arguments: { text: "still here" } });
  assert.equal(echo.content[0].text, "still here");
});

await step("a result too long for the client's context is shortened; the whole text is a resource", async () => {
  const result = await client.callTool({ name: "test_long", arguments: { bytes: 300000 } });
  const shown = result.content[0].text;
  assert.ok(Buffer.byteLength(shown) <= 60000, `${shown.length} bytes shown`);
  const uri = /resource (bluegreen:\/\/results\/[0-9a-f]{32})/.exec(shown)?.[1];
  assert.ok(uri, shown.slice(0, 300));
  assert.match(shown, /^\[This result is 300\d{3} bytes \(about 75\d{3} tokens\)/);
  assert.match(shown, /\nline 000001 of the long result\n/);
  assert.match(shown, /\[\.\.\. \d+ bytes, \d+ lines left out: read bluegreen/);
  assert.match(shown, /of the long result\n$/);
  const whole = (await client.readResource({ uri })).contents[0];
  assert.equal(whole.mimeType, "text/plain");
  assert.ok(whole.text.length >= 300000 && whole.text.startsWith("line 000001 "), `${whole.text.length} bytes`);
  assert.equal(whole.text.split("\n").length - 1, Math.ceil(300000 / 31));
  // A short result is sent whole; an unknown id is "not found".
  assert.equal((await client.callTool({ name: "test_long", arguments: { bytes: 100 } })).content[0].text.split("\n").length, 5);
  await assert.rejects(client.readResource({ uri: "bluegreen://results/0123" }),
    (e) => e.code === -32002 && /no tool result is kept under this id/.test(e.message));
});

await step("close: the server exits with status 0 when stdin closes", async () => {
  const exited = new Promise((resolve) => transport._process.once("exit", (code, signal) => resolve({ code, signal })));
  await client.close();
  const { code, signal } = await exited;
  // The SDK closes stdin first and only signals the process if it lingers.
  assert.equal(signal, null, "server had to be killed");
  assert.equal(code, 0);
});

await step("completion/complete and resources with the configured apps", async () => {
  // Two apps copied from the example configuration; completion reads names only, nothing is contacted.
  const dir = mkdtempSync(join(tmpdir(), "bluegreen-sdk-"));
  const example = JSON.parse(readFileSync(new URL("../../config/bluegreen.example.json", import.meta.url), "utf8"));
  const app = example.apps.attendant;
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify({ apps: { api: app, shop: app, "shop-admin": app } }));
  const withApps = new Client({ name: "sdk-completion-test", version: "1.0.0" }, { capabilities: {} });
  await withApps.connect(new StdioClientTransport({
    command: binary, args: ["--config", configFile], stderr: "ignore", env: transport._serverParams.env,
  }));
  try {
    assert.ok(withApps.getServerCapabilities().completions, "server advertises completions");
    const complete = (value) => withApps.complete({
      ref: { type: "ref/prompt", name: "emergency_rollback" }, argument: { name: "app", value },
    });
    assert.deepEqual((await complete("")).completion, { values: ["api", "shop", "shop-admin"], total: 3, hasMore: false });
    assert.deepEqual((await complete("SH")).completion.values, ["shop", "shop-admin"]);
    assert.deepEqual((await complete("x")).completion.values, []);
    await assert.rejects(withApps.complete({ ref: { type: "ref/prompt", name: "nope" }, argument: { name: "app", value: "" } }),
      /not a prompt of this server/);
    // Resources: one of each kind per app, listed without contacting anything; {app} completes.
    assert.deepEqual(withApps.getServerCapabilities().resources, { subscribe: true, listChanged: false });
    const uris = (await withApps.listResources()).resources.map((r) => r.uri);
    assert.equal(uris.length, 10);  // 3 per app, and the deployment panel
    assert.ok(uris.includes("ui://bluegreen-mcp/deployment-panel.html"), uris.join(" "));
    assert.ok(uris.includes("bluegreen://apps/shop-admin/audit"), uris.join(" "));
    const templates = (await withApps.listResourceTemplates()).resourceTemplates;
    assert.deepEqual(templates.map((t) => [t.uriTemplate, t.mimeType]), [
      ["bluegreen://apps/{app}/status", "text/plain"], ["bluegreen://apps/{app}/history", "application/json"],
      ["bluegreen://apps/{app}/audit", "text/plain"], ["bluegreen://results/{id}", "text/plain"]]);
    const completeApp = await withApps.complete({
      ref: { type: "ref/resource", uri: "bluegreen://apps/{app}/status" }, argument: { name: "app", value: "shop" },
    });
    assert.deepEqual(completeApp.completion.values, ["shop", "shop-admin"]);
    await assert.rejects(withApps.readResource({ uri: "bluegreen://apps/other/history" }),
      (e) => e.code === -32002 && /configured apps: api, shop, shop-admin/.test(e.message));
    await assert.rejects(withApps.readResource({ uri: "file:///etc/passwd" }), (e) => e.code === -32002);
  } finally {
    await withApps.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

assert.doesNotMatch(serverLog, /\[(error|critical)\]/, "server logged errors");
console.log(`${steps.length} passed, 0 failed`);
