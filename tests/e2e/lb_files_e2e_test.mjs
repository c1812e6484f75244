// Files the server writes on the load balancer, end to end: the real bluegreen-mcp binary under the
// official TypeScript SDK client, against the lab's real sshd, HAProxy and apps.
//  - Each file a deploy or switch writes or replaces (lock file, owner record, state file, audit
//    log, HAProxy candidate, backup, and the live haproxy.cfg) is planted as a symbolic link to a
//    victim file: the action is refused with a message naming the link, and on the lab itself the
//    victim, HAProxy's routing (frontend), its config file, its reload counter and the state file
//    are unchanged.
//  - Temp files of interrupted writes (state.json.tmp.*, candidate/backup temps, restore copies)
//    are removed by the next deploy or switch; a full disk never leaves a 0-byte backup.
//  - Terminal escape sequences printed by a deploy step never reach the client.
//
// The tests do not assume which colour is live when they start; each leaves the lab healthy.
// Usage: node tests/e2e/lb_files_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  assertConsistent, configVariant, frontendColor, haproxyStat, readHaproxyConfig, readStateFile, ssh,
  startClient, text, waitFor, waitForBothUp,
} from "./support.mjs";

const mcp = await startClient({ name: "lb-files-tests" });
after(async () => mcp.close());

const stateDir = "/var/lib/bluegreen";
const stateFile = `${stateDir}/shop.json`;
const cfg = "/etc/haproxy/haproxy.cfg";
const victim = `/tmp/bluegreen-lb-files-victim-${process.pid}`;
const victimText = "victim: bluegreen-mcp must never write here\n";



// HAProxy's reload counter (`show proc` on the master socket): moves with every reload.
function haproxyReloads() {
  const out = ssh("lab-lb", "echo 'show proc' | socat -t 2 - UNIX-CONNECT:/run/haproxy/master.sock").stdout;
  const master = out.split("\n").find((line) => /^\d+\s+master\s/.test(line));
  assert.ok(master, `no master line in show proc: ${out}`);
  return Number(master.split(/\s+/)[2]);
}

const fileOrNull = (path) => {
  const r = ssh("lab-lb", `cat '${path}'`, { allowFail: true });
  return r.code === 0 ? r.stdout : null;
};

// What must not change when a write is refused: the routing HAProxy runs, its config, its reloads,
// the state file.
async function labSnapshot() {
  return {
    serving: await frontendColor(),
    config: fileOrNull(cfg),
    reloads: haproxyReloads(),
    state: fileOrNull(stateFile),
  };
}

async function assertLabUnchanged(before, what) {
  assert.equal(await frontendColor(), before.serving, `${what}: the frontend serves another colour`);
  assert.equal(haproxyReloads(), before.reloads, `${what}: HAProxy was reloaded`);
  // (With the state file itself replaced by the link, the victim check below covers it.)
  if (what !== stateFile) assert.equal(fileOrNull(stateFile), before.state, `${what}: the state file changed`);
  assert.equal(fileOrNull(cfg), before.config, `${what}: haproxy.cfg changed`);
  assert.equal(ssh("lab-lb", `cat ${victim}`).stdout, victimText, `${what}: the link's target was written`);
}

// Replaces `path` by a link to the victim for the duration of `body` (the real file, if any, is
// moved aside and put back afterwards).
async function withLink(path, body) {
  ssh("lab-lb", `printf '%s' '${victimText}' > ${victim}; if [ -e '${path}' ]; then mv '${path}' '${path}.aside'; fi; ` +
    `ln -s ${victim} '${path}'`);
  try {
    await body();
    assert.equal(ssh("lab-lb", `test -L '${path}' && readlink '${path}'`).stdout.trim(), victim, "the link was replaced");
  } finally {
    ssh("lab-lb", `rm -f '${path}'; if [ -e '${path}.aside' ]; then mv '${path}.aside' '${path}'; fi; rm -f ${victim}`);
  }
}

async function planToken(client = mcp) {
  const plan = await client.call("switch_traffic", {});
  assert.equal(plan.isError, false, text(plan));
  return plan.structuredContent.approvalToken;
}


before(async () => {
  ssh("lab-lb", `rm -f ${stateDir}/shop.json.lock.owner`);
  for (const color of ["blue", "green"]) ssh(`lab-${color}`, "rm -f /srv/app-env/unhealthy /srv/app-env/flapping");
  await waitForBothUp();
});

const refusal = (path) => new RegExp(`REFUSED: ${path.replace(/[.]/g, "\\.")} is a symbolic link to ${victim}`);

for (const file of ["shop.json.lock", "shop.json.lock.owner", "shop.json", "audit.log"]) {
  test(`${stateDir}/${file} is a symbolic link: deploy and switch refuse before anything starts`, async () => {
    await waitForBothUp();
    const path = `${stateDir}/${file}`;
    const token = await planToken();
    const before = await labSnapshot();
    await withLink(path, async () => {
      const deploy = await mcp.call("deploy_to_standby", { createBackup: false });
      assert.equal(deploy.isError, true, text(deploy));
      assert.match(text(deploy), refusal(path));
      assert.match(text(deploy), /Replace the link with a regular file/);
      assert.equal(deploy.structuredContent.steps?.some((s) => s.status === "ok" || s.status === "failed") ?? false, false,
        `a deploy step ran: ${JSON.stringify(deploy.structuredContent.steps)}`);
      const switched = await mcp.call("switch_traffic", { approvalToken: token });
      assert.equal(switched.isError, true, text(switched));
      assert.equal(switched.structuredContent.switched, false);
      assert.match(text(switched), refusal(path));
      await assertLabUnchanged(before, path);
    });
    await assertConsistent(mcp);
  });
}

for (const suffix of [".bluegreen-candidate", ".bluegreen-backup"]) {
  test(`${cfg}${suffix} is a symbolic link: the switch is refused before the live config changes`, async () => {
    await waitForBothUp();
    const path = `${cfg}${suffix}`;
    const token = await planToken();
    const before = await labSnapshot();
    await withLink(path, async () => {
      const switched = await mcp.call("switch_traffic", { approvalToken: token });
      assert.equal(switched.isError, true, text(switched));
      assert.equal(switched.structuredContent.switched, false);
      assert.match(text(switched), refusal(path));
      assert.match(text(switched), /live config is untouched/);
      await assertLabUnchanged(before, path);
    });
    await assertConsistent(mcp);
  });
}

// Reloads HAProxy through its master socket and waits for the reload and both servers UP again.
async function reloadAndSettle() {
  const reloads = haproxyReloads();
  ssh("lab-lb", "echo reload | socat -t 2 - UNIX-CONNECT:/run/haproxy/master.sock");
  await waitFor("HAProxy's reload", async () => haproxyReloads() > reloads);
  await sleep(1100);  // the workers' start is told in whole seconds
  await waitForBothUp();
}

test(`${cfg} itself is a symbolic link (to a managed file): the switch refuses, says what to configure`, async () => {
  await waitForBothUp();
  const managed = "/etc/haproxy/managed-haproxy.cfg";
  // Set up as an operator would: the file moved behind a link, then HAProxy reloaded (a rename
  // changes the file's status-change time, so until a reload it counts as not loaded).
  ssh("lab-lb", `mv ${cfg} ${managed} && ln -s ${managed} ${cfg}`);
  await reloadAndSettle();
  const token = await planToken();
  const before = await labSnapshot();
  const auditBefore = fileOrNull(`${stateDir}/audit.log`);
  try {
    const switched = await mcp.call("switch_traffic", { approvalToken: token });
    assert.equal(switched.isError, true, text(switched));
    assert.equal(switched.structuredContent.switched, false);
    assert.match(text(switched), new RegExp(`REFUSED: ${cfg.replace(/[.]/g, "\\.")} is a symbolic link to ${managed}`));
    assert.match(text(switched), /loadBalancer\.haproxyConfig/);
    assert.equal(ssh("lab-lb", `readlink ${cfg}`).stdout.trim(), managed, "the link was replaced by a regular file");
    assert.equal(ssh("lab-lb", `cat ${managed}`).stdout, before.config, "the managed file was written through the link");
    assert.equal(await frontendColor(), before.serving);
    assert.equal(haproxyReloads(), before.reloads);
    assert.equal(fileOrNull(stateFile), before.state);
    assert.equal(ssh("lab-lb", `ls ${cfg}.bluegreen-candidate`, { allowFail: true }).code, 2, "a candidate was left");
    // The refusal is in the audit log (appended, not through a link).
    assert.match(fileOrNull(`${stateDir}/audit.log`).slice(auditBefore?.length ?? 0), /"outcome":"refused"/);
  } finally {
    ssh("lab-lb", `if [ -L ${cfg} ]; then rm -f ${cfg} && mv ${managed} ${cfg}; fi`);
    await reloadAndSettle();
  }
  await assertConsistent(mcp);
});

test("temp files of interrupted writes are removed by the next deploy and switch; planted links are not followed", async () => {
  await waitForBothUp();
  const stale = [
    `${stateFile}.tmp.4242.8`, `${stateFile}.tmp.Ab12Cd34Ef`,
    `${cfg}.bluegreen-candidate.tmp.Qq77Ww66Ee`, `${cfg}.bluegreen-backup.tmp.Rr55Tt44Uu`, `${cfg}.bluegreen-restore`,
  ];
  const linked = [`${stateFile}.tmp.Ln11Ln22Ln`, `${cfg}.bluegreen-candidate.tmp.Ln33Ln44Ln`];
  ssh("lab-lb", `printf '%s' '${victimText}' > ${victim}; ` +
    stale.map((p) => `printf '{"prod":' > '${p}'`).join("; ") + "; " +
    linked.map((p) => `ln -s ${victim} '${p}'`).join("; ") + `; touch ${stateDir}/unrelated.tmp.1`);
  try {
    const deploy = await mcp.call("deploy_to_standby", { createBackup: false });
    assert.equal(deploy.isError, false, text(deploy));
    const listState = () => ssh("lab-lb", `ls -a ${stateDir}`).stdout.split("\n").filter(Boolean);
    assert.deepEqual(listState().filter((n) => n.includes(".tmp.")), ["unrelated.tmp.1"], "state temp files left");

    const live = await frontendColor();
    const switched = await mcp.call("switch_traffic", { approvalToken: await planToken() });
    assert.equal(switched.isError, false, text(switched));
    const listHaproxy = ssh("lab-lb", "ls -a /etc/haproxy").stdout.split("\n").filter(Boolean);
    assert.deepEqual(listHaproxy.filter((n) => /bluegreen-(candidate|restore)|\.tmp\./.test(n)), [],
      `HAProxy temp files left: ${listHaproxy.join(" ")}`);
    assert.equal(ssh("lab-lb", `cat ${victim}`).stdout, victimText);
    assert.equal(await frontendColor(), live === "blue" ? "green" : "blue");
  } finally {
    ssh("lab-lb", `rm -f ${victim} ${stateDir}/unrelated.tmp.1 ` + [...stale, ...linked].map((p) => `'${p}'`).join(" "));
  }
  await assertConsistent(mcp);
});

test("a full disk while the backup is written: the switch is refused, and no 0-byte or partial backup is left", async () => {
  await waitForBothUp();
  const token = await planToken();
  // /etc/haproxy on a small tmpfs holding a copy of its files except the backup (the first switch
  // on a host has none; an existing one would be truncated first, freeing its page), then filled
  // up to one free page: the candidate (one page) still fits, the backup copy does not. The old
  // `cp -p cfg backup` left a 0-byte backup here.
  ssh("lab-lb", "set -e; rm -rf /tmp/haproxy-dir-copy; cp -a /etc/haproxy /tmp/haproxy-dir-copy; " +
    "mount -t tmpfs -o size=256k tmpfs /etc/haproxy; cp -a /tmp/haproxy-dir-copy/. /etc/haproxy/; " +
    `rm -f ${cfg}.bluegreen-backup; ` +
    "i=0; while dd if=/dev/zero of=/etc/haproxy/fill.$i bs=4k count=1 2>/dev/null; do i=$((i+1)); done; " +
    "rm -f /etc/haproxy/fill.$i /etc/haproxy/fill.0");
  let before;
  try {
    // The copies are new files: HAProxy loads them, as it would after such a move.
    await reloadAndSettle();
    before = await labSnapshot();
    const switched = await mcp.call("switch_traffic", { approvalToken: token });
    assert.equal(switched.isError, true, text(switched));
    assert.equal(switched.structuredContent.switched, false);
    assert.match(text(switched), /No space left on device/);
    assert.match(text(switched), /live config is untouched/);
    assert.equal(fileOrNull(`${cfg}.bluegreen-backup`), null, "a 0-byte or partial backup was left");
    const left = ssh("lab-lb", "ls -a /etc/haproxy").stdout.split("\n").filter((n) => /\.tmp\.|bluegreen-candidate/.test(n));
    assert.deepEqual(left, [], "temp files left on the full disk");
    assert.equal(await frontendColor(), before.serving);
    assert.equal(haproxyReloads(), before.reloads);
    assert.equal(fileOrNull(cfg), before.config);
  } finally {
    ssh("lab-lb", "umount /etc/haproxy; rm -rf /tmp/haproxy-dir-copy");
    await reloadAndSettle();
  }
  assert.equal(fileOrNull(stateFile), before.state);
  await assertConsistent(mcp);
});

test("terminal escape sequences printed by a deploy step never reach the client", async () => {
  await waitForBothUp();
  const noisy = await startClient({
    config: configVariant((c) => c.apps.shop.deploy.steps.splice(2, 0, {
      name: "noisy",
      // A failed step's result shows its stderr tail (stdout when stderr is empty): the same
      // sequences on both.
      run: "s='\\033[31mred alert\\033[0m\\n\\033]0;pwned title\\007\\033]52;c;ZXZpbA==\\007\\033[2J\\033[1;1Hafter\\r\\n'; " +
        "printf \"$s\"; printf \"$s\" >&2; exit 3",
      timeoutSeconds: 10,
    })),
  });
  try {
    const result = await noisy.call("deploy_to_standby", { createBackup: false });
    assert.equal(result.isError, true, text(result));
    const shown = text(result);
    assert.match(shown, /red alert/, shown);
    assert.match(shown, /after/, shown);
    assert.ok(!shown.includes("\x1b"), `ESC in the tool text: ${JSON.stringify(shown)}`);
    assert.ok(!shown.includes("\x07") && !shown.includes("\r"), `BEL/CR in the tool text: ${JSON.stringify(shown)}`);
    assert.ok(!shown.includes("pwned title"), "the OSC title string was shown");
    const structured = JSON.stringify(result.structuredContent);
    assert.ok(!/\\u001b|\x1b/i.test(structured), `ESC in structuredContent: ${structured}`);
    assert.ok(!noisy.progress.some((p) => (p.message ?? "").includes("\x1b")), "ESC in a progress message");
  } finally {
    await noisy.close();
  }
  // The failed step left the standby's old process running; a clean deploy puts it right.
  const again = await mcp.call("deploy_to_standby", { createBackup: false });
  assert.equal(again.isError, false, text(again));
  await assertConsistent(mcp);
});
