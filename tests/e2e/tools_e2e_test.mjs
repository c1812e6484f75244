// End-to-end tests of the deployment tools: the real bluegreen-mcp binary, driven by the official
// TypeScript SDK client, against the lab's real sshd hosts, real HAProxy and real HTTP apps.
// The tests run in order on one lab brought up fresh by the ctest fixture (BLUE live, 1.0.0 on
// both hosts, no state file) and each leaves the lab in a state the next one expects.
//
// Usage: node tests/e2e/tools_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ElicitRequestSchema, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import {
  configVariant, frontendColor, lab, labCommand, readHaproxyConfig, readStateFile, ssh, startClient, text,
  waitFor, waitForBothUp,
} from "./support.mjs";

const mcp = await startClient();
after(async () => mcp.close());


const pwned = "/tmp/bluegreen-e2e-pwned";
function assertNotPwned() {
  for (const host of ["lab-blue", "lab-green", "lab-lb"]) {
    assert.equal(ssh(host, `test -e ${pwned}`, { allowFail: true }).code, 1, `${pwned} appeared on ${host}`);
  }
}

test("status on a fresh lab: BLUE is PROD, HAProxy is read, no state file yet", async () => {
  const result = await mcp.call("get_deployment_status");
  assert.equal(result.isError, false);
  const s = result.structuredContent;
  assert.equal(s.liveColorKnown, true);
  assert.equal(s.current.prod.server, "BLUE");
  assert.equal(s.current.prod.ip, lab.BLUE_ADDR);
  assert.equal(s.current.prod.status, "✅ ONLINE");
  assert.equal(s.current.standby.server, "GREEN");
  assert.equal(s.current.standby.status, "✅ READY");
  assert.equal(s.current.prod.version, "1.0.0");
  assert.match(s.current.prod.deployedCommit, /^[0-9a-f]{40}$/);
  assert.equal(s.haproxy.backend, "blue");
  assert.equal(s.haproxy.status, "✅ OPERATIONAL");
  assert.equal(s.current.prod.haproxyView.servers[0].status, "UP");
  // HAProxy's master answers through the forwarded socket: its pid matches the pid file.
  assert.equal(String(s.haproxy.masterPid), ssh("lab-lb", "cat /run/haproxy/haproxy.pid").stdout.trim());
  assert.ok(s.haproxy.workers.length >= 1, JSON.stringify(s.haproxy));
  assert.equal(s.history.totalSwitches, 0);
  assert.equal(s.stateFile.status, "missing");
  assert.deepEqual(s.drift, []);
  assert.match(text(result), /PROD: +BLUE .*✅ ONLINE/);
});

test("hostile strings in every string argument are refused and run nothing", async () => {
  const hostile = [`$(touch ${pwned})`, `\`touch ${pwned}\``, `main; touch ${pwned}`, "it's", "a\nb", "--output=/tmp/x"];
  for (const value of hostile) {
    for (const [tool, args] of [
      ["get_deployment_status", { app: value }],
      ["deploy_to_standby", { app: value }],
      ["deploy_to_standby", { ref: value }],
      ["switch_traffic", { app: value }],
      ["switch_traffic", { approvalToken: value }],
    ]) {
      const result = await mcp.call(tool, args);
      assert.equal(result.isError, true, `${tool} ${JSON.stringify(args)}`);
      assert.match(text(result), /Invalid arguments for .*arguments\.(app|ref|approvalToken)/);
    }
  }
  // Passes the schema's pattern, but not git's ref rules: refused before anything runs.
  const dots = await mcp.call("deploy_to_standby", { ref: "main..evil" });
  assert.equal(dots.isError, true);
  assert.match(text(dots), /DEPLOY NOT STARTED: ref: "main\.\.evil" is not a valid git ref/);
  assertNotPwned();
});

test("a deploy aimed at the live colour is refused", async () => {
  const backups = ssh("lab-blue", "ls /srv/app-env/backups 2>/dev/null | wc -l").stdout;
  const result = await mcp.call("deploy_to_standby", { target: "blue" });
  assert.equal(result.isError, true);
  assert.match(text(result), /BLUE is PROD .* STANDBY, which is GREEN/s);
  assert.equal(ssh("lab-blue", "ls /srv/app-env/backups 2>/dev/null | wc -l").stdout, backups);
  assert.equal(readStateFile(), null);
});

test("the assistant cannot approve a switch by itself, and forged tokens are refused", async () => {
  const self = await mcp.call("switch_traffic", { requireApproval: false });
  assert.equal(self.isError, true);
  assert.match(text(self), /requireApproval=false cannot skip the approval/);
  const forged = await mcp.call("switch_traffic", { approvalToken: "approve-" + "0".repeat(32) });
  assert.equal(forged.isError, true);
  assert.match(text(forged), /unknown approval token/);
  assert.equal(await frontendColor(), "blue");
  assert.equal(readStateFile(), null);
});

let release;  // the 1.1.0 commit
test("release: deploy 1.1.0 to GREEN with progress, PROD untouched", async () => {
  release = labCommand("commit", "1.1.0");
  mcp.progress.length = 0;
  const result = await mcp.call("deploy_to_standby", {});
  assert.equal(result.isError, false, text(result));
  const s = result.structuredContent;
  assert.equal(s.ok, true);
  assert.equal(s.target.server, "GREEN");
  assert.equal(s.commit, release);
  assert.equal(s.version, "1.1.0");
  assert.deepEqual(s.steps.map((x) => [x.name, x.status]), [
    ["backup", "ok"], ["pull", "ok"], ["install", "ok"], ["migrate", "skipped"], ["build", "ok"], ["restart", "ok"],
    ["health gate", "ok"],
  ]);
  const messages = mcp.progress.map((p) => p.message);
  assert.ok(messages.includes("step 1/8: backup"), messages.join(" | "));
  assert.ok(messages.includes("step 6/8: restart"), messages.join(" | "));
  const values = mcp.progress.map((p) => p.progress);
  assert.deepEqual(values, [...values].sort((a, b) => a - b));
  assert.match(text(result), /PROD BLUE was not touched/);

  assert.match(ssh("lab-green", "cat /srv/app/VERSION").stdout, /1\.1\.0/);
  assert.match(ssh("lab-blue", "cat /srv/app/VERSION").stdout, /1\.0\.0/);
  assert.equal(await frontendColor(), "blue");
  const state = readStateFile();
  assert.equal(state.prod, "blue");
  assert.equal(state.generation, 1);
  assert.equal(state.deploys.at(-1).color, "green");
  assert.equal(state.deploys.at(-1).commit, release);
  assert.equal(state.deploys.at(-1).outcome, "ok");
});

let usedToken;
test("release: approval request changes nothing; the approved switch moves traffic and records it", async () => {
  const request = await mcp.call("switch_traffic", {});
  assert.equal(request.isError, false, text(request));
  const r = request.structuredContent;
  assert.equal(r.switched, false);
  assert.equal(r.approvalRequired, true);
  assert.match(r.approvalToken, /^approve-[0-9a-f]{32}$/);
  assert.equal(r.plan.from.server, "BLUE");
  assert.equal(r.plan.to.server, "GREEN");
  assert.equal(r.plan.haproxy.after.trim(), "default_backend green");
  assert.equal(r.plan.standby.version, "1.1.0");
  assert.match(text(request), /TRAFFIC SWITCH APPROVAL REQUIRED/);
  assert.equal(await frontendColor(), "blue");
  assert.equal(readStateFile().generation, 1);

  const done = await mcp.call("switch_traffic", { approvalToken: r.approvalToken });
  assert.equal(done.isError, false, text(done));
  assert.equal(done.structuredContent.switched, true);
  assert.equal(done.structuredContent.switchNumber, 1);
  assert.match(text(done), /TRAFFIC SWITCH COMPLETE!\n\nNew PROD: GREEN .*\nNew STANDBY: BLUE .*\n\nSwitch #1 completed at/s);
  usedToken = r.approvalToken;

  assert.equal(await frontendColor(), "green");
  assert.match(readHaproxyConfig(), /^\s*default_backend green\s*$/m);
  const state = readStateFile();
  assert.equal(state.prod, "green");
  assert.equal(state.standby, "blue");
  assert.equal(state.switchCount, 1);
  assert.equal(state.lastSwitch, state.history.at(-1).timestamp);
  assert.deepEqual([state.history.at(-1).from, state.history.at(-1).to], ["blue", "green"]);
  assert.equal(state.generation, 2);
  const audit = ssh("lab-lb", "tail -n 1 /var/lib/bluegreen/audit.log").stdout;
  assert.deepEqual(
    (({ app, action, client, outcome, from, to }) => ({ app, action, client, outcome, from, to }))(JSON.parse(audit)),
    { app: "shop", action: "switch", client: "e2e-tests", outcome: "ok", from: "blue", to: "green" },
  );
});

test("a used token cannot be replayed", async () => {
  const replay = await mcp.call("switch_traffic", { approvalToken: usedToken });
  assert.equal(replay.isError, true);
  assert.match(text(replay), /already used/);
  assert.equal(await frontendColor(), "green");
});

test("status after the release agrees with HAProxy and reports the deploy", async () => {
  const s = (await mcp.call("get_deployment_status")).structuredContent;
  assert.equal(s.current.prod.server, "GREEN");
  assert.equal(s.current.prod.version, "1.1.0");
  assert.equal(s.current.standby.server, "BLUE");
  assert.equal(s.history.totalSwitches, 1);
  assert.equal(s.lastDeploy.commit, release);
  assert.equal(s.stateFile.status, "ok");
  assert.deepEqual(s.drift, []);
});

test("a token for a stale plan is refused (the state changed after it was issued)", async () => {
  const stale = (await mcp.call("switch_traffic", {})).structuredContent.approvalToken;
  const deploy = await mcp.call("deploy_to_standby", {});  // BLUE gets 1.1.0 too; generation moves on
  assert.equal(deploy.isError, false, text(deploy));
  const result = await mcp.call("switch_traffic", { approvalToken: stale });
  assert.equal(result.isError, true);
  assert.match(text(result), /state file changed since the plan was made/);
  assert.equal(await frontendColor(), "green");
});

test("a token whose plan's HAProxy lines were since edited by hand (and reloaded) is refused", async () => {
  const original = readHaproxyConfig();
  const request = (await mcp.call("switch_traffic", {})).structuredContent;
  assert.match(request.plan.changeDigest, /^sha256:[0-9a-f]{64}$/);
  const generation = readStateFile().generation;
  // Someone adds a line above the route and reloads: the route the human saw is now on another line.
  ssh("lab-lb", "sed -i '/^frontend fe_app/i # added by hand' /etc/haproxy/haproxy.cfg && " +
    "echo reload | socat -t 2 - UNIX-CONNECT:/run/haproxy/master.sock");
  try {
    await waitForBothUp();
    const result = await mcp.call("switch_traffic", { approvalToken: request.approvalToken });
    assert.equal(result.isError, true, text(result));
    assert.match(text(result), /the configuration changed since the plan was made: the plan showed ".*haproxy\.cfg:\d+: +default_backend green => +default_backend blue"/);
    assert.match(text(result), /Nothing was changed/);
    assert.equal(await frontendColor(), "green");
    assert.equal(readStateFile().generation, generation);
    assert.match(readHaproxyConfig(), /# added by hand/);
  } finally {
    ssh("lab-lb", `cat > /etc/haproxy/haproxy.cfg <<'EOF'\n${original}EOF`);
    ssh("lab-lb", "echo reload | socat -t 2 - UNIX-CONNECT:/run/haproxy/master.sock");
  }
  await waitForBothUp();
});

test("an expired token is refused", async () => {
  const short = await startClient({ config: configVariant((c) => (c.apps.shop.approval.tokenTtlSeconds = 1)) });
  try {
    const token = (await short.call("switch_traffic", {})).structuredContent.approvalToken;
    await sleep(1300);
    const result = await short.call("switch_traffic", { approvalToken: token });
    assert.equal(result.isError, true);
    assert.match(text(result), /expired/);
  } finally {
    await short.close();
  }
  assert.equal(await frontendColor(), "green");
});

test("an unhealthy standby blocks a normal switch; emergency mode switches with approval", async () => {
  ssh("lab-blue", "touch /srv/app-env/unhealthy");
  try {
    const blocked = await mcp.call("switch_traffic", {});
    assert.equal(blocked.isError, true);
    assert.match(text(blocked), /STANDBY BLUE is not healthy/);

    const request = await mcp.call("switch_traffic", { emergency: true });
    assert.equal(request.isError, false, text(request));
    assert.match(text(request), /EMERGENCY MODE/);
    const noToken = await mcp.call("switch_traffic", { emergency: true, requireApproval: false });
    assert.equal(noToken.isError, true, "emergency must not skip the approval");
    const done = await mcp.call("switch_traffic", { approvalToken: request.structuredContent.approvalToken });
    assert.equal(done.isError, false, text(done));
    assert.equal(done.structuredContent.emergency, true);
    const state = readStateFile();
    assert.equal(state.prod, "blue");
    assert.equal(state.history.at(-1).emergency, true);
  } finally {
    ssh("lab-blue", "rm -f /srv/app-env/unhealthy");
  }
  // HAProxy marks BLUE up again after its rise checks.
  for (let i = 0; i < 40 && (await frontendColor().catch(() => null)) !== "blue"; i++) await sleep(100);
  assert.equal(await frontendColor(), "blue");
});

test("a lock held by someone else refuses a deploy and a switch, and says who holds it", async () => {
  const quick = await startClient({ config: configVariant((c) => (c.apps.shop.lockWaitSeconds = 1)) });
  const owner = JSON.stringify({ client: "other-operator", action: "deploy", since: "2026-01-01T00:00:00Z" });
  // -o: the lock stays with flock itself, so killing flock releases it.
  const holder = spawn("ssh", ["-F", lab.LAB_SSH_CONFIG, "lab-lb",
    `printf '%s' '${owner}' > /var/lib/bluegreen/shop.json.lock.owner; exec flock -x -o /var/lib/bluegreen/shop.json.lock sleep 20.5`]);
  try {
    for (let i = 0; i < 50 && ssh("lab-lb", "flock -n /var/lib/bluegreen/shop.json.lock true", { allowFail: true }).code === 0; i++) {
      await sleep(100);
    }
    const before = readStateFile();
    const result = await quick.call("deploy_to_standby", {});
    assert.equal(result.isError, true);
    assert.match(text(result), /locked by other-operator \(deploy\) since 2026-01-01T00:00:00Z/);
    const token = (await quick.call("switch_traffic", {})).structuredContent.approvalToken;
    const switchResult = await quick.call("switch_traffic", { approvalToken: token });
    assert.equal(switchResult.isError, true);
    assert.match(text(switchResult), /locked by other-operator/);
    assert.deepEqual(readStateFile(), before);
  } finally {
    holder.kill();
    ssh("lab-lb", "pkill -f '[f]lock -x -o /var/lib/bluegreen/shop.json.lock'; pkill -f '[s]leep 20.5'; true");
    await quick.close();
  }
  assert.equal(ssh("lab-lb", "flock -n /var/lib/bluegreen/shop.json.lock true", { allowFail: true }).code, 0, "lock still held");
});

test("a candidate config that fails haproxy -c leaves the live config untouched", async () => {
  // The validate command also loads a file with an invalid keyword (HAProxy never loads it), so
  // every candidate fails `haproxy -c` while the live config stays what HAProxy runs.
  ssh("lab-lb", "printf 'backend e2e_bogus\\n    bogus_keyword_for_e2e on\\n' > /etc/haproxy/e2e-bogus.cfg");
  const failing = await startClient({
    config: configVariant((c) => (c.apps.shop.loadBalancer.validateCommand =
      "haproxy -c -f {config} -f /etc/haproxy/e2e-bogus.cfg")),
  });
  const before = readHaproxyConfig();
  const stateBefore = readStateFile();
  try {
    const request = await failing.call("switch_traffic", {});
    assert.equal(request.isError, false, text(request));
    const result = await failing.call("switch_traffic", { approvalToken: request.structuredContent.approvalToken });
    assert.equal(result.isError, true);
    assert.match(text(result), /failed validation/);
    assert.match(text(result), /bogus_keyword_for_e2e/);
    assert.match(text(result), /live config is untouched/);
    assert.equal(readHaproxyConfig(), before);
    assert.deepEqual(readStateFile(), stateBefore);
    assert.equal(await frontendColor(), "blue");
  } finally {
    await failing.close();
    ssh("lab-lb", "rm -f /etc/haproxy/e2e-bogus.cfg");
  }
});

test("a config file broken on disk and never reloaded: no colour is called live, the switch is refused", async () => {
  // Someone broke the file on disk; HAProxy still runs the previous, valid one.
  const original = readHaproxyConfig();
  await sleep(2200);  // clearly after the running workers started
  ssh("lab-lb", "sed -i '/^backend green/a\\    bogus_keyword_for_e2e on' /etc/haproxy/haproxy.cfg");
  try {
    const status = (await mcp.call("get_deployment_status")).structuredContent;
    assert.equal(status.liveColorKnown, false, JSON.stringify(status));
    assert.match(status.problem, /HAProxy has not loaded its configuration/);
    const request = await mcp.call("switch_traffic", {});
    assert.equal(request.isError, true, text(request));
    assert.match(text(request), /has not loaded its configuration/);
    assert.equal(await frontendColor(), "blue");
  } finally {
    ssh("lab-lb", `cat > /etc/haproxy/haproxy.cfg <<'EOF'\n${original}EOF`);
    ssh("lab-lb", "echo reload | socat -t 2 - UNIX-CONNECT:/run/haproxy/master.sock");
  }
  await waitFor("status to trust the file again", async () =>
    (await mcp.call("get_deployment_status")).structuredContent.liveColorKnown === true);
});

test("a failed verification after the reload restores the previous config and says so", async () => {
  // The verify URL always answers from the live host directly, so routing can never be confirmed.
  const live = await frontendColor();
  const liveAddr = live === "blue" ? lab.BLUE_ADDR : lab.GREEN_ADDR;
  const doomed = await startClient({
    config: configVariant((c) => (c.apps.shop.loadBalancer.verifyUrl = `http://${liveAddr}:${lab.APP_PORT}/health`)),
  });
  try {
    const configBefore = readHaproxyConfig();
    const stateBefore = readStateFile();
    const token = (await doomed.call("switch_traffic", {})).structuredContent.approvalToken;
    const result = await doomed.call("switch_traffic", { approvalToken: token });
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent.rolledBack, true);
    assert.match(text(result), /FAILED AND WAS ROLLED BACK: verification after the reload failed/);
    assert.match(text(result), new RegExp(`restored and HAProxy verified routing to ${live.toUpperCase()} again`));
    assert.equal(readHaproxyConfig(), configBefore);
    assert.deepEqual(readStateFile(), stateBefore);
    assert.equal(await frontendColor(), live);
  } finally {
    await doomed.close();
  }
});

test("a corrupt state file is reported and never overwritten", async () => {
  const saved = ssh("lab-lb", "cat /var/lib/bluegreen/shop.json").stdout;
  ssh("lab-lb", "printf '{\"prod\": \"blue\", \"standby\"' > /var/lib/bluegreen/shop.json");
  try {
    const status = await mcp.call("get_deployment_status");
    assert.equal(status.structuredContent.stateFile.status, "corrupt");
    assert.match(text(status), /corrupt/);
    const sw = await mcp.call("switch_traffic", {});
    assert.equal(sw.isError, true);
    assert.match(text(sw), /corrupt.*move it aside/s);
    const deploy = await mcp.call("deploy_to_standby", {});
    assert.equal(deploy.isError, true);
    assert.match(text(deploy), /corrupt/);
    assert.equal(ssh("lab-lb", "cat /var/lib/bluegreen/shop.json").stdout, '{"prod": "blue", "standby"');
  } finally {
    ssh("lab-lb", `printf '%s' '${saved.replace(/'/g, "'\\''")}' > /var/lib/bluegreen/shop.json`);
  }
  assert.equal(readStateFile().prod, "blue");
});

test("cancelling a deploy stops the remote command and releases the lock", async () => {
  const slow = await startClient({
    config: configVariant((c) => c.apps.shop.deploy.steps.splice(2, 0, { name: "slow", run: "sleep 30.25", timeoutSeconds: 60 })),
  });
  try {
    const controller = new AbortController();
    const call = slow.call("deploy_to_standby", { createBackup: false }, {
      signal: controller.signal,
      onprogress: (p) => { if (/slow/.test(p.message)) setTimeout(() => controller.abort("stop"), 300); },
    });
    await assert.rejects(call, /stop/);
    for (let i = 0; i < 50 && ssh("lab-green", "pgrep -f '[s]leep 30.25'", { allowFail: true }).code === 0; i++) await sleep(100);
    assert.equal(ssh("lab-green", "pgrep -f '[s]leep 30.25'", { allowFail: true }).code, 1, "remote step still running");
    for (let i = 0; i < 50 && readStateFile().deploys.at(-1).outcome !== "cancelled"; i++) await sleep(100);
    assert.equal(readStateFile().deploys.at(-1).outcome, "cancelled");
  } finally {
    await slow.close();
  }
  // The lock is free again: a normal deploy goes through at once.
  const again = await mcp.call("deploy_to_standby", { createBackup: false });
  assert.equal(again.isError, false, text(again));
});

test("a client with elicitation is asked directly; accept switches, decline does not", async () => {
  for (const [answer, expectSwitch] of [["decline", false], ["accept", true]]) {
    const asked = [];
    const human = await startClient({ name: "elicitation-client", capabilities: { elicitation: {} } });
    human.client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params.message);
      return answer === "accept" ? { action: "accept", content: { approve: true } } : { action: "decline" };
    });
    try {
      const before = await frontendColor();
      const result = await human.call("switch_traffic", {});
      assert.equal(asked.length, 1);
      assert.match(asked[0], /TRAFFIC SWITCH APPROVAL REQUIRED/);
      assert.equal(result.structuredContent.switched, expectSwitch, text(result));
      assert.equal(await frontendColor(), expectSwitch ? (before === "blue" ? "green" : "blue") : before);
    } finally {
      await human.close();
    }
  }
});

test("approval.channels without token: a client without elicitation cannot approve, and no token is taken", async () => {
  const config = configVariant((c) => { c.apps.shop.approval = { channels: ["elicitation"] }; });
  const before = await frontendColor();
  const noForm = await startClient({ config, name: "no-elicitation-client" });
  try {
    const refused = await noForm.call("switch_traffic", {});
    assert.equal(refused.isError, true);
    assert.match(text(refused), /NO WAY TO APPROVE A SWITCH IN THIS CLIENT/);
    assert.doesNotMatch(text(refused), /approve-[0-9a-f]{32}/);
    const echoed = await noForm.call("switch_traffic", { approvalToken: `approve-${"0".repeat(32)}` });
    assert.equal(echoed.isError, true);
    assert.match(text(echoed), /does not accept approval tokens/);
    assert.equal(await frontendColor(), before);
    // Both refusals are in the audit log, with the client that tried.
    const refusals = ssh("lab-lb", "tail -n 2 /var/lib/bluegreen/audit.log").stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(refusals.map((r) => [r.client, r.outcome, r.stage, r.reason]), [
      ["no-elicitation-client", "refused", "approval", "no-approval-channel"],
      ["no-elicitation-client", "refused", "approval", "token-not-accepted"]]);
  } finally {
    await noForm.close();
  }
  // A client with form elicitation approves; the audit log records the channel and the client.
  const human = await startClient({ config, name: "form-client", capabilities: { elicitation: {} } });
  human.client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { approve: true } }));
  try {
    const result = await human.call("switch_traffic", {});
    assert.equal(result.structuredContent.switched, true, text(result));
    assert.notEqual(await frontendColor(), before);
  } finally {
    await human.close();
  }
  const last = JSON.parse(ssh("lab-lb", "tail -n 1 /var/lib/bluegreen/audit.log").stdout);
  assert.equal(last.action, "switch");
  assert.equal(last.outcome, "ok");
  assert.equal(last.client, "form-client");
  assert.equal(last.clientVersion, "1.0.0");
  assert.equal(last.approvedVia, "elicitation");
});

test("drift between the state file and HAProxy is reported with what to do", async () => {
  const live = await frontendColor();
  const other = live === "blue" ? "green" : "blue";
  // A hand edit: HAProxy now routes elsewhere, the state file does not know.
  ssh("lab-lb", `sed -i 's/default_backend ${live}/default_backend ${other}/' /etc/haproxy/haproxy.cfg && echo reload | socat - UNIX-CONNECT:/run/haproxy/master.sock`);
  const s = (await mcp.call("get_deployment_status")).structuredContent;
  assert.equal(s.current.prod.server, other.toUpperCase());
  assert.equal(s.drift.length, 1);
  assert.match(s.drift[0], new RegExp(`state file says PROD is ${live.toUpperCase()} but HAProxy routes to ${other.toUpperCase()}`));
  // The next write corrects the record from HAProxy's truth.
  const deploy = await mcp.call("deploy_to_standby", { createBackup: false });
  assert.equal(deploy.isError, false, text(deploy));
  assert.equal(readStateFile().prod, other);
  assert.deepEqual((await mcp.call("get_deployment_status")).structuredContent.drift, []);
});

test("resources/subscribe: a switch or refusal of this server tells the subscriber; unsubscribe stops it", async () => {
  const { client } = mcp;
  assert.equal(client.getServerCapabilities().resources.subscribe, true);
  const updated = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updated.push(n.params.uri));
  const uris = ["status", "history", "audit"].map((kind) => `bluegreen://apps/shop/${kind}`);
  for (const uri of uris) await client.subscribeResource({ uri });
  await assert.rejects(client.subscribeResource({ uri: "bluegreen://apps/nope/status" }), /Resource not found/);
  // A refused switch writes the audit log: the subscriber hears of the app's resources.
  const refused = await mcp.call("switch_traffic", { requireApproval: false });
  assert.equal(refused.isError, true);
  await waitFor("the updates", async () => uris.every((uri) => updated.includes(uri)));
  for (const uri of uris) await client.unsubscribeResource({ uri });
  updated.length = 0;
  await mcp.call("switch_traffic", { requireApproval: false });
  await sleep(200);
  assert.deepEqual(updated, []);
});

test("resources: each app's status, history and audit log, read live from the lab; {app} completes", async () => {
  const { client } = mcp;
  assert.ok(client.getServerCapabilities().resources, "server advertises resources");
  const listed = (await client.listResources()).resources.map((r) => r.uri);
  assert.deepEqual(listed, ["ui://bluegreen-mcp/deployment-panel.html", "bluegreen://apps/shop/status",
    "bluegreen://apps/shop/history", "bluegreen://apps/shop/audit"]);
  const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
  assert.deepEqual(templates, ["bluegreen://apps/{app}/status", "bluegreen://apps/{app}/history", "bluegreen://apps/{app}/audit",
    "bluegreen://results/{id}"]);

  const live = await frontendColor();
  const status = (await client.readResource({ uri: "bluegreen://apps/shop/status" })).contents;
  assert.equal(status.length, 1);
  assert.equal(status[0].mimeType, "text/plain");
  assert.match(status[0].text, new RegExp(`PROD.*${live.toUpperCase()}`, "s"));
  // The same report as the tool's (session counters aside: each request through the frontend counts).
  const sessionsAside = (t) => t.replace(/sessions: \d+ open, \d+ since the last reload/g, "sessions: …");
  assert.equal(sessionsAside(status[0].text), sessionsAside(text(await mcp.call("get_deployment_status"))));

  // The history is the state file on the LB, as the earlier tests left it.
  const history = JSON.parse((await client.readResource({ uri: "bluegreen://apps/shop/history" })).contents[0].text);
  const onDisk = readStateFile();
  assert.equal(history.app, "shop");
  assert.equal(history.stateFile, "/var/lib/bluegreen/shop.json");
  assert.equal(history.state.prod, onDisk.prod);
  assert.equal(history.state.generation, onDisk.generation);
  assert.deepEqual(history.state.history, onDisk.history);
  assert.ok(history.state.history.length >= 1, "the earlier switches are recorded");

  // The audit log's tail: JSON lines, the newest last, the same as the file's last lines.
  const audit = (await client.readResource({ uri: "bluegreen://apps/shop/audit" })).contents[0].text;
  const lines = audit.trimEnd().split("\n");
  assert.ok(lines.length >= 2 && lines.length <= 100, `${lines.length} lines`);
  const fileLines = ssh("lab-lb", "tail -n 100 /var/lib/bluegreen/audit.log").stdout.trimEnd().split("\n");
  assert.deepEqual(lines, fileLines);
  for (const line of lines) assert.equal(JSON.parse(line).app, "shop");
  assert.ok(lines.some((line) => JSON.parse(line).approvedVia === "token"), "a token approval is in the audit log");

  // Unknown apps are "not found" (-32002) naming the configured ones; {app} completes.
  await assert.rejects(client.readResource({ uri: "bluegreen://apps/nope/status" }),
    (e) => e.code === -32002 && /configured apps: shop/.test(e.message));
  const completion = await client.complete({
    ref: { type: "ref/resource", uri: "bluegreen://apps/{app}/history" }, argument: { name: "app", value: "s" },
  });
  assert.deepEqual(completion.completion.values, ["shop"]);
});

test("the server logged no errors, and never took a reloading master for an sshd that refuses forwarding", () => {
  assert.doesNotMatch(mcp.stderr(), /\[(error|critical)\]/);
  // The lab's sshd forwards UNIX sockets; the master refuses connections for moments while it
  // reloads, which must not make the server give up forwarding for socat.
  assert.doesNotMatch(mcp.stderr(), /refuses to forward UNIX sockets/);
});
