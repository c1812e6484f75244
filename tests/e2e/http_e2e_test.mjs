// End to end over MCP's Streamable HTTP transport: the real binary as `bluegreen-mcp serve` on
// 127.0.0.1 (a port the kernel picks, a bearer tokens file), driven by the official clients pinned in
// package.json (SDK 1.32, SDK 1.12.3, the v2 client 2.3.1, the Inspector CLI 2.12.0) and by raw
// HTTP, against the lab's real sshd hosts, HAProxy and apps: tools, resources and progress over the
// POST's SSE stream; approvals by elicitation that really move traffic, and two sessions racing to
// switch; protocol 2026-07-28 (the v2 client pinned) approving a switch by multi-round-trip over
// HTTP and stdio; per client (SDK 1.12.3, the v2 client's default era, the Inspector CLI over HTTP
// and stdio) tools, a resource, status and the approval its protocol era allows (token or form);
// the access checks and the transport's errors; 200 sessions; slow clients; SIGTERM.
//
// The live colour is whatever the lab serves when the file starts; every switch here is undone by a
// switch back, so the lab is left as found (BLUE live after lab up).
// Usage: node --test-reporter=spec tests/e2e/http_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { Client as Client112 } from "mcp-sdk-1.12/client/index.js";
import { StreamableHTTPClientTransport as Transport112 } from "mcp-sdk-1.12/client/streamableHttp.js";
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { StdioClientTransport as StdioTransportV2 } from "@modelcontextprotocol/client/stdio";
import {
  assertConsistent, assertNoSanitizerReport, binary, frontendColor, lab, readStateFile, serverEnvironment, ssh, startHttpClient,
  startHttpServer, text, waitForBothUp,
} from "./support.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const deploymentTools = ["get_deployment_status", "deploy_to_standby", "switch_traffic"];
const other = (color) => (color === "blue" ? "green" : "blue");
// The sanitizer presets run the binary with their options in the environment (CMakePresets.json).
const sanitized = Object.keys(process.env).some((key) => /^(A|T|UB|L)SAN_OPTIONS$/.test(key));

const token = randomBytes(32).toString("hex");
const server = await startHttpServer({ tokens: [{ token, label: "e2e-http" }], testTools: true });
const auth = { Authorization: `Bearer ${token}` };
let startedLive;  // the colour the lab serves when the file starts

// The protocol revision the server answered each client with, from its log line
// "client "NAME" "VERSION" requested protocol "X" (answering Y)" (the client's strings quoted as JSON).
function negotiated(clientName) {
  const lines = [...server.stderr().matchAll(/client "(\S+)" "\S*" requested protocol "(\S+)" \(answering (\S+)\)/g)];
  const line = lines.filter((m) => m[1] === clientName).at(-1);
  assert.ok(line, `no initialize of ${clientName} in the server's log`);
  return { requested: line[2], answered: line[3] };
}
const versions = {};

// One request with node:http on a new connection (no agent): { status, headers, body }. Host is
// node's (127.0.0.1:PORT) unless `headers` has one.
function raw({ method = "POST", headers = {}, body, port = server.port, path = "/mcp", timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, path, method, agent: false, timeout, headers: {
      "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers,
    } }, (response) => {
      let data = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (data += chunk));
      response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, body: data }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`${method} ${path}: no answer in ${timeout} ms`)));
    request.on("error", reject);
    request.end(body === undefined ? undefined : typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body));
  });
}
const initialize = (name = "raw-http") => ({
  jsonrpc: "2.0", id: 1, method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name, version: "1.0.0" } },
});
const toolsList = (id = 2) => ({ jsonrpc: "2.0", id, method: "tools/list" });
// A session over raw HTTP: initialize and notifications/initialized. Returns its Mcp-Session-Id.
async function rawSession(name) {
  const init = await raw({ headers: auth, body: initialize(name) });
  assert.equal(init.status, 200, init.body);
  const session = init.headers["mcp-session-id"];
  assert.match(session, /^[0-9a-f]{32}$/);
  const initialized = await raw({ headers: { ...auth, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25" },
    body: { jsonrpc: "2.0", method: "notifications/initialized" } });
  assert.equal(initialized.status, 202, initialized.body);
  return session;
}
// An error answer of the transport: the status, and a JSON-RPC error object with id null.
function assertRefused(response, status, what) {
  assert.equal(response.status, status, `${what}: ${response.status} ${response.body.slice(0, 300)}`);
  const error = JSON.parse(response.body);
  assert.equal(error.jsonrpc, "2.0");
  assert.equal(error.id, null);
  assert.equal(typeof error.error?.message, "string", response.body);
}

// A fetch for the SDK's transport that records each POST: { method (the JSON-RPC method, or
// "(response)" for the client's answers), status, type (the response's Content-Type), body (a
// promise of the response's whole text, read from a clone) }.
function recorder() {
  const posts = [];
  const spy = async (url, init) => {
    const response = await fetch(url, init);
    if (init?.method === "POST") {
      const message = JSON.parse(init.body);
      posts.push({ method: message.method ?? "(response)", status: response.status,
        type: response.headers.get("content-type"), body: response.clone().text().catch((e) => `(unread: ${e})`) });
    }
    return response;
  };
  return { posts, fetch: spy };
}
// The JSON-RPC messages of an SSE body (its "data:" lines), in order.
function sseMessages(body) {
  return body.split(/\r?\n\r?\n/).map((event) => event.split(/\r?\n/).filter((l) => l.startsWith("data:"))
    .map((l) => l.slice(5).trimStart()).join("\n")).filter((data) => data !== "").map((data) => JSON.parse(data));
}

// A client whose human accepts every switch plan by form elicitation; `gate` (optional) is awaited
// before answering. `asked` collects the messages.
async function approvingClient(name, gate = async () => {}) {
  const record = recorder();
  const c = await startHttpClient(server.url, token, { name, capabilities: { elicitation: { form: {} } }, fetch: record.fetch });
  c.posts = record.posts;
  c.asked = [];
  c.client.setRequestHandler(ElicitRequestSchema, async (request) => {
    c.asked.push(request.params.message);
    await gate();
    return { action: "accept", content: { approve: true } };
  });
  return c;
}
// A switch approved by elicitation through `c`; asserts it happened and the frontend moved.
async function switchByElicitation(c) {
  const before = await frontendColor();
  const asked = c.asked.length;
  const result = await c.call("switch_traffic", {});
  assert.equal(c.asked.length, asked + 1, "the human was asked once");
  assert.match(c.asked.at(-1), /TRAFFIC SWITCH APPROVAL REQUIRED/);
  assert.equal(result.isError, false, text(result));
  assert.equal(result.structuredContent.switched, true, text(result));
  assert.equal(await frontendColor(), other(before));
  return result;
}

// After a failed case: the colour the file found put back through `c`, if it moved.
async function restoreLive(c) {
  if ((await frontendColor().catch(() => startedLive)) === startedLive) return;
  const result = await c.call("switch_traffic", {}).catch((e) => ({ error: e }));
  console.log(`restored ${startedLive.toUpperCase()} live after a failure: ${result.error ?? text(result).split("\n")[0]}`);
}

const clients = [];
before(async () => {
  await waitForBothUp();
  startedLive = await frontendColor();
});
// A safety net only: the last test stops the server and checks how (a failure in an after hook does
// not fail the run of a file started without --test).
after(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  server.signal("SIGKILL");
  await server.stop().catch(() => {});
});

test("SDK 1.32: tools, a resource, status naming the live colour, progress over the POST's SSE stream", async () => {
  const record = recorder();
  const c = await startHttpClient(server.url, token, { name: "sdk-1.32-http", fetch: record.fetch });
  clients.push(c);
  assert.match(c.transport.sessionId, /^[0-9a-f]{32}$/);
  versions["sdk 1.32.2"] = { ...negotiated("sdk-1.32-http"), client: c.transport.protocolVersion };
  assert.equal(c.transport.protocolVersion, "2025-11-25");

  const tools = (await c.client.listTools()).tools.map((t) => t.name);
  for (const name of deploymentTools) assert.ok(tools.includes(name), tools.join());

  const resources = (await c.client.listResources()).resources.map((r) => r.uri);
  assert.ok(resources.includes("bluegreen://apps/shop/status"), resources.join());
  const live = await frontendColor();
  const status = (await c.client.readResource({ uri: "bluegreen://apps/shop/status" })).contents;
  assert.match(status[0].text, new RegExp(`PROD.*${live.toUpperCase()}`, "s"));

  const s = await c.call("get_deployment_status");
  assert.equal(s.isError, false, text(s));
  assert.equal(s.structuredContent.current.prod.server, live.toUpperCase());
  assert.deepEqual(s.structuredContent.drift, []);

  c.progress.length = 0;
  const arrivals = [];
  const t0 = Date.now();
  const slept = await c.call("test_sleep", { ms: 900, steps: 3 }, { onprogress: (p) => {
    c.progress.push(p);
    arrivals.push(Date.now() - t0);
  } });
  const replied = Date.now() - t0;
  assert.equal(slept.isError, false, text(slept));
  assert.ok(c.progress.length >= 2, `progress: ${JSON.stringify(c.progress)}`);
  const values = c.progress.map((p) => p.progress);
  assert.deepEqual(values, [...values].sort((a, b) => a - b));
  // Streamed as they happen, not held back until the reply.
  assert.ok(arrivals[0] < replied - 250, `first progress at ${arrivals[0]} ms, the reply at ${replied} ms`);
  // Lists and reads come back as JSON; tool calls as an SSE stream: the progress, then the reply.
  assert.deepEqual(record.posts.filter((p) => p.method === "tools/list").map((p) => [p.status, p.type]), [[200, "application/json"]]);
  const calls = record.posts.filter((p) => p.method === "tools/call");
  assert.equal(calls.length, 2);
  for (const call of calls) assert.match(call.type, /^text\/event-stream/);
  const stream = sseMessages(await calls[1].body);
  // Its progress and log lines, then the reply, which ends it.
  const kinds = stream.map((m) => m.method ?? (m.id === undefined ? "?" : "reply"));
  assert.deepEqual(kinds.filter((k) => k !== "notifications/message"),
    [...Array(c.progress.length).fill("notifications/progress"), "reply"], JSON.stringify(stream));
  assert.equal(kinds.at(-1), "reply");
  assert.equal(stream.at(-1).result.isError, false);
  assert.match(server.stderr(), /http session [0-9a-f]+… started: client "sdk-1\.32-http" with token "e2e-http"/);
});

test("SDK 1.12.3, the v2 client (default and auto negotiation) and the Inspector CLI each list the tools", async () => {
  // SDK 1.12.3: asks for 2025-03-26.
  const old = new Client112({ name: "sdk-1.12-http", version: "1.12.3" }, { capabilities: {} });
  await old.connect(new Transport112(new URL(server.url), { requestInit: { headers: auth } }));
  try {
    const tools = (await old.listTools()).tools.map((t) => t.name);
    for (const name of deploymentTools) assert.ok(tools.includes(name), tools.join());
  } finally {
    await old.close();
  }
  versions["sdk 1.12.3"] = negotiated("sdk-1.12-http");
  assert.equal(versions["sdk 1.12.3"].answered, "2025-03-26");

  // The v2 client. Its default is the 2025 era: initialize, a session. In "auto" it first probes
  // with server/discover (MCP-Protocol-Version 2026-07-28, no session); this server answers it, so
  // the client must stay in that era (no initialize, no session): a fall back to initialize would
  // mean the discover result was refused. Status is called in that era too.
  for (const mode of ["default", "auto"]) {
    const posts = [];
    const spy = async (url, init) => {
      const response = await fetch(url, init);
      if (init?.method === "POST") {
        const headers = new Headers(init.headers);
        posts.push({ method: JSON.parse(init.body).method ?? "(response)", status: response.status,
          version: headers.get("mcp-protocol-version"), session: headers.has("mcp-session-id") });
      }
      return response;
    };
    const name = `client-2.3.1-${mode}`;
    const v2 = new ClientV2({ name, version: "2.3.1" }, mode === "default" ? {} : { versionNegotiation: { mode } });
    await v2.connect(new TransportV2(new URL(server.url), { fetch: spy, requestInit: { headers: auth } }));
    try {
      const tools = (await v2.listTools()).tools.map((t) => t.name);
      for (const n of deploymentTools) assert.ok(tools.includes(n), tools.join());
      const version = v2.getNegotiatedProtocolVersion();
      const summary = posts.map((p) => `${p.method} ${p.status}`);
      if (mode === "auto") {
        assert.equal(posts[0].status, 200, summary.join(", "));
        assert.equal(posts[0].method, "server/discover");
        assert.equal(version, "2026-07-28", summary.join(", "));
        assert.ok(!posts.some((p) => p.method === "initialize" || p.session), summary.join(", "));
        const s = await v2.callTool({ name: "get_deployment_status", arguments: {} });
        assert.equal(s.isError, false);
        assert.equal(s.structuredContent.current.prod.server, (await frontendColor()).toUpperCase());
        versions[`client 2.3.1 (${mode})`] = { client: version, era: "2026-07-28, no session", posts: summary };
      } else {
        assert.deepEqual(summary[0], "initialize 200");
        assert.equal(version, "2025-11-25");
        versions[`client 2.3.1 (${mode})`] = { ...negotiated(name), client: version, posts: summary };
      }
    } finally {
      await v2.close();
    }
  }

  // The Inspector CLI (it needs Node >= 22: the node@22 package in node_modules, as
  // tests/interop/inspector_cli_test.sh does), its HOME a temporary directory (it keeps a catalog
  // and storage there).
  const bin = join(root, "node_modules", ".bin");
  const home = mkdtempSync(join(tmpdir(), "bluegreen-inspector-"));
  try {
    const stdout = await new Promise((resolve, reject) => {
      execFile(join(bin, "node"), [join(bin, "mcp-inspector"), "--cli", server.url, "--transport", "http",
        "--method", "tools/list", "--header", `Authorization: Bearer ${token}`], {
        timeout: 30000, env: { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH}` },
      }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)));
    });
    const tools = JSON.parse(stdout).tools.map((t) => t.name);
    for (const name of deploymentTools) assert.ok(tools.includes(name), tools.join());
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  versions["inspector cli 2.12.0"] = negotiated("inspector-cli");
});

test("approval over HTTP: a form elicitation on the call's SSE stream approves the switch; traffic moves and comes back", async () => {
  const human = await approvingClient("approver-http");
  clients.push(human);
  const live = await assertConsistent(human);
  assert.equal(live, startedLive);
  // A release on the standby first when the state file has none yet (a fresh lab), with progress.
  if (!readStateFile()?.deploys?.length) {
    human.progress.length = 0;
    const deploy = await human.call("deploy_to_standby", {});
    assert.equal(deploy.isError, false, text(deploy));
    assert.ok(human.progress.some((p) => /^step 1\/\d+: backup$/.test(p.message)), JSON.stringify(human.progress));
  }
  const switches = readStateFile()?.switchCount ?? 0;
  const posted = human.posts.length;
  try {
    const done = await switchByElicitation(human);
    // The elicitation came on the call's own SSE stream, before its reply; the answer was a POST: 202.
    const exchange = human.posts.slice(posted);
    assert.deepEqual(exchange.map((p) => [p.method, p.status]), [["tools/call", 200], ["(response)", 202]]);
    const stream = sseMessages(await exchange[0].body);
    assert.equal(stream.filter((m) => m.method === "elicitation/create").length, 1, JSON.stringify(stream));
    assert.ok(stream.findIndex((m) => m.method === "elicitation/create") < stream.findIndex((m) => m.result), "asked before the reply");
    assert.equal(stream.at(-1).result.structuredContent.switched, true);
    assert.equal(readStateFile().prod, other(live));
    assert.equal(await assertConsistent(human), other(live));
    const last = readStateFile();
    assert.equal(last.switchCount, switches + 1);
    assert.match(text(done), /TRAFFIC SWITCH COMPLETE/);

    await switchByElicitation(human);
    assert.equal(await assertConsistent(human), live);
    assert.equal(readStateFile().switchCount, switches + 2);
  } finally {
    await restoreLive(human);
  }
});

test("two sessions switch at the same time, each approved by elicitation: exactly one switch happens", async () => {
  // Both humans answer only once both were asked: both plans exist before either is approved.
  let release;
  const bothAsked = new Promise((resolve) => (release = resolve));
  let askedCount = 0;
  const gate = async () => {
    if (++askedCount === 2) release();
    await Promise.race([bothAsked, sleep(15000)]);
  };
  const alice = await approvingClient("alice-http", gate);
  const bob = await approvingClient("bob-http", gate);
  clients.push(alice, bob);
  const live = await assertConsistent(alice);
  const switches = readStateFile()?.switchCount ?? 0;
  try {
    const results = await Promise.all([alice.call("switch_traffic", {}), bob.call("switch_traffic", {})]);
    assert.equal(askedCount, 2, "both humans were asked");
    const switched = results.filter((r) => r.structuredContent?.switched === true);
    const refused = results.filter((r) => r.isError);
    assert.equal(switched.length, 1, results.map(text).join("\n---\n"));
    assert.equal(refused.length, 1, results.map(text).join("\n---\n"));
    console.log(`race: the refused switch said: ${text(refused[0]).split("\n").slice(0, 2).join(" / ")}`);
    assert.match(text(refused[0]), /changed since the plan was made|locked by/);
    assert.equal(readStateFile().switchCount, switches + 1);
    assert.equal(await assertConsistent(bob), other(live));

    // Back as found.
    await switchByElicitation(alice);
    assert.equal(await assertConsistent(alice), live);
    assert.equal(live, startedLive);
  } finally {
    await restoreLive(alice);
  }
});

// The v2 client pinned to protocol 2026-07-28: no session and no requests from the server, so
// the approval form travels in an input_required result and the answer comes back with the
// retried call (multi-round-trip); the client answers it through its elicitation handler.
// Over HTTP (no session) and over stdio (the probe on the same process, as clients that reuse
// their connection do).
class SameProcessStdio extends StdioTransportV2 {}
async function modernClient(kind, answer) {
  const c = new ClientV2({ name: `modern-${kind}`, version: "2.3.1" },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: "2026-07-28" } } });
  const asked = [];
  c.setRequestHandler("elicitation/create", async (request) => {
    asked.push(request.params);
    return answer();
  });
  const transport = kind === "http"
    ? new TransportV2(new URL(server.url), { requestInit: { headers: auth } })
    : new SameProcessStdio({ command: binary, args: ["--config", lab.LAB_BLUEGREEN_CONFIG, "--log-level", "warn"],
      env: serverEnvironment(), stderr: "pipe" });
  await c.connect(transport);
  assert.equal(c.getProtocolEra(), "modern");
  assert.equal(c.getNegotiatedProtocolVersion(), "2026-07-28");
  return { client: c, asked };
}
const lastAudit = () => JSON.parse(ssh("lab-lb", "tail -n 1 /var/lib/bluegreen/audit.log").stdout);

test("2026-07-28 (HTTP and stdio): the v2 client approves a switch by multi-round-trip; a decline moves nothing", async () => {
  const live = await frontendColor();
  let reply = { action: "accept", content: { approve: true } };
  for (const kind of ["http", "stdio"]) {
    const { client, asked } = await modernClient(kind, () => reply);
    try {
      reply = { action: "decline" };
      const declined = await client.callTool({ name: "switch_traffic", arguments: {} });
      assert.equal(asked.length, 1, `${kind}: the human was asked once`);
      assert.equal(asked[0].mode, "form");
      assert.match(asked[0].message, /TRAFFIC SWITCH APPROVAL REQUIRED/);
      assert.equal(declined.structuredContent?.switched ?? false, false, JSON.stringify(declined));
      assert.equal(await frontendColor(), live, `${kind}: a declined switch moved traffic`);
      assert.equal(lastAudit().reason, "declined", JSON.stringify(lastAudit()));

      reply = { action: "accept", content: { approve: true } };
      const moved = await client.callTool({ name: "switch_traffic", arguments: {} });
      assert.equal(moved.isError, false, JSON.stringify(moved));
      assert.equal(moved.structuredContent.switched, true, JSON.stringify(moved));
      assert.equal(asked.length, 2);
      assert.equal(await frontendColor(), other(live), `${kind}: traffic did not move`);
      const audit = lastAudit();
      assert.equal(audit.approvedVia, "elicitation", JSON.stringify(audit));
      // Over HTTP the bearer token's label goes with the name the client gave itself.
      assert.equal(audit.client, kind === "http" ? "modern-http (token e2e-http)" : "modern-stdio", JSON.stringify(audit));

      const back = await client.callTool({ name: "switch_traffic", arguments: {} });
      assert.equal(back.structuredContent.switched, true, JSON.stringify(back));
      assert.equal(await frontendColor(), live);
    } finally {
      if ((await frontendColor()) !== live) await client.callTool({ name: "switch_traffic", arguments: {} }).catch(() => {});
      await client.close();
    }
  }
});

// The Inspector CLI, one process per call (it needs Node >= 22: the node@22 package in
// node_modules; its HOME a temporary directory, where it keeps a catalog and storage). Over HTTP
// (`target.url`) it talks to the shared server with the bearer token; over stdio it starts the
// binary itself on the lab's config, with the server environment passed by -e (the sanitizer
// presets' settings too), at --log-level info so that its stderr (which the Inspector passes on)
// has the negotiation line. Resolves to { code, result (stdout as JSON, null if it is not),
// stdout, stderr } whatever the exit status: it exits non-zero for an isError result, the result
// still on stdout.
function inspector(home, target, args) {
  const bin = join(root, "node_modules", ".bin");
  const argv = [join(bin, "mcp-inspector"), "--cli"];
  if (target.url) argv.push(target.url, "--transport", "http", "--header", `Authorization: Bearer ${token}`, ...args);
  else {
    const env = Object.entries(serverEnvironment()).filter(([, value]) => value).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    argv.push(...env, ...args, "--", binary, "--config", lab.LAB_BLUEGREEN_CONFIG, "--log-level", "info");
  }
  return new Promise((resolve) => {
    execFile(join(bin, "node"), argv, { timeout: 30000, env: { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH}` } },
      (error, stdout, stderr) => {
        let result = null;
        try {
          result = JSON.parse(stdout);
        } catch {
          // not JSON: the caller reports stdout and stderr
        }
        resolve({ code: error ? (error.code ?? error.signal) : 0, result, stdout, stderr });
      });
  });
}

// One client of the matrix behind one interface: tools(), resources() (URIs), read(uri) (the text
// of the first content), call(tool, args) (the tool result as JSON), close(); asked (the approval
// forms its human answered, for the clients that declare form elicitation) and negotiated()
// ({ requested, answered } from the server's log line).
async function sdk112Session(name) {
  const c = new Client112({ name, version: "1.12.3" }, { capabilities: {} });
  const transport = new Transport112(new URL(server.url), { requestInit: { headers: auth } });
  await c.connect(transport);
  return {
    tools: async () => (await c.listTools()).tools.map((t) => t.name),
    resources: async () => (await c.listResources()).resources.map((r) => r.uri),
    read: async (uri) => (await c.readResource({ uri })).contents[0].text,
    call: (tool, args = {}) => c.callTool({ name: tool, arguments: args }, undefined, { timeout: 60000 }),
    negotiated: () => negotiated(name),
    close: async () => {
      await transport.terminateSession().catch(() => {});
      await c.close();
    },
  };
}
async function v2LegacySession(name) {
  const c = new ClientV2({ name, version: "2.3.1" }, { capabilities: { elicitation: { form: {} } } });
  const asked = [];
  c.setRequestHandler("elicitation/create", async (request) => {
    asked.push(request.params.message);
    return { action: "accept", content: { approve: true } };
  });
  const transport = new TransportV2(new URL(server.url), { requestInit: { headers: auth } });
  await c.connect(transport);
  assert.equal(c.getNegotiatedProtocolVersion(), "2025-11-25");
  return {
    asked,
    tools: async () => (await c.listTools()).tools.map((t) => t.name),
    resources: async () => (await c.listResources()).resources.map((r) => r.uri),
    read: async (uri) => (await c.readResource({ uri })).contents[0].text,
    call: (tool, args = {}) => c.callTool({ name: tool, arguments: args }),
    negotiated: () => ({ ...negotiated(name), client: c.getNegotiatedProtocolVersion() }),
    close: async () => {
      await transport.terminateSession().catch(() => {});
      await c.close();
    },
  };
}
function inspectorSession(kind) {
  const home = mkdtempSync(join(tmpdir(), "bluegreen-inspector-"));
  const target = kind === "http" ? { url: server.url } : {};
  let stderr = "";  // the stdio server's log lines, each run's
  const run = async (args, { allowError = false } = {}) => {
    const r = await inspector(home, target, args);
    stderr += r.stderr;
    assert.ok(r.result && (allowError || r.code === 0),
      `inspector ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r.result;
  };
  return {
    tools: async () => (await run(["--method", "tools/list"])).tools.map((t) => t.name),
    resources: async () => (await run(["--method", "resources/list"])).resources.map((r) => r.uri),
    read: async (uri) => (await run(["--method", "resources/read", "--uri", uri])).contents[0].text,
    call: (tool, args = {}) => {
      const pairs = Object.entries(args).map(([k, v]) => `${k}=${v}`);
      return run(["--method", "tools/call", "--tool-name", tool, ...(pairs.length ? ["--tool-arg", ...pairs] : [])],
        { allowError: true });
    },
    negotiated: () => {
      if (kind === "http") return negotiated("inspector-cli");
      const lines = [...stderr.matchAll(/client "inspector-cli" "\S*" requested protocol "(\S+)" \(answering (\S+)\)/g)];
      assert.ok(lines.length > 0, `no initialize in the stdio server's log:\n${stderr.slice(-2000)}`);
      assert.equal(new Set(lines.map((m) => `${m[1]} ${m[2]}`)).size, 1, "every run negotiated the same");
      return { requested: lines.at(-1)[1], answered: lines.at(-1)[2], serverProcesses: lines.length };
    },
    close: async () => {
      rmSync(home, { recursive: true, force: true });
      if (kind === "stdio") assertNoSanitizerReport(stderr);
    },
  };
}

// The approval a switch takes in `s`: "token" (the plan and a token, then the call with it) or
// "elicitation" (the form, answered by the client's handler). Asserts that traffic moved to the
// other colour and that the audit log records the channel and the client. Returns the result.
async function approveSwitch(s, channel, clientName) {
  const before = await frontendColor();
  let done;
  if (channel === "token") {
    const plan = await s.call("switch_traffic", {});
    assert.equal(plan.isError ?? false, false, text(plan));
    assert.match(text(plan), /TRAFFIC SWITCH APPROVAL REQUIRED/);
    // The token: structuredContent from 2025-06-18 on, the text in every revision.
    const approvalToken = plan.structuredContent?.approvalToken ?? /approvalToken="(approve-[0-9a-f]{32})"/.exec(text(plan))?.[1];
    assert.match(approvalToken ?? "", /^approve-[0-9a-f]{32}$/, text(plan));
    assert.equal(await frontendColor(), before, "a plan moved traffic");
    done = await s.call("switch_traffic", { approvalToken });
  } else {
    const asked = s.asked.length;
    done = await s.call("switch_traffic", {});
    assert.equal(s.asked.length, asked + 1, "the human was asked once");
    assert.match(s.asked.at(-1), /TRAFFIC SWITCH APPROVAL REQUIRED/);
  }
  assert.equal(done.isError ?? false, false, text(done));
  assert.match(text(done), /TRAFFIC SWITCH COMPLETE/);
  if (done.structuredContent) assert.equal(done.structuredContent.switched, true, text(done));
  assert.equal(await frontendColor(), other(before), "traffic did not move");
  const audit = lastAudit();
  assert.deepEqual({ action: audit.action, outcome: audit.outcome, approvedVia: audit.approvedVia, client: audit.client },
    { action: "switch", outcome: "ok", approvedVia: channel, client: `${clientName} (token e2e-http)` },
    JSON.stringify(audit));
  return done;
}

// Per client, as a user of it would: list the tools, read the app's status resource, call status,
// then approve a switch the way the client's protocol era allows and switch back the same way.
// SDK 1.12.3 asks for 2025-03-26 (no elicitation: the token, read from the text, as that revision
// has no structuredContent); the v2 client in its default era (2025-11-25) declares form
// elicitation and answers the form; the Inspector CLI declares no elicitation (one process per
// call), so the token, over HTTP from one session to the next. Over stdio each of its calls
// starts a new server process, and tokens live in the process that issued them: the token of
// one run is refused by the next ("issued before this server restarted"), so nothing moves.
test("per client (SDK 1.12.3, v2 default era, Inspector CLI over HTTP and stdio): tools, a resource, status, the era's approval", async () => {
  // key (in `versions`), the clientInfo name the audit log records, the revision the server
  // answers, the approval channel ("token per process": a token, but a new server per call).
  const matrix = [
    { key: "sdk 1.12.3 (http)", name: "matrix-sdk-1.12", era: "2025-03-26", channel: "token",
      open: () => sdk112Session("matrix-sdk-1.12") },
    { key: "client 2.3.1 default (http)", name: "matrix-client-2.3.1", era: "2025-11-25", channel: "elicitation",
      open: () => v2LegacySession("matrix-client-2.3.1") },
    { key: "inspector cli 2.12.0 (http)", name: "inspector-cli", era: "2025-11-25", channel: "token",
      open: () => inspectorSession("http") },
    { key: "inspector cli 2.12.0 (stdio)", name: "inspector-cli", era: "2025-11-25", channel: "token per process",
      open: () => inspectorSession("stdio") },
  ];
  const live = await frontendColor();
  assert.equal(live, startedLive);
  const statusUri = "bluegreen://apps/shop/status";
  try {
    for (const { key, name, channel, open, era } of matrix) {
      const started = Date.now();
      const s = await open();
      try {
        const tools = await s.tools();
        for (const tool of deploymentTools) assert.ok(tools.includes(tool), `${key}: ${tools.join()}`);
        const uris = await s.resources();
        assert.ok(uris.includes(statusUri), `${key}: ${uris.join()}`);
        assert.match(await s.read(statusUri), new RegExp(`^PROD:\\s+${live.toUpperCase()} `, "m"), key);

        const status = await s.call("get_deployment_status");
        assert.equal(status.isError ?? false, false, text(status));
        assert.match(text(status), new RegExp(`^PROD:\\s+${live.toUpperCase()} `, "m"), key);
        if (era === "2025-03-26") assert.equal(status.structuredContent, undefined, `${key}: structuredContent in ${era}`);
        else assert.equal(status.structuredContent.current.prod.server, live.toUpperCase(), key);

        if (channel === "token per process") {
          const plan = await s.call("switch_traffic", {});
          assert.equal(plan.isError ?? false, false, text(plan));
          const approvalToken = plan.structuredContent.approvalToken;
          assert.match(approvalToken, /^approve-[0-9a-f]{32}$/);
          const refused = await s.call("switch_traffic", { approvalToken });
          assert.equal(refused.isError, true, text(refused));
          assert.match(text(refused), /unknown approval token .*issued before this server restarted.*Nothing was changed/s);
          assert.equal(await frontendColor(), live, `${key}: a refused token moved traffic`);
          const audit = lastAudit();
          assert.deepEqual([audit.client, audit.outcome, audit.stage, audit.reason],
            [name, "refused", "approval", "token-refused"], JSON.stringify(audit));
        } else {
          await approveSwitch(s, channel, name);
          await approveSwitch(s, channel, name);
          assert.equal(await frontendColor(), live, `${key}: not back to ${live}`);
        }
        versions[key] = { ...s.negotiated(), approval: channel === "token per process" ? "token: refused by the next process" : channel,
          seconds: Number(((Date.now() - started) / 1000).toFixed(1)) };
        assert.equal(versions[key].answered, era, key);
        console.log(`matrix: ${key}: ${JSON.stringify(versions[key])}`);
      } finally {
        await s.close();
      }
    }
  } finally {
    // After a failure: the colour the file found put back by an SDK 1.32 client that approves by form.
    if ((await frontendColor().catch(() => startedLive)) !== startedLive) {
      const fixer = await approvingClient("restore-matrix");
      await restoreLive(fixer);
      await fixer.close();
    }
  }
});

test("abuse: tokens, Origin, Host, size, sessions and protocol version are checked; the server keeps serving", async () => {
  const init = initialize("abuse-http");
  const noToken = await raw({ body: init });
  assertRefused(noToken, 401, "no token");
  assert.match(noToken.headers["www-authenticate"] ?? "", /^Bearer\b/);
  const wrong = await raw({ headers: { Authorization: `Bearer ${randomBytes(32).toString("hex")}` }, body: init });
  assertRefused(wrong, 401, "wrong token");
  assert.match(wrong.headers["www-authenticate"] ?? "", /^Bearer\b/);
  assertRefused(await raw({ headers: { ...auth, Origin: "http://evil.example" }, body: init }), 403, "foreign Origin");
  assertRefused(await raw({ headers: { ...auth, Host: "evil.example" }, body: init }), 421, "foreign Host");
  // The Host check comes first, then Origin, then the token.
  assertRefused(await raw({ headers: { Host: "evil.example", Origin: "http://evil.example" }, body: init }), 421, "all wrong");
  assertRefused(await raw({ headers: { Origin: "http://evil.example" }, body: init }), 403, "Origin and no token");

  const big = Buffer.alloc(4 * 1024 * 1024 + 1, "a");
  assertRefused(await raw({ headers: auth, body: big }), 413, "a body over 4 MiB");

  const session = await rawSession("abuse-http");
  const headers = { ...auth, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25" };
  const listed = await raw({ headers, body: toolsList() });
  assert.equal(listed.status, 200, listed.body);
  assert.ok(JSON.parse(listed.body).result.tools.some((t) => t.name === "switch_traffic"));

  assertRefused(await raw({ headers: { ...headers, "Mcp-Session-Id": randomBytes(16).toString("hex") }, body: toolsList() }),
    404, "an unknown session");
  assertRefused(await raw({ headers: auth, body: toolsList() }), 400, "no session on a request that is not initialize");
  assertRefused(await raw({ headers: { ...headers, "MCP-Protocol-Version": "1999-01-01" }, body: toolsList() }), 400,
    "MCP-Protocol-Version 1999-01-01");
  assertRefused(await raw({ headers: { ...headers, Accept: "application/json" }, body: toolsList() }), 406,
    "an Accept without text/event-stream");
  assertRefused(await raw({ method: "PUT", headers, body: toolsList() }), 405, "PUT");
  assertRefused(await raw({ headers, path: "/other", body: toolsList() }), 404, "another path");

  // One GET stream per session: a second is 409 while the first is open.
  const stream = await new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port: server.port, path: "/mcp", agent: false,
      headers: { ...headers, Accept: "text/event-stream" } }, resolve);
    request.on("error", reject);
  });
  try {
    assert.equal(stream.statusCode, 200);
    assert.match(stream.headers["content-type"], /^text\/event-stream/);
    assertRefused(await raw({ method: "GET", headers: { ...headers, Accept: "text/event-stream" } }), 409, "a second GET stream");
  } finally {
    stream.destroy();
  }

  const deleted = await raw({ method: "DELETE", headers });
  assert.equal(deleted.status, 200, deleted.body);
  assertRefused(await raw({ headers, body: toolsList() }), 404, "a deleted session");
  assertRefused(await raw({ method: "DELETE", headers }), 404, "a deleted session deleted again");

  // Still serving.
  const again = await rawSession("abuse-http-after");
  const after = await raw({ headers: { ...auth, "Mcp-Session-Id": again }, body: toolsList(3) });
  assert.equal(after.status, 200, after.body);
  assert.equal((await raw({ method: "DELETE", headers: { ...auth, "Mcp-Session-Id": again } })).status, 200);
});

test("200 sessions (20 at a time): each initializes, lists tools and is deleted; the server stays up under 100 MB", async () => {
  const started = Date.now();
  const deadline = started + 45000;
  const total = 200;
  const batch = 20;
  const ids = [];
  let failures = [];
  for (let i = 0; i < total && Date.now() < deadline; i += batch) {
    const outcomes = await Promise.allSettled(Array.from({ length: Math.min(batch, total - i) }, async (_, j) => {
      const c = await startHttpClient(server.url, token, { name: `many-${i + j}` });
      try {
        const tools = (await c.client.listTools()).tools.map((t) => t.name);
        assert.ok(tools.includes("switch_traffic"));
        ids.push(c.transport.sessionId);
      } finally {
        await c.end();
      }
    }));
    failures = failures.concat(outcomes.filter((o) => o.status === "rejected").map((o) => String(o.reason)));
  }
  const seconds = (Date.now() - started) / 1000;
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)[1]);
  const hwmKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)[1]);
  console.log(`200 sessions: ${ids.length} ok, ${failures.length} failed in ${seconds.toFixed(1)} s; ` +
    `server VmRSS ${(rssKb / 1024).toFixed(1)} MB (peak VmHWM ${(hwmKb / 1024).toFixed(1)} MB)${sanitized ? ", sanitized build: no budget" : ""}`);
  assert.deepEqual(failures.slice(0, 3), []);
  assert.equal(ids.length, total, `only ${ids.length} sessions within the deadline`);
  assert.equal(new Set(ids).size, total, "every session has its own id");
  // The budget is the plain build's: a sanitizer's shadow memory and quarantine are not the server's.
  if (!sanitized) assert.ok(rssKb < 100 * 1024, `VmRSS ${rssKb} kB`);
  // Deleted sessions stay gone; the server still serves a new one.
  assertRefused(await raw({ headers: { ...auth, "Mcp-Session-Id": ids[0] }, body: toolsList() }), 404, "a deleted session");
  const c = await startHttpClient(server.url, token, { name: "after-200" });
  assert.ok((await c.client.listTools()).tools.length >= 3);
  await c.end();
});

test("slow-loris: 20 connections sending a header byte every 2 s do not keep a client from listing tools", async () => {
  const sockets = [];
  const timers = [];
  let closedByServer = 0;
  try {
    for (let i = 0; i < 20; i++) {
      const socket = net.connect({ host: "127.0.0.1", port: server.port });
      socket.on("error", () => {});
      socket.on("close", () => closedByServer++);
      await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
      socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Slow: `);
      timers.push(setInterval(() => socket.write("a"), 2000));
      sockets.push(socket);
    }
    await sleep(2500);  // each has sent a byte more
    const started = Date.now();
    const c = await startHttpClient(server.url, token, { name: "beside-the-loris" });
    const tools = (await c.client.listTools()).tools.map((t) => t.name);
    const ms = Date.now() - started;
    await c.end();
    console.log(`slow-loris: a client connected and listed tools in ${ms} ms beside 20 slow connections`);
    for (const name of deploymentTools) assert.ok(tools.includes(name));
    assert.ok(ms < 5000, `${ms} ms`);
    assert.equal(closedByServer, 0, "the slow connections were still open (the per-read timeout is 10 s)");
  } finally {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
  }
  // Still serving after they are gone.
  const again = await rawSession("after-loris");
  assert.equal((await raw({ method: "DELETE", headers: { ...auth, "Mcp-Session-Id": again } })).status, 200);
});

// cpp-httplib applies the 4 MiB limit through Content-Length only: a chunked body (no
// Content-Length) would be read whole however large. The server refuses chunked bodies with 411
// before reading them (no MCP client sends one).
test("a chunked body (no Content-Length) is refused with 411 before it is read", async () => {
  const session = await rawSession("chunked-http");
  const headers = { ...auth, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25" };
  try {
    const padding = "a".repeat(5 * 1024 * 1024);
    const body = JSON.stringify({ jsonrpc: "2.0", id: 4, method: "tools/list", params: { _meta: { padding } } });
    // Only the first 64 KiB is sent; the rest would follow only if the server waited for it. The
    // answer must come while the body is still incomplete: it was refused unread.
    const response = await new Promise((resolve, reject) => {
      const request = http.request({ host: "127.0.0.1", port: server.port, path: "/mcp", method: "POST", agent: false,
        timeout: 10000, headers: { ...headers, "Content-Type": "application/json", Accept: "application/json, text/event-stream",
          "Transfer-Encoding": "chunked" } }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (data += chunk));
        res.on("end", () => {
          resolve({ status: res.statusCode, body: data });
          request.destroy();
        });
      });
      request.on("timeout", () => request.destroy(new Error("no answer within 10 s while the body was incomplete")));
      request.on("error", (error) => { if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error); });
      request.write(body.slice(0, 64 * 1024));
    });
    assertRefused(response, 411, `a chunked body of ${(body.length / 1048576).toFixed(1)} MiB`);
  } finally {
    await raw({ method: "DELETE", headers });
  }
});

test("SIGTERM with a session open (its GET stream and a running call): exit status 0 within a few seconds", async () => {
  const own = await startHttpServer({ tokens: [{ token, label: "sigterm" }], testTools: true });
  let c;
  try {
    c = await startHttpClient(own.url, token, { name: "open-at-sigterm" });
    assert.ok((await c.client.listTools()).tools.length >= 3);
    const running = c.call("test_sleep", { ms: 30000, steps: 30 }).catch((e) => e);
    await sleep(300);
    const started = Date.now();
    own.signal("SIGTERM");
    const { code, signal } = await Promise.race([own.exited, sleep(8000).then(() => ({ code: "still running after 8 s" }))]);
    const ms = Date.now() - started;
    console.log(`SIGTERM: exited ${code ?? signal} after ${ms} ms`);
    assert.equal(code, 0, `exit ${code ?? signal}; stderr:\n${own.stderr().slice(-2000)}`);
    assert.ok(ms < 5000, `${ms} ms`);
    // What became of the running call (the transport promises nothing): its stream ended.
    const outcome = await Promise.race([running, sleep(500).then(() => "no reply (the stream ended without one)")]);
    console.log(`SIGTERM: the running call: ${outcome instanceof Error ? outcome.message : JSON.stringify(outcome)}`);
  } finally {
    await c?.close().catch(() => {});
    own.signal("SIGKILL");
    await own.stop();
  }
});

test("the shared server, after all of the above: no errors logged; SIGTERM ends it with status 0", async () => {
  for (const c of clients.splice(0)) await c.close();
  console.log(`negotiated protocol versions: ${JSON.stringify(versions)}`);
  assert.doesNotMatch(server.stderr(), /\[(error|critical)\]/);
  const started = Date.now();
  const { code, signal } = await server.stop();
  assert.equal(code, 0, `serve exited ${code ?? signal}`);
  assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
});
