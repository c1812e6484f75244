// Self-test of the lab's other load balancers (tests/lab/lab up --lb nginx|caddy, lb_kinds.sh),
// with the lab up at pool=1 lbs=1 on HAProxy:
//  - nginx: `up --lb nginx` stops HAProxy and starts nginx from a freshly rendered config (an
//    upstream per colour, proxy_pass to blue); the frontend serves blue, `nginx -t` passes over
//    SSH, the stub_status page answers; switched by hand the way an operator does it (proxy_pass
//    edited, `nginx -t`, `nginx -s reload`), the frontend serves green with the same master (a
//    reload, not a restart); `lab status` is healthy; a later plain `up` keeps nginx and its config;
//    the HAProxy-only commands refuse;
//  - caddy: `up --lb caddy` starts Caddy from a freshly rendered Caddyfile; the frontend serves
//    blue; the admin API, reached over SSH through its unix socket only, lists blue's server as
//    the upstream; a PATCH of the reverse_proxy handler's upstreams through it makes the frontend
//    serve green; nothing listens on Caddy's default admin port 2019;
//  - back on HAProxy (`up --lb haproxy`): the frontend serves what it served before, from the
//    same haproxy.cfg, and no nginx or caddy process of the LB is left.
// Whatever fails, the after hook puts the lab back on HAProxy. Every wait is bounded.
// Usage: node tests/e2e/lab_lb_kinds_selftest.mjs /path/to/bluegreen-mcp (the binary is not used).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { caddyAdmin, findHandler, frontendColor, lab, labScript, setLbType, ssh, waitFor } from "./support.mjs";

const lbRoot = lab.LAB_LB_ROOT;
const haproxyCfg = join(lbRoot, "etc/haproxy/haproxy.cfg");
let servedBefore;  // the colour HAProxy served when the test started
let haproxyCfgBefore;

// `lab ARGS...`, bounded; throws with the lab's own message on failure.
function labRun(...args) {
  try {
    return execFileSync(labScript, args, { encoding: "utf8", env: process.env, timeout: 120000, stdio: "pipe" }).trim();
  } catch (e) {
    throw new Error(`lab ${args.join(" ")}: ${e.stderr || e.message}`);
  }
}

// GET `url` on a new connection (bounded): { status, body (text) }.
function get(url) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 3000 }, (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode, body }));
    });
    request.on("timeout", () => request.destroy(new Error(`${url}: timeout`)));
    request.on("error", reject);
  });
}

// Whether something accepts TCP connections on host:port (bounded).
function listening(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

// The live (not zombie) processes called `comm` in the lab lb's namespace (the mount namespace of
// its sshd; the PID namespace is the machine's, shared with other labs): their pids.
function lbProcesses(comm) {
  const mountNs = (pid) => {
    try {
      return readlinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      return null;
    }
  };
  const lbNs = mountNs(lab.LAB_LB_SSHD_PID);
  assert.ok(lbNs, "lb's sshd must run");
  return readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      return name === comm && state !== "Z" && mountNs(pid) === lbNs;
    } catch {
      return false;  // gone meanwhile
    }
  });
}

const waitServes = (colour) => waitFor(`the frontend to serve ${colour}`, async () => (await frontendColor()) === colour);

before(async () => {
  assert.equal(lab.LAB_LB_TYPE, "haproxy", "the lab must start on HAProxy");
  servedBefore = await frontendColor();
  haproxyCfgBefore = readFileSync(haproxyCfg, "utf8");
});

after(() => {
  setLbType("haproxy");
});

test("nginx: rendered config serves blue, a hand switch with nginx -s reload serves green, up keeps it", async () => {
  rmSync(join(lbRoot, "etc/nginx/sites-enabled/app.conf"), { force: true });
  assert.equal(setLbType("nginx"), "nginx");
  assert.match(lab.LAB_LB_PID, /^\d+$/);
  assert.deepEqual(lbProcesses("haproxy"), [], "HAProxy must be stopped");
  assert.equal(await frontendColor(), "blue");
  assert.equal(ssh("lab-lb", "nginx -t 2>&1").code, 0);
  const stats = await get(lab.LAB_STATS_URL);
  assert.equal(stats.status, 200);
  assert.match(stats.body, /Active connections: \d+/);
  assert.throws(() => labRun("haproxy-reset"), /run nginx, not HAProxy/);

  const master = lab.LAB_LB_PID;
  ssh("lab-lb", `sed -i 's|proxy_pass http://blue;|proxy_pass http://green;|' ${lab.LAB_NGINX_SITE} && nginx -t -q && nginx -s reload`);
  await waitServes("green");
  assert.equal(readFileSync(join(lbRoot, "run/nginx/nginx.pid"), "utf8").trim(), master, "a reload keeps the master");
  assert.match(labRun("status"), /nginx master pid \d+[\s\S]*-> green \(nginx[\s\S]*\nhealthy$/);

  labRun("up");
  assert.equal(readFileSync(join(lbRoot, "run/nginx/nginx.pid"), "utf8").trim(), master, "up keeps a running nginx");
  assert.equal(await frontendColor(), "green");
});

test("caddy: admin API on its unix socket only, an upstreams PATCH through it serves green", async () => {
  rmSync(join(lbRoot, "etc/caddy/Caddyfile"), { force: true });
  assert.equal(setLbType("caddy"), "caddy");
  assert.match(lab.LAB_LB_PID, /^\d+$/);
  assert.deepEqual(lbProcesses("nginx"), [], "nginx must be stopped");
  assert.equal(await frontendColor(), "blue");
  assert.equal(await listening("127.0.0.1", 2019), false, "Caddy's admin API must not listen on the network");

  const upstreams = caddyAdmin("/reverse_proxy/upstreams");
  assert.deepEqual(upstreams.map((u) => u.address), [`${lab.BLUE_ADDR}:${lab.APP_PORT}`]);
  const handler = findHandler(caddyAdmin("/config/"), "reverse_proxy");
  assert.ok(handler, "the config has a reverse_proxy handler");
  caddyAdmin(`/config${handler}/upstreams`, { method: "PATCH", body: [{ dial: `${lab.GREEN_ADDR}:${lab.APP_PORT}` }] });
  await waitServes("green");
  assert.match(labRun("status"), /caddy pid \d+[\s\S]*-> green \(caddy[\s\S]*\nhealthy$/);
});

test("back on HAProxy: the same haproxy.cfg, the colour it served, no nginx or caddy left", async () => {
  assert.equal(setLbType("haproxy"), "haproxy");
  assert.equal(readFileSync(haproxyCfg, "utf8"), haproxyCfgBefore);
  assert.equal(await frontendColor(), servedBefore);
  assert.deepEqual([...lbProcesses("nginx"), ...lbProcesses("caddy")], []);
  assert.match(labRun("status"), /haproxy master pid \d+[\s\S]*\nhealthy$/);
});
