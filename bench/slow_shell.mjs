// Status on hosts whose login shell is slow (issue 12): /root/.bashrc on blue, green and lb sleeps
// 0.1 s, as nvm or pyenv set-ups do (bash reads it for every command sshd runs), and each start is
// counted in /root/.login-starts, read from outside the host. get_deployment_status is timed with
// SFTP (the lab's default) and without it (`lab sftp off`: sshd offers no sftp Subsystem, so the
// files are read with cat), each on a fresh server: its first call, then warm calls. Prints the
// figures, the ratio and the process starts per host and call; asserts nothing. Restores the lab.
// Run through bench/run (after bench.mjs and bench_remote_exec: it changes the lab's hosts while it
// runs; bench/pools.mjs, which changes the topology, comes after it).
//
// Usage: node bench/slow_shell.mjs BINARY CONFIG LAB_SCRIPT
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RpcClient, ms, summary } from "./rpc_client.mjs";

const [binary, config, labScript] = process.argv.slice(2);
const labDir = config.replace(/\/bluegreen-mcp\.json$/, "");
const hosts = ["blue", "green", "lb"];
const root = (host) => join(labDir, "hosts", host, "fs", "root");
const counter = (host) => join(root(host), ".login-starts");
const lab = (...args) => execFileSync(labScript, args, { stdio: ["ignore", "ignore", "inherit"] });
const delay = 0.1;  // seconds the login shell takes beyond its normal start

function slowShells(on) {
  for (const host of hosts) {
    rmSync(counter(host), { force: true });
    if (on) {
      writeFileSync(join(root(host), ".bashrc"),
        `# written by bench/slow_shell.mjs\nprintf '.\\n' >>/root/.login-starts\nsleep ${delay}\n`);
    } else {
      rmSync(join(root(host), ".bashrc"), { force: true });
    }
  }
}
const starts = () =>
  hosts.map((host) => (existsSync(counter(host)) ? readFileSync(counter(host), "utf8").length / 2 : 0));

// One fresh server: its first status call, then `runs` warm ones, with the process starts of each.
async function measure(runs) {
  const server = new RpcClient(binary, ["--config", config, "--log-level", "warn"]);
  await server.initialize();
  const timed = async () => {
    const before = starts();
    const t = process.hrtime.bigint();
    const result = await server.call("get_deployment_status");
    const took = ms(t);
    if (result.isError || !result.structuredContent.liveColorKnown) throw new Error(result.content[0].text);
    return { took, starts: starts().map((n, i) => n - before[i]) };
  };
  const first = await timed();
  const warm = [];
  let perCall = [];
  for (let i = 0; i < runs; i++) {
    const call = await timed();
    warm.push(call.took);
    perCall = call.starts;
  }
  await server.close();
  return { first: first.took, firstStarts: first.starts, warm: summary(warm), warmStarts: perCall };
}

const runs = 30;
let withSftp;
let withoutSftp;
slowShells(true);
try {
  withSftp = await measure(runs);
  lab("sftp", "off", ...hosts);
  withoutSftp = await measure(runs);
} finally {
  slowShells(false);
  lab("sftp", "on", ...hosts);
}

const startsText = (list) => hosts.map((host, i) => `${host} ${list[i]}`).join(", ");
console.log(`\nstatus with a slow login shell (${delay} s in /root/.bashrc on blue, green and lb), a fresh server each`);
console.log("| Measure | Median | p90 | Runs | Process starts per host |\n|---|---|---|---|---|");
for (const [name, m] of [["with SFTP", withSftp], ["without SFTP (cat)", withoutSftp]]) {
  console.log(`| get_deployment_status, warm, ${name} | ${m.warm.median.toFixed(1)} ms | ${m.warm.p90.toFixed(1)} ms | ` +
    `${m.warm.n} | ${startsText(m.warmStarts)} |`);
  console.log(`| ... its first call (connections opened) | ${m.first.toFixed(1)} ms | | 1 | ${startsText(m.firstStarts)} |`);
}
console.log(`status without SFTP / with SFTP, warm medians: ${(withoutSftp.warm.median / withSftp.warm.median).toFixed(1)}x ` +
  `(one login shell per host and call, in parallel, against none)`);
