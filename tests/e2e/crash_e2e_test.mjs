// Crash safety end to end (issue 19): the real bluegreen-mcp binary is killed (SIGKILL) or loses
// its client (stdin closed) at each step of a switch and of a deploy, and HAProxy's config is
// changed by hand without a reload. Each test asserts on the lab itself (what the frontend
// serves, the config file, the state file, the activity record) that a new server never presents
// as live a colour the running HAProxy may not serve, never deploys to the colour users are on,
// and that the next switch or deploy finishes what was interrupted.
//
// Usage: node tests/e2e/crash_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import {
  binary, configVariant, frontendColor, lab, labCommand, readHaproxyConfig, readStateFile, ssh, startClient,
  text, waitFor, waitForBothUp,
} from "./support.mjs";

const activityFile = "/var/lib/bluegreen/shop.json.lock.activity";
const masterSocket = "/run/haproxy/master.sock";

const mcp = await startClient({ name: "crash-tests" });
after(async () => mcp.close());


function selectedInFile() {
  return /^\s*default_backend (\w+)\s*$/m.exec(readHaproxyConfig())?.[1];
}

function activityExists() {
  return ssh("lab-lb", `test -e ${activityFile}`, { allowFail: true }).code === 0;
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Ends the server as `how` says once `when(progress message)` is true during `tool`, and waits for
// it to be gone. Returns the messages seen.
async function killDuring(client, how, tool, args, when) {
  const pid = client.pid();
  const seen = [];
  let fired = false;
  const call = client
    .call(tool, args, {
      onprogress: (p) => {
        seen.push(p.message);
        if (!fired && when(p.message)) {
          fired = true;
          if (how === "SIGKILL") client.kill("SIGKILL");
          else client.closeStdin();
        }
      },
    })
    .catch((e) => e);
  await call;
  await waitFor(`server ${pid} to exit`, async () => !processAlive(pid), { tries: 150 });
  assert.ok(fired, `never reached the kill point; progress was: ${seen.join(" | ")}`);
  return seen;
}

// The lab as a new server sees it after a crash: status never calls a colour live unless the
// running HAProxy serves it, and a deploy never goes to the colour users are on.
async function assertStatusHonest(client) {
  const serving = await frontendColor();
  const status = (await client.call("get_deployment_status")).structuredContent;
  if (status.liveColorKnown) {
    assert.equal(status.current.prod.server, serving.toUpperCase(), "status calls a colour live that HAProxy does not serve");
    assert.equal(selectedInFile(), serving, "status trusts a file HAProxy does not run");
  }
  return { serving, status };
}

// The next switch (approved) ends with file, HAProxy, state file and status in agreement, and no
// activity record left.
async function switchAndAssertConsistent(client) {
  const plan = await client.call("switch_traffic", {});
  assert.equal(plan.isError, false, text(plan));
  const result = await client.call("switch_traffic", { approvalToken: plan.structuredContent.approvalToken });
  assert.equal(result.structuredContent.switched, true, `${text(result)}\n${JSON.stringify(result.structuredContent)}`);
  const to = result.structuredContent.to;
  await waitFor(`the frontend serving ${to}`, async () => (await frontendColor()) === to);
  assert.equal(selectedInFile(), to);
  assert.equal(readStateFile().prod, to);
  assert.equal(activityExists(), false, "the activity record was left behind");
  const status = (await client.call("get_deployment_status")).structuredContent;
  assert.equal(status.current.prod.server, to.toUpperCase());
  assert.deepEqual(status.drift, []);
  return result;
}

before(async () => {
  ssh("lab-lb", `rm -f ${activityFile}`);
  for (const color of ["blue", "green"]) ssh(`lab-${color}`, "rm -f /srv/app-env/unhealthy /srv/app-env/flapping");
  // Both colours on the same commit, so a switch in either direction passes the plan.
  await waitFor("both hosts healthy", async () => {
    const status = (await mcp.call("get_deployment_status")).structuredContent;
    return status.liveColorKnown && status.current.standby.healthy && status.current.prod.healthy;
  }, { tries: 200 });
});

// --- the server dies during a switch --------------------------------------------------------

// A slow reload command widens the window between the swap and the reload, where a crash leaves
// a file HAProxy has not loaded.
const slowReload = () =>
  configVariant((c) => (c.apps.shop.loadBalancer.reloadCommand =
    "sleep 1.5; echo reload | socat -t 2 - UNIX-CONNECT:{masterSocket}"));

for (const how of ["SIGKILL", "stdin closed"]) {
  for (const step of ["re-checking the plan", "validating the new HAProxy config", "reloading HAProxy",
                      "verifying HAProxy routes", "recording switch"]) {
    test(`the server is killed (${how}) at "${step}" of a switch: nothing is presented as live that is not, and the next switch finishes it`, async () => {
      const victim = await startClient({ name: "doomed-switch", config: slowReload() });
      const plan = await victim.call("switch_traffic", {});
      assert.equal(plan.isError, false, text(plan));
      await killDuring(victim, how, "switch_traffic", { approvalToken: plan.structuredContent.approvalToken },
        (message) => message.includes(step));
      await sleep(2000);  // whatever the host still does (a reload already sent) has landed

      const { serving, status } = await assertStatusHonest(mcp);
      if (!status.liveColorKnown) {
        // Nothing may be deployed while it is unknown which colour users are on.
        const deploy = await mcp.call("deploy_to_standby", { pullGithub: false, createBackup: false });
        assert.equal(deploy.isError, true, text(deploy));
        assert.match(text(deploy), /DEPLOY NOT STARTED/);
        assert.match(status.problem, /INTERRUPTED SWITCH|not loaded its configuration|switch is in progress/);
      }
      assert.equal(await frontendColor(), serving);
      await switchAndAssertConsistent(mcp);
    });
  }
}

// --- the server dies during a deploy --------------------------------------------------------

const slowBuild = () =>
  configVariant((c) => {
    const build = c.apps.shop.deploy.steps.find((s) => s.name === "build");
    build.run = `sleep 3 && ${build.run}`;
  });

for (const how of ["SIGKILL", "stdin closed"]) {
  for (const step of ["build", "restart", "health gate"]) {
    test(`the server is killed (${how}) at the ${step} step of a deploy: the deploy is reported interrupted, the switch refuses, the next deploy records it`, async () => {
      const prodBefore = await frontendColor();
      const victim = await startClient({ name: "doomed-deploy", config: slowBuild() });
      await killDuring(victim, how, "deploy_to_standby", { pullGithub: false, createBackup: false },
        (message) => new RegExp(`step \\d+/\\d+: ${step}`).test(message));
      await sleep(500);

      assert.equal(await frontendColor(), prodBefore, "a deploy moved traffic");
      const { status } = await assertStatusHonest(mcp);
      assert.equal(status.liveColorKnown, true, JSON.stringify(status));
      // Killed, the server leaves its activity record; a client that goes away makes the server
      // cancel the deploy and record it as cancelled before it exits.
      const ended = how === "SIGKILL" ? "interrupted" : "cancelled";
      if (how === "SIGKILL") {
        assert.equal(status.activity?.interrupted, true, JSON.stringify(status.activity));
        assert.ok(status.drift.some((d) => d.includes("AN INTERRUPTED DEPLOY")), status.drift.join("\n"));
      } else {
        assert.equal(status.activity, null, JSON.stringify(status.activity));
        assert.equal(readStateFile().deploys.at(-1).outcome, "cancelled");
      }

      const plan = await mcp.call("switch_traffic", {});
      assert.equal(plan.isError, true, text(plan));
      assert.match(text(plan), how === "SIGKILL" ? /was interrupted/ : /\) cancelled/);

      const redeploy = await mcp.call("deploy_to_standby", { pullGithub: false, createBackup: false });
      assert.equal(redeploy.isError, false, text(redeploy));
      const deploys = readStateFile().deploys;
      assert.equal(deploys.at(-1).outcome, "ok");
      assert.equal(deploys.at(-2).outcome, ended);
      assert.equal(activityExists(), false);
      assert.equal(await frontendColor(), prodBefore);
    });
  }
}

// --- the config is changed by hand and never reloaded ----------------------------------------

test("HAProxy's config edited by hand without a reload: status calls nothing live, deploy and switch refuse, a reload resolves it", async () => {
  const serving = await frontendColor();
  const other = serving === "blue" ? "green" : "blue";
  const original = readHaproxyConfig();
  await sleep(2500);  // clearly after the running workers started
  ssh("lab-lb", `sed -i 's/^\\(\\s*default_backend\\) ${serving}\\s*$/\\1 ${other}/' /etc/haproxy/haproxy.cfg`);
  try {
    assert.equal(selectedInFile(), other);
    assert.equal(await frontendColor(), serving, "HAProxy reloaded by itself?");
    const status = (await mcp.call("get_deployment_status")).structuredContent;
    assert.equal(status.liveColorKnown, false, JSON.stringify(status));
    assert.match(status.problem, /HAProxy has not loaded its configuration/);
    const statusText = text(await mcp.call("get_deployment_status"));
    assert.match(statusText, /echo reload \| socat/);

    const deploy = await mcp.call("deploy_to_standby", { pullGithub: false, createBackup: false });
    assert.equal(deploy.isError, true, text(deploy));
    const plan = await mcp.call("switch_traffic", {});
    assert.equal(plan.isError, true, text(plan));
    assert.match(text(plan), /has not loaded its configuration/);
  } finally {
    // Put it back and reload, as the status text says.
    ssh("lab-lb", `cat > /etc/haproxy/haproxy.cfg <<'EOF'\n${original}EOF`);
    ssh("lab-lb", `echo reload | socat -t 2 - UNIX-CONNECT:${masterSocket}`);
  }
  await waitFor("status to trust the file again", async () =>
    (await mcp.call("get_deployment_status")).structuredContent.liveColorKnown === true);
  assert.equal(await frontendColor(), serving);
});

// --- a verification that could never succeed (part 5) ---------------------------------------

// Runs check-config on the lab's config; returns its output (it exits 1 when a check fails).
function checkConfig() {
  const r = spawnSync(binary, ["check-config", "--config", lab.LAB_BLUEGREEN_CONFIG], { encoding: "utf8", timeout: 60000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

// The lab app's health JSON names its colour from app.env; without it, it says "unknown".
function setNamesColour(names) {
  for (const color of ["blue", "green"]) {
    const env = "/srv/app-env/app.env";
    ssh(`lab-${color}`, names
      ? `grep -q '^APP_COLOR=' ${env} || echo 'APP_COLOR=${color}' >> ${env}; cd /srv/app && ./appctl restart`
      : `sed -i '/^APP_COLOR=/d' ${env}; cd /srv/app && ./appctl restart`);
  }
}

test("an app whose health names no colour: told apart by commit, and refused before traffic moves when nothing tells", async () => {
  setNamesColour(false);
  try {
    await waitForBothUp();
    const status = (await mcp.call("get_deployment_status")).structuredContent;
    const prod = status.current.prod;
    const standby = status.current.standby;
    // Same commit on both: nothing can tell which colour answers through the frontend.
    if (standby.deployedCommit !== prod.deployedCommit) {
      const deploy = await mcp.call("deploy_to_standby", { ref: prod.deployedCommit, createBackup: false });
      assert.equal(deploy.isError, false, text(deploy));
    }
    await waitForBothUp();
    const plan = await mcp.call("switch_traffic", {});
    assert.equal(plan.isError, true, text(plan));
    assert.match(text(plan), /its verification could never succeed/);
    const checked = checkConfig();
    assert.equal(checked.code, 1, checked.out);
    assert.match(checked.out, /verification.*names no colour/);

    // A new commit on the standby: the frontend's commit tells the colours apart.
    labCommand("commit", "9.9.9");
    const deploy = await mcp.call("deploy_to_standby", { createBackup: false });
    assert.equal(deploy.isError, false, text(deploy));
    await waitForBothUp();
    assert.match(checkConfig().out, /tells the colours apart by commit/);
    const newCommit = (await mcp.call("get_deployment_status")).structuredContent.current.standby.deployedCommit;
    const plan2 = await mcp.call("switch_traffic", {});
    assert.equal(plan2.isError, false, text(plan2));
    const result = await mcp.call("switch_traffic", { approvalToken: plan2.structuredContent.approvalToken });
    assert.equal(result.structuredContent.switched, true, text(result));
    assert.match(text(result), /answers from/);
    const to = result.structuredContent.to;
    assert.equal(selectedInFile(), to);
    assert.equal(readStateFile().prod, to);
    // What users get now is the new commit (the health JSON names no colour).
    const answered = JSON.parse(await (await fetch(`${lab.LAB_FRONTEND_URL}health`)).text());
    assert.equal(answered.commit, newCommit);
  } finally {
    setNamesColour(true);
    await waitForBothUp();
  }
});
