// Caddy as the load balancer (loadBalancer.type "caddy"), against the lab's real Caddy 2.6
// (tests/lab/lab up --lb caddy: admin API on the unix socket /run/caddy/admin.sock only, its
// Caddyfile the source of truth) through the official SDK client, each outcome checked on the LB:
//  - status reads Caddy's truth through its admin API over the LB's SSH connection: the upstreams
//    of its reverse_proxy, the server (listen) it is in, and the upstreams' health as Caddy
//    reports it (GET /reverse_proxy/upstreams);
//  - deploy_to_standby deploys the standby, Caddy's config untouched;
//  - an approved switch and back: the Caddyfile's upstream rewritten, validated (caddy validate),
//    adapted to exactly the planned JSON, swapped with a backup, loaded (caddy reload), verified
//    through the admin API and the frontend, recorded; a restart of Caddy keeps it; the token
//    cannot be replayed;
//  - refused with nothing changed: a candidate caddy validate rejects, a candidate that adapts to
//    more than the upstream change, a Caddyfile that is not what Caddy runs (also drift in status),
//    a lock held by someone else, a corrupt state file;
//  - a verification that fails after the reload: the old Caddyfile back, reloaded, verified;
//  - an interrupted switch (server killed after the swap) is rolled back by the next plan;
//  - a Caddy that resumes its autosave (no Caddyfile): switched through that JSON file, and a
//    restart with --resume keeps it;
//  - the upstreams PATCHed to the other colour by hand: status follows Caddy and reports the state
//    file's PROD as drift; a reverse_proxy to neither colour or both: no colour is live;
//  - the admin socket missing: a clear error naming the socket;
//  - an LB pair of Caddy in front of two servers per colour: a deploy and a switch move both;
//  - check-config has Caddy's rows (binary, admin socket, Caddyfile).
// The lab goes back to HAProxy at the end whatever happens (e2e.lab_lb_kinds checks that path).
// Usage: node tests/e2e/caddy_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import {
  approvedSwitch, asLbType, assertLockAndCorruptStateRefuse, assertPairSwitchesAndBack, binary, caddyAdmin, configVariant,
  findHandler, frontendColor, interruptSwitchThenRecover, lab, labHosts, readStateFile, setLbType, ssh, startClient,
  text, waitFor,
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

// The Caddyfile's reverse_proxy set to `colour`'s server and loaded (caddy reload), as an operator
// would: the file and what Caddy runs agree.
async function routeCaddyfile(colour) {
  const path = join(lab.LAB_LB_ROOT, lab.LAB_CADDYFILE);
  writeFileSync(path, readFileSync(path, "utf8").replace(/reverse_proxy [^{\n]*\{/, `reverse_proxy ${dialOf(colour)} {`));
  ssh("lab-lb", `caddy reload --adapter caddyfile --config ${lab.LAB_CADDYFILE} --address unix/${lab.LAB_CADDY_ADMIN_SOCK}`);
  await waitServes(colour);
}

async function status(client) {
  const result = await client.call("get_deployment_status");
  assert.ok(!result.isError, text(result));
  return result;
}

// The lab's config with loadBalancer.type caddy (its Caddyfile the source of truth), then `more` applied.
const caddyKeys = () => ({ type: "caddy", adminSocket: lab.LAB_CADDY_ADMIN_SOCK, caddyfile: lab.LAB_CADDYFILE });
const caddyConfig = (more = () => {}) => configVariant((c) => {
  const app = c.apps.shop;
  asLbType(app.loadBalancer, caddyKeys());
  app.hosts.blue.upstream = dialOf("blue");
  app.hosts.green.upstream = dialOf("green");
  more(c);
});

before(async () => {
  stateProd = readStateFile()?.prod ?? "blue";
  assert.equal(setLbType("caddy"), "caddy");
  await routeCaddyfile(stateProd);  // Caddy serves where the state file says PROD is: no drift
  config = caddyConfig();
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
    assert.match(text(result), /switch_traffic then asks for approval before moving traffic/);
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

const caddyfilePath = () => join(lab.LAB_LB_ROOT, lab.LAB_CADDYFILE);
const caddyfile = () => readFileSync(caddyfilePath(), "utf8");
const caddyDir = () => dirname(caddyfilePath());
// Files beside the Caddyfile other than the backup: candidates or restore copies left behind.
const leftovers = () => readdirSync(caddyDir()).filter((n) => n.includes("bluegreen") && !n.endsWith("-backup"));

// Caddy stopped and started again from its Caddyfile, as a restart of the service would; with
// `resume`, from its autosave (`caddy run --resume`, as Debian's caddy-api.service starts it).
async function restartCaddy({ resume = false } = {}) {
  const start = resume
    ? "setsid caddy run --resume --pidfile /run/caddy/caddy.pid </dev/null >/dev/null 2>&1 &"
    : `caddy start --adapter caddyfile --config ${lab.LAB_CADDYFILE} --pidfile /run/caddy/caddy.pid </dev/null >/dev/null 2>&1`;
  ssh("lab-lb", `caddy stop --address unix/${lab.LAB_CADDY_ADMIN_SOCK} >/dev/null 2>&1; ` +
    `rm -f ${lab.LAB_CADDY_ADMIN_SOCK}; export HOME=${lab.LAB_CADDY_HOME}; ${start}`);
  await waitFor("Caddy's admin API after the restart", async () =>
    ssh("lab-lb", `test -S ${lab.LAB_CADDY_ADMIN_SOCK}`, { allowFail: true }).code === 0);
}

test("deploy, then an approved switch through Caddy and back: Caddyfile rewritten, checked, reloaded, verified, " +
  "recorded, kept across a restart; the token cannot be replayed", async () => {
  const s = await startClient({ config });
  try {
    const deploy = await s.call("deploy_to_standby");
    assert.ok(!deploy.isError, text(deploy));
    const generation = readStateFile().generation;
    const to = other(stateProd);
    const { request, token, done } = await approvedSwitch(s);
    assert.match(text(request), new RegExp(`Caddy: 1 line change, every route of the app:[\\s\\S]*now: +reverse_proxy ` +
      `${dialOf(stateProd)} \\{\\n +after: +reverse_proxy ${dialOf(to)} \\{`));
    assert.match(text(request), /1\. Validate the new Caddy config \(caddy validate\)/);
    assert.equal(done.isError, false, text(done));
    assert.equal(done.structuredContent.switched, true, text(done));
    assert.match(text(done), new RegExp(`Verified: Caddy runs a configuration whose 1 reverse_proxy handler\\(s\\) of ` +
      `the app dial ${to.toUpperCase()}, as /etc/caddy/Caddyfile says`));
    assert.equal(await frontendColor(), to);
    assert.match(caddyfile(), new RegExp(`reverse_proxy ${dialOf(to)} \\{`));
    assert.match(readFileSync(join(caddyDir(), ".Caddyfile.bluegreen-backup"), "utf8"),
      new RegExp(`reverse_proxy ${dialOf(stateProd)} \\{`));
    assert.deepEqual(leftovers(), []);
    assert.equal(findHandler(caddyAdmin("/config/"), "reverse_proxy") !== null, true);
    const state = readStateFile();
    assert.equal(state.prod, to);
    assert.equal(state.generation, generation + 1);
    const j = (await status(s)).structuredContent;
    assert.equal(j.current.prod.server, to.toUpperCase());
    assert.deepEqual(j.drift, []);

    const replay = await s.call("switch_traffic", { approvalToken: token });
    assert.ok(replay.isError, text(replay));
    assert.equal(readStateFile().generation, generation + 1);

    await restartCaddy();  // the switch is in the Caddyfile, so a restart keeps it
    await waitServes(to);

    const back = await approvedSwitch(s);
    assert.equal(back.done.structuredContent.switched, true, text(back.done));
    assert.equal(await frontendColor(), stateProd);
    assert.match(caddyfile(), new RegExp(`reverse_proxy ${dialOf(stateProd)} \\{`));
  } finally {
    await s.close();
  }
});

test("a Caddy that resumes its autosave (no Caddyfile): the switch rewrites the autosave and loads it; a restart " +
  "with --resume keeps it", async () => {
  const autosave = `${lab.LAB_CADDY_HOME}/.config/caddy/autosave.json`;
  const onDisk = () => JSON.parse(readFileSync(join(lab.LAB_LB_ROOT, autosave), "utf8"));
  const resumed = caddyConfig((c) => {
    delete c.apps.shop.loadBalancer.caddyfile;
    c.apps.shop.loadBalancer.autosave = autosave;
  });
  const caddyfileBefore = caddyfile();
  const s = await startClient({ config: resumed });
  try {
    await restartCaddy({ resume: true });  // Caddy now runs from its autosave, with no config file
    await waitServes(stateProd);
    const to = other(stateProd);
    const { request, done } = await approvedSwitch(s);
    assert.match(text(request), new RegExp(`now: +upstreams ${dialOf(stateProd)}\\n +after: +upstreams ${dialOf(to)}`));
    assert.match(text(request), /1\. Validate the new Caddy config \(caddy validate\)/);
    assert.equal(done.structuredContent.switched, true, text(done));
    assert.match(text(done), new RegExp(`dial ${to.toUpperCase()}, as ${autosave}`));
    assert.equal(await frontendColor(), to);
    assert.equal(findHandler(onDisk(), "reverse_proxy") !== null, true);
    assert.match(JSON.stringify(onDisk()), new RegExp(`"dial":"${dialOf(to)}"`));
    assert.equal(caddyfile(), caddyfileBefore, "the Caddyfile is not this setup's source and stays as it was");

    await restartCaddy({ resume: true });
    await waitServes(to);
    assert.deepEqual((await status(s)).structuredContent.drift, []);

    const back = await approvedSwitch(s);
    assert.equal(back.done.structuredContent.switched, true, text(back.done));
    assert.equal(await frontendColor(), stateProd);
  } finally {
    await s.close();
    await restartCaddy();  // back to the Caddyfile, which still serves stateProd
    await waitServes(stateProd);
  }
});

// A config whose validateCommand is `command` (placeholders as the default's).
const withValidate = (command) => caddyConfig((c) => {
  c.apps.shop.loadBalancer.validateCommand = command;
});

// The switch was refused with nothing changed: the Caddyfile byte for byte and unmodified, Caddy's
// config, the state file, the frontend; no candidate left.
async function assertUntouched(done, before) {
  assert.equal(done.structuredContent.switched, false, text(done));
  assert.match(text(done), /The live config is untouched/);
  assert.equal(caddyfile(), before.file);
  assert.equal(statSync(caddyfilePath()).mtimeMs, before.modified);
  assert.equal(JSON.stringify(caddyAdmin("/config/")), before.running);
  assert.equal(readStateFile().generation, before.generation);
  assert.equal(await frontendColor(), stateProd);
  assert.deepEqual(leftovers(), []);
}

const snapshotBefore = () => ({
  file: caddyfile(), modified: statSync(caddyfilePath()).mtimeMs, running: JSON.stringify(caddyAdmin("/config/")),
  generation: readStateFile().generation,
});

test("an invalid candidate is refused: caddy validate checks the candidate, the live Caddyfile is untouched",
  async () => {
    // Rejects exactly the candidate (it names the other colour), the way a failing caddy validate would.
    const s = await startClient({ config: withValidate(`caddy validate --adapter caddyfile --config {config} && ` +
      `! grep -q '${dialOf(other(stateProd))}' {config} || { echo 'Error: candidate rejected for the test'; exit 1; }`) });
    try {
      const before = snapshotBefore();
      const { done } = await approvedSwitch(s);
      assert.match(text(done), /the new Caddy config failed validation \(caddy validate --adapter caddyfile --config '\/etc\/caddy\/\.Caddyfile\.bluegreen-candidate'/);
      assert.match(text(done), /candidate rejected for the test/);
      await assertUntouched(done, before);
    } finally {
      await s.close();
    }
  });

test("a candidate that Caddy adapts to more than the upstream change is refused before the swap", async () => {
  // A "validator" that also changes the candidate's health check: caddy adapt then shows the change.
  const s = await startClient({ config: withValidate(`sed -i 's#health_uri /health#health_uri /ping#' {config} && ` +
    `caddy validate --adapter caddyfile --config {config}`) });
  try {
    const before = snapshotBefore();
    const { done } = await approvedSwitch(s);
    assert.match(text(done), /the edited Caddyfile does not give the planned configuration, which is what Caddy runs with only the app's upstreams changed \(a proxy of the app in an imported file is not edited\): the candidate \/etc\/caddy\/\.Caddyfile\.bluegreen-candidate does not give the planned configuration \(they differ at \/apps\/http\/servers\/srv0\/routes\/0\/handle\/0\/health_checks\/active\/uri: the plan has "\/health" there, the file gives "\/ping"\)/);
    await assertUntouched(done, before);
  } finally {
    await s.close();
  }
});

test("upstreams changed through the admin API only: status reports the Caddyfile as drift, a switch is refused",
  async () => {
    const s = await startClient({ config });
    try {
      await routeByHand(other(stateProd));
      const j = (await status(s)).structuredContent;
      assert.ok(j.drift.some((d) => /the Caddyfile \/etc\/caddy\/Caddyfile does not give the configuration Caddy runs/.test(d) &&
        /Switches are refused until they agree/.test(d)), j.drift.join("\n"));
      const before = snapshotBefore();
      const request = await s.call("switch_traffic", {});
      assert.ok(request.isError, text(request));
      assert.match(text(request), /does not give the configuration Caddy runs.*caddy reload/s);
      assert.equal(caddyfile(), before.file);
    } finally {
      await routeByHand(stateProd);
      await s.close();
    }
  });

test("a verification that fails is rolled back: the old Caddyfile back, Caddy reloaded, the old colour verified",
  async () => {
    // A verifyUrl straight at the old colour's server: it can never answer from the new colour.
    const oldServer = caddyConfig((c) => {
      delete c.apps.shop.loadBalancer.verifyUrl;
      c.apps.shop.loadBalancer.verifyUrls = [`http://${lab.LB_ADDR}:${lab.LB_PORT}/health`, `http://${dialOf(stateProd)}/health`];
    });
    const s = await startClient({ config: oldServer });
    try {
      const before = snapshotBefore();
      const { done } = await approvedSwitch(s);
      assert.equal(done.structuredContent.switched, false, text(done));
      assert.equal(done.structuredContent.rolledBack, true, text(done));
      assert.equal(done.structuredContent.rollbackVerified, true, text(done));
      assert.match(text(done), new RegExp(`do not reach ${other(stateProd).toUpperCase()}`));
      assert.match(text(done), /Caddy verified routing to/);
      assert.equal(caddyfile(), before.file);
      assert.equal(JSON.stringify(caddyAdmin("/config/")), before.running);
      assert.equal(readStateFile().generation, before.generation);
      assert.equal(readStateFile().prod, stateProd);
      assert.equal(await frontendColor(), stateProd);
    } finally {
      await s.close();
    }
  });

test("an interrupted switch (the server killed during the reload) is rolled back by the next approved plan",
  async () => {
    const slow = caddyConfig((c) => {
      c.apps.shop.loadBalancer.reloadCommand = "sleep 4; caddy reload --adapter caddyfile --config {config}";
    });
    const { client: s, status: j, request, done } = await interruptSwitchThenRecover({
      slowConfig: slow, config, swapped: () => caddyfile().includes(dialOf(other(stateProd))) });
    try {
      assert.equal(j.liveColorKnown, false);
      assert.match(j.problem, /AN INTERRUPTED SWITCH was found/);
      // The file was swapped, Caddy not reloaded: by hand, the backup goes back before any reload.
      assert.match(j.problem, new RegExp(`the config was swapped \\(it selects ${other(stateProd).toUpperCase()}\\) but ` +
        `Caddy was not reloaded, so users are still on ${stateProd.toUpperCase()}`));
      assert.match(j.problem, /cp -p \/etc\/caddy\/\.Caddyfile\.bluegreen-backup \/etc\/caddy\/Caddyfile/);
      assert.match(text(request), /AN INTERRUPTED SWITCH will be rolled back first/);
      assert.equal(done.structuredContent.switched, true, text(done));
      assert.match(text(done), /the config selecting [A-Z]+ was put back, Caddy reloaded and verified/);
      assert.equal(await frontendColor(), other(stateProd));
      const back = await approvedSwitch(s);
      assert.equal(back.done.structuredContent.switched, true, text(back.done));
      assert.equal(await frontendColor(), stateProd);
    } finally {
      await s.close();
    }
  });

test("an interrupted switch whose backup is not its original: the next switch stops with ACTION NEEDED and moves " +
  "no traffic", async () => {
  const slow = caddyConfig((c) => {
    c.apps.shop.loadBalancer.reloadCommand = "sleep 4; caddy reload --adapter caddyfile --config {config}";
  });
  const backup = join(caddyDir(), ".Caddyfile.bluegreen-backup");
  const original = caddyfile();
  const victim = await startClient({ config: slow });
  const plan = await victim.call("switch_traffic", {});
  const pending = victim.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken }).catch(() => null);
  await waitFor("the switch to swap the Caddyfile", async () => caddyfile().includes(dialOf(other(stateProd))));
  victim.kill();
  await pending;
  writeFileSync(backup, `${readFileSync(backup, "utf8")}# edited by hand\n`);
  const s = await startClient({ config });
  try {
    const { done } = await approvedSwitch(s);
    assert.equal(done.structuredContent.switched, false, text(done));
    assert.match(text(done), /ACTION NEEDED: cannot roll back the interrupted switch: the Caddyfile \/etc\/caddy\/Caddyfile selects/);
    assert.match(text(done), /is not the file this switch started from/);
    assert.equal(await frontendColor(), stateProd, "nothing was reloaded");
    assert.equal(readStateFile().prod, stateProd);
  } finally {
    await s.close();
    writeFileSync(caddyfilePath(), original);  // put back by hand, as the message says
    ssh("lab-lb", "rm -f /var/lib/bluegreen/shop.json.lock.activity");
    await routeCaddyfile(stateProd);
  }
});

test("a lock held by someone else refuses the switch and names the holder; a corrupt state file is never overwritten",
  async () => {
    const s = await startClient({ config: caddyConfig((c) => {
      c.apps.shop.lockWaitSeconds = 1;
    }) });
    const before = snapshotBefore();
    try {
      await assertLockAndCorruptStateRefuse(s, () => assert.equal(caddyfile(), before.file));
    } finally {
      await s.close();
    }
  });

test("an LB pair of Caddy with two servers per colour: a deploy and an approved switch move both Caddyfiles, " +
  "verified through both frontends, and back", async () => {
  const dials = (colour) => labHosts(colour).map((h) => `${lab[`${h.toUpperCase()}_ADDR`]}:${lab.APP_PORT}`);
  await assertPairSwitchesAndBack({
    name: "caddy",
    prod: stateProd,
    mutate: (app) => {
      for (const lb of app.loadBalancer) asLbType(lb, caddyKeys());
      for (const colour of ["blue", "green"]) {
        for (const server of app.hosts[colour]) server.upstream = `${server.address}:${lab.APP_PORT}`;
      }
    },
    check: async (to, request, client) => {
      assert.match(text(request), new RegExp(`after: +reverse_proxy ${dials(to).join(" ")} \\{`));
      for (const root of [lab.LAB_LB_ROOT, lab.LAB_LB2_ROOT]) {
        assert.match(readFileSync(join(root, lab.LAB_CADDYFILE), "utf8"), new RegExp(`reverse_proxy ${dials(to).join(" ")} \\{`));
      }
      assert.deepEqual((await status(client)).structuredContent.drift, []);
    },
  });
});

test("check-config has Caddy's rows: binary, admin socket, Caddyfile", () => {
  const out = execFileSync(binary, ["check-config", "--config", config], { encoding: "utf8", timeout: 60000 });
  assert.match(out, /caddy binary +caddy +✅ caddy v?2\.\d/);
  assert.match(out, /admin socket +\/run\/caddy\/admin\.sock +✅ GET \/config\/ answered \(1 reverse_proxy handler/);
  assert.match(out, /caddyfile +\/etc\/caddy\/Caddyfile +✅ adapts to exactly the configuration Caddy runs/);
  assert.match(out, /caddy process +caddy +✅ runs --config \/etc\/caddy\/Caddyfile: a restart loads what a switch writes/);
  assert.match(out, new RegExp(`live upstreams +/etc/caddy/Caddyfile +✅ ${stateProd.toUpperCase()}: server srv0`));
});
