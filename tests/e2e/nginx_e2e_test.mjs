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
//  - deploy_to_standby, then an approved switch and back: the plan shows the proxy_pass lines, the
//    candidate is checked with nginx -t in place of the live file, swapped in with a backup nginx
//    never loads (a dot file), nginx reloaded (new workers), the routing and the frontend verified,
//    the state recorded; the token cannot be replayed;
//  - an invalid candidate (a validate command that rejects it, only where it is bind-mounted over
//    the live file) is refused, the live file untouched;
//  - a verification that fails (a second verifyUrl through a frontend fixed on the old colour) is
//    rolled back: the old file back, nginx reloaded, the old colour verified, the state unchanged;
//  - Debian's layout (sites-enabled/app.conf a link to sites-available), a snippet included by two
//    server blocks, an upstream named in upper case: every route switched once, the link kept;
//  - nginx stopped: no colour is live, the switch is refused before anything changes, and the
//    reads leave no empty pid file behind;
//  - an interrupted switch (the server killed during a slow reload) is rolled back by the next
//    approved plan, then switched;
//  - a lock held by someone else, and a corrupt state file: the switch refused, nothing changed;
//  - an LB pair of nginx in front of two servers per colour: a deploy and a switch move both;
//  - check-config has nginx's rows.
// The lab goes back to HAProxy at the end whatever happens (e2e.lab_lb_kinds checks that path).
// Usage: node tests/e2e/nginx_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import {
  approvedSwitch, asLbType, assertLockAndCorruptStateRefuse, assertPairSwitchesAndBack, binary, colorAt, configVariant,
  extraPorts, frontendColor, interruptSwitchThenRecover, lab, readStateFile, setLbType, ssh, startClient, text, waitFor,
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
    if (!readStateFile()) {  // a fresh lab (this file run alone): a deploy writes it from nginx's routing
      const deploy = await s.call("deploy_to_standby");
      assert.ok(!deploy.isError, text(deploy));
    }
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
  let reloaded = false;
  try {
    // The change time and the boot time are whole seconds and the workers' start is computed from clock
    // ticks, so the start is known to within 2 s: a change less than 3 s after it is not reliably seen.
    await new Promise((r) => setTimeout(r, 3500));
    const now = new Date();
    execFileSync("touch", ["-m", "-d", now.toISOString(), site]);
    const j = (await status(s)).structuredContent;
    assert.equal(j.liveColorKnown, false);
    assert.match(j.problem, /^nginx has not loaded its configuration: .*app\.conf was changed at/);
    const deploy = await s.call("deploy_to_standby");
    assert.ok(deploy.isError, "a deploy must be refused while nginx's live colour is unknown");
    assert.match(text(deploy), /not loaded its configuration/);
    reload();
    reloaded = true;
    await waitFor("status to know the live colour again", async () => (await status(s)).structuredContent.liveColorKnown);
  } finally {
    if (!reloaded) reload();  // the later cases need nginx to run the file as it is
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

// The LB's files beside the site: no candidate, backup or restore copy that nginx would load.
function loadableLeftovers() {
  const dir = join(lab.LAB_LB_ROOT, "etc/nginx/sites-enabled");
  return readdirSync(dir).filter((name) => !name.startsWith(".") && name !== "app.conf" && name !== "fixed.conf");
}

test("deploy_to_standby, then an approved switch through nginx and back: validated, reloaded, verified, recorded",
  async () => {
    const s = await startClient({ config });
    try {
      const deploy = await s.call("deploy_to_standby");
      assert.ok(!deploy.isError, text(deploy));
      const generation = readStateFile().generation;
      const to = other(stateProd);
      const { request, token, done } = await approvedSwitch(s);
      assert.match(text(request), new RegExp(`nginx: 1 line change, every route of the app:[\\s\\S]*now: +proxy_pass http://${stateProd};\\n +after: +proxy_pass http://${to};`));
      assert.match(text(request), /1\. Validate the new nginx config \(nginx -t\)/);
      assert.equal(done.isError, false, text(done));
      assert.equal(done.structuredContent.switched, true, text(done));
      assert.match(text(done), /Verified: nginx master \d+ runs new workers \(\d+\); every route of the app selects/);
      assert.equal(await frontendColor(), to);
      assert.match(readFileSync(site, "utf8"), new RegExp(`proxy_pass http://${to};`));
      const backup = join(lab.LAB_LB_ROOT, "etc/nginx/sites-enabled/.app.conf.bluegreen-backup");
      assert.match(readFileSync(backup, "utf8"), new RegExp(`proxy_pass http://${stateProd};`));
      assert.deepEqual(loadableLeftovers(), []);
      const state = readStateFile();
      assert.equal(state.prod, to);
      assert.equal(state.generation, generation + 1);
      const status = (await s.call("get_deployment_status")).structuredContent;
      assert.equal(status.current.prod.server, to.toUpperCase());
      assert.deepEqual(status.drift, []);
      const replay = await s.call("switch_traffic", { approvalToken: token });
      assert.ok(replay.isError, text(replay));
      assert.equal(readStateFile().generation, generation + 1);

      const back = await approvedSwitch(s);
      assert.equal(back.done.structuredContent.switched, true, text(back.done));
      assert.equal(await frontendColor(), stateProd);
    } finally {
      await s.close();
    }
  });

test("an invalid candidate is refused: nginx -t sees it in place of the live file, which is untouched", async () => {
  // A validate command that rejects the candidate the way a failing nginx -t would, and only in the
  // namespace where the candidate is bind-mounted over the live file: proof that nginx -t checks it.
  const rejecting = configVariant((c) => {
    const lb = c.apps.shop.loadBalancer;
    for (const key of ["haproxyConfig", "section", "directive", "validateCommand", "reloadCommand", "statsSocket",
      "masterSocket", "statsUrl"]) delete lb[key];
    Object.assign(lb, { type: "nginx", nginxConfig: lab.LAB_NGINX_CONF, pidFile: lab.LAB_NGINX_PID_FILE,
      validateCommand: `nginx -t -q -c {config} && ! grep -q 'proxy_pass http://${other(stateProd)};' ` +
        `${lab.LAB_NGINX_SITE} || { echo 'nginx: [emerg] candidate rejected for the test'; exit 1; }` });
  });
  const s = await startClient({ config: rejecting });
  try {
    const before = readFileSync(site, "utf8");
    const modified = statSync(site).mtimeMs;
    const generation = readStateFile().generation;
    const { done } = await approvedSwitch(s);
    assert.equal(done.structuredContent.switched, false);
    assert.match(text(done), /the new nginx config failed validation \(pidf=.*unshare --mount --propagation private sh -c/s);
    assert.match(text(done), /candidate rejected for the test/);
    assert.match(text(done), /The live config is untouched/);
    assert.equal(readFileSync(site, "utf8"), before);
    assert.equal(statSync(site).mtimeMs, modified);
    assert.equal(readStateFile().generation, generation);
    assert.equal(await frontendColor(), stateProd);
    assert.deepEqual(readdirSync(join(lab.LAB_LB_ROOT, "etc/nginx/sites-enabled")).filter((n) => n.includes("candidate")), []);
  } finally {
    await s.close();
  }
});

test("a verification that fails is rolled back: the old file back, nginx reloaded, the old colour verified",
  async () => {
    // A second frontend that always proxies to the old colour's server directly (not a route of the
    // app): a verifyUrl through it cannot answer from the new colour.
    const fixed = join(lab.LAB_LB_ROOT, "etc/nginx/sites-enabled/fixed.conf");
    const oldAddr = stateProd === "blue" ? lab.BLUE_ADDR : lab.GREEN_ADDR;
    writeFileSync(fixed, `server {\n    listen ${lab.LB_ADDR}:${extraPorts[0]};\n` +
      `    location / { proxy_pass http://${oldAddr}:${lab.APP_PORT}; }\n}\n`);
    reload();
    const twoUrls = configVariant((c) => {
      const lb = c.apps.shop.loadBalancer;
      for (const key of ["haproxyConfig", "section", "directive", "validateCommand", "reloadCommand", "statsSocket",
        "masterSocket", "statsUrl", "verifyUrl"]) delete lb[key];
      Object.assign(lb, { type: "nginx", nginxConfig: lab.LAB_NGINX_CONF, pidFile: lab.LAB_NGINX_PID_FILE,
        verifyUrls: [`http://${lab.LB_ADDR}:${lab.LB_PORT}/health`, `http://${lab.LB_ADDR}:${extraPorts[0]}/health`] });
    });
    const s = await startClient({ config: twoUrls });
    try {
      const before = readFileSync(site, "utf8");
      const generation = readStateFile().generation;
      const { done } = await approvedSwitch(s);
      assert.equal(done.structuredContent.switched, false, text(done));
      assert.equal(done.structuredContent.rolledBack, true, text(done));
      assert.equal(done.structuredContent.rollbackVerified, true, text(done));
      assert.match(text(done), new RegExp(`do not reach ${other(stateProd).toUpperCase()}`));
      assert.match(text(done), /nginx verified routing to/);
      assert.equal(readFileSync(site, "utf8"), before);
      assert.equal(readStateFile().generation, generation);
      assert.equal(readStateFile().prod, stateProd);
      assert.equal(await frontendColor(), stateProd);
    } finally {
      rmSync(fixed, { force: true });
      reload();
      await s.close();
    }
  });

// The site's layout replaced by `files` (paths under the LB's /etc/nginx -> text; a value
// {link: target} makes a symbolic link) and nginx reloaded; `undo` puts the lab's site back.
function installLayout(files) {
  const made = [];
  for (const [path, content] of Object.entries(files)) {
    const full = join(lab.LAB_LB_ROOT, "etc/nginx", path);
    mkdirSync(dirname(full), { recursive: true });
    rmSync(full, { force: true });
    if (typeof content === "object") symlinkSync(content.link, full);
    else writeFileSync(full, content);
    made.push(full);
  }
  const check = ssh("lab-lb", `nginx -t -c ${lab.LAB_NGINX_CONF} 2>&1`, { allowFail: true });
  assert.equal(check.code, 0, check.stdout);
  reload();
  return made;
}

const upstreams = () => `upstream blue { server ${lab.BLUE_ADDR}:${lab.APP_PORT}; }\n` +
  `upstream green { server ${lab.GREEN_ADDR}:${lab.APP_PORT}; }\n`;

test("Debian's layout (a sites-enabled link), a snippet shared by two server blocks, an upper-case name: " +
  "all switched, the link kept", async () => {
  const original = readFileSync(site, "utf8");
  const made = [];
  const s = await startClient({ config });
  try {
    const to = other(stateProd);
    const port2 = extraPorts[0];
    const port3 = extraPorts[1];
    made.push(...installLayout({
      "snippets/app-proxy.conf": `proxy_pass http://${stateProd};\nproxy_set_header Host $host;\n`,
      "sites-available/app.conf": upstreams() +
        `server { listen ${lab.LB_ADDR}:${lab.LB_PORT}; location / { include snippets/app-proxy.conf; } }\n` +
        `server { listen ${lab.LB_ADDR}:${port2}; location / { include /etc/nginx/snippets/app-*.conf; } }\n` +
        `server { listen ${lab.LB_ADDR}:${port3}; location / { proxy_pass http://${stateProd.toUpperCase()}; } }\n`,
      "sites-enabled/app.conf": { link: "../sites-available/app.conf" },
    }));
    const status = (await s.call("get_deployment_status")).structuredContent;
    assert.equal(status.liveColorKnown, true, status.problem);
    assert.equal(status.haproxy.entryPoints.length, 3);
    const { request, done } = await approvedSwitch(s);
    assert.match(text(request), /nginx: 2 lines change/);
    assert.match(text(request), new RegExp(`after: +proxy_pass http://${to};\\n`));
    assert.equal(done.structuredContent.switched, true, text(done));
    for (const port of [lab.LB_PORT, port2, port3]) {
      assert.equal(await colorAt(port), to, `port ${port}`);
    }
    const link = join(lab.LAB_LB_ROOT, "etc/nginx/sites-enabled/app.conf");
    assert.ok(lstatSync(link).isSymbolicLink(), "the link stays a link");
    assert.match(readFileSync(join(lab.LAB_LB_ROOT, "etc/nginx/sites-available/app.conf"), "utf8"),
      new RegExp(`proxy_pass http://${to};`));
    const back = await approvedSwitch(s);
    assert.equal(back.done.structuredContent.switched, true, text(back.done));
  } finally {
    for (const path of made) rmSync(path, { force: true });
    writeFileSync(site, original);
    reload();
    await s.close();
  }
});

test("nginx stopped: no colour is live, the switch is refused before anything changes, no pid file is made",
  async () => {
    const s = await startClient({ config });
    const pidFile = join(lab.LAB_LB_ROOT, "run/nginx/nginx.pid");
    try {
      ssh("lab-lb", `nginx -c ${lab.LAB_NGINX_CONF} -s stop`);
      await waitFor("nginx to stop", async () => { try { statSync(pidFile); return false; } catch { return true; } });
      const before = readFileSync(site, "utf8");
      const j = (await status(s)).structuredContent;
      assert.equal(j.liveColorKnown, false);
      assert.match(j.problem, /^nginx is not running as loadBalancer.pidFile says/);
      const plan = await s.call("switch_traffic");
      assert.equal(plan.structuredContent?.approvalToken, undefined, text(plan));
      assert.equal(readFileSync(site, "utf8"), before);
      assert.throws(() => statSync(pidFile), /ENOENT/, "a read-only call must not leave an (empty) pid file");
    } finally {
      ssh("lab-lb", `nginx -c ${lab.LAB_NGINX_CONF}`);
      await waitFor("nginx to serve again", async () => (await frontendColor()) === stateProd);
      await s.close();
    }
  });

test("an interrupted switch (the server killed during the reload) is rolled back by the next approved plan",
  async () => {
    const slow = configVariant((c) => {
      const lb = c.apps.shop.loadBalancer;
      for (const key of ["haproxyConfig", "section", "directive", "validateCommand", "reloadCommand", "statsSocket",
        "masterSocket", "statsUrl"]) delete lb[key];
      Object.assign(lb, { type: "nginx", nginxConfig: lab.LAB_NGINX_CONF, pidFile: lab.LAB_NGINX_PID_FILE,
        reloadCommand: "sleep 4; nginx -c {config} -s reload" });
    });
    const { client: s, status: j, request, done } = await interruptSwitchThenRecover({
      slowConfig: slow, config, swapped: () => readFileSync(site, "utf8").includes(`http://${other(stateProd)};`) });
    try {
      assert.equal(j.liveColorKnown, false);
      assert.match(j.problem, /AN INTERRUPTED SWITCH was found/);
      assert.match(text(request), /AN INTERRUPTED SWITCH will be rolled back first/);
      assert.equal(done.structuredContent.switched, true, text(done));
      assert.equal(await frontendColor(), other(stateProd));
      const back = await approvedSwitch(s);
      assert.equal(back.done.structuredContent.switched, true, text(back.done));
      assert.equal(await frontendColor(), stateProd);
    } finally {
      await s.close();
    }
  });

test("a lock held by someone else refuses the switch and names the holder; a corrupt state file is never overwritten",
  async () => {
    const short = configVariant((c) => {
      asLbType(c.apps.shop.loadBalancer, { type: "nginx", nginxConfig: lab.LAB_NGINX_CONF, pidFile: lab.LAB_NGINX_PID_FILE });
      c.apps.shop.lockWaitSeconds = 1;
    });
    const s = await startClient({ config: short });
    const before = readFileSync(site, "utf8");
    try {
      await assertLockAndCorruptStateRefuse(s, () => assert.equal(readFileSync(site, "utf8"), before));
      assert.equal(await frontendColor(), stateProd);
    } finally {
      await s.close();
    }
  });

test("an LB pair of nginx with two servers per colour: a deploy and an approved switch move both, verified " +
  "through both frontends, and back", async () => {
  await assertPairSwitchesAndBack({
    name: "nginx",
    prod: stateProd,
    mutate: (app) => {
      for (const lb of app.loadBalancer) {
        asLbType(lb, { type: "nginx", nginxConfig: lab.LAB_NGINX_CONF, pidFile: lab.LAB_NGINX_PID_FILE });
      }
    },
    check: (to) => {
      for (const root of [lab.LAB_LB_ROOT, lab.LAB_LB2_ROOT]) {
        assert.match(readFileSync(join(root, lab.LAB_NGINX_SITE), "utf8"), new RegExp(`proxy_pass http://${to};`));
      }
    },
  });
});

test("check-config has nginx's rows", () => {
  const out = execFileSync(binary, ["check-config", "--config", config], { encoding: "utf8", timeout: 60000 });
  assert.match(out, /nginx files +\/etc\/nginx\/nginx.conf \/etc\/nginx\/sites-enabled\/app.conf ?✅ from nginx -T/);
  assert.match(out, new RegExp(`live upstream +/etc/nginx/nginx.conf +✅ ${stateProd.toUpperCase()}: server`));
  assert.match(out, /nginx master +\/run\/nginx\/nginx.pid +✅ master pid \d+, 1 worker\(s\)/);
});
