// Fault injection end to end: the real bluegreen-mcp binary under the official TypeScript SDK
// client, against the lab's real sshd hosts, HAProxy and apps, while connections die, hosts
// freeze, disks fill up, health flaps and clients race. Each test asserts what the server reports
// and that the load balancer and the state file are left consistent.
//
// The tests do not assume which colour is live when they start; each leaves the lab healthy.
// Usage: node tests/e2e/faults_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  assertConsistent, configVariant, dropSshConnections, freezeSshd, frontendColor, haproxyStat,
  readHaproxyConfig, readStateFile, ssh, sshdProcesses, startClient, text, waitFor, waitForBothUp,
} from "./support.mjs";

const mcp = await startClient({ name: "fault-tests" });
after(async () => mcp.close());

const other = (color) => (color === "blue" ? "green" : "blue");
const hostOf = (color) => `lab-${color}`;
const masterSocket = "/run/haproxy/master.sock";




// Step 1 of a switch: the plan's approval token (the plan must be offered).
async function planToken(client) {
  const plan = await client.call("switch_traffic", {});
  assert.equal(plan.isError, false, text(plan));
  return plan.structuredContent.approvalToken;
}

before(async () => {
  ssh("lab-lb", "rm -f /var/lib/bluegreen/shop.json.lock.owner");
  for (const color of ["blue", "green"]) ssh(hostOf(color), "rm -f /srv/app-env/unhealthy /srv/app-env/flapping");
  await waitForBothUp();
});

test("two clients approving at the same moment: exactly one switch happens", async () => {
  const live = await assertConsistent(mcp);
  const before = readStateFile()?.switchCount ?? 0;
  const alice = await startClient({ name: "alice" });
  const bob = await startClient({ name: "bob" });
  try {
    const [a, b] = await Promise.all([alice.call("switch_traffic", {}), bob.call("switch_traffic", {})]);
    assert.equal(a.isError, false, text(a));
    assert.equal(b.isError, false, text(b));
    const results = await Promise.all([
      alice.call("switch_traffic", { approvalToken: a.structuredContent.approvalToken }),
      bob.call("switch_traffic", { approvalToken: b.structuredContent.approvalToken }),
    ]);
    const switched = results.filter((r) => r.structuredContent?.switched === true);
    const refused = results.filter((r) => r.isError);
    assert.equal(switched.length, 1, results.map(text).join("\n---\n"));
    assert.equal(refused.length, 1);
    assert.match(text(refused[0]), /live colour changed since the plan was made|state file changed since the plan/);
    assert.match(text(refused[0]), /Nothing was changed/);
  } finally {
    await alice.close();
    await bob.close();
  }
  const state = readStateFile();
  assert.equal(state.switchCount, before + 1);
  assert.equal(state.prod, other(live));
  assert.equal(await assertConsistent(mcp), other(live));
});

test("a flapping standby never passes: not at planning, not at execution, not in a deploy's health gate", async () => {
  await waitForBothUp();
  const live = await assertConsistent(mcp);
  const standby = hostOf(other(live));
  const stateBefore = readStateFile();
  // A short deploy health gate, so the flapping deploy fails in seconds rather than 30.
  const quick = await startClient({ config: configVariant((c) => (c.apps.shop.healthGate.timeoutSeconds = 3)) });
  try {
    // A plan made while the standby was healthy; then it starts flapping.
    const token = await planToken(mcp);
    ssh(standby, "touch /srv/app-env/flapping");

    const planned = await mcp.call("switch_traffic", {});
    assert.equal(planned.isError, true, text(planned));
    assert.match(text(planned), /is not healthy/);

    const executed = await mcp.call("switch_traffic", { approvalToken: token });
    assert.equal(executed.isError, true, text(executed));
    assert.match(text(executed), /not healthy now/);
    assert.equal(executed.structuredContent.switched, false);
    // The candidate config, checked while the standby was probed, was removed again.
    assert.equal(ssh("lab-lb", "ls /etc/haproxy/haproxy.cfg.bluegreen-candidate", { allowFail: true }).code, 2);

    const deployed = await quick.call("deploy_to_standby", { createBackup: false });
    assert.equal(deployed.isError, true, text(deployed));
    assert.match(text(deployed), /health gate/);
    assert.equal(await frontendColor(), live);
  } finally {
    ssh(standby, "rm -f /srv/app-env/flapping");
    await quick.close();
  }
  const stateAfter = readStateFile();
  assert.equal(stateAfter.switchCount, stateBefore.switchCount);
  assert.equal(stateAfter.prod, live);
  assert.equal(stateAfter.deploys.at(-1).outcome, "failed");
  // Healthy again: a deploy goes through.
  const again = await mcp.call("deploy_to_standby", { createBackup: false });
  assert.equal(again.isError, false, text(again));
  await assertConsistent(mcp);
});

test("the connection to the standby dies during a deploy step: the step fails, the lock is freed, a retry works", async () => {
  const live = await assertConsistent(mcp);
  const standby = other(live);
  const slow = await startClient({
    config: configVariant((c) => c.apps.shop.deploy.steps.splice(2, 0, { name: "slow", run: "sleep 7.25", timeoutSeconds: 60 })),
  });
  try {
    let dropped = 0;
    const result = await slow.call("deploy_to_standby", { createBackup: false }, {
      onprogress: (p) => {
        if (/slow/.test(p.message)) setTimeout(() => (dropped = dropSshConnections(standby)), 500);
      },
    });
    assert.ok(dropped > 0, "no ssh session was dropped");
    assert.equal(result.isError, true, text(result));
    const steps = result.structuredContent.steps;
    const failed = steps.find((s) => s.status === "failed");
    assert.equal(failed?.name, "slow", JSON.stringify(steps));
    assert.match(text(result), /DEPLOY.*FAILED/s);
    assert.match(text(result), /connection|lost|closed/i);
    assert.equal(readStateFile().deploys.at(-1).outcome, "failed");
  } finally {
    await slow.close();
  }
  // The lock was released with the failed deploy: a retry starts at once and works.
  assert.equal(ssh("lab-lb", "flock -n /var/lib/bluegreen/shop.json.lock true", { allowFail: true }).code, 0, "lock still held");
  const retry = await mcp.call("deploy_to_standby", { createBackup: false });
  assert.equal(retry.isError, false, text(retry));
  assert.equal(await frontendColor(), live);
  await assertConsistent(mcp);
});

// Runs `body` with /var/lib/bluegreen on the LB replaced by `mountCommand`'s filesystem holding a
// copy of the current contents; puts the real directory back afterwards.
async function withStateDir(mountCommand, body) {
  ssh("lab-lb", `set -e; rm -rf /tmp/state-copy; cp -a /var/lib/bluegreen /tmp/state-copy; ${mountCommand}`);
  try {
    await body();
  } finally {
    ssh("lab-lb", "umount /var/lib/bluegreen; rm -rf /tmp/state-copy");
  }
}

async function assertSwitchAbortedWithStateIntact(expected) {
  await waitForBothUp();
  const live = await frontendColor();
  const stateBefore = ssh("lab-lb", "cat /var/lib/bluegreen/shop.json").stdout;
  const configBefore = readHaproxyConfig();
  const request = await mcp.call("switch_traffic", {});
  assert.equal(request.isError, false, text(request));
  const result = await mcp.call("switch_traffic", { approvalToken: request.structuredContent.approvalToken });
  assert.equal(result.isError, true, text(result));
  assert.equal(result.structuredContent.switched, false);
  assert.match(text(result), expected);
  assert.equal(await frontendColor(), live);
  assert.equal(readHaproxyConfig(), configBefore);
  assert.equal(ssh("lab-lb", "cat /var/lib/bluegreen/shop.json").stdout, stateBefore);
  assert.equal(ssh("lab-lb", "ls /var/lib/bluegreen | grep -c -v -E '^(shop\\.json|shop\\.json\\.lock|shop\\.json\\.lock\\.owner|audit\\.log|filler)$'", { allowFail: true }).stdout.trim(), "0",
    "temporary files left behind");
  assert.equal(ssh("lab-lb", "ls /etc/haproxy/haproxy.cfg.bluegreen-candidate", { allowFail: true }).code, 2,
    "the candidate HAProxy config was left behind");
}

test("the LB's state filesystem is full: the switch is aborted before traffic moves, the state file intact", async () => {
  await withStateDir(
    "mount -t tmpfs -o size=256k tmpfs /var/lib/bluegreen; cp -a /tmp/state-copy/. /var/lib/bluegreen/; " +
      "dd if=/dev/zero of=/var/lib/bluegreen/filler bs=4k 2>/dev/null || true",
    () => assertSwitchAbortedWithStateIntact(/No space left on device/),
  );
  await assertConsistent(mcp);
});

test("the LB's state directory is read-only: the switch is aborted before traffic moves, the state file intact", async () => {
  await withStateDir(
    "mount -t tmpfs -o size=1m tmpfs /var/lib/bluegreen; cp -a /tmp/state-copy/. /var/lib/bluegreen/; " +
      "mount -o remount,ro /var/lib/bluegreen",
    () => assertSwitchAbortedWithStateIntact(/Read-only file system/),
  );
  await assertConsistent(mcp);
});

test("a reload that fails: the previous config is restored and verified, the state file unchanged", async () => {
  await waitForBothUp();
  const live = await frontendColor();
  const flaky = await startClient({
    config: configVariant((c) => (c.apps.shop.loadBalancer.reloadCommand =
      "if [ -e /tmp/fail-next-reload ]; then rm -f /tmp/fail-next-reload; echo 'simulated reload failure' >&2; exit 1; fi; " +
      "echo reload | socat -t 2 - UNIX-CONNECT:{masterSocket}")),
  });
  try {
    const configBefore = readHaproxyConfig();
    const stateBefore = readStateFile();
    const token = await planToken(flaky);
    ssh("lab-lb", "touch /tmp/fail-next-reload");
    const result = await flaky.call("switch_traffic", { approvalToken: token });
    assert.equal(result.isError, true, text(result));
    assert.equal(result.structuredContent.rolledBack, true);
    assert.match(text(result), /reloading HAProxy failed: simulated reload failure/);
    assert.match(text(result), new RegExp(`restored and HAProxy verified routing to ${live.toUpperCase()} again`));
    assert.equal(readHaproxyConfig(), configBefore);
    assert.deepEqual(readStateFile(), stateBefore);
    assert.equal(await frontendColor(), live);
  } finally {
    ssh("lab-lb", "rm -f /tmp/fail-next-reload");
    await flaky.close();
  }
  await assertConsistent(mcp);
});

test("HAProxy's master frozen (SIGSTOP) before the switch: refused, nothing changed", async () => {
  await waitForBothUp();
  const live = await frontendColor();
  const stateBefore = readStateFile();
  const configBefore = readHaproxyConfig();
  const token = await planToken(mcp);
  const master = ssh("lab-lb", "cat /run/haproxy/haproxy.pid").stdout.trim();
  ssh("lab-lb", `kill -STOP ${master}`);
  try {
    const result = await mcp.call("switch_traffic", { approvalToken: token });
    assert.equal(result.isError, true, text(result));
    assert.match(text(result), /cannot read HAProxy's master socket.*reload cannot be confirmed, so nothing was changed/s);
  } finally {
    ssh("lab-lb", `kill -CONT ${master}`);
  }
  assert.equal(readHaproxyConfig(), configBefore);
  assert.deepEqual(readStateFile(), stateBefore);
  assert.equal(await frontendColor(), live);
  await assertConsistent(mcp);
});

test("HAProxy's master frozen (SIGSTOP) during the reload: the call gives up, says so, and status tells the truth", async () => {
  await waitForBothUp();
  const live = await frontendColor();
  const stateBefore = readStateFile();
  const master = ssh("lab-lb", "cat /run/haproxy/haproxy.pid").stdout.trim();
  // The master stops just as it is asked to reload.
  const freezing = await startClient({
    config: configVariant((c) => (c.apps.shop.loadBalancer.reloadCommand =
      `kill -STOP ${master}; echo reload | socat -t 2 - UNIX-CONNECT:{masterSocket}`)),
  });
  try {
    const token = await planToken(freezing);
    const result = await freezing.call("switch_traffic", { approvalToken: token });
    assert.equal(result.isError, true, text(result));
    assert.equal(result.structuredContent.switched, false);
    assert.match(text(result), /HAProxy did not report a completed reload/);
    assert.equal(result.structuredContent.rollbackVerified, false, text(result));
    assert.match(text(result), /does not answer/);
    assert.match(text(result), /get_deployment_status/);
    // Status reads the file and the stats socket (the old worker still serves): the truth.
    const frozen = (await mcp.call("get_deployment_status")).structuredContent;
    assert.equal(frozen.current.prod.server, live.toUpperCase());
    assert.deepEqual(frozen.drift, []);
    // ... and says the master does not answer.
    assert.ok(frozen.warnings.some((w) => /cannot read HAProxy's master socket/.test(w)), JSON.stringify(frozen.warnings));
  } finally {
    ssh("lab-lb", `kill -CONT ${master}`);
    await freezing.close();
  }
  // The master works through what was queued; the restored config is what it runs.
  await waitFor("HAProxy's master answering again", async () =>
    ssh("lab-lb", `echo 'show proc' | socat -t 2 - UNIX-CONNECT:${masterSocket}`).stdout.includes("master"));
  await waitFor(`the frontend serving ${live}`, async () => (await frontendColor()) === live);
  assert.deepEqual(readStateFile(), stateBefore);
  await assertConsistent(mcp);
});

test("the LB's SSH session dies during the reload: the switch is rolled back over a new connection", async () => {
  await waitForBothUp();
  const live = await frontendColor();
  const slowReload = await startClient({
    config: configVariant((c) => (c.apps.shop.loadBalancer.reloadCommand =
      "sleep 1.5; echo reload | socat -t 2 - UNIX-CONNECT:{masterSocket}")),
  });
  try {
    const stateBefore = readStateFile();
    const token = await planToken(slowReload);
    const result = await slowReload.call("switch_traffic", { approvalToken: token }, {
      onprogress: (p) => {
        if (/reloading HAProxy/.test(p.message)) setTimeout(() => dropSshConnections("lb"), 300);
      },
    });
    assert.equal(result.isError, true, text(result));
    assert.equal(result.structuredContent.switched, false);
    assert.match(text(result), /reloading HAProxy failed/);
    assert.equal(result.structuredContent.rolledBack, true, text(result));
    // The orphaned reload may still land after the rollback; either way the restored file wins.
    await sleep(2500);
    assert.deepEqual(readStateFile(), stateBefore);
    assert.equal(await frontendColor(), live);
  } finally {
    await slowReload.close();
  }
  await assertConsistent(mcp);
});

test("the LB is unreachable mid-switch (sshd frozen during the reload): reported, and no stale plan can run", async () => {
  await waitForBothUp();
  const live = await frontendColor();
  const partitioned = await startClient({
    config: configVariant((c) => {
      c.apps.shop.loadBalancer.reloadCommand = "sleep 1; echo reload | socat -t 2 - UNIX-CONNECT:{masterSocket}";
      c.apps.shop.loadBalancer.commandTimeoutSeconds = 4;
      c.ssh.connectTimeoutSeconds = 2;
    }),
  });
  const stateBefore = readStateFile();
  let result;
  let spare;
  try {
    const token = await planToken(partitioned);
    spare = await planToken(mcp);  // a second plan, same moment
    result = await partitioned.call("switch_traffic", { approvalToken: token }, {
      onprogress: (p) => {
        if (/reloading HAProxy/.test(p.message)) setTimeout(() => freezeSshd("lb", true), 200);
      },
    });
  } finally {
    freezeSshd("lb", false);
    await partitioned.close();
  }
  assert.equal(result.isError, true, text(result));
  assert.equal(result.structuredContent.switched, false);
  assert.equal(result.structuredContent.rolledBack, false, "a rollback that could not run must not be reported as done");
  assert.match(text(result), /THE ROLLBACK FAILED — ACTION NEEDED/);
  assert.match(text(result), /bluegreen-backup/);
  assert.match(text(result), /get_deployment_status/);

  // Back online: HAProxy may have taken the new config while we could not see it; the state file
  // was not written. The switch's activity record is still there, so status calls no colour live
  // and says which switch was left halfway and how far it got.
  await sleep(1500);
  const serving = await frontendColor();
  const status = (await mcp.call("get_deployment_status")).structuredContent;
  assert.equal(status.liveColorKnown, false, JSON.stringify(status));
  assert.match(status.problem, /AN INTERRUPTED SWITCH was found/);
  assert.equal(status.activity.interrupted, true);
  assert.deepEqual(readStateFile(), stateBefore);
  // The plan made before the fault cannot run now: it did not show the rollback.
  const stale = await mcp.call("switch_traffic", { approvalToken: spare });
  assert.equal(stale.isError, true, text(stale));
  assert.match(text(stale), /the approved plan did not include/);
  assert.equal(await frontendColor(), serving);
  // Nothing is deployed while it is unknown which colour users are on.
  const deploy = await mcp.call("deploy_to_standby", { createBackup: false });
  assert.equal(deploy.isError, true, text(deploy));
  assert.match(text(deploy), /INTERRUPTED SWITCH/);

  // A new plan shows the rollback; approved, it rolls the interrupted switch back, then switches.
  const plan = await mcp.call("switch_traffic", {});
  assert.equal(plan.isError, false, text(plan));
  assert.match(text(plan), /AN INTERRUPTED SWITCH will be rolled back first/);
  await waitForBothUp();
  const done = await mcp.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken });
  assert.equal(done.structuredContent.switched, true, text(done));
  assert.match(text(done), /Before the switch, the interrupted switch/);
  await waitFor(`the frontend serving ${other(live)}`, async () => (await frontendColor()) === other(live));
  await assertConsistent(mcp);
});

test("the LB's sshd stops between validation and reload: the reload never happens; status and deploy see the truth", async () => {
  await waitForBothUp();
  const live = await frontendColor();
  const next = other(live);
  const stateBefore = readStateFile();
  const { listener } = sshdProcesses("lb");
  // The reload command freezes the LB's sshd (listener and sessions) instead of reloading.
  const freezeSelf = `l=${listener}; p=$(pgrep -x -P $l sshd | tr '\\n' ' '); ` +
    "c=$(for x in $p; do pgrep -x -P $x sshd; done | tr '\\n' ' '); kill -STOP $l $p $c";
  const partitioned = await startClient({
    config: configVariant((c) => {
      c.apps.shop.loadBalancer.reloadCommand = freezeSelf;
      c.apps.shop.loadBalancer.commandTimeoutSeconds = 3;
      c.ssh.connectTimeoutSeconds = 2;
    }),
  });
  let result;
  try {
    const token = await planToken(partitioned);
    result = await partitioned.call("switch_traffic", { approvalToken: token });
  } finally {
    freezeSshd("lb", false);
    await partitioned.close();
  }
  assert.equal(result.isError, true, text(result));
  assert.equal(result.structuredContent.rolledBack, false);
  assert.match(text(result), /THE ROLLBACK FAILED — ACTION NEEDED/);

  // The file selects the new colour; HAProxy never reloaded it; the state file was not written.
  assert.match(readHaproxyConfig(), new RegExp(`^\\s*default_backend ${next}\\s*$`, "m"));
  assert.equal(await frontendColor(), live);
  assert.deepEqual(readStateFile(), stateBefore);
  // Status calls no colour live, and says how far the switch got: users are still on `live`.
  const status = (await mcp.call("get_deployment_status")).structuredContent;
  assert.equal(status.liveColorKnown, false, JSON.stringify(status));
  assert.match(status.problem, new RegExp(`HAProxy was not reloaded, so users are still on ${live.toUpperCase()}`));
  // Nothing acts on the file's word while it may not be what HAProxy runs.
  const deploy = await mcp.call("deploy_to_standby", { createBackup: false });
  assert.equal(deploy.isError, true, text(deploy));
  assert.match(text(deploy), /INTERRUPTED SWITCH/);
  const plan = await mcp.call("switch_traffic", {});
  assert.equal(plan.isError, false, text(plan));
  assert.match(text(plan), /AN INTERRUPTED SWITCH will be rolled back first/);

  // Following the instructions by hand (keep what users are on) makes everything agree again.
  const byHand = /Or roll it back by hand \(on lab-lb: (.*), then rm -f (\S+)\)/.exec(status.problem);
  assert.ok(byHand, status.problem);
  assert.match(byHand[1], /cp -p \/etc\/haproxy\/haproxy.cfg.bluegreen-backup \/etc\/haproxy\/haproxy.cfg/);
  ssh("lab-lb", "cp -p /etc/haproxy/haproxy.cfg.bluegreen-backup /etc/haproxy/haproxy.cfg");
  ssh("lab-lb", `echo reload | socat -t 2 - UNIX-CONNECT:${masterSocket}`);
  ssh("lab-lb", `rm -f ${byHand[2]}`);
  await waitForBothUp();
  assert.equal(await assertConsistent(mcp), live);
});
