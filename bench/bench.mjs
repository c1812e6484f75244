// The benchmark: bluegreen-mcp against the lab, side by side with the per-command-ssh way of the
// Node.js server it replaces (one `ssh` client process per remote command, one after another).
// Prints a table of figures; asserts nothing. Run through bench/run, which brings the lab up.
//
// The switch is measured twice: with the lab's default layout (`default_backend`, switched by a
// config swap and a reload) and with map-based routing (`use_backend %[str(shop),map(FILE)]`,
// switched through the stats socket with no reload), each with its own zero-drop load run.
//
// Usage: node bench/bench.mjs BINARY CONFIG   (BLUEGREEN_LAB_DIR set: tests/e2e/support.mjs,
// whose lab helpers the map part uses, reads the lab's coordinates from it and the binary from
// the same argv[2])
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { boundedLoad as loadThrough, cpuTimes, stolenPercent } from "./load.mjs";
import { RpcClient, getJsonFresh, ms, summary } from "./rpc_client.mjs";
import {
  configVariant, installHaproxyLayout, labRender, layoutBackends, layoutGlobalAndDefaults, resetHaproxyLayout, waitForBothUp,
} from "../tests/e2e/support.mjs";

const [binary, config] = process.argv.slice(2);
const env = Object.fromEntries(
  readFileSync(config.replace(/bluegreen-mcp\.json$/, "lab.env"), "utf8")
    .split("\n").map((l) => /^export ([A-Z0-9_]+)=(.*)$/.exec(l)).filter(Boolean).map((m) => [m[1], m[2]]),
);
const rows = [];
const mapRows = [];  // measured after everything else; printed after the reload-mode switch rows
const row = (name, s, note = "", into = rows) => {
  into.push({ name, s, note });
  console.error(`  ${name}: median ${s.median.toFixed(2)} ms, p90 ${s.p90.toFixed(2)} ms (n=${s.n}) ${note}`);
};
const args = ["--config", config, "--log-level", "warn"];

const runStarted = cpuTimes();

// --- cold start ---------------------------------------------------------------------------
{
  const samples = [];
  for (let i = 0; i < 30; i++) {
    const c = new RpcClient(binary, args);
    await c.initialize();
    samples.push(ms(c.started));
    await c.close();
  }
  row("cold start: spawn -> initialize reply", summary(samples));
}

const server = new RpcClient(binary, args);
await server.initialize();
await server.request("tools/list");
const idle = server.memory();

// --- tools/list -----------------------------------------------------------------------------
{
  const samples = [];
  for (let i = 0; i < 300; i++) {
    const t = process.hrtime.bigint();
    await server.request("tools/list");
    samples.push(ms(t));
  }
  row("tools/list", summary(samples));
}

// --- status, warm, 1 app ------------------------------------------------------------------------
let statusOne;
{
  await server.call("get_deployment_status");
  const samples = [];
  for (let i = 0; i < 60; i++) {
    const t = process.hrtime.bigint();
    const r = await server.call("get_deployment_status");
    samples.push(ms(t));
    if (r.isError) throw new Error(r.content[0].text);
  }
  statusOne = summary(samples);
  row("get_deployment_status, warm, 1 app", statusOne);
}

// --- status, warm, 10 apps sharing the LB -------------------------------------------------------
{
  const base = JSON.parse(readFileSync(config, "utf8"));
  const shop = base.apps.shop;
  base.apps = {};
  for (let i = 0; i < 10; i++) {
    const app = structuredClone(shop);
    app.loadBalancer.stateFile = `/var/lib/bluegreen/bench-app${i}.json`;
    base.apps[`app${i}`] = app;
  }
  const tenConfig = config.replace(/\.json$/, ".ten-apps.json");
  writeFileSync(tenConfig, JSON.stringify(base, null, 2));
  const ten = new RpcClient(binary, ["--config", tenConfig, "--log-level", "warn"]);
  await ten.initialize();
  await ten.call("get_deployment_status");
  const samples = [];
  for (let i = 0; i < 40; i++) {
    const t = process.hrtime.bigint();
    const r = await ten.call("get_deployment_status");
    samples.push(ms(t));
    if (r.structuredContent.apps.length !== 10) throw new Error("expected 10 apps");
  }
  const s = summary(samples);
  row("get_deployment_status, warm, 10 apps", s, `(${(s.median / statusOne.median).toFixed(2)}x the 1-app time)`);
  await ten.close();
}

// --- status while a deploy step runs on the standby ------------------------------------------------
// The same server runs a deploy whose extra step sleeps 10 s on the standby, and answers status
// calls meanwhile: each call must not wait for the step (target: p50 at most 2x the idle p50).
let statusIdle;
let statusDuringDeploy;
{
  const base = JSON.parse(readFileSync(config, "utf8"));
  base.apps.shop.deploy.steps.splice(3, 0, { name: "slow", run: "sleep 10.25", timeoutSeconds: 60 });
  const slowConfig = config.replace(/\.json$/, ".slow-step.json");
  writeFileSync(slowConfig, JSON.stringify(base, null, 2));
  const deploying = new RpcClient(binary, ["--config", slowConfig, "--log-level", "warn"]);
  await deploying.initialize();
  const status = async () => {
    const t = process.hrtime.bigint();
    const r = await deploying.call("get_deployment_status");
    if (r.isError) throw new Error(r.content[0].text);
    return { ms: ms(t), r };
  };
  const idle = [];
  let standby;
  for (let i = 0; i < 40; i++) {
    const { ms: took, r } = await status();
    if (i > 0) idle.push(took);  // the first opens the connections
    standby = r.structuredContent.current.standby.server.toLowerCase();
  }
  statusIdle = summary(idle);
  const deploy = deploying.call("deploy_to_standby", { createBackup: false });
  const stepRuns = () =>
    spawnSync("ssh", ["-F", env.LAB_SSH_CONFIG, `lab-${standby}`, "pgrep -f '[s]leep 10.25'"]).status === 0;
  for (let i = 0; i < 100 && !stepRuns(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!stepRuns()) throw new Error("the slow deploy step did not start on the standby");
  const during = [];
  const until = Date.now() + 7000;
  while (Date.now() < until) {
    during.push((await status()).ms);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!stepRuns()) throw new Error("the slow deploy step ended before the status calls did");
  statusDuringDeploy = summary(during);
  const deployed = await deploy;
  if (!deployed.structuredContent.ok) throw new Error(deployed.content[0].text);
  await deploying.close();
  row("get_deployment_status, idle (same server, before its deploy)", statusIdle);
  row("get_deployment_status during a running deploy step (10 s sleep on the standby)", statusDuringDeploy,
    `(${(statusDuringDeploy.median / statusIdle.median).toFixed(2)}x the idle p50; target <= 2x)`);
}

// --- switch execution: approved call -> HAProxy serving the new colour ---------------------------
// A new connection each time: an existing keep-alive connection gets one more answer from the old
// worker after a reload, which would time the switch too late.
async function frontendColor() {
  return (await getJsonFresh(`${env.LAB_FRONTEND_URL}health`, 2000)).color;
}
// `client`'s approved switch_traffic calls, `count` of them, one after another: the whole call, the
// time until a new connection gets the new colour, and the result's timings (whole milliseconds):
// haproxyStepMs is the reload command (HAProxy 2.6's master CLI returns before the new worker
// serves) or the map commit; reloadAndVerifyMs adds the verification that HAProxy serves the new
// colour, which for a reload includes waiting for the new worker.
async function measureSwitches(client, count) {
  const callSamples = [];
  const servingSamples = [];
  const timings = {};
  for (let i = 0; i < count; i++) {
    const before = await frontendColor();
    const plan = await client.call("switch_traffic");
    if (plan.isError || !plan.structuredContent) throw new Error(`the switch plan was refused: ${plan.content[0].text}`);
    const token = plan.structuredContent.approvalToken;
    const t = process.hrtime.bigint();
    let servedAt = null;
    const watcher = (async () => {
      while (servedAt === null) {
        if ((await frontendColor().catch(() => before)) !== before) servedAt = ms(t);
      }
    })();
    const result = await client.call("switch_traffic", { approvalToken: token });
    callSamples.push(ms(t));
    if (!result.structuredContent.switched) throw new Error(result.content[0].text);
    for (const [key, value] of Object.entries(result.structuredContent.timings)) (timings[key] ??= []).push(value);
    await watcher;
    servingSamples.push(servedAt);
  }
  const steps = Object.fromEntries(Object.entries(timings).map(([key, values]) => [key, summary(values)]));
  return { call: summary(callSamples), serving: summary(servingSamples), step: steps.haproxyStepMs, steps };
}
// One line: the median of each of the switch result's timings (lockMs, checksMs and totalMs count
// from the call's start, the others from their step's start).
const timingsLine = (steps) => Object.entries(steps).map(([key, s]) => `${key} ${s.median}`).join(", ");
let switchCall;
let reloadSwitch;
{
  reloadSwitch = await measureSwitches(server, 10);
  switchCall = reloadSwitch.call;
  row("switch_traffic approved call (incl. verification)", switchCall);
  row("  ... until the frontend serves the new colour", reloadSwitch.serving);
  row("  ... its HAProxy step: the reload command (timings.haproxyStepMs)", reloadSwitch.step);
  row("  ... reload + verification (timings.reloadAndVerifyMs)", reloadSwitch.steps.reloadAndVerifyMs);
}

// --- zero-drop switching under a bounded load ---------------------------------------------------
// A fixed request rate through HAProxy's frontend for about 10 s (loopback only) while the colours
// are switched back and forth through the server; then the same load with no switch, so failures
// the machine causes by itself (a paused VM, say) are told apart from failures switching causes.
async function boundedLoad(switching, client = server, label = "") {
  const switchOnce = async () => {
    const plan = await client.call("switch_traffic");
    const r = await client.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken });
    return Boolean(r.structuredContent.switched);
  };
  const run = await loadThrough({ urls: [env.LAB_FRONTEND_URL], rate: 200, seconds: 10, switchOnce: switching ? switchOnce : null });
  const stats = { ...run.perUrl[env.LAB_FRONTEND_URL], switches: run.switches, stolenPercent: run.stolenPercent };
  console.error(`  load${switching ? "" : " (no switch)"}${label}: ${JSON.stringify(stats)}`);
  return stats;
}
const load = await boundedLoad(true);
const quietLoad = await boundedLoad(false);

// --- deploy overhead ----------------------------------------------------------------------------
{
  const overhead = [];
  const gate = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    const r = await server.call("deploy_to_standby", { createBackup: false });
    const total = ms(t);
    if (!r.structuredContent.ok) throw new Error(r.content[0].text);
    const steps = r.structuredContent.steps.filter((s) => s.name !== "health gate");
    const gateMs = r.structuredContent.steps.find((s) => s.name === "health gate").durationMs;
    overhead.push(total - steps.reduce((a, s) => a + s.durationMs, 0) - gateMs);
    gate.push(gateMs);
  }
  row("deploy_to_standby overhead (tool - remote steps - gate)", summary(overhead));
  row("  ... health gate (3 consecutive probes, 200 ms apart)", summary(gate));
}
const peak = server.memory();
await server.close();

// --- the per-command-ssh way --------------------------------------------------------------------
const sshArgs = ["-F", env.LAB_SSH_CONFIG];
const sshRun = (host, command) => {
  const r = spawnSync("ssh", [...sshArgs, host, command], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh ${host} ${command}: ${r.stderr}`);
  return r.stdout;
};
let seedStatus;
{
  const samples = [];
  for (let i = 0; i < 8; i++) {
    const t = process.hrtime.bigint();
    sshRun("lab-lb", "cat /var/lib/bluegreen/shop.json");
    sshRun("lab-lb", "grep default_backend /etc/haproxy/haproxy.cfg");
    sshRun("lab-blue", `curl -s -m 5 http://${env.BLUE_ADDR}:${env.APP_PORT}/health`);
    sshRun("lab-green", `curl -s -m 5 http://${env.GREEN_ADDR}:${env.APP_PORT}/health`);
    samples.push(ms(t));
  }
  seedStatus = summary(samples);
  row("seed way: status (4 ssh processes, sequential)", seedStatus);
}
let seedSwitch;
{
  const samples = [];
  for (let i = 0; i < 6; i++) {
    const live = execFileSync("ssh", [...sshArgs, "lab-lb", "grep -o 'default_backend [a-z]*' /etc/haproxy/haproxy.cfg"], { encoding: "utf8" }).trim().split(" ")[1];
    const next = live === "blue" ? "green" : "blue";
    const t = process.hrtime.bigint();
    sshRun("lab-lb", `sed -i 's/default_backend ${live}/default_backend ${next}/' /etc/haproxy/haproxy.cfg && echo reload | socat - UNIX-CONNECT:/run/haproxy/master.sock`);
    sshRun("lab-lb", `printf '{"prod":"${next}","standby":"${live}"}' > /tmp/seed-state.json`);
    samples.push(ms(t));
  }
  seedSwitch = summary(samples);
  row("seed way: switch (sed + reload, state; no validation, no verification)", seedSwitch);
}

// --- map-based routing: the switch through HAProxy's running map, no reload -----------------------
// HAProxy restarted in a map layout (fe_app: `use_backend %[str(shop),map(MAP)]`, MAP: `shop
// <live colour>`), and a server on a copy of the lab config without section/directive (the route is
// found in the map). The same switch samples and the same switching load as above. Afterwards the
// lab goes back to its default layout (BLUE live, so the map part ends on BLUE, as the state file
// then says) for slow_shell.mjs.
let mapSwitch;
let mapLoad;
{
  const cfg = "/etc/haproxy/haproxy.cfg";
  const map = "/etc/haproxy/bluegreen.map";
  const live = await frontendColor();
  await installHaproxyLayout({
    files: {
      [cfg]: labRender(`${layoutGlobalAndDefaults}
frontend fe_app
    bind @LB_ADDR@:@LB_PORT@
    use_backend %[str(shop),map(${map})]
    default_backend fallback
${layoutBackends}
backend fallback
    http-request return status 503 content-type text/plain string "no app"

listen stats
    bind @LB_ADDR@:@STATS_PORT@
    stats enable
    stats uri /
`),
      [map]: `shop ${live}\n`,
    },
  });
  await waitForBothUp();  // HAProxy restarted: its health checks start over
  const mapConfig = configVariant((c) => {
    const lb = c.apps.shop.loadBalancer;
    delete lb.section;
    delete lb.directive;
    delete lb.verifyUrl;
    lb.verifyUrls = [`${env.LAB_FRONTEND_URL}health`];
  });
  const mapServer = new RpcClient(binary, ["--config", mapConfig, "--log-level", "warn"]);
  try {
    await mapServer.initialize();
    const status = await mapServer.call("get_deployment_status");
    if (status.isError) throw new Error(status.content[0].text);
    mapSwitch = await measureSwitches(mapServer, 10);
    row("map mode: switch_traffic approved call (incl. verification)", mapSwitch.call, "", mapRows);
    row("  ... until the frontend serves the new colour", mapSwitch.serving, "", mapRows);
    row("  ... its HAProxy step: prepare/add/commit map, no reload (timings.haproxyStepMs)", mapSwitch.step,
      "(target <= 20 ms)", mapRows);
    row("  ... map commit + verification (timings.reloadAndVerifyMs)", mapSwitch.steps.reloadAndVerifyMs, "", mapRows);
    mapLoad = await boundedLoad(true, mapServer, " (map mode)");
    if ((await frontendColor()) !== "blue") {
      const plan = await mapServer.call("switch_traffic");
      const r = await mapServer.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken });
      if (!r.structuredContent.switched) throw new Error(r.content[0].text);
    }
  } finally {
    await mapServer.close();
    await resetHaproxyLayout();
  }
}

// --- the table ----------------------------------------------------------------------------------
rows.splice(rows.findIndex((r) => r.s === reloadSwitch.steps.reloadAndVerifyMs) + 1, 0, ...mapRows);
console.log("\n| Measure | Median | p90 | Runs |\n|---|---|---|---|");
for (const { name, s, note } of rows) {
  console.log(`| ${name}${note ? " " + note : ""} | ${s.median.toFixed(1)} ms | ${s.p90.toFixed(1)} ms | ${s.n} |`);
}
console.log(`| resident memory: idle after initialize + tools/list | ${idle.rssMiB.toFixed(1)} MiB | | |`);
console.log(`| resident memory: peak over the whole run | ${peak.peakMiB.toFixed(1)} MiB | | |`);
const loadLine = (l) =>
  `${l.ok} 2xx, ${l.non2xx} non-2xx, ${l.errors} connection errors (${l.timeouts} of them no answer within 5 s); ` +
  `CPU stolen by the hypervisor meanwhile: ${l.stolenPercent}%`;
console.log(`\nzero-drop: ${load.sent} requests at 200/s over 10 s while switching ${load.switches} times: ${loadLine(load)}`);
console.log(`  the same load with no switch: ${quietLoad.sent} requests: ${loadLine(quietLoad)}`);
console.log(`  map mode: ${mapLoad.sent} requests at 200/s over 10 s while switching ${mapLoad.switches} times ` +
  `through the map: ${loadLine(mapLoad)}`);
console.log(`CPU stolen by the hypervisor over the whole run: ${stolenPercent(runStarted, cpuTimes())}% ` +
  "(figures from a starved machine are slower and noisier)");
console.log(`status: ${(seedStatus.median / statusOne.median).toFixed(1)}x faster than the per-command-ssh way`);
console.log(`status p50 during a running deploy step: ${statusDuringDeploy.median.toFixed(1)} ms, idle ` +
  `${statusIdle.median.toFixed(1)} ms: ${(statusDuringDeploy.median / statusIdle.median).toFixed(2)}x (target <= 2x)`);
console.log(`switch: ${(seedSwitch.median / switchCall.median).toFixed(1)}x faster than the per-command-ssh way, which validates and verifies nothing`);
const times = (a, b) => (b > 0 ? `${(a / b).toFixed(1)}x` : `more than ${a}x (under 1 ms: timings are whole ms)`);
console.log(`switch's HAProxy step p50: reload command ${reloadSwitch.step.median} ms, map commit ` +
  `${mapSwitch.step.median} ms: reload/map ${times(reloadSwitch.step.median, mapSwitch.step.median)} (target <= 20 ms); ` +
  `with verification (reloadAndVerifyMs): ${reloadSwitch.steps.reloadAndVerifyMs.median} ms, ` +
  `${mapSwitch.steps.reloadAndVerifyMs.median} ms: reload/map ` +
  `${times(reloadSwitch.steps.reloadAndVerifyMs.median, mapSwitch.steps.reloadAndVerifyMs.median)}`);
console.log(`switch approved call p50: ${reloadSwitch.call.median.toFixed(1)} ms with a reload, ` +
  `${mapSwitch.call.median.toFixed(1)} ms through the map: reload/map ${times(reloadSwitch.call.median, mapSwitch.call.median)}`);
console.log(`  switch timings, medians in ms, reload mode: ${timingsLine(reloadSwitch.steps)}`);
console.log(`  switch timings, medians in ms, map mode: ${timingsLine(mapSwitch.steps)}`);
