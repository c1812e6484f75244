// nginx as the load balancer (loadBalancer.type "nginx"), against the lab's real nginx 1.22
// (tests/lab/lab up --lb nginx) through the official SDK client: what this version does with
// nginx (status, deploys, check-config) and what it refuses (switching traffic), each checked on
// the LB itself:
//  - status reads nginx's truth: the upstream its proxy_pass names, the server block (listen) it is
//    in, the master and its workers; the colours' health and code as for HAProxy;
//  - proxy_pass pointed at the other upstream by hand and nginx reloaded: status follows nginx
//    and reports the state file's PROD as drift;
//  - a file changed without a reload: no colour is called live ("nginx has not loaded its
//    configuration"), deploys are refused; after a reload, known again;
//  - a configuration on disk that fails `nginx -T`: no colour is called live, with nginx's message;
//  - deploy_to_standby deploys; switch_traffic is refused with what to do by hand, and nginx's
//    files and routing are untouched;
//  - check-config has nginx's rows.
// The lab goes back to HAProxy at the end whatever happens (e2e.lab_lb_kinds checks that path).
// Usage: node tests/e2e/nginx_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  binary, configVariant, frontendColor, lab, readStateFile, setLbType, ssh, startClient, text, waitFor,
} from "./support.mjs";

let config;  // the lab's config with loadBalancer.type nginx
let site;    // the LB's sites-enabled/app.conf, seen from outside
let stateProd;  // the state file's PROD when the test starts

const other = (colour) => (colour === "blue" ? "green" : "blue");
const reload = () => ssh("lab-lb", `nginx -c ${lab.LAB_NGINX_CONF} -s reload 2>&1`);
const waitServes = (colour) => waitFor(`the frontend to serve ${colour}`, async () => (await frontendColor()) === colour);

// Points the site's proxy_pass at `colour` and reloads nginx, as an operator would by hand.
async function routeByHand(colour) {
  const text = readFileSync(site, "utf8").replace(/proxy_pass http:\/\/(blue|green);/, `proxy_pass http://${colour};`);
  writeFileSync(site, text);
  reload();
  await waitServes(colour);
}

async function status(client) {
  const result = await client.call("get_deployment_status");
  assert.ok(!result.isError, text(result));
  return result;
}

before(async () => {
  stateProd = readStateFile()?.prod ?? "blue";
  rmSync(join(lab.LAB_LB_ROOT, "etc/nginx/sites-enabled/app.conf"), { force: true });
  assert.equal(setLbType("nginx"), "nginx");
  site = join(lab.LAB_LB_ROOT, lab.LAB_NGINX_SITE);
  await routeByHand(stateProd);  // nginx starts where the state file says PROD is: no drift
  config = configVariant((c) => {
    const lb = c.apps.shop.loadBalancer;
    for (const key of ["haproxyConfig", "section", "directive", "validateCommand", "reloadCommand", "statsSocket",
      "masterSocket"]) delete lb[key];
    Object.assign(lb, { type: "nginx", nginxConfig: lab.LAB_NGINX_CONF, pidFile: lab.LAB_NGINX_PID_FILE });
    delete lb.statsUrl;
  });
});

after(() => {
  rmSync(join(lab.LAB_LB_ROOT, "etc/nginx/conf.d/broken.conf"), { force: true });
  setLbType("haproxy");
});

test("status reads nginx's truth: upstream, server block, master and workers", async () => {
  const s = await startClient({ config });
  try {
    const result = await status(s);
    const j = result.structuredContent;
    assert.equal(j.liveColorKnown, true, j.problem);
    assert.equal(j.current.prod.server, stateProd.toUpperCase());
    assert.equal(j.haproxy.type, "nginx");
    assert.equal(j.haproxy.config, lab.LAB_NGINX_CONF);
    assert.equal(j.haproxy.backend, stateProd);
    assert.deepEqual(j.haproxy.files, [lab.LAB_NGINX_CONF, lab.LAB_NGINX_SITE]);
    assert.equal(j.haproxy.filesFrom, "nginx -T");
    assert.equal(j.haproxy.entryPoints.length, 1);
    assert.deepEqual(j.haproxy.entryPoints[0].binds, [`${lab.LB_ADDR}:${lab.LB_PORT}`]);
    assert.equal(j.haproxy.entryPoints[0].routes[0].text, `proxy_pass http://${stateProd};`);
    assert.equal(String(j.haproxy.masterPid), readFileSync(join(lab.LAB_LB_ROOT, "run/nginx/nginx.pid"), "utf8").trim());
    assert.equal(j.haproxy.reloads, undefined, "nginx counts no reloads");
    assert.deepEqual(j.drift, []);
    assert.match(text(result), new RegExp(`nginx: routes to upstream "${stateProd}"  ✅ OPERATIONAL`));
    assert.match(text(result), /nginx processes: master \d+, 1 worker\(s\)/);
    assert.match(text(result), /listen \d+\.\d+\.\d+\.\d+:\d+\) serves/);
  } finally {
    await s.close();
  }
});

test("proxy_pass switched by hand and reloaded: status follows nginx, the state file is drift", async () => {
  const s = await startClient({ config });
  try {
    await routeByHand(other(stateProd));
    const j = (await status(s)).structuredContent;
    assert.equal(j.current.prod.server, other(stateProd).toUpperCase());
    assert.ok(j.drift.some((d) => d.includes(`but nginx routes to ${other(stateProd).toUpperCase()}`)), j.drift.join("\n"));
  } finally {
    await routeByHand(stateProd);
    await s.close();
  }
});

test("a file changed without a reload: no colour is live, deploys refused; a reload resolves it", async () => {
  const s = await startClient({ config });
  try {
    // ctime resolution is a second, and a change within a second of the workers' start is not seen.
    await new Promise((r) => setTimeout(r, 2100));
    const now = new Date();
    execFileSync("touch", ["-m", "-d", now.toISOString(), site]);
    const j = (await status(s)).structuredContent;
    assert.equal(j.liveColorKnown, false);
    assert.match(j.problem, /^nginx has not loaded its configuration: .*app\.conf was changed at/);
    const deploy = await s.call("deploy_to_standby");
    assert.ok(deploy.isError, "a deploy must be refused while nginx's live colour is unknown");
    assert.match(text(deploy), /not loaded its configuration/);
    reload();
    await waitFor("status to know the live colour again", async () => (await status(s)).structuredContent.liveColorKnown);
  } finally {
    await s.close();
  }
});

test("a configuration on disk that fails nginx -T: no colour is live, with nginx's message", async () => {
  const s = await startClient({ config });
  const broken = join(lab.LAB_LB_ROOT, "etc/nginx/conf.d/broken.conf");
  try {
    writeFileSync(broken, "this_is_not_a_directive on;\n");
    const j = (await status(s)).structuredContent;
    assert.equal(j.liveColorKnown, false);
    assert.match(j.problem, /`nginx -T -c \/etc\/nginx\/nginx.conf` fails on lab-lb/);
    assert.match(j.problem, /unknown directive "this_is_not_a_directive"/);
  } finally {
    rmSync(broken, { force: true });
    await s.close();
  }
});

test("deploy_to_standby deploys; switch_traffic is refused and nginx is untouched", async () => {
  const s = await startClient({ config });
  try {
    const deploy = await s.call("deploy_to_standby");
    assert.ok(!deploy.isError, text(deploy));
    assert.match(text(deploy), /completed successfully/);
    const before = readFileSync(site, "utf8");
    const modified = statSync(site).mtimeMs;
    const plan = await s.call("switch_traffic");
    assert.match(text(plan), /switching traffic with nginx is not supported by this version yet/);
    assert.match(text(plan), new RegExp(`upstream ${other(stateProd)}, run nginx -t and reload nginx`));
    assert.equal(readFileSync(site, "utf8"), before);
    assert.equal(statSync(site).mtimeMs, modified);
    assert.equal(await frontendColor(), stateProd);
  } finally {
    await s.close();
  }
});

test("check-config has nginx's rows", () => {
  const out = execFileSync(binary, ["check-config", "--config", config], { encoding: "utf8", timeout: 60000 });
  assert.match(out, /nginx files +\/etc\/nginx\/nginx.conf \/etc\/nginx\/sites-enabled\/app.conf ?✅ from nginx -T/);
  assert.match(out, new RegExp(`live upstream +/etc/nginx/nginx.conf +✅ ${stateProd.toUpperCase()}: server`));
  assert.match(out, /nginx master +\/run\/nginx\/nginx.pid +✅ master pid \d+, 1 worker\(s\)/);
});
