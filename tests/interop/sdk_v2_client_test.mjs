// Interop test: the official v2 TypeScript client (@modelcontextprotocol/client 2.3.1) drives the
// real binary over stdio in both eras.
// - Pinned to 2026-07-28 ({pin: "2026-07-28"}, which fails rather than fall back): server/discover
//   is answered, and tools, a tool call with progress, prompts and a resource work statelessly,
//   each request carrying its own _meta envelope. The SDK's StdioClientTransport probes the server
//   on a separate, disposable process; a subclass makes it probe on the one process instead, as
//   clients that reuse their connection do, so discover and the session share a pipe.
// - "auto" (discover first, initialize only if that fails) must end in the modern era too: an
//   invalid discover result would silently degrade it to legacy.
// - The client's default ("legacy") still negotiates 2025-11-25 through initialize.
//
// Usage: node sdk_v2_client_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const binary = process.argv[2];
if (!binary) {
  console.error("usage: node sdk_v2_client_test.mjs /path/to/bluegreen-mcp");
  process.exit(2);
}

class SameProcessTransport extends StdioClientTransport {}

let passed = 0;
async function step(name, fn) {
  await fn();
  passed++;
  console.log(`ok - ${name}`);
}

async function connect(mode, TransportClass = StdioClientTransport) {
  const transport = new TransportClass({ command: binary, args: ["--enable-test-tools", "--log-level", "warn"], stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (chunk) => (stderr += chunk));
  const client = new Client({ name: "sdk-v2-interop", version: "2.3.1" },
    { capabilities: {}, ...(mode ? { versionNegotiation: { mode } } : {}) });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

await step("pinned to 2026-07-28: discover, tools, a call with progress, prompts and a resource", async () => {
  const { client } = await connect({ pin: "2026-07-28" }, SameProcessTransport);
  assert.equal(client.getProtocolEra(), "modern");
  assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
  const discover = client.getDiscoverResult();
  assert.deepEqual(discover.supportedVersions, ["2026-07-28"]);
  assert.equal(client.getServerVersion()?.name, "bluegreen-mcp");
  assert.match(client.getInstructions() ?? "", /blue\/green deployments/);
  assert.ok(client.getServerCapabilities()?.tools, "no tools capability");

  const tools = (await client.listTools()).tools.map((t) => t.name);
  assert.ok(tools.includes("switch_traffic") && tools.includes("test_echo"), tools.join());
  assert.ok(!tools.includes("answer_switch_plan"), "an app-only tool was listed to a client without MCP Apps");
  const echo = await client.callTool({ name: "test_echo", arguments: { text: "modern" } });
  assert.equal(echo.content[0].text, "modern");
  assert.deepEqual(echo.structuredContent, { text: "modern" });

  const progress = [];
  const slept = await client.callTool({ name: "test_sleep", arguments: { ms: 300, steps: 3 } },
    { onprogress: (p) => progress.push(p.progress) });
  assert.equal(slept.isError, false);
  // The server sends 1, 2 and 3 before the reply; the client may drop the last one when it handles
  // the reply first (its notification handlers run asynchronously), so only 1 and 2 are certain.
  assert.deepEqual(progress.slice(0, 2), [1, 2], JSON.stringify(progress));
  assert.ok(progress.length <= 3 && (progress.length < 3 || progress[2] === 3), JSON.stringify(progress));

  const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
  assert.deepEqual(prompts.sort(), ["emergency_rollback", "release_to_production"]);
  const resources = (await client.listResources()).resources.map((r) => r.uri);
  assert.ok(resources.includes("ui://bluegreen-mcp/deployment-panel.html"), resources.join());
  const panel = await client.readResource({ uri: "ui://bluegreen-mcp/deployment-panel.html" });
  assert.match(panel.contents[0].text, /<html/i);
  await assert.rejects(client.readResource({ uri: "bluegreen://apps/none/status" }), /-32602|not found|Resource/i);
  await client.close();
});

await step("auto: discovers the modern era rather than falling back", async () => {
  const { client } = await connect("auto");
  assert.equal(client.getProtocolEra(), "modern");
  assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
  const echo = await client.callTool({ name: "test_echo", arguments: { text: "auto" } });
  assert.equal(echo.content[0].text, "auto");
  await client.close();
});

await step("the client's default: the legacy era through initialize, 2025-11-25", async () => {
  const { client } = await connect(undefined);
  assert.equal(client.getProtocolEra(), "legacy");
  assert.equal(client.getNegotiatedProtocolVersion(), "2025-11-25");
  const echo = await client.callTool({ name: "test_echo", arguments: { text: "legacy" } });
  assert.equal(echo.content[0].text, "legacy");
  await client.close();
});

console.log(`${passed} passed, 0 failed`);
