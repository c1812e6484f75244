// Caddy as the load balancer (loadBalancer.type "caddy"), against the lab's real Caddy 2.6
// (tests/lab/lab up --lb caddy: admin API on the unix socket /run/caddy/admin.sock only) through
// the official SDK client: what this version does with Caddy (status, check-config) and what it
// refuses (switching traffic), each checked on the LB itself:
//  - status reads Caddy's truth through its admin API over the LB's SSH connection: the upstreams
//    of its reverse_proxy, the server (listen) it is in, and the upstreams' health as Caddy
//    reports it (GET /reverse_proxy/upstreams);
//  - the upstreams PATCHed to the other colour by hand: status follows Caddy and reports the state
//    file's PROD as drift;
//  - a reverse_proxy pointing at neither colour, or at both: no colour is called live, with the
//    dials named; a deploy is refused;
//  - the admin socket missing: a clear error naming the socket;
//  - deploy_to_standby deploys the standby, Caddy's config untouched;
//  - switch_traffic is refused ("switching is not supported for Caddy yet"), Caddy's config untouched;
//  - check-config has Caddy's rows (binary, admin socket, Caddyfile).
// The lab goes back to HAProxy at the end whatever happens (e2e.lab_lb_kinds checks that path).
// Usage: node tests/e2e/caddy_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import {
  binary, caddyAdmin, configVariant, findHandler, frontendColor, lab, readStateFile, setLbType, ssh, startClient, text,
  waitFor,
} from "./support.mjs";

let config;  // the lab's config with loadBalancer.type caddy
let stateProd;  // the state file's PROD when the test starts

const other = (colour) => (colour === "blue" ? "green" : "blue");
const dialOf = (colour) => `${lab[`${colour.toUpperCase()}_ADDR`]}:${lab.APP_PORT}`;
const waitServes = (colour) => waitFor(`the frontend to serve ${colour}`, async () => (await frontendColor()) === colour);

// Sets the reverse_proxy's upstreams to `dials`, as an operator would through the admin API.
function setUpstreams(dials) {
  const handler = findHandler(caddyAdmin("/config/"), "reverse_proxy");
  assert.ok(handler, "Caddy's config has a reverse_proxy handler");
  caddyAdmin(`/config${handler}/upstreams`, { method: "PATCH", body: dials.map((dial) => ({ dial })) });
}

async function routeByHand(colour) {
  setUpstreams([dialOf(colour)]);
  await waitServes(colour);
}

async function status(client) {
  const result = await client.call("get_deployment_status");
  assert.ok(!result.isError, text(result));
  return result;
}

before(async () => {
  stateProd = readStateFile()?.prod ?? "blue";
  assert.equal(setLbType("caddy"), "caddy");
  await routeByHand(stateProd);  // Caddy serves where the state file says PROD is: no drift
  config = configVariant((c) => {
    const app = c.apps.shop;
    const lb = app.loadBalancer;
    for (const key of ["haproxyConfig", "section", "directive", "validateCommand", "reloadCommand", "statsSocket",
      "masterSocket", "statsUrl"]) delete lb[key];
    Object.assign(lb, { type: "caddy", adminSocket: lab.LAB_CADDY_ADMIN_SOCK, caddyfile: lab.LAB_CADDYFILE });
    app.hosts.blue.upstream = dialOf("blue");
    app.hosts.green.upstream = dialOf("green");
  });
});

after(() => {
  setLbType("haproxy");
});

test("status reads Caddy's truth: the reverse_proxy's upstreams, its server, the upstreams' health", async () => {
  const s = await startClient({ config });
  try {
    const result = await status(s);
    const j = result.structuredContent;
    assert.equal(j.liveColorKnown, true, j.problem);
    assert.equal(j.current.prod.server, stateProd.toUpperCase());
    assert.equal(j.haproxy.type, "caddy");
    assert.equal(j.haproxy.config, lab.LAB_CADDYFILE);
    assert.equal(j.haproxy.backend, stateProd);
    assert.match(j.haproxy.filesFrom, /^Caddy's admin API \(\/run\/caddy\/admin\.sock\)$/);
    assert.equal(j.haproxy.entryPoints.length, 1);
    assert.deepEqual(j.haproxy.entryPoints[0].binds, [`${lab.LB_ADDR}:${lab.LB_PORT}`]);
    assert.equal(j.haproxy.entryPoints[0].routes[0].text, `reverse_proxy ${dialOf(stateProd)}`);
    assert.equal(j.haproxy.reloads, undefined, "Caddy counts no reloads");
    assert.deepEqual(j.drift, []);
    // The live colour's upstream as Caddy reports it (GET /reverse_proxy/upstreams).
    const upstream = j.current.prod.servers[0].haproxy;
    assert.ok(upstream, JSON.stringify(j.current.prod));
    assert.equal(upstream.name, dialOf(stateProd));
    assert.equal(upstream.status, "UP");
    assert.match(text(result), new RegExp(`Caddy: routes to upstreams "${stateProd}"  ✅ OPERATIONAL`));
    assert.match(text(result), new RegExp(`\\[Caddy: ${dialOf(stateProd).replace(/\./g, "\\.")} UP\\]`));
    assert.match(text(result), /server srv0 \(\/apps\/http\/servers\/srv0, listen \d+\.\d+\.\d+\.\d+:\d+\) serves/);
    assert.match(text(result), /switch_traffic is not supported for Caddy yet \(switch by hand\)/);
  } finally {
    await s.close();
  }
});

// On a fresh lab this deploy also creates the state file (from Caddy's routing), which the drift test below needs.
test("deploy_to_standby works with Caddy as the load balancer: the standby gets the code, Caddy is untouched",
  async () => {
    const s = await startClient({ config });
    try {
      const before = JSON.stringify(caddyAdmin("/config/"));
      const deploy = await s.call("deploy_to_standby");
      assert.ok(!deploy.isError, text(deploy));
      assert.equal(JSON.stringify(caddyAdmin("/config/")), before);
      const j = (await status(s)).structuredContent;
      assert.equal(j.current.prod.server, stateProd.toUpperCase());
      assert.equal(j.lastDeploy.color, other(stateProd));
      assert.equal(readStateFile().prod, stateProd, "the state file records Caddy's live colour");
    } finally {
      await s.close();
    }
  });

test("upstreams PATCHed to the other colour by hand: status follows Caddy, the state file is drift", async () => {
  const s = await startClient({ config });
  try {
    await routeByHand(other(stateProd));
    const j = (await status(s)).structuredContent;
    assert.equal(j.current.prod.server, other(stateProd).toUpperCase());
    assert.ok(j.drift.some((d) => d.includes(`but Caddy routes to ${other(stateProd).toUpperCase()}`)), j.drift.join("\n"));
  } finally {
    await routeByHand(stateProd);
    await s.close();
  }
});

test("a reverse_proxy to neither colour, or to both: no colour is live, the dials are named, deploys refused",
  async () => {
    const s = await startClient({ config });
    try {
      const elsewhere = `${lab.LB_ADDR}:9`;
      setUpstreams([elsewhere]);
      let j = (await status(s)).structuredContent;
      assert.equal(j.liveColorKnown, false);
      assert.match(j.problem, /no reverse_proxy in Caddy's running configuration dials only BLUE's servers/);
      assert.match(j.problem, new RegExp(`${dialOf("blue")}.*${dialOf("green")}.*point at neither colour`));
      const deploy = await s.call("deploy_to_standby");
      assert.ok(deploy.isError, "a deploy must be refused while Caddy's live colour is unknown");

      setUpstreams([dialOf("blue"), dialOf("green")]);
      j = (await status(s)).structuredContent;
      assert.equal(j.liveColorKnown, false);
      assert.match(j.problem, /Caddy's running configuration routes to app shop in ways bluegreen-mcp cannot switch/);
      assert.match(j.problem, new RegExp(`reverse_proxy ${dialOf("blue")} ${dialOf("green")}`));
    } finally {
      await routeByHand(stateProd);
      await s.close();
    }
  });

test("the admin socket missing: a clear error that names it", async () => {
  const missing = configVariant((c) => {
    const lb = c.apps.shop.loadBalancer;
    for (const key of ["haproxyConfig", "section", "directive", "validateCommand", "reloadCommand", "statsSocket",
      "masterSocket", "statsUrl"]) delete lb[key];
    Object.assign(lb, { type: "caddy", adminSocket: "/run/caddy/nosuch.sock" });
  });
  const s = await startClient({ config: missing });
  try {
    const j = (await status(s)).structuredContent;
    assert.equal(j.liveColorKnown, false);
    assert.match(j.problem, /^cannot reach Caddy's admin API \(unix socket \/run\/caddy\/nosuch\.sock on lab-lb\): /);
    assert.match(j.problem, /loadBalancer\.adminSocket/);
  } finally {
    await s.close();
  }
});

test("switch_traffic is refused clearly, and Caddy's configuration is untouched", async () => {
  const s = await startClient({ config });
  try {
    const before = JSON.stringify(caddyAdmin("/config/"));
    for (const args of [{}, { emergency: true }]) {
      const result = await s.call("switch_traffic", args);
      assert.ok(result.isError, text(result));
      assert.match(text(result), /switching is not supported for Caddy yet/);
    }
    assert.equal(JSON.stringify(caddyAdmin("/config/")), before);
    assert.equal(await frontendColor(), stateProd);
  } finally {
    await s.close();
  }
});

test("check-config has Caddy's rows: binary, admin socket, Caddyfile", () => {
  const out = execFileSync(binary, ["check-config", "--config", config], { encoding: "utf8", timeout: 60000 });
  assert.match(out, /caddy binary +caddy +✅ caddy v?2\.\d/);
  assert.match(out, /admin socket +\/run\/caddy\/admin\.sock +✅ GET \/config\/ answered \(1 reverse_proxy handler/);
  assert.match(out, /caddyfile +\/etc\/caddy\/Caddyfile +✅ present/);
  assert.match(out, new RegExp(`live upstreams +/etc/caddy/Caddyfile +✅ ${stateProd.toUpperCase()}: server srv0`));
});
