// Hosts without SFTP and with a slow login shell (issue 12), end to end: the real bluegreen-mcp
// binary under the official TypeScript SDK client, against the lab with its sshds' sftp
// Subsystem taken away (`lab sftp off`) and a /root/.bashrc on blue, green and lb that sleeps
// 0.1 s, as nvm or pyenv set-ups do. bash reads ~/.bashrc for every command sshd runs (sshd sets
// SSH_CLIENT), so each remote process start appends a line to /root/.login-starts on its host;
// the test reads those files from outside ($LAB/hosts/<host>/fs/root), which starts nothing.
// Bound: one process start per host for a status call and for a switch plan, cold or warm. The
// counts for a deploy and an approved switch are printed (they run several commands by design).
// Last, with SFTP back, a warm status starts nothing at all.
//
// Usage: node tests/e2e/no_sftp_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { lab, labCommand, startClient, text } from "./support.mjs";

const hosts = ["blue", "green", "lb"];
const root = (host) => join(lab.LAB_DIR, "hosts", host, "fs", "root");
const countFile = (host) => join(root(host), ".login-starts");
const lbFile = (path) => join(lab.LAB_DIR, "hosts", "lb", "fs", path);
const activityFile = "/var/lib/bluegreen/shop.json.lock.activity";
const lockFile = "/var/lib/bluegreen/shop.json.lock";

// Only builtins before the sleep, so counting costs no process of its own.
const slowBashrc = `# written by tests/e2e/no_sftp_e2e_test.mjs: a login shell that takes 0.1 s and counts its starts
s=\${BASH_EXECUTION_STRING//$'\\n'/ }; printf '%s\\n' "\${s:0:160}" >>/root/.login-starts
sleep 0.1
`;

function slowShells(on) {
  for (const host of hosts) {
    rmSync(countFile(host), { force: true });
    if (on) writeFileSync(join(root(host), ".bashrc"), slowBashrc);
    else rmSync(join(root(host), ".bashrc"), { force: true });
  }
}

function shellStarts() {
  return Object.fromEntries(hosts.map((host) => {
    const lines = existsSync(countFile(host)) ? readFileSync(countFile(host), "utf8").split("\n") : [];
    return [host, lines.filter((line) => line !== "")];
  }));
}

// The shells `action` started on each host: { counts: {blue, green, lb}, commands: {...}, result }.
async function startsDuring(action) {
  const before = shellStarts();
  const result = await action();
  const now = shellStarts();
  const commands = Object.fromEntries(hosts.map((host) => [host, now[host].slice(before[host].length)]));
  const counts = Object.fromEntries(hosts.map((host) => [host, commands[host].length]));
  return { counts, commands, result };
}

const oneEach = { blue: 1, green: 1, lb: 1 };
const message = (what, during) => `${what}: ${JSON.stringify(during.counts)}\n${JSON.stringify(during.commands, null, 1)}`;

// sshd's own word that SFTP was asked for and refused since `mark` (log offsets by host).
function sftpRefusals(mark) {
  return Object.fromEntries(hosts.map((host) => {
    const log = readFileSync(join(lab.LAB_DIR, "logs", `${host}-sshd.log`), "utf8").slice(mark[host]);
    return [host, (log.match(/subsystem request for sftp by user root failed, subsystem not found/g) ?? []).length];
  }));
}
const logMarks = () =>
  Object.fromEntries(hosts.map((host) => [host, readFileSync(join(lab.LAB_DIR, "logs", `${host}-sshd.log`), "utf8").length]));

before(() => {
  labCommand("sftp", "off", ...hosts);
  slowShells(true);
});
after(() => {
  slowShells(false);
  rmSync(lbFile(activityFile), { force: true });
  labCommand("sftp", "on", ...hosts);
});

test("status without SFTP starts one process per host, on the first call and warm", async () => {
  const marks = logMarks();
  const mcp = await startClient({ name: "no-sftp-status" });
  try {
    for (const call of ["first", "second", "third"]) {
      const t = Date.now();
      const during = await startsDuring(() => mcp.call("get_deployment_status"));
      const status = during.result.structuredContent;
      assert.equal(status.liveColorKnown, true, text(during.result));
      assert.match(status.current.prod.deployedCommit ?? "", /^[0-9a-f]{40}$/, text(during.result));
      assert.match(status.current.standby.deployedCommit ?? "", /^[0-9a-f]{40}$/, text(during.result));
      assert.deepEqual(during.counts, oneEach, message(`${call} status call`, during));
      console.log(`# ${call} status call: ${Date.now() - t} ms, process starts ${JSON.stringify(during.counts)}`);
    }
    // SFTP was asked for on each host's connection and refused, so everything came through cat.
    for (const [host, refusals] of Object.entries(sftpRefusals(marks))) {
      assert.ok(refusals >= 1, `${host}: sshd logged no refused sftp subsystem request`);
    }
  } finally {
    await mcp.close();
  }
});

test("without SFTP the lock of an activity record is asked in the same process", async () => {
  const mcp = await startClient({ name: "no-sftp-activity" });
  const holder = [];
  try {
    const live = (await mcp.call("get_deployment_status")).structuredContent.current.prod.server.toLowerCase();
    const standby = live === "blue" ? "green" : "blue";
    writeFileSync(lbFile(activityFile), JSON.stringify({
      action: "deploy", app: "shop", client: "other-client", since: "2026-11-30T11:00:00.000Z", serverPid: 4243,
      step: "step 5/8: build", stepSince: "2026-11-30T11:00:05.000Z", color: standby, ref: "origin/main",
    }) + "\n");

    // Its lock free: an interrupted deploy.
    let during = await startsDuring(() => mcp.call("get_deployment_status"));
    assert.deepEqual(during.counts, oneEach, message("status, interrupted deploy", during));
    assert.match(text(during.result), /AN INTERRUPTED DEPLOY was found: deploy of origin\/main/);
    assert.equal(during.result.structuredContent.activity.running, false);

    // Its lock held by another server (the LB's file, reached through the lab directory): running.
    // -o: the lock stays with flock itself, so killing it frees the lock.
    holder.push(spawn("flock", ["-x", "-o", lbFile(lockFile), "sleep", "60"], { stdio: "ignore" }));
    const held = () => execFileSync("sh", ["-c", `flock -n '${lbFile(lockFile)}' true || echo held`]).toString();
    for (let i = 0; i < 50 && !held().includes("held"); i++) await sleep(50);
    during = await startsDuring(() => mcp.call("get_deployment_status"));
    assert.deepEqual(during.counts, oneEach, message("status, deploy in progress", during));
    assert.match(text(during.result), /⏳ DEPLOY IN PROGRESS: deploy of origin\/main to [A-Z]+ by other-client/);
    assert.equal(during.result.structuredContent.activity.running, true);
  } finally {
    for (const process of holder) process.kill();
    rmSync(lbFile(activityFile), { force: true });
    await mcp.close();
  }
});

test("a switch plan without SFTP starts one process per host; deploy and switch are counted", async () => {
  const mcp = await startClient({ name: "no-sftp-switch" });
  try {
    const plan = await startsDuring(() => mcp.call("switch_traffic"));
    assert.ok(plan.result.structuredContent?.approvalToken, text(plan.result));
    assert.deepEqual(plan.counts, oneEach, message("switch plan", plan));
    console.log(`# switch plan: process starts ${JSON.stringify(plan.counts)}`);

    // Deploys and switches run several commands by design (lock, record, steps, validate,
    // reload, state): their counts are printed, not bounded.
    const deploy = await startsDuring(() => mcp.call("deploy_to_standby", { createBackup: false }));
    assert.equal(deploy.result.structuredContent.ok, true, text(deploy.result));
    console.log(`# deploy_to_standby: process starts ${JSON.stringify(deploy.counts)}`);
    const token = (await mcp.call("switch_traffic")).structuredContent.approvalToken;
    const approved = await startsDuring(() => mcp.call("switch_traffic", { approvalToken: token }));
    assert.equal(approved.result.structuredContent.switched, true, text(approved.result));
    console.log(`# switch_traffic, approved: process starts ${JSON.stringify(approved.counts)}`);
  } finally {
    await mcp.close();
  }
});

test("with SFTP back, a warm status starts no process on any host", async () => {
  labCommand("sftp", "on", ...hosts);
  const mcp = await startClient({ name: "sftp-status" });
  try {
    const first = await startsDuring(() => mcp.call("get_deployment_status"));
    assert.equal(first.result.structuredContent.liveColorKnown, true, text(first.result));
    console.log(`# with SFTP, first status call: process starts ${JSON.stringify(first.counts)}`);
    const warm = await startsDuring(() => mcp.call("get_deployment_status"));
    assert.deepEqual(warm.counts, { blue: 0, green: 0, lb: 0 }, message("warm status with SFTP", warm));
  } finally {
    await mcp.close();
  }
});
