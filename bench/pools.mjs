// Pools and LB pairs: the figures of their targets, each against one server per colour behind one
// load balancer, all measured in this one run. Prints figures and ratios; asserts nothing.
//
//   1. get_deployment_status, 4 servers per colour behind 2 LBs, against one server per colour
//      behind one LB (target <= 1.5x); also 4 servers per colour behind one LB (pools alone). Each
//      status row also gives the CPU time per call of the whole machine, of bluegreen-mcp and of
//      the lab's programs (apps, sshds, HAProxies): on one machine the lab's servers share the
//      cores, so the call is bound by the CPU it takes in total; the target row also prints what
//      the lab's programs alone leave of the target's budget.
//   2. deploy_to_standby to 4 servers (deploy.maxParallel = 4: all at once) against a deploy to
//      one server (target <= 1.3x).
//   3. switch_traffic, the approved call with its verification, switching 2 LBs against switching
//      one (target <= 1.5x); also 4 servers per colour behind one LB (pools alone).
//   4. zero failed requests: a bounded load through both LBs' frontends while the LB pair is
//      switched again and again (bench/load.mjs, as bench.mjs's zero-drop rows), sent and failed
//      per frontend.
//
// How, and why so:
// - The baselines (one server per colour, one LB) are measured at `lab topology --pool 1 --lbs 1`
//   with the lab's own config (bluegreen-mcp.json, the config every other bench row uses), half
//   of their samples before the pool part and half after it, each time on a fresh server, in one
//   row: the machine is shared, and a stretch where it got busier or quieter then weighs on both
//   sides alike (the row's note gives both halves' medians). They cannot come from the server
//   process of the pool figures: a server reads its config once, and a one-server app cannot
//   share the lab's HAProxy backends with a pool app (the pool's other servers would be pool
//   drift). So every figure comes from a fresh server of its own after the same warm-up (calls
//   that open its SSH connections), which makes the server processes alike.
// - Then the lab grows to `--pool 4 --lbs 2` (blue..blue4, green..green4, lb and lb2) and the lab's
//   topology config ($LAB/bluegreen-mcp-topology.json: pools, `loadBalancer` an array of both LBs)
//   is measured as it is, and with `loadBalancer` narrowed to lb (4 servers per colour, one LB).
//   Both copies take their deploy steps and health-gate settings from bluegreen-mcp.json (they are
//   rendered from the same template; copying makes like-with-like certain), with
//   deploy.maxParallel and healthGate.minHealthy = 4.
// - Deploys: the same steps (createBackup false, pull of origin/main: nothing new to fetch, the
//   install and build checks, ./appctl restart, the health gate) on the same lab app; one deploy
//   to warm up, then the median wall time of the tool calls (5 to 4 servers; 3 + 3 to one). The
//   4-server deploy is measured with one LB: a deploy touches the LB only for its lock and
//   records, and this way it is measured while LB pairs are not supported.
// - The pool parts' switches come in even numbers (10), so each ends on the colour it started on
//   and lb and lb2 serve the same colour for the next part (the one-LB pool part leaves lb2 as it
//   is). After each switch, a new connection to every LB's frontend must be answered by the new
//   colour (not timed).
// - Until the server supports `loadBalancer` as an array, the LB-pair rows print that they were
//   not measured and why (the server's own error), never a figure.
// - The lab goes back to pool=1 lbs=1 at the end whatever happens (bench/run's exit trap does it
//   too, for a run that is interrupted).
// About 40 s on the project's 2-core machine while LB pairs are refused, about 70 s once they are
// measured; bounded: 14 deploys, 30 switches (and those of a 10 s load, followed by 10 s without
// switching only if a request failed), about 190 status calls, two topology changes.
//
// Usage: node bench/pools.mjs BINARY CONFIG   (BLUEGREEN_LAB_DIR set, the lab up at pool=1 lbs=1)
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { boundedLoad, cpuTimes, stolenPercent } from "./load.mjs";
import { RpcClient, getJsonFresh, ms, summary } from "./rpc_client.mjs";
import { lab, parseShowStat, setTopology, ssh } from "../tests/e2e/support.mjs";

const [binary, config] = process.argv.slice(2);
const POOL = 4;
const STATUS_RUNS = 60;
const SWITCH_RUNS = 10;  // even: back on the starting colour (the baselines: half before, half after)
const DEPLOY_RUNS = 5;  // each after one to warm up (the baselines: 3 before, 3 after)
const CALL_TIMEOUT_MS = 120000;
const partStarted = Date.now();
const cpuAtStart = cpuTimes();

// --- helpers ------------------------------------------------------------------------------------

const firstLines = (text, n = 3) => text.trim().split("\n").slice(0, n).join(" / ");
const resultText = (result) => (result.content ?? []).map((c) => c.text).join("\n");
const withTimeout = (promise, what) => {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CALL_TIMEOUT_MS / 1000} s`)), CALL_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
};
// A tool call that throws on an error result (isError), with the result's first lines.
async function call(client, name, args = {}) {
  const result = await withTimeout(client.call(name, args), name);
  if (result.isError) throw new Error(`${name} failed: ${firstLines(resultText(result))}`);
  return result;
}

// A fresh server on `path`. A server that exits instead (an invalid config) throws with its own
// message (stderr), so the row can say why it was not measured.
async function startServer(path) {
  const client = new RpcClient(binary, ["--config", path, "--log-level", "warn"]);
  let stderr = "";
  client.child.stderr.on("data", (chunk) => (stderr += chunk));
  const closed = new Promise((resolve) => client.child.once("close", (code) => resolve(code)));
  const up = await withTimeout(Promise.race([client.initialize().then(() => true), closed.then(() => false)]), "initialize");
  if (up) return client;
  const code = await closed;
  const message = stderr.trim().split("\n").map((l) => l.trim().replace(/^- /, "")).join("; ")
    .replaceAll(path, "the topology config").replace(/:\s*;\s*/g, ": ");
  throw new Error(`the server refused the config (exit ${code}): ${message}`);
}
// Ends a server this part started: stdin closed, then SIGKILL to that process if it is still
// there after 5 s (a server stuck in a call).
async function stopServer(client) {
  if (!client || client.child.exitCode !== null || client.child.signalCode !== null) return;
  const exited = new Promise((resolve) => client.child.once("exit", resolve));
  client.child.stdin.end();
  const timer = setTimeout(() => client.child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

// Every server of both backends UP in the `show stat` of each LB in `lbs` (lab host names).
async function waitAllUp(lbs, perColour) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const ready = lbs.every((host) => {
      const r = ssh(`lab-${host}`, "echo 'show stat' | socat - UNIX-CONNECT:/run/haproxy/admin.sock", { allowFail: true });
      if (r.code !== 0) return false;
      const servers = parseShowStat(r.stdout).filter((s) => ["blue", "green"].includes(s.pxname) && s.svname !== "BACKEND");
      return servers.length === 2 * perColour && servers.every((s) => s.status === "UP");
    });
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`not every server UP in HAProxy on ${lbs.join(" and ")} within 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// The lab's topology config with `loadBalancers` (indexes into its array; one: an object, as the
// binary has always taken it), the deploy steps and health gate of the lab's config.
function topologyConfig(name, loadBalancers) {
  const base = JSON.parse(readFileSync(config, "utf8")).apps.shop;
  const topology = JSON.parse(readFileSync(lab.LAB_TOPOLOGY_CONFIG, "utf8"));
  const app = topology.apps.shop;
  const all = [].concat(app.loadBalancer);
  app.loadBalancer = loadBalancers.length === 1 ? all[loadBalancers[0]] : loadBalancers.map((i) => all[i]);
  app.deploy = { ...app.deploy, steps: base.deploy.steps, maxParallel: POOL };
  app.healthGate = { ...base.healthGate, minHealthy: POOL };
  const path = join(lab.LAB_DIR, `bluegreen-mcp.bench-pools-${name}.json`);
  writeFileSync(path, JSON.stringify(topology, null, 2));
  const lbs = [].concat(app.loadBalancer);
  return { path, frontends: lbs.map((lb) => lb.verifyUrl), publicUrls: lbs.map((lb) => lb.publicUrl) };
}

// --- measurements -------------------------------------------------------------------------------
// Each returns { samples (ms, the timed calls), extra: { name: [values] } (medians go in the
// row's note) }.

// CPU time, in clock ticks (USER_HZ, 100 a second on Linux: proc(5)): the whole machine's busy time
// (every field of /proc/stat's cpu line but idle, iowait and steal) and one process's (utime +
// stime of /proc/PID/stat). Status on one machine is bound by the CPU it takes in total: the lab's
// servers, sshds and HAProxies share the cores with bluegreen-mcp, which the status rows show.
const TICKS_PER_SECOND = 100;
const CORES = availableParallelism();
const CPU = { machine: "machine CPU per call", server: "bluegreen-mcp's own CPU per call", program: "lab CPU per call:" };
function busyTicks() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) - f[3] - f[4] - (f[7] ?? 0);
}
function processTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]);  // utime, stime (fields 14 and 15 of proc(5))
}
// The lab's programs (what the hosts run: the apps, their sshds, the HAProxies), by process name:
// their CPU ticks summed over the live processes (a process that ends between two readings is
// not counted).
const LAB_PROGRAMS = { python3: "the apps (python3)", sshd: "sshd", haproxy: "haproxy" };
function programTicks() {
  const ticks = Object.fromEntries(Object.keys(LAB_PROGRAMS).map((name) => [name, 0]));
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;  // ended meanwhile
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    if (!(name in ticks)) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks[name] += Number(fields[11]) + Number(fields[12]);
  }
  return ticks;
}

// Warm status calls: two first (they open the connections and resolve the commits), then `runs`
// timed. `servers`: how many servers each colour must show.
async function measureStatus(client, servers, runs) {
  for (let i = 0; i < 2; i++) await call(client, "get_deployment_status");
  const samples = [];
  const programsBefore = programTicks();
  const machineBefore = busyTicks();
  const serverBefore = processTicks(client.child.pid);
  const started = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const r = await call(client, "get_deployment_status");
    samples.push(ms(t));
    const shown = r.structuredContent.current?.prod?.servers?.length ?? 1;
    if (i === 0 && shown !== servers) throw new Error(`status shows ${shown} PROD servers, expected ${servers}`);
  }
  const perCall = (ticks) => Math.round((ticks * 1000 / TICKS_PER_SECOND / runs) * 10) / 10;
  const extra = { [CPU.machine]: [perCall(busyTicks() - machineBefore)],
    [CPU.server]: [perCall(processTicks(client.child.pid) - serverBefore)] };
  // The lab's programs over the same stretch, less what they use anyway (HAProxy's health checks
  // of the apps): their rate over as long a stretch without calls.
  const programsAfter = programTicks();
  const seconds = ms(started) / 1000;
  const idleBefore = programTicks();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const idleAfter = programTicks();
  for (const name of Object.keys(LAB_PROGRAMS)) {
    const used = programsAfter[name] - programsBefore[name] - (idleAfter[name] - idleBefore[name]);
    extra[`${CPU.program} ${name}`] = [Math.max(0, perCall(used))];
  }
  return { samples, extra };
}

// `runs` approved switch_traffic calls (plan, then the timed approved call), each followed by a
// check that every frontend in `frontends` (the LBs' verifyUrls: the app's /health through each
// LB) now serves the new colour to a new connection. Extra: the result's timings.
async function measureSwitches(client, frontends, runs) {
  const samples = [];
  const extra = {};
  for (let i = 0; i < runs; i++) {
    const plan = await call(client, "switch_traffic");
    const token = plan.structuredContent.approvalToken;
    const to = plan.structuredContent.plan?.to?.server?.toLowerCase();
    if (!token || !to) throw new Error(`switch_traffic gave no approval token: ${firstLines(resultText(plan))}`);
    const t = process.hrtime.bigint();
    const r = await call(client, "switch_traffic", { approvalToken: token });
    samples.push(ms(t));
    if (!r.structuredContent.switched) throw new Error(`not switched: ${firstLines(resultText(r))}`);
    for (const [key, value] of Object.entries(r.structuredContent.timings ?? {})) {
      if (typeof value === "number") (extra[key] ??= []).push(value);
    }
    for (const url of frontends) {
      let colour;
      for (let tries = 0; tries < 20 && colour !== to; tries++) {
        colour = await getJsonFresh(url, 2000).then((h) => h.color, () => undefined);
        if (colour !== to) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (colour !== to) throw new Error(`after switch ${i + 1} to ${to}, ${url} still serves ${colour ?? "nothing"}`);
    }
  }
  return { samples, extra };
}

// One deploy to warm up, then `runs` timed: the tool call's wall time. Every standby server must
// report ok. Extra: the slowest server's own time (its steps and health gate; the servers run at
// once), its steps, and what the call took beyond it (the tool's own work: lock, records, state
// file).
async function measureDeploys(client, servers, runs) {
  const samples = [];
  const extra = { "slowest server": [], "beyond it": [] };
  for (let i = 0; i <= runs; i++) {
    const t = process.hrtime.bigint();
    const r = await call(client, "deploy_to_standby", { createBackup: false });
    const took = ms(t);
    const d = r.structuredContent;
    if (!d.ok) throw new Error(`deploy not ok: ${firstLines(resultText(r))}`);
    const each = d.servers ?? [{ durationMs: d.durationMs, status: "ok" }];
    if (each.length !== servers || each.some((s) => s.status !== "ok")) {
      throw new Error(`deploy reached ${each.filter((s) => s.status === "ok").length} of ${servers} servers`);
    }
    if (i === 0) continue;  // the warm-up
    samples.push(took);
    const slowestServer = each.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
    const slowest = slowestServer.durationMs;
    extra["slowest server"].push(slowest);
    for (const step of slowestServer.steps ?? d.steps ?? []) {
      if (step.status !== "skipped") (extra[`step ${step.name}`] ??= []).push(step.durationMs);
    }
    extra["beyond it"].push(Math.round(took - slowest));
  }
  return { samples, extra };
}

// The bounded load (200 requests a second in all, 10 s) through `frontends` (the LBs' publicUrls:
// `GET /`, as bench.mjs's load) while `client` switches again and again; if any request failed,
// the same load without switching follows, so failures the machine causes by itself are told
// apart.
async function measureLoad(client, frontends) {
  let switchError = null;
  const switchOnce = async () => {
    if (switchError) return false;
    try {
      const plan = await call(client, "switch_traffic");
      const r = await call(client, "switch_traffic", { approvalToken: plan.structuredContent.approvalToken });
      return Boolean(r.structuredContent.switched);
    } catch (e) {
      switchError = e.message;
      return false;
    }
  };
  const rate = 200 / frontends.length;
  const switching = await boundedLoad({ urls: frontends, rate, seconds: 10, switchOnce });
  const failed = (c) => c.non2xx + c.errors;
  const anyFailed = Object.values(switching.perUrl).some((c) => failed(c) > 0);
  const quiet = anyFailed ? await boundedLoad({ urls: frontends, rate, seconds: 10 }) : null;
  return { switching, quiet, rate, switchError };
}

// The rows: { name, samples, extra, halves (baselines: the median of each half), s (summary),
// baseline (row), target, reason (why not measured) }. A throw of `measure` becomes the reason.
const rows = [];
const show = (row) => {
  if (row.reason) console.error(`  ${row.name}: not measured: ${row.reason}`);
  else console.error(`  ${row.name}: median ${row.s.median.toFixed(2)} ms, p90 ${row.s.p90.toFixed(2)} ms (n=${row.s.n})`);
};
async function measureRow(name, measure, { baseline, target } = {}) {
  const row = { name, baseline, target, samples: [], extra: {}, halves: [] };
  rows.push(row);
  await extendRow(row, measure);
  return row;
}
// More samples for `row` (the baselines' second half, after the pool part). A failure here keeps
// the first half's figures and says so.
async function extendRow(row, measure) {
  if (row.reason) return;
  try {
    const { samples, extra } = await measure();
    row.samples.push(...samples);
    for (const [key, values] of Object.entries(extra)) (row.extra[key] ??= []).push(...values);
    row.halves.push(summary(samples).median);
    row.s = summary(row.samples);
  } catch (e) {
    if (row.s) row.halfReason = e.message;
    else row.reason = e.message;
  }
  show(row);
}
const notMeasured = (name, reason, options = {}) => {
  rows.push({ name, reason, ...options });
  show(rows.at(-1));
};

// --- the run ------------------------------------------------------------------------------------

let grew = null;
let shrank = null;
let load = null;
let loadReason = null;
const names = {
  status1: "get_deployment_status, warm, 1 server per colour, 1 LB (lab config)",
  status4: "get_deployment_status, warm, 4 servers per colour, 1 LB",
  status4x2: "get_deployment_status, warm, 4 servers per colour, 2 LBs",
  deploy1: "deploy_to_standby, 1 server (tool call)",
  deploy4: "deploy_to_standby, 4 servers at once (maxParallel 4), 1 LB (tool call)",
  switch1: "switch_traffic approved call (incl. verification), 1 server per colour, 1 LB",
  switch4: "switch_traffic approved call (incl. verification), 4 servers per colour, 1 LB",
  switch4x2: "switch_traffic approved call (incl. verification), 4 servers per colour, 2 LBs",
};

// The baselines: one server per colour behind one LB, the lab's own config, a fresh server. Run
// twice, before and after the pool part, each time half of the samples, which go in one row: a
// machine that got busier or quieter meanwhile (it is shared) then weighs on both sides alike.
// The switches need not come in even numbers here (lb2 does not run at pool=1 lbs=1).
const baseline = {};
async function measureBaselines() {
  let server = null;
  try {
    await waitAllUp(["lb"], 1);
    server = await startServer(config);
    const verifyUrl = JSON.parse(readFileSync(config, "utf8")).apps.shop.loadBalancer.verifyUrl;
    const parts = [
      ["status", names.status1, () => measureStatus(server, 1, STATUS_RUNS / 2)],
      ["switch", names.switch1, () => measureSwitches(server, [verifyUrl], SWITCH_RUNS / 2)],
      ["deploy", names.deploy1, () => measureDeploys(server, 1, Math.ceil(DEPLOY_RUNS / 2))],
    ];
    for (const [key, name, measure] of parts) {
      if (baseline[key]) await extendRow(baseline[key], measure);
      else baseline[key] = await measureRow(name, measure);
    }
  } catch (e) {
    // The server did not start, or HAProxy's servers did not come UP: every baseline row says so.
    for (const [key, name] of [["status", names.status1], ["switch", names.switch1], ["deploy", names.deploy1]]) {
      if (!baseline[key]) notMeasured(name, e.message);
      else if (!baseline[key].reason) baseline[key].halfReason ??= e.message;
    }
    baseline.status ??= rows.find((r) => r.name === names.status1);
    baseline.switch ??= rows.find((r) => r.name === names.switch1);
    baseline.deploy ??= rows.find((r) => r.name === names.deploy1);
  } finally {
    await stopServer(server);
  }
}

try {
  setTopology({ pool: 1, lbs: 1 });
  await measureBaselines();

  const t = Date.now();
  setTopology({ pool: POOL, lbs: 2 });
  grew = (Date.now() - t) / 1000;
  console.error(`  lab topology --pool ${POOL} --lbs 2: ${grew.toFixed(1)} s`);

  // 4 servers per colour behind lb alone (lb2 runs, unused: it keeps serving the colour both
  // served, as the switches here come in even numbers).
  const oneLb = topologyConfig("pool-one-lb", [0]);
  let server = null;
  try {
    await waitAllUp(["lb"], POOL);
    server = await startServer(oneLb.path);
    await measureRow(names.status4, () => measureStatus(server, POOL, STATUS_RUNS), { baseline: baseline.status });
    await measureRow(names.switch4, () => measureSwitches(server, oneLb.frontends, SWITCH_RUNS), { baseline: baseline.switch });
    await measureRow(names.deploy4, () => measureDeploys(server, POOL, DEPLOY_RUNS), { baseline: baseline.deploy, target: 1.3 });
  } catch (e) {
    for (const [name, base, target] of [[names.status4, baseline.status], [names.switch4, baseline.switch],
      [names.deploy4, baseline.deploy, 1.3]]) {
      if (!rows.some((r) => r.name === name)) notMeasured(name, e.message, { baseline: base, target });
    }
  } finally {
    await stopServer(server);
  }

  // 4 servers per colour behind lb and lb2: the topology config as the lab renders it.
  const pair = topologyConfig("lb-pair", [0, 1]);
  server = null;
  try {
    await waitAllUp(["lb", "lb2"], POOL);
    server = await startServer(pair.path);
  } catch (e) {
    loadReason = e.message;
  }
  if (server) {
    try {
      await measureRow(names.status4x2, () => measureStatus(server, POOL, STATUS_RUNS), { baseline: baseline.status, target: 1.5 });
      const pairSwitch = await measureRow(names.switch4x2, () => measureSwitches(server, pair.frontends, SWITCH_RUNS),
        { baseline: baseline.switch, target: 1.5 });
      if (pairSwitch.reason) loadReason = `its switch failed: ${pairSwitch.reason}`;
      else {
        await waitAllUp(["lb", "lb2"], POOL);
        load = await measureLoad(server, pair.publicUrls);
      }
    } catch (e) {
      loadReason ??= e.message;
    } finally {
      await stopServer(server);
    }
  } else {
    notMeasured(names.status4x2, loadReason, { baseline: baseline.status, target: 1.5 });
    notMeasured(names.switch4x2, loadReason, { baseline: baseline.switch, target: 1.5 });
  }
} finally {
  const t = Date.now();
  setTopology({ pool: 1, lbs: 1 });
  shrank = (Date.now() - t) / 1000;
  console.error(`  lab topology --pool 1 --lbs 1: ${shrank.toFixed(1)} s`);
}
// The baselines' second half, back at pool=1 lbs=1.
await measureBaselines();

// --- the table ----------------------------------------------------------------------------------

const ratio = (row) => (row?.s && row.baseline?.s ? row.s.median / row.baseline.s.median : null);
const verdict = (row) => {
  const r = ratio(row);
  if (r === null || !row.target) return "";
  return r <= row.target ? " ✅" : " ❌";
};
const median = (values) => summary(values).median;
const notes = (row) => {
  const extra = Object.entries(row.extra ?? {}).filter(([, values]) => values.length);
  const of = (name) => extra.find(([key]) => key === name)?.[1];
  const deploy = ["slowest server", "beyond it", CPU.machine, CPU.server];
  const steps = extra.filter(([key]) => key.startsWith("step ")).map(([key, values]) => `${key.slice(5)} ${median(values)}`);
  const labCpu = extra.filter(([key]) => key.startsWith(CPU.program))
    .map(([key, values]) => `${LAB_PROGRAMS[key.slice(CPU.program.length + 1)]} ${median(values)}`);
  const timings = extra.filter(([key]) => !deploy.includes(key) && !key.startsWith("step ") && !key.startsWith(CPU.program))
    .map(([key, values]) => `${key} ${median(values)}`);
  return [
    of("slowest server") ? `the slowest server's own time (steps + health gate), median ${median(of("slowest server"))} ms, ` +
      `the call beyond it ${median(of("beyond it"))} ms` : "",
    of(CPU.machine) ? `CPU time per call (ms, all runs): the whole machine ${of(CPU.machine).join(" / ")}, of it ` +
      `bluegreen-mcp ${of(CPU.server).join(" / ")}` : "",
    labCpu.length ? `of it the lab's programs, beyond their idle rate: ${labCpu.join(", ")}` : "",
    steps.length ? `its steps, medians in ms: ${steps.join(", ")}` : "",
    timings.length ? `the result's timings, medians in ms: ${timings.join(", ")}` : "",
    row.halves?.length === 2 ? `medians before / after the pool part: ${row.halves.map((m) => m.toFixed(1)).join(" / ")} ms` : "",
    row.halfReason ? `second half not measured: ${row.halfReason}` : "",
  ].filter(Boolean);
};
console.log(`\npools and LB pairs: one server per colour behind one LB (the lab's config) before and after ` +
  `\`lab topology --pool ${POOL} --lbs 2\`` +
  `${grew === null ? "" : ` (${grew.toFixed(1)} s; back to pool=1 lbs=1: ${shrank?.toFixed(1)} s)`}; a fresh server for each config`);
console.log("| Measure | Median | p90 | Runs | Against 1 server, 1 LB |\n|---|---|---|---|---|");
for (const row of rows) {
  const r = ratio(row);
  const against = [r === null ? "" : `${r.toFixed(2)}x${verdict(row)}`, row.target ? `target <= ${row.target}x` : ""]
    .filter(Boolean).join(", ");
  if (row.s) {
    console.log(`| ${row.name} | ${row.s.median.toFixed(1)} ms | ${row.s.p90.toFixed(1)} ms | ${row.s.n} | ${against} |`);
  } else {
    console.log(`| ${row.name} | not measured: ${row.reason} | | | ${against} |`);
  }
}
for (const row of rows) {
  const n = notes(row);
  if (n.length) console.log(`  ${row.name}: ${n.join("; ")}`);
}

const byName = Object.fromEntries(rows.map((row) => [row.name, row]));
const ratioLine = (label, row, extra = "") => {
  const r = ratio(row);
  if (r === null) return `${label}: not measured (see its row)`;
  return `${label}: ${row.s.median.toFixed(1)} ms against ${row.baseline.s.median.toFixed(1)} ms: ${r.toFixed(2)}x ` +
    `(target <= ${row.target}x${verdict(row)})${extra}`;
};
const pairSwitch = byName[names.switch4x2];
const poolSwitch = byName[names.switch4];
const poolStatus = byName[names.status4];
const against = (a, b, what) => (a?.s && b?.s ? `; against ${what}: ${(a.s.median / b.s.median).toFixed(2)}x` : "");
console.log(ratioLine("status, 4 servers per colour + 2 LBs / 1 server, 1 LB", byName[names.status4x2],
  against(byName[names.status4x2], poolStatus, "4 servers per colour behind 1 LB")));
console.log(`  pools alone: status, 4 servers per colour + 1 LB / 1 server, 1 LB: ` +
  (ratio(poolStatus) === null ? "not measured (see its row)" : `${ratio(poolStatus).toFixed(2)}x`));
const cpuLine = (row, base) => {
  const of = (r, key) => (r?.extra?.[key]?.length ? median(r.extra[key]) : null);
  const [m, mb, s, sb] = [of(row, CPU.machine), of(base, CPU.machine), of(row, CPU.server), of(base, CPU.server)];
  if (m === null || mb === null) return;
  console.log(`  CPU time per status call, 4 servers per colour + 2 LBs / 1 server, 1 LB: the whole machine ` +
    `${m} / ${mb} ms (${(m / mb).toFixed(2)}x; ${leastWall(m)}), of it bluegreen-mcp ${s} / ${sb} ms`);
  // The target's budget against what the lab's own programs need: were bluegreen-mcp to take no
  // CPU at all, the call could not be faster than the lab's CPU spread over every core.
  const lab = Object.keys(LAB_PROGRAMS).reduce((sum, name) => sum + (of(row, `${CPU.program} ${name}`) ?? 0), 0);
  if (row.s && row.baseline?.s && row.target) {
    const budget = row.baseline.s.median * row.target;
    console.log(`  the lab's programs alone take ${lab.toFixed(1)} ms of CPU per call (${leastWall(lab)}), against ` +
      `the target's ${budget.toFixed(1)} ms (${row.target} x ${row.baseline.s.median.toFixed(1)} ms)`);
  }
};
const leastWall = (cpuMs) => `${(cpuMs / CORES).toFixed(1)} ms of wall time at the least on ${CORES} cores`;
cpuLine(byName[names.status4x2], byName[names.status1]);
console.log(ratioLine("deploy_to_standby, 4 servers at once / 1 server", byName[names.deploy4]));
console.log(ratioLine("switch_traffic, 2 LBs (4 servers per colour) / 1 LB (1 server)", pairSwitch,
  against(pairSwitch, poolSwitch, "4 servers per colour behind 1 LB")));
console.log(`  pools alone: switch_traffic, 4 servers per colour + 1 LB / 1 server, 1 LB: ` +
  (ratio(poolSwitch) === null ? "not measured (see its row)" : `${ratio(poolSwitch).toFixed(2)}x`));
if (load) {
  const perFrontend = (run) => Object.entries(run.perUrl).map(([url, c]) =>
    `${new URL(url).host}: ${c.sent} sent, ${c.non2xx + c.errors} failed (${c.non2xx} non-2xx, ${c.errors} connection ` +
    `errors, ${c.timeouts} of them no answer within 5 s)`).join("; ");
  console.log(`zero-drop through both LBs' frontends, ${load.rate}/s each for 10 s while switching the LB pair ` +
    `${load.switching.switches} times: ${perFrontend(load.switching)}; CPU stolen meanwhile: ${load.switching.stolenPercent}%` +
    (load.switchError ? `; switching stopped early: ${load.switchError}` : ""));
  if (load.quiet) {
    console.log(`  the same load with no switch (the machine's own baseline): ${perFrontend(load.quiet)}; ` +
      `CPU stolen meanwhile: ${load.quiet.stolenPercent}%`);
  }
} else {
  console.log(`zero-drop through both LBs' frontends while switching the LB pair: not measured: ${loadReason ?? "no LB-pair server"}`);
}
console.log(`pools part: ${((Date.now() - partStarted) / 1000).toFixed(0)} s, CPU stolen by the hypervisor meanwhile: ` +
  `${stolenPercent(cpuAtStart, cpuTimes())}%`);
