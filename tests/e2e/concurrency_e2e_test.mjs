// Concurrency end to end: the real bluegreen-mcp binary under the official TypeScript SDK client,
// against the lab. A status call while a deploy step runs on the same host answers in its normal
// time (issue 19 part 2), and a deploy step whose server dies (SIGKILL, or its client closing
// stdin) ends on the host within seconds, so the lock it ran under is never outlived (part 3).
// Assertions are on the lab itself (processes on the hosts, the lock) as well as on the replies.
//
// Usage: node tests/e2e/concurrency_e2e_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { configVariant, readStateFile, ssh, startClient, text } from "./support.mjs";

const mcp = await startClient({ name: "concurrency-tests" });
after(async () => mcp.close());

const tag = String(100 + (process.pid % 900));  // tells this run's processes on the hosts apart

async function liveColor() {
  const status = (await mcp.call("get_deployment_status")).structuredContent;
  return status.current.prod.server.toLowerCase();
}
const other = (color) => (color === "blue" ? "green" : "blue");

// A config whose deploy runs `run` as an extra step "slow" after "install".
function withSlowStep(run, timeoutSeconds = 60) {
  return configVariant((c) => c.apps.shop.deploy.steps.splice(3, 0, { name: "slow", run, timeoutSeconds }));
}

// Processes on `host` whose command line matches `pattern` (pgrep -f; a [x] in it keeps pgrep
// from matching the ssh command that runs it).
function processes(host, pattern) {
  return ssh(host, `pgrep -fa '${pattern}' || true`).stdout.trim();
}

async function waitFor(what, predicate, { timeoutMs = 10000, everyMs = 100 } = {}) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await predicate()) return Date.now();
    await sleep(everyMs);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function lockFree() {
  return ssh("lab-lb", "flock -n /var/lib/bluegreen/shop.json.lock true", { allowFail: true }).code === 0;
}

test("status answers in its normal time while a deploy step runs on the standby, and the deploy completes", async () => {
  const standby = `lab-${other(await liveColor())}`;
  const client = await startClient({ name: "status-during-deploy", config: withSlowStep(`sleep 8.${tag}`) });
  try {
    const idle = [];
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      await client.call("get_deployment_status");
      idle.push(Date.now() - t);
    }
    let stepStarted;
    const stepRunning = new Promise((resolve) => (stepStarted = resolve));
    const deploy = client.call("deploy_to_standby", { createBackup: false }, {
      onprogress: (p) => /slow/.test(p.message ?? "") && stepStarted(),
    });
    await stepRunning;
    await waitFor("the slow step on the standby", () => processes(standby, `[s]leep 8.${tag}`) !== "");

    const during = [];
    for (let i = 0; i < 4; i++) {
      const t = Date.now();
      const status = await client.call("get_deployment_status");
      during.push(Date.now() - t);
      assert.equal(status.isError, false, text(status));
      // It says a deploy is in progress: which step, since when, for whom.
      assert.match(text(status), /⏳ DEPLOY IN PROGRESS: deploy of .* by status-during-deploy since .*; at step \d+\/\d+: slow/);
      assert.equal(status.structuredContent.activity?.running, true, JSON.stringify(status.structuredContent.activity));
      await sleep(300);
    }
    // Another server (another client) sees it too, through the lock on the load balancer.
    const observer = await startClient({ name: "observer" });
    try {
      const seen = await observer.call("get_deployment_status");
      assert.match(text(seen), /⏳ DEPLOY IN PROGRESS: .*slow/);
    } finally {
      await observer.close();
    }
    // The step was still running throughout: the calls really overlapped it.
    assert.notEqual(processes(standby, `[s]leep 8.${tag}`), "", "the slow step ended before the status calls did");
    console.log(`status idle ${idle.join(", ")} ms; during the deploy step ${during.join(", ")} ms`);
    // Serialised behind the step, a call takes up to its 8 s; in parallel, about its idle time.
    for (const ms of during) assert.ok(ms < 3000, `a status call during the step took ${ms} ms`);

    const result = await deploy;
    assert.equal(result.isError, false, text(result));
    assert.equal(result.structuredContent.steps.find((s) => s.name === "slow")?.status, "ok");
  } finally {
    await client.close();
  }
  assert.ok(lockFree(), "lock still held after the deploy");
});

// Starts a deploy whose slow step sleeps `seconds`, waits until the step runs on the standby,
// then ends the server with `end(client)`. Returns the standby host and when the server ended.
async function deployThenEndServer(name, marker, end) {
  const standby = `lab-${other(await liveColor())}`;
  const client = await startClient({ name, config: withSlowStep(`sleep ${marker}`, 120) });
  const deploy = client.call("deploy_to_standby", { createBackup: false }).catch((e) => e);
  await waitFor("the slow step on the standby", () => processes(standby, `[s]leep ${marker}`) !== "", {
    timeoutMs: 30000,
  });
  assert.equal(lockFree(), false, "the deploy runs under the lock");
  const ended = Date.now();
  await end(client);
  await deploy;  // rejected (connection closed) or answered (cancelled)
  return { standby, ended };
}

async function assertStepGoneAndLockUsable(standby, marker, ended) {
  // No process of the step remains: the command, its shell, and the wrapper's watcher.
  const gone = await waitFor(`the step's processes on ${standby} to end`,
    () => processes(standby, `[s]leep ${marker}`) === "", { timeoutMs: 8000 });
  console.log(`the step's processes ended ${gone - ended} ms after the server did`);
  assert.ok(gone - ended < 5000, `the step outlived its server by ${gone - ended} ms`);
  await waitFor("the lock to be free", async () => lockFree(), { timeoutMs: 5000 });
  // A new deploy takes the lock and completes.
  const retry = await mcp.call("deploy_to_standby", { createBackup: false });
  assert.equal(retry.isError, false, text(retry));
  assert.equal(readStateFile().deploys.at(-1).outcome, "ok");
}

test("the server is killed (SIGKILL) mid-step: the step ends on the host within seconds, a new deploy can run", async () => {
  const marker = `31.${tag}`;
  const { standby, ended } = await deployThenEndServer("killed-server", marker, async (client) => {
    const pid = client.client.transport.pid;
    assert.ok(pid > 0, "no server pid");
    process.kill(pid, "SIGKILL");
    await client.close().catch(() => {});
  });
  await assertStepGoneAndLockUsable(standby, marker, ended);
});

test("the client closes the server's stdin mid-step: the step ends on the host within seconds, a new deploy can run",
  async () => {
    const marker = `32.${tag}`;
    const { standby, ended } = await deployThenEndServer("closing-client", marker, async (client) => {
      // The SDK's close() ends the server's stdin, then waits for it to exit.
      await client.close();
    });
    await assertStepGoneAndLockUsable(standby, marker, ended);
  });
