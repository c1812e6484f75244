// Streamable HTTP (`bluegreen-mcp serve`) against stdio, on the lab bench/run brought up (issue 18's
// targets: HTTP status p50 within 1 ms of stdio's; 50 concurrent HTTP clients polling status with
// p99 <= 5x p50 and the server's RSS <= 50 MB). Prints figures; asserts nothing.
//
// How:
// - Sequential: one stdio server (bench/rpc_client.mjs) and one `serve --listen 127.0.0.1:0` (the
//   port read from its "listening on" line), both on the same lab and alive at once, each called
//   one call at a time after 10 warm-up calls, interleaved in 4 rounds of 25 so drift hits all
//   alike: get_deployment_status (HTTP: an SSE reply) and ping (HTTP: a JSON reply; the transport
//   alone). Two HTTP clients, one session each:
//   - lean: node:http with a keep-alive Agent of one socket, no SDK, so the figures are the
//     server's; timed to the reply's SSE event ("reply") and to the end of the response, when the
//     connection is free for the next request ("end"), and counting the TCP connections it opened;
//   - SDK: the official @modelcontextprotocol/sdk 1.32.2 Client with StreamableHTTPClientTransport
//     (Node's fetch, its own standalone GET stream, output schema validation): what users get.
// - Concurrent: 50 sessions on a fresh server, each polling get_deployment_status back to back for
//   15 s: p50, p99, their ratio, calls/s; the server's RSS sampled every 100 ms from
//   /proc/PID/status (and VmHWM, the kernel's own peak), its threads, the TCP connections open to it
//   (`ss`, every second) and its CPU time. Three runs: lean sessions; lean sessions with bearer tokens
//   (--tokens-file with one SHA-256 line); SDK sessions (each with its GET stream open, as SDK
//   clients have).
// Percentiles are nearest-rank. Bounded: 110 status calls and 110 pings for each of the 3
// sequential clients, 3 x 15 s of load; about 90 s in all.
//
// Usage: node bench/http.mjs BINARY CONFIG   (the lab up, as bench/run leaves it)
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { cpuTimes, stolenPercent } from "./load.mjs";
import { RpcClient, ms } from "./rpc_client.mjs";

const [binary, config] = process.argv.slice(2);
const PROTOCOL = "2025-06-18";
const ROUNDS = 4;
const PER_ROUND = 25;
const WARMUP = 10;
const CLIENTS = 50;
const LOAD_SECONDS = 15;
const runStarted = cpuTimes();
const cores = availableParallelism();

// Nearest-rank percentiles of `values` (ms).
function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1), n: values.length };
}
const f2 = (x) => x.toFixed(2);
const rows = [];
const row = (name, s, note = "") => {
  rows.push({ name, s, note });
  console.error(`  ${name}: p50 ${f2(s.p50)} ms, p90 ${f2(s.p90)} ms, p99 ${f2(s.p99)} ms (n=${s.n}) ${note}`);
};

// --- the server's process: /proc ------------------------------------------------------------------
function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)[1]);
  return { rssMiB: field("VmRSS") / 1024, hwmMiB: field("VmHWM") / 1024, threads: field("Threads") };
}
// The machine's busy and total CPU time (jiffies, all cores): busy is all but idle and iowait.
function machineCpu() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { total, busy: total - f[3] - f[4] };
}
// The process's user + system CPU time, in seconds.
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
// Samples VmRSS and Threads every 100 ms, and the TCP connections established to `port` every
// second (`ss`, filtered in the kernel: under this load /proc/net/tcp lists some 8000 sockets in
// TIME_WAIT, mostly the health probes', and reading it takes about 25 ms of kernel time, a quarter
// of a core at 10 reads a second), until stop(); returns the peaks.
function sampleProcess(pid, port) {
  const peak = { rssMiB: 0, threads: 0, connections: 0, samples: 0 };
  const take = () => {
    try {
      const s = procStatus(pid);
      peak.rssMiB = Math.max(peak.rssMiB, s.rssMiB);
      peak.threads = Math.max(peak.threads, s.threads);
      peak.samples++;
    } catch {}
  };
  const count = () =>
    execFile("ss", ["-Htn", "state", "established", `( sport = :${port} )`], (error, stdout) => {
      if (!error) peak.connections = Math.max(peak.connections, stdout.split("\n").filter(Boolean).length);
    });
  take();
  count();
  const timer = setInterval(take, 100);
  const counter = setInterval(count, 1000);
  return { stop: () => (clearInterval(timer), clearInterval(counter), take(), peak) };
}

// --- `bluegreen-mcp serve` ----------------------------------------------------------------------
// Starts it on a port the kernel picks; resolves once its "listening on" line is logged (info level:
// the line is info; nothing is logged per call at info in the steady state).
function startServe(extra = []) {
  const child = spawn(binary, ["serve", "--listen", "127.0.0.1:0", "--config", config, "--log-level", "info", ...extra],
    { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`serve did not listen within 10 s:\n${log}`));
    }, 10000);
    child.on("exit", (code) => reject(new Error(`serve exited (${code}):\n${log}`)));
    child.stderr.setEncoding("utf8");
    let listening = false;
    child.stderr.on("data", (chunk) => {
      log += chunk;
      if (log.length > 100000) log = log.slice(-50000);
      const m = !listening && /listening on (http:\/\/\S+\/mcp)/.exec(log);
      if (m) {
        listening = true;
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve({ child, url: m[1], pid: child.pid, log: () => log });
      }
    });
  });
}
function stopServe(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return resolve();
    const t = process.hrtime.bigint();
    const kill = setTimeout(() => server.child.kill("SIGKILL"), 20000);
    server.child.once("exit", () => {
      clearTimeout(kill);
      server.exitMs = ms(t);
      resolve();
    });
    server.child.kill("SIGTERM");
  });
}

// --- the lean client: node:http, keep-alive, one socket per session -------------------------------
class HttpSession {
  constructor(url, headers = {}) {
    this.url = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.headers = headers;
    this.connections = 0;  // TCP connections this session opened
    this.nextId = 1;
  }

  // POSTs one message; resolves at the response's end with { status, headers, reply, replyMs, endMs }
  // (replyMs: until the JSON body or the SSE event carrying the reply; endMs: until the response ended).
  post(message) {
    const body = JSON.stringify(message);
    const t = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      const request = http.request({
        host: this.url.hostname, port: this.url.port, path: this.url.pathname, method: "POST", agent: this.agent,
        timeout: 30000,
        headers: {
          "Content-Type": "application/json", Accept: "application/json, text/event-stream",
          "Content-Length": Buffer.byteLength(body), ...this.headers,
        },
      }, (response) => {
        const sse = (response.headers["content-type"] ?? "").startsWith("text/event-stream");
        this.keepAlive = response.headers["keep-alive"] ?? "none";
        let text = "";
        let reply = null;
        let replyMs = null;
        response.setEncoding("utf8");
        response.on("data", (chunk) => {
          text += chunk;
          if (!sse) return;
          let cut;
          while ((cut = text.indexOf("\n\n")) >= 0) {
            const event = text.slice(0, cut);
            text = text.slice(cut + 2);
            const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
            if (!data) continue;
            const parsed = JSON.parse(data);
            if (parsed.id === message.id && ("result" in parsed || "error" in parsed)) {
              reply = parsed;
              replyMs = ms(t);
            }
          }
        });
        response.on("end", () => {
          const endMs = ms(t);
          if (!sse && text) reply = JSON.parse(text);
          resolve({ status: response.statusCode, headers: response.headers, reply, replyMs: replyMs ?? endMs, endMs, sse });
        });
        response.on("error", reject);
      });
      request.on("socket", (socket) => {
        if (!socket.benchCounted) {
          socket.benchCounted = true;
          this.connections++;
        }
      });
      request.on("timeout", () => request.destroy(new Error("no answer within 30 s")));
      request.on("error", reject);
      request.end(body);
    });
  }

  async initialize(name) {
    const r = await this.post({ jsonrpc: "2.0", id: this.nextId++, method: "initialize",
      params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name, version: "1" } } });
    if (r.status !== 200 || !r.headers["mcp-session-id"]) throw new Error(`initialize: ${r.status} ${JSON.stringify(r.reply)}`);
    this.headers = { ...this.headers, "Mcp-Session-Id": r.headers["mcp-session-id"], "MCP-Protocol-Version": PROTOCOL };
    const n = await this.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    if (n.status !== 202) throw new Error(`notifications/initialized: ${n.status}`);
  }

  request(method, params = {}) {
    return this.post({ jsonrpc: "2.0", id: this.nextId++, method, params });
  }

  // One get_deployment_status call; throws unless it answered 200 with a result that is no error.
  async status() {
    const r = await this.request("tools/call", { name: "get_deployment_status", arguments: {} });
    if (r.status !== 200 || !r.reply?.result || r.reply.result.isError) {
      throw new Error(`get_deployment_status: HTTP ${r.status} ${JSON.stringify(r.reply).slice(0, 300)}`);
    }
    return r;
  }

  close() {
    return new Promise((resolve) => {
      const request = http.request({ host: this.url.hostname, port: this.url.port, path: this.url.pathname,
        method: "DELETE", agent: this.agent, headers: this.headers, timeout: 15000 }, (response) => {
        response.resume();
        response.on("end", resolve);
      });
      request.on("error", resolve);
      request.on("timeout", () => request.destroy());
      request.end();
    }).finally(() => this.agent.destroy());
  }
}

// --- the SDK client: what users get -------------------------------------------------------------------
// The official Client over StreamableHTTPClientTransport (Node's fetch, whose connection pool all
// sessions of this process share), the same interface as HttpSession. The transport opens the
// session's standalone GET stream after notifications/initialized, as the SDK always does.
class SdkSession {
  constructor(url, headers = {}) {
    this.url = url;
    this.headers = headers;
  }

  async initialize(name) {
    this.client = new Client({ name, version: "1" });
    this.client.onerror = () => {};  // the GET stream's end when the session is deleted
    this.transport = new StreamableHTTPClientTransport(new URL(this.url), { requestInit: { headers: this.headers } });
    await this.client.connect(this.transport);
  }

  async status() {
    const t = process.hrtime.bigint();
    const r = await this.client.callTool({ name: "get_deployment_status", arguments: {} }, undefined, { timeout: 30000 });
    if (r.isError) throw new Error(`get_deployment_status: ${r.content[0].text.slice(0, 300)}`);
    const took = ms(t);
    return { replyMs: took, endMs: took };
  }

  async close() {
    await this.transport.terminateSession().catch(() => {});
    await this.client.close();
  }
}

// --- sequential: stdio, lean HTTP, SDK HTTP on the same lab -----------------------------------------
// The same log level as serve's (which needs info for its "listening on" line).
const stdio = new RpcClient(binary, ["--config", config, "--log-level", "info"]);
await stdio.initialize();
const seqServer = await startServe();
const lean = new HttpSession(seqServer.url);
await lean.initialize("bench-lean");
const sdkSession = new SdkSession(seqServer.url);
await sdkSession.initialize("bench-sdk");
const sdk = sdkSession.client;
const sdkStatus = () => sdkSession.status();
const leanPing = async () => {
  const r = await lean.request("ping");
  if (r.status !== 200 || !r.reply?.result) throw new Error(`ping: HTTP ${r.status} ${JSON.stringify(r.reply)}`);
  return r;
};
const stdioStatus = async () => {
  const r = await stdio.call("get_deployment_status");
  if (r.isError) throw new Error(r.content[0].text);
};

const seq = { stdio: [], leanReply: [], leanEnd: [], sdk: [], stdioPing: [], leanPing: [], sdkPing: [] };
const leanGaps = [];  // per call: end of response - reply event (the SSE stream's closing chunk)
for (let i = 0; i < WARMUP; i++) {
  await stdioStatus();
  await lean.status();
  await sdkStatus();
  await stdio.request("ping");
  await leanPing();
  await sdk.ping();
}
const leanConnectionsBefore = lean.connections;
const timed = async (into, fn) => {
  const t = process.hrtime.bigint();
  await fn();
  into.push(ms(t));
};
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < PER_ROUND; i++) await timed(seq.stdio, stdioStatus);
  for (let i = 0; i < PER_ROUND; i++) {
    const r = await lean.status();
    seq.leanReply.push(r.replyMs);
    seq.leanEnd.push(r.endMs);
    leanGaps.push(r.endMs - r.replyMs);
  }
  for (let i = 0; i < PER_ROUND; i++) await timed(seq.sdk, sdkStatus);
  for (let i = 0; i < PER_ROUND; i++) await timed(seq.stdioPing, () => stdio.request("ping"));
  for (let i = 0; i < PER_ROUND; i++) seq.leanPing.push((await leanPing()).replyMs);
  for (let i = 0; i < PER_ROUND; i++) await timed(seq.sdkPing, () => sdk.ping());
}
const leanConnections = lean.connections - leanConnectionsBefore;
const seqCalls = 2 * ROUNDS * PER_ROUND;
const s = Object.fromEntries(Object.entries(seq).map(([k, v]) => [k, stats(v)]));
const gaps = stats(leanGaps);
row("stdio: get_deployment_status", s.stdio);
row("HTTP lean: get_deployment_status, to the reply event (SSE)", s.leanReply);
row("HTTP lean: get_deployment_status, to the end of the response", s.leanEnd);
row("HTTP SDK 1.32.2: get_deployment_status (callTool)", s.sdk);
row("stdio: ping", s.stdioPing);
row("HTTP lean: ping (JSON reply)", s.leanPing);
row("HTTP SDK 1.32.2: ping", s.sdkPing);
console.error(`  lean session: ${leanConnections} TCP connections for ${seqCalls} requests; ` +
  `reply event -> end of response: p50 ${f2(gaps.p50)} ms, p99 ${f2(gaps.p99)} ms, max ${f2(gaps.max)} ms`);
await lean.close();
await sdkSession.close();
const seqServerMemory = procStatus(seqServer.pid);
await stopServe(seqServer);
await stdio.close();

// --- concurrent: 50 sessions polling status ---------------------------------------------------------
async function concurrent(label, { extra = [], headers = {}, Session = HttpSession } = {}) {
  const server = await startServe(extra);
  const idle = procStatus(server.pid);
  const sampler = sampleProcess(server.pid, Number(new URL(server.url).port));
  const sessions = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const session = new Session(server.url, headers);
      await session.initialize(`bench-load-${i}`);
      sessions.push(session);
    }
    await Promise.all(sessions.map((session) => session.status()));  // warm-up: one call each
    const connectionsBefore = sessions.reduce((a, x) => a + (x.connections ?? 0), 0);
    const latencies = [];
    const ends = [];
    let errors = 0;
    let firstError = null;
    const cpuBefore = cpuTimes();
    const machineBefore = machineCpu();
    const serverCpuBefore = cpuSeconds(server.pid);
    const benchCpuBefore = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const deadline = Date.now() + LOAD_SECONDS * 1000;
    await Promise.all(sessions.map(async (session) => {
      while (Date.now() < deadline) {
        try {
          const r = await session.status();
          latencies.push(r.replyMs);
          ends.push(r.endMs);
        } catch (e) {
          errors++;
          firstError ??= e.message;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }));
    const seconds = ms(t0) / 1000;
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const result = {
      label, latency: stats(latencies), end: stats(ends), errors, firstError,
      rate: latencies.length / seconds, seconds,
      connections: Session === HttpSession ? sessions.reduce((a, x) => a + x.connections, 0) - connectionsBefore : null,
      serverCpu: (100 * (cpuSeconds(server.pid) - serverCpuBefore)) / seconds,
      benchCpu: (benchCpu.user + benchCpu.system) / 1e4 / seconds,
      stolen: stolenPercent(cpuBefore, cpuTimes()),
      machineBusy: ((m) => (100 * (m.busy - machineBefore.busy)) / Math.max(1, m.total - machineBefore.total))(machineCpu()),
      idleRssMiB: idle.rssMiB,
    };
    await Promise.all(sessions.map((session) => session.close()));
    Object.assign(result, { peak: sampler.stop(), hwmMiB: procStatus(server.pid).hwmMiB, afterRssMiB: procStatus(server.pid).rssMiB });
    const l = result.latency;
    console.error(`  ${CLIENTS} ${label}: p50 ${f2(l.p50)} ms, p99 ${f2(l.p99)} ms (${(l.p99 / l.p50).toFixed(1)}x), ` +
      `${result.rate.toFixed(0)} calls/s, connections opened ${result.connections ?? "n/a"}, open at once (peak) ` +
      `${result.peak.connections}, errors ${errors}${firstError ? ` (${firstError})` : ""}, ` +
      `RSS peak ${result.peak.rssMiB.toFixed(1)} MiB (VmHWM ${result.hwmMiB.toFixed(1)}), threads peak ${result.peak.threads}, ` +
      `server CPU ${result.serverCpu.toFixed(0)}%, bench CPU ${result.benchCpu.toFixed(0)}%, ` +
      `machine busy ${result.machineBusy.toFixed(0)}% of ${cores} cores, stolen ${result.stolen}%`);
    return result;
  } finally {
    sampler.stop();
    await stopServe(server);
    console.error(`  ... the server exited ${f2(server.exitMs ?? NaN)} ms after SIGTERM`);
  }
}
const plain = await concurrent("lean sessions");
const tokenDir = mkdtempSync(join(tmpdir(), "bluegreen-bench-http-"));
let withTokens;
try {
  const token = randomBytes(32).toString("hex");
  const tokensFile = join(tokenDir, "tokens");
  writeFileSync(tokensFile, `${createHash("sha256").update(token).digest("hex")}  bench\n`, { mode: 0o600 });
  withTokens = await concurrent("lean sessions with bearer tokens",
    { extra: ["--tokens-file", tokensFile], headers: { Authorization: `Bearer ${token}` } });
} finally {
  rmSync(tokenDir, { recursive: true, force: true });
}
const sdkRun = await concurrent("SDK 1.32.2 sessions (each with its GET stream)", { Session: SdkSession });

// --- the figures ------------------------------------------------------------------------------------
console.log(`\nStreamable HTTP (bluegreen-mcp serve) against stdio, sequential calls after ${WARMUP} warm-up calls, ` +
  `${ROUNDS} interleaved rounds of ${PER_ROUND}; lean: node:http keep-alive, no SDK; SDK: @modelcontextprotocol/sdk 1.32.2`);
console.log("| Measure | p50 | p90 | p99 | Runs |\n|---|---|---|---|---|");
for (const { name, s: x, note } of rows) {
  console.log(`| ${name}${note ? " " + note : ""} | ${f2(x.p50)} ms | ${f2(x.p90)} ms | ${f2(x.p99)} ms | ${x.n} |`);
}
const diff = (a, b) => `${a - b >= 0 ? "+" : ""}${f2(a - b)} ms`;
console.log(`HTTP status p50 - stdio status p50: lean ${diff(s.leanReply.p50, s.stdio.p50)} (to the reply event; ` +
  `${diff(s.leanEnd.p50, s.stdio.p50)} to the response's end), SDK ${diff(s.sdk.p50, s.stdio.p50)} (target: within 1 ms)`);
console.log(`  p90: lean ${diff(s.leanReply.p90, s.stdio.p90)}, SDK ${diff(s.sdk.p90, s.stdio.p90)}; ` +
  `p99: lean ${diff(s.leanReply.p99, s.stdio.p99)}, SDK ${diff(s.sdk.p99, s.stdio.p99)}`);
// ping does no work: a lean ping over 30 ms waited on the network stack, typically for the 40 ms of
// Nagle's algorithm (the server writes its headers and body in separate send()s without TCP_NODELAY)
// meeting the client's delayed ACK.
const stalled = (values) => values.filter((x) => x > 30).length;
console.log(`  the transport alone (ping, p50): lean ${diff(s.leanPing.p50, s.stdioPing.p50)}, SDK ` +
  `${diff(s.sdkPing.p50, s.stdioPing.p50)} against stdio; pings over 30 ms: lean ${stalled(seq.leanPing)}/${seq.leanPing.length}, ` +
  `SDK ${stalled(seq.sdkPing)}/${seq.sdkPing.length}, stdio ${stalled(seq.stdioPing)}/${seq.stdioPing.length}`);
console.log(`  lean session: ${leanConnections} TCP connections for ${seqCalls} requests (the server's Keep-Alive: ` +
  `"${lean.keepAlive}"); SSE reply event -> end of the response p50 ${f2(gaps.p50)} ms, ` +
  `p99 ${f2(gaps.p99)} ms, max ${f2(gaps.max)} ms`);
console.log(`  server RSS after the sequential part: ${seqServerMemory.rssMiB.toFixed(1)} MiB (VmHWM ` +
  `${seqServerMemory.hwmMiB.toFixed(1)} MiB); it exited ${f2(seqServer.exitMs ?? NaN)} ms after SIGTERM`);

const runs = [plain, withTokens, sdkRun];
console.log(`\n${CLIENTS} concurrent HTTP sessions, each polling get_deployment_status back to back for ${LOAD_SECONDS} s on a ` +
  "fresh server; lean: latency to the reply event, SDK: callTool");
console.log("| Run | p50 | p90 | p99 | p99/p50 | max | calls/s | errors | connections opened (open at once) | " +
  `server RSS peak (VmHWM) | threads peak | server CPU | bench CPU | machine busy (${cores} cores) |`);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of runs) {
  const l = r.latency;
  console.log(`| ${r.label} | ${f2(l.p50)} ms | ${f2(l.p90)} ms | ${f2(l.p99)} ms | ${(l.p99 / l.p50).toFixed(1)}x | ` +
    `${f2(l.max)} ms | ${r.rate.toFixed(0)} | ${r.errors} | ${r.connections ?? "n/a"} (${r.peak.connections}) | ` +
    `${r.peak.rssMiB.toFixed(1)} MiB (${r.hwmMiB.toFixed(1)} MiB) | ${r.peak.threads} | ${r.serverCpu.toFixed(0)}% | ` +
    `${r.benchCpu.toFixed(0)}% | ${r.machineBusy.toFixed(0)}% |`);
}
for (const r of runs) {
  console.log(`${CLIENTS} ${r.label}: p99/p50 ${(r.latency.p99 / r.latency.p50).toFixed(1)}x (target <= 5x), ` +
    `RSS peak ${r.peak.rssMiB.toFixed(1)} MiB sampled every 100 ms (${r.peak.samples} samples), VmHWM ${r.hwmMiB.toFixed(1)} MiB ` +
    `(target <= 50 MB = ${(50e6 / 2 ** 20).toFixed(1)} MiB); idle before ${r.idleRssMiB.toFixed(1)} MiB, after the sessions ` +
    `ended ${r.afterRssMiB.toFixed(1)} MiB; CPU stolen by the hypervisor meanwhile: ${r.stolen}%`);
}
console.log("  (server CPU: % of one core; machine busy: all cores, the lab's sshd, apps and HAProxy and this benchmark " +
  "included. The server serves 2 x 128 + 64 = 320 connections at once (worker_threads' default): a keep-alive " +
  "connection holds a worker while idle, an SDK session's GET stream holds one for good, and connections past that " +
  "wait to be served.)");
console.log(`CPU stolen by the hypervisor over the whole run: ${stolenPercent(runStarted, cpuTimes())}% ` +
  "(figures from a starved machine are slower and noisier)");
