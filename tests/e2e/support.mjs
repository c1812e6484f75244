// Helpers for the end-to-end tests of the deployment tools: the lab's coordinates, commands on
// the lab hosts over the ssh client, config variants, and real MCP clients (the official
// TypeScript SDK) driving the real bluegreen-mcp binary.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import http from "node:http";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";

const here = dirname(fileURLToPath(import.meta.url));
export const labScript = join(here, "..", "lab", "lab");

export function readLabEnv() {
  const dir = process.env.BLUEGREEN_LAB_DIR || "/tmp/bluegreen-lab";
  const vars = {};
  for (const line of readFileSync(join(dir, "lab.env"), "utf8").split("\n")) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) vars[m[1]] = m[2].replace(/^'(.*)'$/, "$1");
  }
  return vars;
}

export const lab = readLabEnv();
export const binary = process.argv[2] || process.env.BLUEGREEN_BINARY;
if (!binary) throw new Error("usage: node tools_e2e_test.mjs /path/to/bluegreen-mcp");

// Runs `command` on a lab host ("lab-blue", "lab-green", "lab-lb") with the ssh client. `input`
// (optional): text for the command's standard input.
export function ssh(host, command, { allowFail = false, input } = {}) {
  const r = spawnSync("ssh", ["-F", lab.LAB_SSH_CONFIG, host, command], { encoding: "utf8", timeout: 30000, input });
  if (!allowFail && r.status !== 0) {
    throw new Error(`ssh ${host} ${command} exited ${r.status}: ${r.stderr}`);
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function labCommand(...args) {
  return execFileSync(labScript, args, { encoding: "utf8", env: process.env }).trim();
}

// Runs the lab with `pool` app servers per colour (1-4: blue, blue2, ... and green, green2, ...) and
// `lbs` load balancers (1-2: lb, lb2) through `lab topology` (an omitted one keeps its value), which
// returns once every host, app and HAProxy is healthy (or throws after `timeout` ms). Then `lab` is
// refreshed from lab.env. Returns the topology as lab.env states it: { pool, lbs }.
export function setTopology({ pool, lbs } = {}, { timeout = 180000 } = {}) {
  const args = ["topology"];
  if (pool !== undefined) args.push("--pool", String(pool));
  if (lbs !== undefined) args.push("--lbs", String(lbs));
  execFileSync(labScript, args, { encoding: "utf8", env: process.env, timeout });
  Object.assign(lab, readLabEnv());
  return { pool: Number(lab.LAB_POOL_SIZE), lbs: Number(lab.LAB_LB_COUNT) };
}

// Runs the lab's load balancers as `type` (haproxy, nginx or caddy: `lab up --lb TYPE`), then
// refreshes `lab` from lab.env. Returns LAB_LB_TYPE as the lab now reports it.
export function setLbType(type, { timeout = 180000 } = {}) {
  execFileSync(labScript, ["up", "--lb", type], { encoding: "utf8", env: process.env, timeout });
  Object.assign(lab, readLabEnv());
  return lab.LAB_LB_TYPE;
}

// The lab hosts of `colour` that the topology runs, first the colour's own host: labHosts("blue") is
// ["blue"] at pool=1, ["blue", "blue2", "blue3"] at pool=3; labHosts("lb") is ["lb"] or ["lb", "lb2"].
// Their ssh aliases are "lab-<host>", their addresses lab["<HOST>_ADDR"] (lb: LB_ADDR).
export function labHosts(colour) {
  if (colour === "lb") return Number(lab.LAB_LB_COUNT || 1) > 1 ? ["lb", "lb2"] : ["lb"];
  if (colour !== "blue" && colour !== "green") throw new Error(`labHosts: '${colour}' is not blue, green or lb`);
  const pool = Number(lab.LAB_POOL_SIZE || 1);
  return [colour, ...Array.from({ length: pool - 1 }, (_, i) => `${colour}${i + 2}`)];
}

export function readStateFile() {
  const r = ssh("lab-lb", "cat /var/lib/bluegreen/shop.json", { allowFail: true });
  return r.code === 0 ? JSON.parse(r.stdout) : null;
}

// HAProxy's `show stat` CSV as one object per row, keyed by the header's column names
// ("# pxname,svname,...,status,..."), as haproxy/runtime_api.cpp reads it: column positions differ
// between HAProxy versions.
export function parseShowStat(csv) {
  const lines = csv.split("\n").filter((line) => line.trim() !== "");
  const header = lines.shift();
  if (!header?.startsWith("#")) throw new Error(`show stat: no "# pxname,svname,..." header: ${csv.slice(0, 200)}`);
  const columns = header.replace(/^#\s*/, "").split(",");
  for (const name of ["pxname", "svname", "status"]) {
    if (!columns.includes(name)) throw new Error(`show stat: the header has no column ${name}: ${header}`);
  }
  return lines.map((line) => {
    const fields = line.split(",");
    return Object.fromEntries(columns.map((name, i) => [name, fields[i]]));
  });
}

// The rows of `show stat` on the lab's load balancer (stats socket), see parseShowStat.
export function haproxyStat() {
  return parseShowStat(ssh("lab-lb", "echo 'show stat' | socat - UNIX-CONNECT:/run/haproxy/admin.sock").stdout);
}

// Polls `predicate` (async; a throw counts as false) every `every` ms, `tries` times, then fails
// the test with "timed out waiting for <what>".
export async function waitFor(what, predicate, { tries = 150, every = 100 } = {}) {
  for (let i = 0; i < tries; i++) {
    if (await predicate().catch(() => false)) return;
    await sleep(every);
  }
  assert.fail(`timed out waiting for ${what}`);
}

// HAProxy's own checks have both servers UP, so a switch in either direction is allowed.
export async function waitForBothUp() {
  await waitFor("both servers UP in HAProxy", async () => {
    const rows = haproxyStat().filter((r) => ["blue", "green"].includes(r.pxname) && r.svname !== "BACKEND");
    return rows.length === 2 && rows.every((r) => r.status === "UP");
  }, { tries: 150 });
}

// The state file and HAProxy's file agree with what the frontend serves, and `client`'s status
// calls that colour PROD with no drift. Returns the colour.
export async function assertConsistent(client) {
  const live = await frontendColor();
  assert.match(readHaproxyConfig(), new RegExp(`^\\s*default_backend ${live}\\s*$`, "m"));
  const state = readStateFile();
  if (state) assert.equal(state.prod, live, "state file and HAProxy disagree");
  const status = (await client.call("get_deployment_status")).structuredContent;
  assert.equal(status.current.prod.server, live.toUpperCase());
  assert.deepEqual(status.drift, []);
  return live;
}

export function readHaproxyConfig() {
  return ssh("lab-lb", "cat /etc/haproxy/haproxy.cfg").stdout;
}

// Which colour answers a new connection to http://LB_ADDR:`port``path` right now: the `color` of
// the app's JSON (/health), else the app's X-App-Color header (any other path of the app). Rejects
// when neither is there (e.g. HAProxy's own 503) or after 3 s. A new connection each time: after a
// reload the old worker still answers one more request on an existing keep-alive connection
// (option idle-close-on-response), from the previous colour.
export function colorAt(port, path = "/health") {
  const url = `http://${lab.LB_ADDR}:${port}${path}`;
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 3000 }, (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => {
        try {
          resolve(JSON.parse(body).color);
        } catch {
          const header = response.headers["x-app-color"];
          if (header) resolve(header);
          else reject(new Error(`${url} answered ${response.statusCode}: ${body.slice(0, 200)}`));
        }
      });
    });
    request.on("timeout", () => request.destroy(new Error(`${url}: timeout`)));
    request.on("error", reject);
  });
}

// Which colour answers a new connection through the lab's frontend (LB_PORT) right now.
export function frontendColor() {
  return colorAt(Number(lab.LB_PORT));
}

// Ports on LB_ADDR that tests may bind extra HAProxy frontends to (nothing else of the lab uses
// them: the lab's own address, LB_PORT + 1 and + 2).
export const extraPorts = [Number(lab.LB_PORT) + 1, Number(lab.LB_PORT) + 2];

// `text` with the lab's values put in for @LB_ADDR@, @LB_PORT@, @BLUE_ADDR@, @GREEN_ADDR@,
// @APP_PORT@, @STATS_PORT@ (as in tests/lab/haproxy.cfg.in) and @EXTRA_PORT_1@, @EXTRA_PORT_2@
// (extraPorts), so HAProxy configs can be written as templates. Any other @NAME@ throws (a typo).
export function labRender(text) {
  const values = {
    LB_ADDR: lab.LB_ADDR, LB_PORT: lab.LB_PORT, BLUE_ADDR: lab.BLUE_ADDR, GREEN_ADDR: lab.GREEN_ADDR,
    APP_PORT: lab.APP_PORT, STATS_PORT: lab.STATS_PORT,
    EXTRA_PORT_1: String(extraPorts[0]), EXTRA_PORT_2: String(extraPorts[1]),
  };
  return text.replace(/@([A-Z0-9_]+)@/g, (placeholder, name) => {
    if (!(name in values)) throw new Error(`labRender: unknown placeholder ${placeholder}`);
    return values[name];
  });
}

// The start of an HAProxy config for a lab layout (a template for labRender): the global section
// with the runtime API the lab and bluegreen-mcp use (stats socket at /run/haproxy/admin.sock,
// level admin) and hard-stop-after, and defaults as in tests/lab/haproxy.cfg.in (HTTP mode,
// connections from the LB's own address, the lab's timeouts). Ends with a newline.
export const layoutGlobalAndDefaults = `global
    stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners
    stats timeout 30s
    hard-stop-after 30s

defaults
    mode http
    option idle-close-on-response
    source @LB_ADDR@
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout check 2s
`;

// The lab's two backends, `blue` and `green`, with HAProxy's health checks (a template for labRender).
export const layoutBackends = `
backend blue
    option httpchk GET /health
    server blue @BLUE_ADDR@:@APP_PORT@ check inter 500ms fall 2 rise 2

backend green
    option httpchk GET /health
    server green @GREEN_ADDR@:@APP_PORT@ check inter 500ms fall 2 rise 2
`;

// Files under /etc/haproxy that installHaproxyLayout wrote; resetHaproxyLayout removes them.
const layoutFiles = new Set();

// Runs the lab's HAProxy in another layout. `files` ({ absolutePathOnLb: text }) are written on the
// lab LB, any characters (quotes, CRLF, ...): each path and content goes base64-encoded over one
// ssh("lab-lb") and is written to a temp file renamed into place (a symbolic link at the path is
// replaced, not followed); directories are created as needed. Then `lab haproxy-start ...args`
// (-f paths inside lb, in order; [] = the default -f /etc/haproxy/haproxy.cfg) restarts HAProxy
// with them after `haproxy -c` (it throws when the check fails; HAProxy then keeps running as it
// was), and the list is remembered by the lab until resetHaproxyLayout. Waits until a new
// connection to LB_ADDR:`port` is answered by blue or green (`port: null`: no wait) and returns
// that colour. The config must keep `stats socket /run/haproxy/admin.sock` (the lab and
// bluegreen-mcp use it). HAProxy restarts: its master pid changes (`lab` is refreshed from lab.env).
export async function installHaproxyLayout({ files = {}, args = [], port = Number(lab.LB_PORT) } = {}) {
  const b64 = (text) => Buffer.from(text, "utf8").toString("base64");
  const entries = Object.entries(files);
  for (const [path] of entries) {
    if (!path.startsWith("/")) throw new Error(`installHaproxyLayout: '${path}' is not an absolute path`);
  }
  if (entries.length > 0) {
    ssh("lab-lb", `set -e; umask 022
      while read -r p c; do
        p=$(printf %s "$p" | base64 -d)
        mkdir -p -- "$(dirname -- "$p")"
        printf %s "$c" | base64 -d >"$p.layout-tmp"
        mv -f -- "$p.layout-tmp" "$p"
      done`, { input: entries.map(([path, text]) => `${b64(path)} ${b64(text)}\n`).join("") });
    for (const [path] of entries) if (path.startsWith("/etc/haproxy/")) layoutFiles.add(path);
  }
  labCommand("haproxy-start", ...args);
  Object.assign(lab, readLabEnv());
  if (port === null) return undefined;
  let color;
  await waitFor(`HAProxy serving blue or green on ${lab.LB_ADDR}:${port}`, async () => {
    color = await colorAt(port);
    return color === "blue" || color === "green";
  });
  return color;
}

// Back to the lab's default HAProxy layout: the files installHaproxyLayout wrote under /etc/haproxy
// are removed, then `lab haproxy-reset` (template haproxy.cfg, i.e. BLUE live; /etc/haproxy/conf.d
// and *.map under /etc/haproxy removed; HAProxy restarted with -f /etc/haproxy/haproxy.cfg). Waits
// until both servers are UP and the frontend serves blue. The state file is not touched: if it
// names GREEN as prod, status reports drift until a switch puts it right.
export async function resetHaproxyLayout() {
  const stale = [...layoutFiles].filter((path) => path !== "/etc/haproxy/haproxy.cfg");
  if (stale.length > 0) {
    ssh("lab-lb", `rm -f -- ${stale.map((p) => `'${p.replaceAll("'", "'\\''")}'`).join(" ")}`);
  }
  layoutFiles.clear();
  labCommand("haproxy-reset");
  Object.assign(lab, readLabEnv());
  await waitForBothUp();
  await waitFor("the frontend serving blue after haproxy-reset", async () => (await frontendColor()) === "blue");
}

// Starts GET /stream?seconds=`seconds` (the lab app: a "chunk K/N from <colour>" line a second,
// then "done <colour>") through the LB at LB_ADDR:`port`, on a new connection. Returns a promise
// of { status, color (X-App-Color), body, chunks (number of chunk lines), complete (the body ends
// with a "done ..." line), error (why the body was cut, if it was) }; it rejects only when no
// response came at all. Its `started` property resolves once the first body bytes arrived (to
// act in the middle of the stream), or with null if none ever do; it never rejects. The
// connection is dropped after `idleMs` without data.
export function streamThrough(port, seconds, { idleMs = 5000 } = {}) {
  let markStarted;
  const started = new Promise((resolve) => (markStarted = resolve));
  const url = `http://${lab.LB_ADDR}:${port}/stream?seconds=${seconds}`;
  const result = new Promise((resolve, reject) => {
    let response = null;
    let body = "";
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      markStarted(null);
      resolve({
        status: response.statusCode,
        color: response.headers["x-app-color"],
        body,
        chunks: (body.match(/^chunk \d+\/\d+ from \S+$/gm) || []).length,
        complete: /(^|\n)done \S+\n$/.test(body),
        ...(error ? { error: error.message || String(error) } : {}),
      });
    };
    const request = http.get(url, { agent: false, timeout: idleMs }, (res) => {
      response = res;
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
        markStarted(body);
      });
      res.on("end", () => finish());
      res.on("error", finish); // "aborted": the connection closed before the body's end
      res.on("close", () => finish(res.complete ? undefined : new Error("connection closed before the body's end")));
    });
    request.on("timeout", () => request.destroy(new Error(`${url}: no data for ${idleMs} ms`)));
    request.on("error", (error) => {
      if (response) finish(error);
      else {
        markStarted(null);
        reject(error);
      }
    });
  });
  result.started = started;
  return result;
}

// A copy of the lab's bluegreen-mcp config with `mutate(config)` applied.
let variants = 0;
export function configVariant(mutate) {
  const config = JSON.parse(readFileSync(lab.LAB_BLUEGREEN_CONFIG, "utf8"));
  mutate(config);
  const path = join(lab.LAB_DIR, `bluegreen-mcp.variant-${process.pid}-${++variants}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

// The SDK starts a server with only a few variables (HOME, PATH, ...): the sanitizer presets'
// settings (ASAN_OPTIONS, TSAN_OPTIONS, ...) are passed on explicitly.
export const serverEnvironment = () => ({
  ...getDefaultEnvironment(),
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => /^(A|T|UB|L)SAN_OPTIONS$/.test(key))),
});

// A sanitizer report in the server's stderr fails the test even where the server kept going.
export function assertNoSanitizerReport(stderr) {
  const report = /(WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|runtime error:).*/.exec(stderr);
  if (report) throw new Error(`sanitizer report from the server: ${report[0]}\n${stderr.slice(-20000)}`);
}

// Starts the real binary under an SDK client. Returns helpers; `call` resolves to the tool result.
// `launcher` (optional) runs the binary inside something: it gets the command and its arguments and
// returns { command, args } (e.g. a private mount namespace, see ssh_setups_e2e_test.mjs).
export async function startClient({
  config = lab.LAB_BLUEGREEN_CONFIG,
  name = "e2e-tests",
  capabilities = {},
  launcher = (command, args) => ({ command, args }),
} = {}) {
  const transport = new StdioClientTransport({
    ...launcher(binary, ["--config", config, "--log-level", "info"]),
    stderr: "pipe",
    env: serverEnvironment(),
  });
  let stderr = "";
  transport.stderr.on("data", (chunk) => (stderr += chunk));
  const client = new Client({ name, version: "1.0.0" }, { capabilities });
  await client.connect(transport);
  const progress = [];
  return {
    client,
    progress,
    stderr: () => stderr,
    // The server process, to kill it as a crash would (SIGKILL), or to end its input as a client
    // that goes away does (the server then exits by itself).
    pid: () => transport.pid,
    kill: (signal = "SIGKILL") => process.kill(transport.pid, signal),
    closeStdin: () => transport._process?.stdin?.end(),
    async call(tool, args = {}, options = {}) {
      return client.callTool({ name: tool, arguments: args }, CallToolResultSchema, {
        timeout: 120000,
        onprogress: (p) => progress.push(p),
        ...options,
      });
    },
    async close() {
      await client.close();
      await new Promise((resolve) => setImmediate(resolve));  // the last stderr chunk
      assertNoSanitizerReport(stderr);
    },
  };
}

export function text(result) {
  return result.content.map((c) => c.text).join("\n");
}

// The lab's sshd processes for "blue", "green" or "lb": the listener and every per-connection sshd
// under it (not the commands those connections run). The lab hosts share the test's PID
// namespace, so faults can be injected from outside, like a network or host failure would.
export function sshdProcesses(host) {
  const listener = Number(readFileSync(join(lab.LAB_DIR, "hosts", host, "sshd.pid"), "utf8").trim());
  const parents = new Map();
  const names = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
      parents.set(Number(entry), Number(stat.slice(close + 2).split(" ")[1]));
    } catch {
      // the process ended meanwhile
    }
  }
  const sessions = [];
  for (const [pid, name] of names) {
    if (name !== "sshd" || pid === listener) continue;
    for (let p = parents.get(pid); p > 1; p = parents.get(p)) {
      if (p === listener) {
        sessions.push(pid);
        break;
      }
    }
  }
  return { listener, sessions };
}

// Drops every SSH connection to `host` (its sshd sessions are killed; the listener stays, so new
// connections work). The commands those connections ran are left to their fate, as on a real host.
export function dropSshConnections(host) {
  const { sessions } = sshdProcesses(host);
  for (const pid of sessions) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return sessions.length;
}

// Freezes (SIGSTOP) or thaws (SIGCONT) `host`'s sshd entirely: while frozen, TCP connects still
// succeed but nothing answers, like a host behind a partition.
export function freezeSshd(host, frozen) {
  const { listener, sessions } = sshdProcesses(host);
  for (const pid of [listener, ...sessions]) {
    try {
      process.kill(pid, frozen ? "SIGSTOP" : "SIGCONT");
    } catch {
      // already gone
    }
  }
}

// A request to Caddy's admin API on lb, over SSH through its unix socket (empty Host header).
export function caddyAdmin(path, { method = "GET", body } = {}) {
  const data = body === undefined ? "" : `-H 'Content-Type: application/json' -d @-`;
  const r = ssh("lab-lb", `curl -sS -f -m 5 -X ${method} --unix-socket ${lab.LAB_CADDY_ADMIN_SOCK} -H 'Host;' ${data} ` +
    `'http://localhost${path}'`, { input: body === undefined ? undefined : JSON.stringify(body) });
  return r.stdout.trim() ? JSON.parse(r.stdout) : null;
}

// The JSON path (as an admin API path) of the first object whose "handler" is `handler`.
export function findHandler(value, handler, path = "") {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findHandler(value[i], handler, `${path}/${i}`);
      if (found) return found;
    }
  } else if (value && typeof value === "object") {
    if (value.handler === handler) return path;
    for (const [key, inner] of Object.entries(value)) {
      const found = findHandler(inner, handler, `${path}/${key}`);
      if (found) return found;
    }
  }
  return null;
}

// A switch whose server is killed once `swapped()` says its file was replaced (`slowConfig` makes
// its reload wait), then a new server on `config`: its status (which must report the interrupted
// switch) and the next approved plan, which rolls the interrupted switch back first and then
// switches. Returns { client, status, request, done }; the caller closes client.
export async function interruptSwitchThenRecover({ slowConfig, config, swapped }) {
  const victim = await startClient({ config: slowConfig });
  const plan = await victim.call("switch_traffic", {});
  const pending = victim.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken }).catch(() => null);
  await waitFor("the switch to swap the file", async () => swapped());
  victim.kill();
  await pending;
  const client = await startClient({ config });
  const status = (await client.call("get_deployment_status")).structuredContent;
  const request = await client.call("switch_traffic", {});
  const done = request.structuredContent?.approvalToken
    ? await client.call("switch_traffic", { approvalToken: request.structuredContent.approvalToken })
    : request;
  return { client, status, request, done };
}

// The plan (token echo: the SDK client declares no elicitation), then the approved call.
export async function approvedSwitch(client, args = {}) {
  const request = await client.call("switch_traffic", args);
  assert.equal(request.isError, false, text(request));
  const token = request.structuredContent.approvalToken;
  assert.match(token, /^approve-[0-9a-f]{32}$/);
  return { request, token, done: await client.call("switch_traffic", { ...args, approvalToken: token }) };
}

// Through `client` (its config's lockWaitSeconds short): an approved switch while someone else
// holds the app's lock on lb is refused naming the holder, and a switch with a corrupt state file
// is refused with the file left as it is; `unchanged()` asserts the load balancer's config is as
// before after each. The state file is put back at the end.
export async function assertLockAndCorruptStateRefuse(client, unchanged) {
  const generation = readStateFile().generation;
  const owner = JSON.stringify({ client: "other-operator", action: "deploy", since: "2026-01-01T00:00:00Z" });
  // -o: the lock stays with flock itself, so killing flock releases it.
  const holder = spawn("ssh", ["-F", lab.LAB_SSH_CONFIG, "lab-lb",
    `printf '%s' '${owner}' > /var/lib/bluegreen/shop.json.lock.owner; exec flock -x -o /var/lib/bluegreen/shop.json.lock sleep 20.6`]);
  try {
    await waitFor("the lock to be held", async () =>
      ssh("lab-lb", "flock -n /var/lib/bluegreen/shop.json.lock true", { allowFail: true }).code !== 0);
    const { done } = await approvedSwitch(client);
    assert.equal(done.isError, true, text(done));
    assert.match(text(done), /locked by other-operator \(deploy\) since 2026-01-01T00:00:00Z/);
    unchanged();
    assert.equal(readStateFile().generation, generation);
  } finally {
    holder.kill();
    ssh("lab-lb", "pkill -f '[f]lock -x -o /var/lib/bluegreen/shop.json.lock'; pkill -f '[s]leep 20.6'; true");
  }
  const saved = ssh("lab-lb", "cat /var/lib/bluegreen/shop.json").stdout;
  try {
    ssh("lab-lb", "printf '{not json' > /var/lib/bluegreen/shop.json");
    const request = await client.call("switch_traffic", {});
    assert.ok(request.isError, text(request));
    assert.match(text(request), /corrupt.*move it aside/s);
    assert.equal(ssh("lab-lb", "cat /var/lib/bluegreen/shop.json").stdout, "{not json");
    unchanged();
  } finally {
    ssh("lab-lb", "cat > /var/lib/bluegreen/shop.json", { input: saved });
  }
}

// A loadBalancer entry of the lab's config turned into another type: the HAProxy-only keys (and
// the lab's validate and reload commands and stats URL) removed, `fields` set.
export function asLbType(lb, fields) {
  for (const key of ["haproxyConfig", "section", "directive", "validateCommand", "reloadCommand", "statsSocket",
    "masterSocket", "statsUrl"]) delete lb[key];
  return Object.assign(lb, fields);
}

// An LB pair in front of two servers per colour (`lab topology --pool 2 --lbs 2`), its config the
// lab's topology config with `mutate(app)` applied: a deploy (which also writes lb2's state file),
// an approved switch that moves both load balancers and both frontends to the other colour than
// `prod`, `check(to, request)` on the switched pair, and a switch back. The topology goes back to
// one server and one LB whatever happens.
export async function assertPairSwitchesAndBack({ name, prod, mutate, check }) {
  setTopology({ pool: 2, lbs: 2 });
  try {
    const c = JSON.parse(readFileSync(lab.LAB_TOPOLOGY_CONFIG, "utf8"));
    mutate(c.apps.shop);
    const path = join(lab.LAB_DIR, `bluegreen-mcp.${name}-pair-${process.pid}.json`);
    writeFileSync(path, JSON.stringify(c, null, 2));
    const s = await startClient({ config: path });
    try {
      const deploy = await s.call("deploy_to_standby");
      assert.ok(!deploy.isError, text(deploy));
      const to = prod === "blue" ? "green" : "blue";
      const { request, done } = await approvedSwitch(s);
      assert.equal(done.structuredContent.switched, true, text(done));
      assert.deepEqual(done.structuredContent.loadBalancers.map((lb) => lb.routesTo), [to, to]);
      for (const url of [lab.LAB_FRONTEND_URL, lab.LAB_LB2_FRONTEND_URL]) {
        assert.equal(JSON.parse(ssh("lab-lb", `curl -s -m 3 ${url}health`).stdout).color, to);
      }
      await check(to, request, s);
      const back = await approvedSwitch(s);
      assert.equal(back.done.structuredContent.switched, true, text(back.done));
      assert.equal(await frontendColor(), prod);
    } finally {
      await s.close();
    }
  } finally {
    setTopology({ pool: 1, lbs: 1 });
  }
}

// `bluegreen-mcp serve` (Streamable HTTP) on 127.0.0.1, a port the kernel picks, with a tokens file
// (mode 600, in a fresh temporary directory) holding the SHA-256 of each of `tokens` ({ token,
// label }) as `printf %s TOKEN | sha256sum` writes it, the label in place of its "-". Resolves once
// the server's stderr says "listening on http://127.0.0.1:PORT/mcp" (rejects when it exits first or
// after 15 s). Returns { url, port, pid, stderr(), exited (a promise of { code, signal }), signal(),
// stop() (SIGTERM, then the exit) }.
export async function startHttpServer({ config = lab.LAB_BLUEGREEN_CONFIG, tokens = [], testTools = false, args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "bluegreen-http-"));
  const tokensFile = join(dir, "tokens");
  writeFileSync(tokensFile, tokens.map(({ token, label = "-" }) =>
    `${createHash("sha256").update(token).digest("hex")}  ${label}\n`).join(""), { mode: 0o600 });
  const child = spawn(binary, ["serve", "--listen", "127.0.0.1:0", "--config", config, "--tokens-file", tokensFile,
    "--log-level", "info", ...(testTools ? ["--enable-test-tools"] : []), ...args],
  { stdio: ["ignore", "ignore", "pipe"], env: serverEnvironment() });
  let stderr = "";
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not say where it listens within 15 s:\n${stderr}`)), 15000);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code ?? signal}) before listening:\n${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    pid: child.pid,
    tokensFile,
    stderr: () => stderr,
    exited,
    signal: (name = "SIGTERM") => child.kill(name),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const result = await exited;
      rmSync(dir, { recursive: true, force: true });
      assertNoSanitizerReport(stderr);
      return result;
    },
  };
}

// An SDK client (1.32, the pinned @modelcontextprotocol/sdk) connected to `url` over Streamable HTTP
// with "Authorization: Bearer `token`". Returns helpers as startClient does (`call` collects
// progress), plus `transport`, and `end()`: DELETE of the session, then close.
export async function startHttpClient(url, token, { name = "e2e-http", capabilities = {}, fetch } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    ...(fetch ? { fetch } : {}),
  });
  const client = new Client({ name, version: "1.0.0" }, { capabilities });
  await client.connect(transport);
  const progress = [];
  return {
    client,
    transport,
    progress,
    async call(tool, args = {}, options = {}) {
      return client.callTool({ name: tool, arguments: args }, CallToolResultSchema, {
        timeout: 120000,
        onprogress: (p) => progress.push(p),
        ...options,
      });
    },
    async end() {
      await transport.terminateSession();
      await client.close();
    },
    close: () => client.close(),
  };
}
