// Self-test of the lab's topology (tests/lab/lab topology: pools of app servers per colour and a
// second load balancer) and of the support.mjs helpers built on it (setTopology, labHosts), with
// the lab up at pool=1 lbs=1:
//  - pool=4 lbs=2: every host (blue..blue4, green..green4, lb, lb2, bastion) takes a key login,
//    the extra ones through the bastion too;
//  - every app's /health answers 200 with its colour, its server name and its colour's commit;
//  - both LB frontends serve the live colour, and `show stat` on each lists the four servers of each
//    colour backend, named after the hosts, UP; bluegreen-mcp-topology.json lists them all;
//  - lb2 alone switched (haproxy-start --lb lb2 with a copy of its config whose default_backend is
//    the other colour) serves that colour while lb still serves the live one; haproxy-reset --lb lb2
//    puts lb2 back to its default layout;
//  - back to pool=1 lbs=1: no process of the extra hosts is left, and lb's haproxy.cfg is the
//    template's rendering (with the colour it served) byte for byte.
// Whatever fails, the after hook goes back to pool=1 lbs=1 and restores lb's haproxy.cfg as found
// (GREEN may be live after earlier e2e files). Every wait is bounded.
// Usage: node tests/e2e/lab_topology_selftest.mjs /path/to/bluegreen-mcp (the binary is not used).
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  frontendColor, installHaproxyLayout, lab, labHosts, labScript, parseShowStat, readHaproxyConfig, readLabEnv,
  resetHaproxyLayout, setTopology, ssh, waitFor, waitForBothUp,
} from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const template = readFileSync(join(here, "..", "lab", "haproxy.cfg.in"), "utf8");
const cfg = "/etc/haproxy/haproxy.cfg";
const extraHosts = ["blue2", "blue3", "blue4", "green2", "green3", "green4", "lb2"];
const switchedCfg = "/etc/haproxy/topology-selftest.cfg";

let original;  // lb's haproxy.cfg as found
let live;  // the colour lb serves
const mainConfig = readFileSync(lab.LAB_BLUEGREEN_CONFIG, "utf8");

// `lab ARGS...`, bounded.
function labRun(...args) {
  return execFileSync(labScript, args, { encoding: "utf8", env: process.env, timeout: 120000 }).trim();
}

// The address of a lab host: blue -> BLUE_ADDR, blue2 -> BLUE2_ADDR, lb2 -> LB2_ADDR.
const addressOf = (host) => lab[`${host.toUpperCase()}_ADDR`];

// `ssh lab-<alias> hostname` for each alias at once; resolves to { alias: stdout or error }.
function hostnames(aliases) {
  return Promise.all(aliases.map((alias) => new Promise((resolve) => {
    execFile("ssh", ["-F", lab.LAB_SSH_CONFIG, alias, "hostname"], { timeout: 30000 }, (error, stdout, stderr) => {
      resolve([alias, error ? `FAILED: ${stderr || error.message}` : stdout.trim()]);
    });
  }))).then(Object.fromEntries);
}

// GET `url` on a new connection (bounded); resolves to { status, body (parsed JSON or text) }.
function get(url) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 3000 }, (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => {
        try {
          resolve({ status: response.statusCode, body: JSON.parse(body) });
        } catch {
          resolve({ status: response.statusCode, body });
        }
      });
    });
    request.on("timeout", () => request.destroy(new Error(`${url}: timeout`)));
    request.on("error", reject);
  });
}

// The colour the frontend of `lbHost` (lb or lb2) serves, on a new connection.
async function servedBy(lbHost) {
  const { status, body } = await get(`http://${addressOf(lbHost)}:${lab.LB_PORT}/health`);
  if (status !== 200) throw new Error(`${lbHost} answered ${status}`);
  return body.color;
}

// `show stat` of `lbHost`'s HAProxy: { blue: { blue: "UP", blue2: "UP", ... }, green: { ... } }.
function serverStates(lbHost) {
  const rows = parseShowStat(ssh(`lab-${lbHost}`, "echo 'show stat' | socat - UNIX-CONNECT:/run/haproxy/admin.sock").stdout);
  const states = { blue: {}, green: {} };
  for (const r of rows) if (r.pxname in states && r.svname !== "BACKEND") states[r.pxname][r.svname] = r.status;
  return states;
}

// Pids of every process in a namespace tagged as `host` of this lab (the tmpfs "bglab:<host>:<lab
// dir>" that `lab` mounts in each host), as `lab down` finds them. Zombies hold no namespace.
function hostProcesses(host) {
  const tag = ` bglab:${host}:${lab.LAB_DIR} `;
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/mountinfo`, "utf8").includes(tag)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or a zombie
    }
  }
  return pids;
}

// Whether something accepts a TCP connection at address:port (bounded).
function listening(address, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port: Number(port), timeout: 2000 });
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", () => resolve(false));
  });
}

// lb's default haproxy.cfg as the lab renders it at pool=1: the template with the lab's values for
// its placeholders (as `lab` puts them in: its comments mention @NAME@, which stays), `colour` live.
const templateRendering = (colour) =>
  template.replace(/@(LB_ADDR|LB_PORT|STATS_PORT|BLUE_ADDR|GREEN_ADDR|APP_PORT)@/g, (_, name) => lab[name])
    .replace(/^(\s*default_backend) blue$/m, `$1 ${colour}`);

before(async () => {
  assert.equal(labRun("topology"), "pool=1 lbs=1", "the test starts from the lab's usual topology");
  // `lab topology` leaves custom layouts alone (and refuses to change the pool under one).
  if (existsSync(join(lab.LAB_DIR, "hosts", "lb", "haproxy-args"))) await resetHaproxyLayout();
  original = readHaproxyConfig();
  await waitForBothUp();
  live = await frontendColor();
  assert.ok(live === "blue" || live === "green", `lb serves ${live}`);
});

after(async () => {
  // `lab topology` says what the lab dir remembers, which a failed change has already set.
  if (labRun("topology") !== "pool=1 lbs=1") setTopology({ pool: 1, lbs: 1 });
  Object.assign(lab, readLabEnv());
  if (readHaproxyConfig() !== original) {
    await installHaproxyLayout({ files: { [cfg]: original }, args: [] });
    await waitForBothUp();
  }
});

test("pool=4 lbs=2: every host takes a key login, directly and through the bastion", async () => {
  const began = Date.now();
  assert.deepEqual(setTopology({ pool: 4, lbs: 2 }), { pool: 4, lbs: 2 });
  console.log(`lab topology --pool 4 --lbs 2 took ${Date.now() - began} ms`);
  assert.equal(labRun("topology"), "pool=4 lbs=2");
  assert.deepEqual(labHosts("blue"), ["blue", "blue2", "blue3", "blue4"]);
  assert.deepEqual(labHosts("green"), ["green", "green2", "green3", "green4"]);
  assert.deepEqual(labHosts("lb"), ["lb", "lb2"]);
  const hosts = [...labHosts("blue"), ...labHosts("green"), ...labHosts("lb"), "bastion"];
  const direct = await hostnames(hosts.map((h) => `lab-${h}`));
  const jumped = await hostnames(extraHosts.map((h) => `lab-${h}-via-bastion`));
  for (const h of hosts) assert.equal(direct[`lab-${h}`], `lab-${h}`);
  for (const h of extraHosts) assert.equal(jumped[`lab-${h}-via-bastion`], `lab-${h}`);
  for (const h of extraHosts) assert.match(lab[`LAB_${h.toUpperCase()}_SSHD_PID`], /^\d+$/, `lab.env: ${h}'s sshd`);
  assert.match(lab.LAB_LB2_HAPROXY_MASTER_PID, /^\d+$/);
  assert.equal(lab.LB2_ADDR, lab.BLUE_ADDR.replace(/\.\d+$/, ".5"));
  assert.equal(lab.BLUE3_ADDR, lab.BLUE_ADDR.replace(/\.\d+$/, ".13"));
  assert.equal(lab.GREEN4_ADDR, lab.BLUE_ADDR.replace(/\.\d+$/, ".24"));
});

test("every app answers /health with its colour, its server and its colour's commit", async () => {
  for (const colour of ["blue", "green"]) {
    const first = (await get(`http://${addressOf(colour)}:${lab.APP_PORT}/health`)).body;
    for (const host of labHosts(colour)) {
      const { status, body } = await get(`http://${addressOf(host)}:${lab.APP_PORT}/health`);
      assert.equal(status, 200, `${host}: ${JSON.stringify(body)}`);
      assert.equal(body.status, "ok");
      assert.equal(body.color, colour, host);
      assert.equal(body.server, host);
      assert.equal(body.commit, first.commit, `${host} runs what ${colour} runs`);
      assert.equal(body.version, first.version);
    }
  }
});

test("both frontends serve the live colour; each LB sees four servers UP per colour", async () => {
  for (const lbHost of ["lb", "lb2"]) {
    assert.equal(await servedBy(lbHost), live, `${lbHost}'s frontend`);
    await waitFor(`${lbHost}: four servers UP in each colour backend`, async () => {
      const states = serverStates(lbHost);
      return ["blue", "green"].every((colour) =>
        JSON.stringify(states[colour]) === JSON.stringify(Object.fromEntries(labHosts(colour).map((h) => [h, "UP"]))));
    }, { tries: 100 });
  }
  // lb2 is lb's twin: the same file but for its own address.
  const lb2Config = ssh("lab-lb2", `cat ${cfg}`).stdout;
  assert.equal(lb2Config, readHaproxyConfig().replaceAll(`${lab.LB_ADDR}:`, `${lab.LB2_ADDR}:`)
    .replace(`source ${lab.LB_ADDR}\n`, `source ${lab.LB2_ADDR}\n`));
  assert.match(readHaproxyConfig(), new RegExp(`^    server blue4 ${lab.BLUE4_ADDR}:${lab.APP_PORT} check inter 500ms fall 2 rise 2$`, "m"));

  const topology = JSON.parse(readFileSync(lab.LAB_TOPOLOGY_CONFIG, "utf8")).apps.shop;
  for (const colour of ["blue", "green"]) {
    assert.deepEqual(topology.hosts[colour].map((s) => [s.ssh, s.address, s.haproxyServer, s.healthUrl]),
      labHosts(colour).map((h) => [`lab-${h}`, addressOf(h), h, `http://${addressOf(h)}:${lab.APP_PORT}/health`]));
  }
  assert.deepEqual(topology.loadBalancer.map((l) => [l.ssh, l.verifyUrl, l.publicUrl]), [
    ["lab-lb", `http://${lab.LB_ADDR}:${lab.LB_PORT}/health`, lab.LAB_FRONTEND_URL],
    ["lab-lb2", `http://${lab.LB2_ADDR}:${lab.LB_PORT}/health`, lab.LAB_LB2_FRONTEND_URL],
  ]);
  assert.equal(topology.deploy.maxParallel, 4);
  assert.equal(topology.healthGate.minHealthy, 4);
  assert.equal(readFileSync(lab.LAB_BLUEGREEN_CONFIG, "utf8"), mainConfig, "bluegreen-mcp.json is unchanged");
});

test("lb2 switched alone serves the other colour while lb keeps the live one; haproxy-reset --lb lb2", async () => {
  const other = live === "blue" ? "green" : "blue";
  ssh("lab-lb2", `sed 's/^\\( *default_backend\\) ${live}$/\\1 ${other}/' ${cfg} >${switchedCfg}`);
  assert.match(ssh("lab-lb2", `cat ${switchedCfg}`).stdout, new RegExp(`^ *default_backend ${other}$`, "m"));
  labRun("haproxy-start", "--lb", "lb2", switchedCfg);
  await waitFor(`lb2 serving ${other}`, async () => (await servedBy("lb2")) === other);
  assert.equal(await servedBy("lb"), live, "lb is not touched");
  assert.equal(ssh("lab-lb", `cat ${cfg}`).stdout, readHaproxyConfig());
  assert.match(ssh("lab-lb2", "tr '\\0' ' ' </proc/$(cat /run/haproxy/haproxy.pid)/cmdline").stdout, / -f \/etc\/haproxy\/topology-selftest\.cfg /);
  assert.match(labRun("status"), new RegExp(`frontend http://${lab.LB2_ADDR.replaceAll(".", "\\.")}:${lab.LB_PORT}/ -> ${other} \\(haproxy -f ${switchedCfg}: from 'lab haproxy-start'\\)`));
  // A custom layout on an LB that stays: the pool cannot change under it.
  assert.throws(() => execFileSync(labScript, ["topology", "--pool", "3"], { encoding: "utf8", stdio: "pipe", timeout: 60000 }),
    (error) => /lb2 runs a custom HAProxy layout .*run 'lab haproxy-reset --lb lb2' first/.test(error.stderr));

  ssh("lab-lb2", `rm -f ${switchedCfg}`);
  labRun("haproxy-reset", "--lb", "lb2");
  Object.assign(lab, readLabEnv());
  await waitFor("lb2 serving blue after haproxy-reset --lb lb2", async () => (await servedBy("lb2")) === "blue");
  assert.match(ssh("lab-lb2", `cat ${cfg}`).stdout, /^frontend fe_app\n\s+bind \S+\n\s+default_backend blue$/m);
  assert.equal(existsSync(join(lab.LAB_DIR, "hosts", "lb2", "haproxy-args")), false);
  assert.equal(await servedBy("lb"), live);
});

test("back to pool=1 lbs=1: the extra hosts are gone and haproxy.cfg is the template's", async () => {
  const began = Date.now();
  assert.deepEqual(setTopology({ pool: 1, lbs: 1 }), { pool: 1, lbs: 1 });
  console.log(`lab topology --pool 1 --lbs 1 took ${Date.now() - began} ms`);
  assert.deepEqual(labHosts("blue"), ["blue"]);
  assert.deepEqual(labHosts("lb"), ["lb"]);
  await waitFor("no process left in the extra hosts' namespaces", async () => extraHosts.every((h) => hostProcesses(h).length === 0),
    { tries: 50 });
  for (const h of extraHosts) {
    assert.equal(lab[`LAB_${h.toUpperCase()}_SSHD_PID`], "", `lab.env: ${h} has no sshd`);
    assert.equal(await listening(addressOf(h), lab.SSH_PORT), false, `${h}'s sshd port`);
  }
  for (const h of extraHosts.filter((x) => x !== "lb2")) assert.equal(await listening(addressOf(h), lab.APP_PORT), false, `${h}'s app port`);
  assert.equal(await listening(lab.LB2_ADDR, lab.LB_PORT), false, "lb2's frontend");
  assert.equal(lab.LAB_LB2_HAPROXY_MASTER_PID, "");
  assert.equal(readHaproxyConfig(), templateRendering(live), "lb's haproxy.cfg is the template's rendering, byte for byte");
  await waitForBothUp();
  assert.equal(await frontendColor(), live);
  const topology = JSON.parse(readFileSync(lab.LAB_TOPOLOGY_CONFIG, "utf8")).apps.shop;
  assert.deepEqual(topology.hosts.blue.map((s) => s.haproxyServer), ["blue"]);
  assert.equal(topology.loadBalancer.length, 1);
  assert.equal(readFileSync(lab.LAB_BLUEGREEN_CONFIG, "utf8"), mainConfig);
});
