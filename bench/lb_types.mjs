// Each type of load balancer, measured in this one run on the lab's same hosts (issue 16's table):
// the approved switch_traffic call (with its verification) and a zero-drop load through the
// frontend while the colours are switched again and again, for HAProxy (the lab's default) and
// for nginx (`lab up --lb nginx`: the lab's nginx.conf and sites-enabled/app.conf, an upstream per
// colour, proxy_pass to the live one) and for Caddy (`lab up --lb caddy`: the lab's Caddyfile, a
// reverse_proxy to the live colour's servers, loaded with caddy reload). Prints figures; asserts
// nothing.
//
// How:
// - Each type gets a fresh server on its own config: the lab's for HAProxy; for nginx and Caddy the
//   same with their `type` and keys and the HAProxy-only keys removed. Two status calls and one switch pair first
//   (they open the connections), then 10 approved switches (an even number: each type ends on the
//   colour it started on); the median and p90 of the whole call, and the medians of its timings.
// - Zero-drop: bench/load.mjs's bounded load, 100 requests a second through the frontend for 10 s
//   on keep-alive connections (Node's fetch), switching every 300 ms; then, only if a request
//   failed, the same load with no switch (the machine's own baseline).
// - nginx and Caddy start on the colour the state file records as PROD, so the state agrees; the lab
//   goes back to HAProxy at the end whatever happens (and bench/run starts with `lab up --fresh`,
//   which is HAProxy, after an interrupted run).
// Bounded: 24 switches and at most about 30 s of load per type; about 90 s in all.
//
// Usage: node bench/lb_types.mjs BINARY CONFIG   (BLUEGREEN_LAB_DIR set, the lab up on HAProxy)
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { boundedLoad } from "./load.mjs";
import { RpcClient, ms, summary } from "./rpc_client.mjs";
import { lab, labScript, readStateFile } from "../tests/e2e/support.mjs";

const [binary, config] = process.argv.slice(2);
const SWITCHES = 10;
const rows = [];

const setLbType = (type) => {
  execFileSync(labScript, ["up", "--lb", type], { encoding: "utf8", env: process.env, timeout: 180000, stdio: "pipe" });
  Object.assign(lab, Object.fromEntries(execFileSync(labScript, ["env"], { encoding: "utf8" }).split("\n")
    .map((l) => /^export ([A-Z0-9_]+)=(.*)$/.exec(l)).filter(Boolean).map((m) => [m[1], m[2].replace(/^'(.*)'$/, "$1")])));
};

// The lab's config for `type` (nginx or caddy), beside it.
function typeConfig(type) {
  const c = JSON.parse(readFileSync(config, "utf8"));
  const lb = c.apps.shop.loadBalancer;
  for (const key of ["haproxyConfig", "section", "directive", "validateCommand", "reloadCommand", "statsSocket",
    "masterSocket", "statsUrl"]) delete lb[key];
  if (type === "nginx") {
    Object.assign(lb, { type, nginxConfig: lab.LAB_NGINX_CONF, pidFile: lab.LAB_NGINX_PID_FILE });
  } else {
    Object.assign(lb, { type, adminSocket: lab.LAB_CADDY_ADMIN_SOCK, caddyfile: lab.LAB_CADDYFILE });
    for (const colour of ["blue", "green"]) {
      c.apps.shop.hosts[colour].upstream = `${lab[`${colour.toUpperCase()}_ADDR`]}:${lab.APP_PORT}`;
    }
  }
  const path = join(lab.LAB_DIR, `bluegreen-mcp-${type}-bench.json`);
  writeFileSync(path, JSON.stringify(c, null, 2));
  return path;
}

const onLb = (command) => execFileSync("ssh", ["-F", lab.LAB_SSH_CONFIG, "lab-lb", command], { stdio: "pipe" });

async function switchOnce(client) {
  const plan = await client.call("switch_traffic");
  const token = plan.structuredContent?.approvalToken;
  if (!token) throw new Error(`the switch plan was refused: ${plan.content[0].text}`);
  const t = process.hrtime.bigint();
  const result = await client.call("switch_traffic", { approvalToken: token });
  if (!result.structuredContent?.switched) throw new Error(result.content[0].text.split("\n").slice(0, 3).join(" / "));
  return { ms: ms(t), timings: result.structuredContent.timings };
}

async function measure(type, path) {
  const client = new RpcClient(binary, ["--config", path, "--log-level", "warn"]);
  await client.initialize();
  try {
    for (let i = 0; i < 2; i++) await client.call("get_deployment_status");
    for (let i = 0; i < 2; i++) await switchOnce(client);
    const samples = [];
    const timings = {};
    for (let i = 0; i < SWITCHES; i++) {
      const one = await switchOnce(client);
      samples.push(one.ms);
      for (const [key, value] of Object.entries(one.timings ?? {})) (timings[key] ??= []).push(value);
    }
    const urls = [lab.LAB_FRONTEND_URL];
    const switching = await boundedLoad({ urls, rate: 100, seconds: 10, switchOnce: async () => Boolean(await switchOnce(client)) });
    const counts = switching.perUrl[urls[0]];
    let quiet = null;
    if (counts.non2xx + counts.errors > 0) quiet = (await boundedLoad({ urls, rate: 100, seconds: 10 })).perUrl[urls[0]];
    if (switching.switches % 2 === 1) await switchOnce(client);  // back on the colour it started on
    const row = { type, s: summary(samples), timings, counts, switches: switching.switches, quiet };
    console.error(`  ${type}: switch median ${row.s.median.toFixed(1)} ms; load ${JSON.stringify(counts)}`);
    return row;
  } finally {
    await client.close();
  }
}

try {
  rows.push(await measure("HAProxy", config));
  const prod = readStateFile()?.prod ?? "blue";
  rmSync(join(lab.LAB_LB_ROOT, "etc/nginx/sites-enabled/app.conf"), { force: true });
  setLbType("nginx");
  const site = join(lab.LAB_LB_ROOT, lab.LAB_NGINX_SITE);
  writeFileSync(site, readFileSync(site, "utf8").replace(/proxy_pass http:\/\/(blue|green);/, `proxy_pass http://${prod};`));
  onLb(`nginx -c ${lab.LAB_NGINX_CONF} -s reload`);
  await new Promise((r) => setTimeout(r, 500));
  rows.push(await measure("nginx", typeConfig("nginx")));

  rmSync(join(lab.LAB_LB_ROOT, lab.LAB_CADDYFILE), { force: true });
  setLbType("caddy");
  const caddyfile = join(lab.LAB_LB_ROOT, lab.LAB_CADDYFILE);
  const dial = `${lab[`${prod.toUpperCase()}_ADDR`]}:${lab.APP_PORT}`;
  writeFileSync(caddyfile, readFileSync(caddyfile, "utf8").replace(/reverse_proxy [^{\n]*\{/, `reverse_proxy ${dial} {`));
  onLb(`caddy reload --adapter caddyfile --config ${lab.LAB_CADDYFILE} --address unix/${lab.LAB_CADDY_ADMIN_SOCK}`);
  await new Promise((r) => setTimeout(r, 500));
  rows.push(await measure("Caddy", typeConfig("caddy")));
} catch (e) {
  rows.push({ type: "(stopped)", reason: e.message });
} finally {
  setLbType("haproxy");
}

const base = rows.find((r) => r.type === "HAProxy" && r.s);
console.log("\nload balancer types: the approved switch_traffic call (incl. verification), same lab, same run");
console.log("| Type | Switch median | p90 | Against HAProxy | Zero-drop, 100/s for 10 s while switching | Timings (medians, ms) |");
console.log("|---|---|---|---|---|---|");
for (const r of rows) {
  if (!r.s) {
    console.log(`| ${r.type} | not measured: ${r.reason} | | | | |`);
    continue;
  }
  const failed = r.counts.non2xx + r.counts.errors;
  const drop = `${failed} of ${r.counts.sent} failed (${r.counts.errors} connection errors) in ${r.switches} switches` +
    (r.quiet ? `; with no switch: ${r.quiet.non2xx + r.quiet.errors} of ${r.quiet.sent} failed` : "");
  const timings = Object.entries(r.timings).map(([k, v]) => `${k} ${summary(v).median}`).join(", ");
  console.log(`| ${r.type} | ${r.s.median.toFixed(1)} ms | ${r.s.p90.toFixed(1)} ms | ` +
    `${base ? (r.s.median / base.s.median).toFixed(2) + "x" : ""} | ${drop} | ${timings} |`);
}
