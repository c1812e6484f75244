// Load-balancer pairs (issue 15), end to end: the real bluegreen-mcp binary under the official
// TypeScript SDK client, against the lab grown to two HAProxy load balancers (lb and lb2, each a
// real sshd and HAProxy in its own namespace, each with its own frontend, state file and lock) in
// front of two servers per colour. Status reads both; an approved switch moves both and records
// the same generation on both; a switch whose second load balancer's reload fails ends with both
// on the old colour, verified; with one load balancer unreachable, status reports it and deploys
// are refused; a load balancer that comes back with no state file is healed by the next deploy.
// The lab goes back to one load balancer and one server per colour whatever happens.
//
// Usage: node tests/e2e/lb_pair_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { lab, labCommand, setTopology, ssh, startClient, text, waitFor } from "./support.mjs";

const failOnce = "/run/haproxy/fail-next-reload";
let mcp;

// The lab's topology config (pools and the LB pair), with `mutate` applied, written beside it.
function pairConfig(name, mutate = () => {}) {
  const config = JSON.parse(readFileSync(lab.LAB_TOPOLOGY_CONFIG, "utf8"));
  mutate(config.apps.shop);
  const path = join(lab.LAB_DIR, `bluegreen-mcp.pair-${name}-${process.pid}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

async function status(client = mcp) {
  const result = await client.call("get_deployment_status", {});
  assert.equal(result.isError, false, text(result));
  return result;
}

// The colour that answers through each frontend: [lb's, lb2's].
function frontends() {
  return [lab.LAB_FRONTEND_URL, lab.LAB_LB2_FRONTEND_URL].map((url) => {
    const r = ssh("lab-lb", `curl -s -m 3 ${url}health`);
    return JSON.parse(r.stdout).color;
  });
}

const stateOn = (host) => JSON.parse(ssh(host, "cat /var/lib/bluegreen/shop.json").stdout);
const liveColour = async () => (await status()).structuredContent.current.prod.server.toLowerCase();

before(async () => {
  setTopology({ pool: 2, lbs: 2 });
  ssh("lab-lb2", `rm -f ${failOnce}`);
  mcp = await startClient({ config: pairConfig("main"), name: "lb-pair-e2e" });
});

after(async () => {
  await mcp?.close();
  setTopology({ pool: 1, lbs: 1 });
});

test("status reads both load balancers and finds them agreeing", async () => {
  const result = await status();
  const lbs = result.structuredContent.loadBalancers;
  assert.equal(lbs.length, 2, text(result));
  assert.deepEqual(lbs.map((lb) => lb.ssh), ["lab-lb", "lab-lb2"]);
  assert.equal(lbs[0].routesTo, lbs[1].routesTo);
  assert.match(text(result), /Load balancers \(2, switched together\):/);
  // lb2 starts with no state file: when lb has one, the pair's state files differ until the next write.
  const drift = result.structuredContent.drift.join("\n");
  if (lbs[0].stateFile !== null && lbs[1].stateFile === null) assert.match(drift, /the state files differ/);
  else assert.doesNotMatch(drift, /LB PAIR/);
});

test("a deploy and an approved switch move both load balancers and record the same generation", async () => {
  const sha = labCommand("commit", "3.0.0-pair").trim();
  const deployed = await mcp.call("deploy_to_standby", { ref: sha });
  assert.equal(deployed.isError, false, text(deployed));
  // The deploy wrote the state to both: equal generations heal a missing or older file.
  assert.equal(stateOn("lab-lb").generation, stateOn("lab-lb2").generation);
  const from = await liveColour();
  const to = from === "blue" ? "green" : "blue";
  const plan = await mcp.call("switch_traffic", {});
  assert.equal(plan.isError, false, text(plan));
  assert.equal(plan.structuredContent.plan.otherLoadBalancers.length, 1);
  assert.match(text(plan), /HAProxy on lab-lb2: 1 line change/);
  assert.match(text(plan), /The 2 load balancers are switched together/);
  const switched = await mcp.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken });
  assert.equal(switched.isError, false, text(switched));
  assert.deepEqual(switched.structuredContent.loadBalancers.map((lb) => lb.routesTo), [to, to]);
  await waitFor(`both frontends serving ${to}`, async () => frontends().every((c) => c === to));
  const [a, b] = [stateOn("lab-lb"), stateOn("lab-lb2")];
  assert.equal(a.generation, b.generation);
  assert.equal(a.prod, to);
  assert.equal(b.prod, to);
  const after = await status();
  assert.deepEqual(after.structuredContent.drift, [], text(after));
});

test("a switch whose second load balancer's reload fails ends with both on the old colour, verified", async () => {
  const from = await liveColour();
  const before = [stateOn("lab-lb"), stateOn("lab-lb2")];
  const failing = await startClient({
    config: pairConfig("failing", (app) => {
      app.loadBalancer[1].reloadCommand =
        `if [ -e ${failOnce} ]; then rm -f ${failOnce}; echo 'reload refused (test)' >&2; exit 1; fi; ` +
        "echo reload | socat -t 2 - UNIX-CONNECT:{masterSocket}";
    }),
    name: "lb-pair-e2e-failing",
  });
  try {
    const plan = await failing.call("switch_traffic", {});
    assert.equal(plan.isError, false, text(plan));
    ssh("lab-lb2", `touch ${failOnce}`);
    const result = await failing.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken });
    assert.equal(result.isError, true, text(result));
    assert.match(text(result), /TRAFFIC SWITCH FAILED AND WAS ROLLED BACK/);
    assert.match(text(result), /on lab-lb2: .*reload refused \(test\)/s);
    const positions = result.structuredContent.loadBalancers;
    assert.equal(positions.length, 2, JSON.stringify(result.structuredContent));
    for (const lb of positions) assert.notEqual(lb.restoredAndVerified, false, JSON.stringify(positions));
    assert.deepEqual(frontends(), [from, from]);
    for (const host of ["lab-lb", "lab-lb2"]) {
      assert.match(ssh(host, "grep -E '^ *default_backend' /etc/haproxy/haproxy.cfg").stdout, new RegExp(`default_backend ${from}`));
    }
    assert.deepEqual([stateOn("lab-lb").generation, stateOn("lab-lb2").generation],
      before.map((s) => s.generation));
  } finally {
    ssh("lab-lb2", `rm -f ${failOnce}`);
    await failing.close();
  }
});

test("with one load balancer unreachable, status says so and a deploy is refused", async () => {
  setTopology({ lbs: 1 }); // lb2 stops; the configuration still lists it
  try {
    const result = await status();
    const drift = result.structuredContent.drift.join("\n");
    assert.match(drift, /LB PAIR: the routing of a load balancer is unknown/, text(result));
    assert.match(drift, /lab-lb2: /);
    const deploy = await mcp.call("deploy_to_standby", {});
    assert.equal(deploy.isError, true, text(deploy));
    assert.match(text(deploy), /DEPLOY NOT STARTED: on lab-lb2: /);
    const plan = await mcp.call("switch_traffic", {});
    assert.equal(plan.isError, true, text(plan));
    assert.match(text(plan), /on lab-lb2: /);
  } finally {
    setTopology({ lbs: 2 });
  }
});
