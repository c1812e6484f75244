// Pools (issue 15), end to end: the real bluegreen-mcp binary under the official TypeScript SDK
// client, against the lab grown to four servers per colour (`lab topology --pool 4`: eight real
// sshds, eight apps, one HAProxy whose backends list four servers each). Status shows every
// server; a deploy reaches every standby server; a deploy where one server's step fails stops the
// others and leaves the standby NOT READY; an approved switch moves traffic to all four; a server
// in HAProxy's backend but not in the configuration is drift and stops the switch. The lab goes
// back to one server per colour whatever happens.
//
// Usage: node tests/e2e/pools_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { lab, labCommand, labHosts, setTopology, ssh, startClient, text, waitFor } from "./support.mjs";

const POOL = 4;
let mcp;
let configPath;

// The lab's topology config (pools, one LB), with `mutate` applied, written beside it.
function poolConfig(name, mutate = () => {}) {
  const config = JSON.parse(readFileSync(lab.LAB_TOPOLOGY_CONFIG, "utf8"));
  const app = config.apps.shop;
  if (Array.isArray(app.loadBalancer)) app.loadBalancer = app.loadBalancer[0];
  mutate(app);
  const path = join(lab.LAB_DIR, `bluegreen-mcp.pools-${name}-${process.pid}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

const serverNames = (colour) => labHosts(colour);

async function status(client = mcp) {
  const result = await client.call("get_deployment_status", {});
  assert.equal(result.isError, false, text(result));
  return result;
}

// Each server's /health through its own address: {server, color, commit}.
function serverHealth(host) {
  const address = lab[`${host.toUpperCase()}_ADDR`];
  const r = ssh("lab-lb", `curl -s -m 3 http://${address}:${lab.APP_PORT}/health`);
  return JSON.parse(r.stdout);
}

before(async () => {
  setTopology({ pool: POOL, lbs: 1 });
  for (const colour of ["blue", "green"]) {
    for (const host of serverNames(colour)) ssh(`lab-${host}`, "rm -f /srv/app-env/unhealthy /srv/app-env/fail-step");
  }
  configPath = poolConfig("main", (app) => {
    // A step that fails on a server where /srv/app-env/fail-step exists (the failed-server case).
    app.deploy.steps.splice(2, 0, { name: "preflight", timeoutSeconds: 30, run: "test ! -e /srv/app-env/fail-step" });
  });
  mcp = await startClient({ config: configPath, name: "pools-e2e" });
});

after(async () => {
  await mcp?.close();
  for (const colour of ["blue", "green"]) {
    for (const host of serverNames(colour)) ssh(`lab-${host}`, "rm -f /srv/app-env/fail-step", { allowFail: true });
  }
  setTopology({ pool: 1, lbs: 1 });
});

test("status shows every server of each colour with HAProxy's view of it", async () => {
  const result = await status();
  const prod = result.structuredContent.current.prod;
  const standby = result.structuredContent.current.standby;
  assert.equal(prod.servers.length, POOL, text(result));
  assert.equal(standby.servers.length, POOL);
  assert.equal(prod.healthyServers, POOL, text(result));
  assert.deepEqual(prod.servers.map((s) => s.name), serverNames(prod.server.toLowerCase()));
  for (const server of [...prod.servers, ...standby.servers]) {
    assert.equal(server.healthy, true, `${server.name}: ${server.status}`);
    assert.equal(server.haproxy?.status, "UP", `${server.name}: ${JSON.stringify(server.haproxy)}`);
    assert.match(server.deployedCommit ?? "", /^[0-9a-f]{40}$/);
  }
  // Earlier tests on the lab may leave the state file's PROD behind HAProxy's (drift of its own);
  // nothing about the pools may be drift.
  const poolDrift = result.structuredContent.drift.filter((d) => /POOL DRIFT|servers are on different|answers as/.test(d));
  assert.deepEqual(poolDrift, [], text(result));
  assert.match(text(result), new RegExp(`PROD: +${prod.server} \\(${POOL} servers\\) +✅ ONLINE ${POOL}/${POOL} healthy`));
  for (const name of serverNames("green")) assert.match(text(result), new RegExp(`  - ${name} \\(`));
});

test("a deploy where one server's step fails stops the others and leaves the standby NOT READY", async () => {
  const standby = (await status()).structuredContent.current.standby.server.toLowerCase();
  const victim = `${standby}3`;
  ssh(`lab-${victim}`, "touch /srv/app-env/fail-step");
  try {
    const sha = labCommand("commit", "2.5.0-pool-broken").trim();
    const result = await mcp.call("deploy_to_standby", { ref: sha });
    assert.equal(result.isError, true, text(result));
    const servers = Object.fromEntries(result.structuredContent.servers.map((s) => [s.server, s]));
    assert.equal(servers[victim].status, "failed", text(result));
    assert.match(servers[victim].error, /step "preflight" failed/);
    for (const [name, server] of Object.entries(servers)) {
      if (name !== victim) assert.match(server.status, /^(ok|stopped|not started)$/, `${name}: ${server.status}`);
    }
    assert.match(text(result), new RegExp(`STANDBY ${standby.toUpperCase()} is NOT READY`));
    assert.match(text(result), /Servers:/);
    // The victim's restart never ran: it still serves the old commit.
    assert.notEqual(serverHealth(victim).commit, sha);
    const after = await status();
    assert.ok(after.structuredContent.lastDeploy.outcome === "failed", text(after));
    const plan = await mcp.call("switch_traffic", {});
    assert.equal(plan.isError, true, text(plan));
    assert.match(text(plan), new RegExp(`last deploy to ${standby.toUpperCase()}`));
  } finally {
    ssh(`lab-${victim}`, "rm -f /srv/app-env/fail-step");
  }
});

test("a pool deploy reaches every standby server, and an approved switch moves traffic to all of them", async () => {
  const before = (await status()).structuredContent;
  const standby = before.current.standby.server.toLowerCase();
  const sha = labCommand("commit", "2.5.0-pool").trim();
  mcp.progress.length = 0;
  const deployed = await mcp.call("deploy_to_standby", { ref: sha });
  assert.equal(deployed.isError, false, text(deployed));
  assert.equal(deployed.structuredContent.commit, sha);
  assert.equal(deployed.structuredContent.servers.length, POOL);
  for (const server of deployed.structuredContent.servers) assert.equal(server.status, "ok", text(deployed));
  for (const host of serverNames(standby)) assert.equal(serverHealth(host).commit, sha, host);
  const messages = mcp.progress.map((p) => p.message ?? "");
  assert.ok(messages.some((m) => m.startsWith(`${standby}4: step`)), messages.join("\n"));

  const plan = await mcp.call("switch_traffic", {});
  assert.equal(plan.isError, false, text(plan));
  assert.equal(plan.structuredContent.plan.standby.servers.length, POOL);
  assert.equal(plan.structuredContent.plan.standby.minHealthy, POOL);
  const switched = await mcp.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken });
  assert.equal(switched.isError, false, text(switched));

  // Through the frontend, every answer comes from the new colour, and each of its servers answers.
  const seen = new Set();
  await waitFor(`every ${standby} server answering through the frontend`, async () => {
    const r = ssh("lab-lb", `curl -s -m 3 ${lab.LAB_FRONTEND_URL}health`);
    const health = JSON.parse(r.stdout);
    assert.equal(health.color, standby, r.stdout);
    seen.add(health.server);
    return seen.size === POOL;
  }, { tries: 200, every: 20 });
  const after = (await status()).structuredContent;
  assert.equal(after.current.prod.server, standby.toUpperCase());
  assert.equal(after.current.prod.deployedCommit, sha);
});

test("a server in HAProxy's backend but not in the configuration is pool drift, and the switch is refused", async () => {
  const live = (await status()).structuredContent.current.prod.server.toLowerCase();
  const standby = live === "blue" ? "green" : "blue";
  const partial = await startClient({
    config: poolConfig("partial", (app) => {
      app.hosts[standby].splice(POOL - 1, 1);
      delete app.healthGate.minHealthy; // every server of each pool
    }),
    name: "pools-e2e-partial",
  });
  try {
    const result = await status(partial);
    const drift = result.structuredContent.drift.join("\n");
    assert.match(drift, new RegExp(`POOL DRIFT: HAProxy's backend "${standby}" \\(${standby.toUpperCase()}\\) has server ${standby}${POOL}, which is not in hosts.${standby}`), text(result));
    const plan = await partial.call("switch_traffic", {});
    assert.equal(plan.isError, true, text(plan));
    assert.match(text(plan), /POOL DRIFT/);
  } finally {
    await partial.close();
  }
});
