// HAProxy as people run it, end to end: the real bluegreen-mcp binary under the official TypeScript
// SDK client, against the lab's real sshd, HAProxy 2.6 and apps, with HAProxy restarted in each
// layout (tests/lab/lab haproxy-start):
//  - two frontends (two ports) routing to the app, in a file with CRLF line endings: status lists
//    both entry points; a switch moves both at once (every port serves the new colour, CRLF kept),
//    while a 10 s streaming response through the frontend arrives complete; a switch back;
//  - a split config (-f haproxy.cfg -f conf.d): the frontend in conf.d inherits default_backend
//    from the defaults in haproxy.cfg, the backends are in another conf.d file; HAProxy names its
//    files (show env HAPROXY_CFGFILES); a switch and a switch back, validated over the whole set;
//  - two apps on one frontend: only this app's unconditional `use_backend` moves, the other app's
//    ACL line stays;
//  - SPLIT ROUTING (one port BLUE, the other GREEN): status says so and names both; deploy and
//    switch are refused and nothing changes.
// After each step the lab is checked: what every entry point serves, and that the config validates.
// Usage: node tests/e2e/haproxy_layouts_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  colorAt, configVariant, layoutBackends, layoutGlobalAndDefaults, waitFor, extraPorts, frontendColor, installHaproxyLayout, lab, labRender, resetHaproxyLayout, ssh,
  startClient, streamThrough, text, waitForBothUp,
} from "./support.mjs";

const other = (color) => (color === "blue" ? "green" : "blue");
const port0 = Number(lab.LB_PORT);
const port1 = extraPorts[0];

const globalAndDefaults = layoutGlobalAndDefaults;
const backends = layoutBackends;

// haproxy.cfg with fe_app (LB_PORT) and fe_alt (the first extra port) routing to `first` and `second`.
const twoFrontends = (first, second) =>
  labRender(`${globalAndDefaults}
frontend fe_app
    bind @LB_ADDR@:@LB_PORT@
    default_backend ${first}

frontend fe_alt
    bind @LB_ADDR@:@EXTRA_PORT_1@
    default_backend ${second}
${backends}`);

// A client on a copy of the lab config: every frontend port is a verifyUrl; the config files are
// what HAProxy reports, unless `haproxyConfig` is given (it must then agree with HAProxy's list).
async function clientFor(name, { ports = [port0], haproxyConfig } = {}) {
  const path = configVariant((config) => {
    const lb = config.apps.shop.loadBalancer;
    delete lb.verifyUrl;
    delete lb.section;
    delete lb.directive;
    lb.verifyUrls = ports.map((port) => `http://${lab.LB_ADDR}:${port}/health`);
    if (haproxyConfig) lb.haproxyConfig = haproxyConfig;
    else delete lb.haproxyConfig;  // HAProxy says which files it loaded (show env HAPROXY_CFGFILES)
  });
  return startClient({ config: path, name });
}

async function status(client) {
  const result = await client.call("get_deployment_status", {});
  return { text: text(result), json: result.structuredContent };
}

async function switchOver(client) {
  const plan = await client.call("switch_traffic", {});
  assert.equal(plan.isError, false, text(plan));
  const done = await client.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken });
  assert.equal(done.isError, false, text(done));
  assert.equal(done.structuredContent.switched, true, text(done));
  return { plan, done };
}

async function assertServes(ports, color, what) {
  for (const port of ports) assert.equal(await colorAt(port), color, `${what}: port ${port}`);
}

function assertValid(args) {
  const files = args.map((f) => `-f ${f}`).join(" ");
  ssh("lab-lb", `haproxy -c -q ${files}`);
}

// HAProxy's reload counter (`show proc` on the master socket).
function reloads() {
  const out = ssh("lab-lb", "echo 'show proc' | socat -t 2 - UNIX-CONNECT:/run/haproxy/master.sock").stdout;
  return Number(out.split("\n").find((line) => /^\d+\s+master\s/.test(line)).split(/\s+/)[2]);
}

let live;
before(async () => {
  await waitForBothUp();
  live = await frontendColor();
});
after(async () => {
  await resetHaproxyLayout();
});

test("two frontends with CRLF endings: status lists both, a switch moves both while a stream completes", async () => {
  const cfg = "/etc/haproxy/haproxy.cfg";
  const layout = twoFrontends(live, live).replace(/\n/g, "\r\n");
  await installHaproxyLayout({ files: { [cfg]: layout } });
  await waitForBothUp();  // HAProxy restarted: its health checks start over
  await assertServes([port0, port1], live, "before");
  const mcp = await clientFor("layouts-two-frontends", { ports: [port0, port1] });
  try {
    const before = await status(mcp);
    assert.equal(before.json.current.prod.server, live.toUpperCase(), before.text);
    const entries = before.json.haproxy.entryPoints;
    assert.deepEqual(entries.map((e) => e.section), ["frontend fe_app", "frontend fe_alt"], before.text);
    assert.ok(entries.every((e) => e.serves === live), before.text);
    assert.match(before.text, /frontend fe_alt \(\/etc\/haproxy\/haproxy\.cfg:\d+, bind [\d.]+:\d+\) serves/);
    assert.match(before.json.haproxy.filesFrom, /HAPROXY_CFGFILES/);

    const stream = streamThrough(port0, 10);
    await stream.started;
    const { plan, done } = await switchOver(mcp);
    assert.equal(plan.structuredContent.plan.haproxy.lines.length, 2, text(plan));
    // The stream is open on the old colour, in HAProxy's old worker: not drained yet.
    assert.ok(done.structuredContent.oldProdSessions.open >= 1, text(done));
    assert.match(text(done), new RegExp(`${live.toUpperCase()} is draining`));
    const draining = await status(mcp);
    assert.equal(draining.json.current.standby.sessions.drained, false, draining.text);
    assert.match(draining.text, new RegExp(`STANDBY ${live.toUpperCase()} is still draining`));
    assert.match(text(plan), /frontend fe_alt/);
    await assertServes([port0, port1], other(live), "after the switch");
    const config = ssh("lab-lb", `cat ${cfg}`).stdout;
    assert.equal(config.split("\r\n").length - 1, config.split("\n").length - 1, "every line still ends in CRLF");
    assert.equal((config.match(new RegExp(`default_backend ${other(live)}\\r\\n`, "g")) || []).length, 2);
    assertValid([cfg]);
    const streamed = await stream;
    assert.equal(streamed.complete, true, `the stream was cut: ${JSON.stringify(streamed)}`);
    assert.equal(streamed.color, live, "the stream stayed on the colour that started it");
    await waitFor("the old colour drained", async () => (await status(mcp)).json.current.standby.sessions.drained);

    await switchOver(mcp);
    await assertServes([port0, port1], live, "after the switch back");
    assertValid([cfg]);
  } finally {
    await mcp.close();
  }
});

test("a split config (-f haproxy.cfg -f conf.d): defaults inherited across files, switched over the whole set", async () => {
  const cfg = "/etc/haproxy/haproxy.cfg";
  const dir = "/etc/haproxy/conf.d";
  const files = {
    [cfg]: labRender(`${globalAndDefaults}    default_backend ${live}\n`),
    [`${dir}/10-frontends.cfg`]: labRender("frontend fe_app\n    bind @LB_ADDR@:@LB_PORT@\n"),
    [`${dir}/20-backends.cfg`]: labRender(backends),
  };
  await installHaproxyLayout({ files, args: [cfg, dir] });
  await waitForBothUp();  // HAProxy restarted: its health checks start over
  const mcp = await clientFor("layouts-split-config", { haproxyConfig: [cfg, dir] });
  try {
    const before = await status(mcp);
    assert.equal(before.json.current.prod.server, live.toUpperCase(), before.text);
    assert.deepEqual(before.json.haproxy.files, [cfg, `${dir}/10-frontends.cfg`, `${dir}/20-backends.cfg`]);
    assert.equal(before.json.haproxy.entryPoints[0].routes[0].file, cfg, before.text);

    const { plan } = await switchOver(mcp);
    assert.equal(plan.structuredContent.plan.haproxy.config, cfg, text(plan));
    assert.equal(plan.structuredContent.plan.haproxy.lines[0].section, "defaults", text(plan));
    assert.equal(await colorAt(port0), other(live));
    assert.match(ssh("lab-lb", `cat ${cfg}`).stdout, new RegExp(`default_backend ${other(live)}\\n`));
    assertValid([cfg, dir]);
    await switchOver(mcp);
    assert.equal(await colorAt(port0), live);

    // A file added to conf.d and not loaded yet: a reload would load it, so nothing is called live.
    ssh("lab-lb", `printf 'backend extra\\n    server x 127.0.0.1:9\\n' > ${dir}/40-extra.cfg`);
    const added = await status(mcp);
    assert.equal(added.json.liveColorKnown, false, added.text);
    assert.match(added.text, /40-extra\.cfg/);
    assert.match(added.text, /not loaded/);
    const refused = await mcp.call("switch_traffic", {});
    assert.equal(refused.isError, true, text(refused));
    ssh("lab-lb", `rm -f ${dir}/40-extra.cfg`);
    assert.equal((await status(mcp)).json.liveColorKnown, true);
  } finally {
    await mcp.close();
  }
});

test("routes in two files (a frontend per sites.d file): both files change, one haproxy -c, one reload", async () => {
  const cfg = "/etc/haproxy/haproxy.cfg";
  const dir = "/etc/haproxy/sites.d";  // not the previous test's conf.d, whose files are still there
  const files = {
    [cfg]: labRender(globalAndDefaults),
    [`${dir}/10-http.cfg`]: labRender(`frontend fe_app\n    bind @LB_ADDR@:@LB_PORT@\n    default_backend ${live}\n`),
    [`${dir}/20-alt.cfg`]: labRender(`frontend fe_alt\n    bind @LB_ADDR@:@EXTRA_PORT_1@\n    use_backend ${live}\n`),
    [`${dir}/30-backends.cfg`]: labRender(backends),
  };
  await installHaproxyLayout({ files, args: [cfg, dir] });
  await waitForBothUp();  // HAProxy restarted: its health checks start over
  const mcp = await clientFor("layouts-two-files", { ports: [port0, port1] });
  try {
    const reloadsBefore = reloads();
    const { plan } = await switchOver(mcp);
    assert.deepEqual(plan.structuredContent.plan.haproxy.files, [`${dir}/10-http.cfg`, `${dir}/20-alt.cfg`], text(plan));
    assert.equal(plan.structuredContent.plan.haproxy.mode, "reload");
    assert.equal(reloads(), reloadsBefore + 1, "one reload for both files");
    await assertServes([port0, port1], other(live), "after the switch");
    assertValid([cfg, dir]);
    assert.equal(ssh("lab-lb", `ls ${dir}`).stdout.split("\n").filter((f) => f.includes("bluegreen-candidate")).length, 0);

    await switchOver(mcp);
    await assertServes([port0, port1], live, "after the switch back");
  } finally {
    await mcp.close();
  }
});

test("two apps on one frontend: only this app's unconditional use_backend moves", async () => {
  const cfg = "/etc/haproxy/haproxy.cfg";
  const blogLine = "use_backend blog if { path_beg /blog }";
  await installHaproxyLayout({
    files: {
      [cfg]: labRender(`${globalAndDefaults}
frontend fe_app
    bind @LB_ADDR@:@LB_PORT@
    ${blogLine}
    use_backend ${live}
${backends}
backend blog
    server blog @BLUE_ADDR@:@APP_PORT@
`),
    },
  });
  await waitForBothUp();  // HAProxy restarted: its health checks start over
  const mcp = await clientFor("layouts-two-apps");
  try {
    const before = await status(mcp);
    assert.equal(before.json.haproxy.entryPoints[0].routes.length, 1, before.text);
    await switchOver(mcp);
    assert.equal(await colorAt(port0), other(live));
    const config = ssh("lab-lb", `cat ${cfg}`).stdout;
    assert.ok(config.includes(`    ${blogLine}\n    use_backend ${other(live)}\n`), config);
    await switchOver(mcp);
    assert.equal(await colorAt(port0), live);
  } finally {
    await mcp.close();
  }
});

const runningMap = (map) =>
  ssh("lab-lb", `echo 'show map ${map}' | socat -t 2 - UNIX-CONNECT:/run/haproxy/admin.sock`).stdout;

test("map-based routing: switched at run time with no reload, the file kept for the next reload", async () => {
  const cfg = "/etc/haproxy/haproxy.cfg";
  const map = "/etc/haproxy/bluegreen.map";
  await installHaproxyLayout({
    files: {
      [cfg]: labRender(`${globalAndDefaults}
frontend fe_app
    bind @LB_ADDR@:@LB_PORT@
    use_backend %[str(shop),map(${map})]
    default_backend fallback
${backends}
backend fallback
    http-request return status 503 content-type text/plain string "no app"
`),
      [map]: `# app -> live backend\nshop ${live}\nblog fallback\n`,
    },
  });
  await waitForBothUp();  // HAProxy restarted: its health checks start over
  const mcp = await clientFor("layouts-map");
  try {
    const before = await status(mcp);
    assert.equal(before.json.current.prod.server, live.toUpperCase(), before.text);
    assert.equal(before.json.haproxy.entryPoints[0].routes[0].file, map, before.text);
    const reloadsBefore = reloads();
    const { plan, done } = await switchOver(mcp);
    assert.equal(plan.structuredContent.plan.haproxy.mode, "map", text(plan));
    assert.match(text(plan), /prepare\/commit map, no reload/);
    assert.equal(reloads(), reloadsBefore, "a map switch must not reload HAProxy");
    assert.equal(await colorAt(port0), other(live));
    assert.match(runningMap(map), new RegExp(` shop ${other(live)}\n`));
    assert.equal(ssh("lab-lb", `cat ${map}`).stdout, `# app -> live backend\nshop ${other(live)}\nblog fallback\n`);
    assert.ok(done.structuredContent.timings.haproxyStepMs >= 0, text(done));
    // A reload keeps the choice: the file says the same as the running map.
    ssh("lab-lb", "echo reload | socat -t 2 - UNIX-CONNECT:/run/haproxy/master.sock");
    await waitFor("the reload", async () => reloads() > reloadsBefore);
    assert.equal(await colorAt(port0), other(live));

    // A `set map` by hand that the file does not have: status says the two differ; nothing is called live.
    ssh("lab-lb", `echo 'set map ${map} shop ${live}' | socat -t 2 - UNIX-CONNECT:/run/haproxy/admin.sock`);
    const differs = await status(mcp);
    assert.equal(differs.json.liveColorKnown, false, differs.text);
    assert.match(differs.text, /running map differs from its file/);
    ssh("lab-lb", `echo 'set map ${map} shop ${other(live)}' | socat -t 2 - UNIX-CONNECT:/run/haproxy/admin.sock`);
    // A key added by hand that routes the app (a header-selected canary) is noticed too.
    ssh("lab-lb", `echo 'add map ${map} canary ${live}' | socat -t 2 - UNIX-CONNECT:/run/haproxy/admin.sock`);
    const added = await status(mcp);
    assert.equal(added.json.liveColorKnown, false, added.text);
    assert.match(added.text, new RegExp(`HAProxy runs \`canary ${live}\`, which the file does not have`));
    ssh("lab-lb", `echo 'del map ${map} canary' | socat -t 2 - UNIX-CONNECT:/run/haproxy/admin.sock`);

    await switchOver(mcp);
    assert.equal(await colorAt(port0), live);
    assert.equal(reloads(), reloadsBefore + 1, "only the reload by hand");
  } finally {
    await mcp.close();
  }
});

test("routes HAProxy decides at run time (an environment variable, a variable set from a map) are refused by line", async () => {
  const cfg = "/etc/haproxy/haproxy.cfg";
  const layout = labRender(`${globalAndDefaults.replace("global\n", `global\n    presetenv SHOP_BE ${live}\n`)}
frontend fe_app
    bind @LB_ADDR@:@LB_PORT@
    default_backend ${live}

frontend fe_env
    bind @LB_ADDR@:@EXTRA_PORT_1@
    default_backend "\${SHOP_BE}"

frontend fe_var
    bind @LB_ADDR@:@EXTRA_PORT_2@
    http-request set-var(txn.be) str(shop),map(/etc/haproxy/bluegreen.map)
    use_backend %[var(txn.be)]
${backends}`);
  await installHaproxyLayout({ files: { [cfg]: layout, "/etc/haproxy/bluegreen.map": `shop ${live}\n` } });
  await waitForBothUp();  // HAProxy restarted: its health checks start over
  const mcp = await clientFor("layouts-runtime-routes", { ports: [port0] });
  try {
    const seen = await status(mcp);
    assert.equal(seen.json.liveColorKnown, false, seen.text);
    assert.match(seen.text, /haproxy\.cfg:\d+ `default_backend "\$\{SHOP_BE\}"`: the backend comes from an environment variable/);
    assert.match(seen.text, /haproxy\.cfg:\d+ `use_backend %\[var\(txn\.be\)\]`: the backend comes from the variable txn\.be/);
    const plan = await mcp.call("switch_traffic", {});
    assert.equal(plan.isError, true, text(plan));
    assert.equal(ssh("lab-lb", `cat ${cfg}`).stdout, layout, "the config changed");
    await assertServes([port0, port1, extraPorts[1]], live, "after the refusal");
  } finally {
    await mcp.close();
  }
});

test("SPLIT ROUTING: status names both entry points; deploy and switch are refused and nothing changes", async () => {
  const cfg = "/etc/haproxy/haproxy.cfg";
  const layout = twoFrontends(live, other(live));
  await installHaproxyLayout({ files: { [cfg]: layout } });
  await waitForBothUp();  // HAProxy restarted: its health checks start over
  const mcp = await clientFor("layouts-split-routing", { ports: [port0, port1] });
  try {
    const seen = await status(mcp);
    assert.equal(seen.json.liveColorKnown, false, seen.text);
    assert.match(seen.text, /SPLIT ROUTING/);
    assert.match(seen.text, new RegExp(`frontend fe_app .* serves ${live.toUpperCase()}`));
    assert.match(seen.text, new RegExp(`frontend fe_alt .* serves ${other(live).toUpperCase()}`));
    const deploy = await mcp.call("deploy_to_standby", { createBackup: false });
    assert.equal(deploy.isError, true, text(deploy));
    assert.match(text(deploy), /SPLIT ROUTING/);
    const plan = await mcp.call("switch_traffic", {});
    assert.equal(plan.isError, true, text(plan));
    assert.match(text(plan), /SPLIT ROUTING/);
    assert.equal(ssh("lab-lb", `cat ${cfg}`).stdout, layout, "the config changed");
    await assertServes([port0], live, "after the refusals");
    await assertServes([port1], other(live), "after the refusals");
  } finally {
    await mcp.close();
  }
});
