// Interop test: a client built on an older official SDK (@modelcontextprotocol/sdk 1.12.3, npm alias
// mcp-sdk-1.12) spawns the real bluegreen-mcp binary over stdio. That SDK asks for protocol
// 2025-03-26 and disconnects when the server answers with a revision it does not know. Checks that
// it connects, gets 2025-03-26, sees nothing that revision lacks (titles, outputSchema,
// structuredContent), and still gets complete results.
//
// Usage: node older_sdk_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { Client } from "mcp-sdk-1.12/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "mcp-sdk-1.12/client/stdio.js";
import { CallToolResultSchema, LATEST_PROTOCOL_VERSION } from "mcp-sdk-1.12/types.js";

const binary = process.argv[2];
if (!binary) {
  console.error("usage: node older_sdk_test.mjs /path/to/bluegreen-mcp");
  process.exit(2);
}
assert.equal(LATEST_PROTOCOL_VERSION, "2025-03-26", "this test is about a client whose newest revision is 2025-03-26");

const steps = [];
async function step(name, fn) {
  await fn();
  steps.push(name);
  console.log(`ok - ${name}`);
}

const transport = new StdioClientTransport({
  command: binary,
  args: ["--enable-test-tools", "--log-level", "info"],
  stderr: "pipe",
  env: {
    ...getDefaultEnvironment(),
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => /^(A|T|UB|L)SAN_OPTIONS$/.test(key))),
  },
});
let serverLog = "";
transport.stderr.on("data", (chunk) => (serverLog += chunk));
// What the server sent, as the client received it (the SDK keeps no copy of the negotiated version).
const received = [];
const client = new Client({ name: "older-sdk-test", version: "1.12.3" }, { capabilities: {} });

await step("initialize: the server answers with the client's 2025-03-26", async () => {
  await client.connect(transport);  // throws "Server's protocol version is not supported" otherwise
  const onmessage = transport.onmessage;
  transport.onmessage = (message) => {
    received.push(message);
    onmessage(message);
  };
  assert.match(serverLog, /client "older-sdk-test" "1\.12\.3" requested protocol "2025-03-26" \(answering 2025-03-26\)/);
  const info = client.getServerVersion();
  assert.equal(info.name, "bluegreen-mcp");
  assert.equal(info.title, undefined, "Implementation.title is 2025-06-18's");
  assert.ok(client.getServerCapabilities().tools);
});

await step("tools/list: annotations, no title or outputSchema", async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  assert.deepEqual(names.slice(0, 3), ["get_deployment_status", "deploy_to_standby", "switch_traffic"]);
  for (const tool of tools) {
    assert.equal(tool.title, undefined, `${tool.name} has a title`);
    assert.equal(tool.outputSchema, undefined, `${tool.name} has an outputSchema`);
    assert.equal(typeof tool.annotations, "object", `${tool.name} has no annotations`);
  }
  assert.equal(tools[0].annotations.readOnlyHint, true);
  assert.equal(tools[2].annotations.destructiveHint, true);
});

await step("tools/call: the text, no structuredContent", async () => {
  const result = await client.callTool({ name: "test_echo", arguments: { text: "héllo" } });
  assert.equal(result.isError, false);
  assert.equal(result.content[0].text, "héllo");
  const reply = received.findLast((m) => m.result?.content);
  assert.equal(reply.result.structuredContent, undefined);
  assert.equal(result.structuredContent, undefined);
});

await step("a deployment tool answers in text", async () => {
  const result = await client.callTool({ name: "get_deployment_status", arguments: {} });
  assert.equal(result.isError, true);
  assert.match(result.content[0].text, /no apps are configured/);
});

await step("progress notifications carry their messages (2025-03-26 has them)", async () => {
  const seen = [];
  await client.callTool({ name: "test_sleep", arguments: { ms: 300, steps: 3 } }, CallToolResultSchema, {
    onprogress: (p) => seen.push(p),
  });
  // As in sdk_client_test.mjs: SDK 1.x may drop the last progress that arrives with the result.
  assert.ok(seen.length >= 2, `only ${seen.length} progress notifications`);
  assert.deepEqual(seen.map((p) => p.message), ["step 1/3", "step 2/3", "step 3/3"].slice(0, seen.length));
});

await step("prompts: listed without titles and rendered", async () => {
  const { prompts } = await client.listPrompts();
  assert.deepEqual(prompts.map((p) => p.name), ["release_to_production", "emergency_rollback"]);
  for (const prompt of prompts) assert.equal(prompt.title, undefined);
  const rollback = await client.getPrompt({ name: "emergency_rollback", arguments: { app: "shop" } });
  assert.match(rollback.messages[0].content.text, /emergency=true/);
});

await step("end of input: the server exits with status 0", async () => {
  // SDK 1.12's close() sends SIGTERM at once (later SDKs close stdin first), so end stdin here.
  const exited = new Promise((resolve) => transport._process.once("exit", (code, signal) => resolve({ code, signal })));
  transport._process.stdin.end();
  const { code, signal } = await exited;
  assert.equal(signal, null, "server had to be killed");
  assert.equal(code, 0);
  await client.close();
});

assert.doesNotMatch(serverLog, /\[(error|critical)\]/, "server logged errors");
console.log(`${steps.length} passed, 0 failed`);
