// Real-world ssh setups (issue 12), end to end: the real binary, driven by the official SDK client,
// reaches the lab's hosts the way each ssh config says, or refuses out loud.
//
// The server runs in a private mount namespace whose /etc/resolv.conf points at 127.0.0.1 (where
// no DNS server listens), so a name only the bastion resolves (blue.lab.internal) cannot be
// reached around the bastion, and no lookup ever leaves loopback.
//
// Usage: node ssh_setups_e2e_test.mjs /path/to/bluegreen-mcp (with the lab up; see tests/lab).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { binary, configVariant, lab, startClient, text } from "./support.mjs";

const dir = mkdtempSync(join(tmpdir(), "bluegreen-ssh-setups-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const resolvConf = join(dir, "resolv.conf");
writeFileSync(resolvConf, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");

// Runs the binary with loopback-only name resolution (see the header).
const launcher = (command, args) => ({
  command: "unshare",
  args: [
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    'mount --bind "$0" /etc/resolv.conf && exec "$@"',
    resolvConf,
    command,
    ...args,
  ],
});

let files = 0;
function writeFile(name, content) {
  const path = join(dir, `${++files}-${name}`);
  writeFileSync(path, content);
  return path;
}

// The lab's key, user and port for the hosts shop-blue / shop-green, after `hostLines`.
function sshConfig(hostLines, { common = "", include = true } = {}) {
  return writeFile(
    "ssh_config",
    `${include ? `Include ${lab.LAB_SSH_CONFIG}\n` : ""}${hostLines}
Host shop-*
  Port 2222
  User root
  UserKnownHostsFile ${lab.LAB_KNOWN_HOSTS}
${common}`,
  );
}

const keyLines = `  IdentityFile ${lab.LAB_KEY}\n  IdentitiesOnly yes\n`;

function appConfig(sshConfigFile) {
  return configVariant((c) => {
    c.ssh.configFile = sshConfigFile;
    c.apps.shop.hosts.blue.ssh = "shop-blue";
    c.apps.shop.hosts.green.ssh = "shop-green";
  });
}

function checkConfig(config) {
  const { command, args } = launcher(binary, ["check-config", "--config", config]);
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 60000, env: { PATH: process.env.PATH } });
  return { code: r.status, out: r.stdout + r.stderr };
}

async function status(config) {
  const mcp = await startClient({ config, launcher });
  try {
    return await mcp.call("get_deployment_status");
  } finally {
    await mcp.close();
  }
}

const bastionLog = () => readFileSync(lab.LAB_BASTION_LOG, "utf8");
const viaBastion = `Host shop-blue
  HostName = ${lab.LAB_BLUE_INTERNAL_NAME}
  ProxyJump = lab-bastion
Host shop-green
  HostName=${lab.LAB_GREEN_INTERNAL_NAME}
  ProxyJump lab-bastion
`;

test("blue and green reached only through the bastion (ProxyJump, Key = value): status and a deploy", async () => {
  const config = appConfig(sshConfig(viaBastion, { common: keyLines }));
  const before = bastionLog().length;
  const checked = checkConfig(config);
  assert.equal(checked.code, 0, checked.out);
  assert.match(checked.out, /shop-blue .*root@blue\.lab\.internal:2222 via lab-bastion \(root@[0-9.]+:2222\)/);

  const mcp = await startClient({ config, launcher });
  try {
    const s = (await mcp.call("get_deployment_status")).structuredContent;
    // Earlier e2e files may have left either colour live; both hosts answer through the bastion.
    assert.ok(["BLUE", "GREEN"].includes(s.current.prod.server), JSON.stringify(s.current));
    assert.match(s.current.prod.deployedCommit, /^[0-9a-f]{40}$/, JSON.stringify(s.current.prod));
    assert.match(s.current.standby.deployedCommit, /^[0-9a-f]{40}$/, JSON.stringify(s.current.standby));
    const deploy = await mcp.call("deploy_to_standby", {});
    assert.equal(deploy.isError, false, text(deploy));
    assert.equal(deploy.structuredContent.ok, true, text(deploy));
    assert.equal(deploy.structuredContent.outcome, "ok", text(deploy));
  } finally {
    await mcp.close();
  }
  // The bastion's sshd opened the connections to the internal names (the server cannot resolve them).
  const log = bastionLog().slice(before);
  assert.match(log, /target blue\.lab\.internal port 2222/);
  assert.match(log, /target green\.lab\.internal port 2222/);
});

test("a jump host that cannot be resolved fails, naming the jump host", async () => {
  const config = appConfig(
    sshConfig(
      `Host shop-blue shop-green
  HostName ${lab.LAB_BLUE_INTERNAL_NAME}
  ProxyJump root@nowhere.lab.internal:2222
`,
      { common: keyLines },
    ),
  );
  const checked = checkConfig(config);
  assert.equal(checked.code, 1, checked.out);
  assert.match(checked.out, /shop-blue .*jump host root@nowhere\.lab\.internal:2222 .*resolve hostname nowhere\.lab\.internal/);
  const result = await status(config);
  assert.match(text(result), /jump host root@nowhere\.lab\.internal:2222/);
  assert.equal(result.structuredContent.current.prod.deployedCommit ?? null, null);
});

test("ProxyCommand through OpenSSH's ssh -W works and is shown as the route", async () => {
  const config = appConfig(
    sshConfig(
      `Host shop-blue
  HostName ${lab.LAB_BLUE_INTERNAL_NAME}
  ProxyCommand ssh -F ${lab.LAB_SSH_CONFIG} -W %h:%p lab-bastion
Host shop-green
  HostName ${lab.LAB_GREEN_INTERNAL_NAME}
  ProxyCommand ssh -F ${lab.LAB_SSH_CONFIG} -W %h:%p lab-bastion
`,
      { common: keyLines },
    ),
  );
  const checked = checkConfig(config);
  assert.equal(checked.code, 0, checked.out);
  assert.match(checked.out, /shop-green .*via ProxyCommand `ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -F /);
  const s = (await status(config)).structuredContent;
  assert.match(s.current.standby.deployedCommit, /^[0-9a-f]{40}$/);
});

// A private ssh-agent at `socket`, holding `keys`; ended with the test.
function startAgent(socket, keys) {
  const out = execFileSync("ssh-agent", ["-a", socket, "-s"], { encoding: "utf8" });
  const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)[1]);
  for (const key of keys) execFileSync("ssh-add", ["-q", key], { env: { SSH_AUTH_SOCK: socket }, stdio: "ignore" });
  return () => process.kill(pid);
}

function newKey(name, passphrase = "") {
  const path = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", path]);
  return path;
}

function fingerprint(key) {
  return execFileSync("ssh-keygen", ["-l", "-f", `${key}.pub`], { encoding: "utf8" }).split(" ")[1];
}

test("IdentityAgent: a private agent with SSH_AUTH_SOCK unset, only the .pub on disk, IdentitiesOnly", async () => {
  const other = newKey("other_key");
  const socket = join(dir, "agent.sock");
  const stopAgent = startAgent(socket, [other, lab.LAB_KEY]);
  try {
    const pub = join(dir, "lab_key.pub");
    copyFileSync(`${lab.LAB_KEY}.pub`, pub);
    const config = appConfig(
      sshConfig("Host shop-blue\n  HostName " + lab.BLUE_ADDR + "\nHost shop-green\n  HostName " + lab.GREEN_ADDR + "\n", {
        common: `  IdentityAgent ${socket}\n  IdentityFile ${pub}\n  IdentitiesOnly yes\n`,
      }),
    );
    const checked = checkConfig(config);
    assert.equal(checked.code, 0, checked.out);
    assert.ok(
      checked.out.includes(`login by agent ${socket} key ssh-ed25519 ${fingerprint(lab.LAB_KEY)}`),
      checked.out,
    );
    const s = (await status(config)).structuredContent;
    assert.match(s.current.prod.deployedCommit, /^[0-9a-f]{40}$/);

    // IdentitiesOnly with the other key's .pub: only that key is offered, the lab key never is.
    const wrong = appConfig(
      sshConfig("Host shop-blue\n  HostName " + lab.BLUE_ADDR + "\nHost shop-green\n  HostName " + lab.GREEN_ADDR + "\n", {
        common: `  IdentityAgent ${socket}\n  IdentityFile ${other}.pub\n  IdentitiesOnly yes\n`,
      }),
    );
    const refused = checkConfig(wrong);
    assert.equal(refused.code, 1, refused.out);
    assert.ok(refused.out.includes(`agent ${socket}: offered ssh-ed25519 ${fingerprint(other)}, none accepted`), refused.out);
    assert.ok(!refused.out.includes(fingerprint(lab.LAB_KEY)), refused.out);
  } finally {
    stopAgent();
  }
});

test("a passphrase-protected key with no agent is named, with how to load it", async () => {
  const locked = newKey("locked_key", "correct horse");
  const config = appConfig(
    sshConfig("Host shop-blue\n  HostName " + lab.BLUE_ADDR + "\nHost shop-green\n  HostName " + lab.GREEN_ADDR + "\n", {
      common: `  IdentityAgent none\n  IdentityFile ${locked}\n  IdentitiesOnly yes\n`,
    }),
  );
  const result = await status(config);
  const said = text(result);
  assert.ok(said.includes(`key file ${locked} is protected by a passphrase`), said);
  assert.ok(said.includes(`ssh-add ${locked}`), said);
  assert.ok(said.includes("no agent (IdentityAgent none)"), said);
  assert.ok(!said.includes("tried ssh-agent"), said);
});

test("Include with a glob and Match: the settings of a Match block in an included file apply", async () => {
  const confDir = mkdtempSync(join(dir, "conf.d-"));
  writeFileSync(
    join(confDir, "10-shop.conf"),
    `Match originalhost shop-blue,shop-green\n  IdentityFile ${lab.LAB_KEY}\n  IdentitiesOnly yes\n`,
  );
  writeFileSync(join(confDir, "20-names.conf"), `Host shop-blue\n  HostName ${lab.BLUE_ADDR}\nHost shop-green\n  HostName ${lab.GREEN_ADDR}\n`);
  const config = appConfig(sshConfig(`Include ${confDir}/*.conf\n`));
  const checked = checkConfig(config);
  assert.equal(checked.code, 0, checked.out);
  assert.match(checked.out, new RegExp(`shop-blue .*login by key file ${lab.LAB_KEY}`));
  const s = (await status(config)).structuredContent;
  assert.match(s.current.standby.deployedCommit, /^[0-9a-f]{40}$/);
});

test("two known_hosts files with the key in the second: the second one is named", async () => {
  const empty = writeFile("known_hosts_empty", "");
  const config = appConfig(
    sshConfig(
      `Host shop-blue\n  HostName ${lab.BLUE_ADDR}\nHost shop-green\n  HostName ${lab.GREEN_ADDR}\nHost shop-*\n  UserKnownHostsFile ${empty} ${lab.LAB_KNOWN_HOSTS}\n`,
      { common: keyLines },
    ),
  );
  const checked = checkConfig(config);
  assert.equal(checked.code, 0, checked.out);
  assert.match(checked.out, new RegExp(`shop-blue .*host key in ${lab.LAB_KNOWN_HOSTS};`));
});

test("a directive that would change the route is refused, with its file and line", async () => {
  const file = sshConfig(
    `Host shop-blue shop-green\n  HostName ${lab.BLUE_ADDR}\n  HostKeyAlias some-other-name\n`,
    { common: keyLines },
  );
  const result = await status(appConfig(file));
  const said = text(result);
  assert.ok(said.includes(`hostkeyalias some-other-name (${file}:4)`), said);
  assert.match(said, /add a known_hosts entry/);
});

// The lab's known_hosts entry of a host ("[addr]:port type key"), for hand-made known_hosts files.
function knownHostsEntry(address) {
  const line = readFileSync(lab.LAB_KNOWN_HOSTS, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`[${address}]:`));
  assert.ok(line, `no known_hosts entry for ${address}`);
  return line.split(" ").slice(1).join(" ");
}

test("known_hosts as ssh reads it: a @revoked key is refused, a negated pattern does not match", async () => {
  const key = knownHostsEntry(lab.BLUE_ADDR);
  const names = `Host shop-blue\n  HostName ${lab.BLUE_ADDR}\nHost shop-green\n  HostName ${lab.GREEN_ADDR}\n`;
  const revoked = writeFile("known_hosts_revoked", `@revoked * ${key}\n`);
  const withRevoked = appConfig(
    sshConfig(`${names}Host shop-*\n  UserKnownHostsFile ${revoked} ${lab.LAB_KNOWN_HOSTS}\n`, { common: keyLines }),
  );
  const r = checkConfig(withRevoked);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`shop-blue .*REFUSED: the host key ssh-ed25519 \\S+ is marked @revoked in ${revoked}`));
  assert.match(r.out, /shop-green .*✅/);  // green's key is not the revoked one

  const negated = writeFile("known_hosts_negated", `![${lab.BLUE_ADDR}]:2222,[${lab.BLUE_ADDR.replace(/\.\d+$/, ".*")}]:2222 ${key}\n`);
  const withNegated = appConfig(sshConfig(`${names}Host shop-*\n  UserKnownHostsFile ${negated}\n`, { common: keyLines }));
  const n = checkConfig(withNegated);
  assert.match(n.out, /shop-blue .*REFUSED: the host key is not known/);
});

test("ProxyJump to a jump host given by address, with user and port", async () => {
  const config = appConfig(
    sshConfig(
      `Host shop-blue
  HostName ${lab.LAB_BLUE_INTERNAL_NAME}
  ProxyJump root@${lab.BASTION_ADDR}:2222
Host shop-green
  HostName ${lab.LAB_GREEN_INTERNAL_NAME}
  ProxyJump ${lab.BASTION_ADDR}
Host ${lab.BASTION_ADDR}
  Port 2222
  User root
  IdentityFile ${lab.LAB_KEY}
  UserKnownHostsFile ${lab.LAB_KNOWN_HOSTS}
`,
      { common: keyLines },
    ),
  );
  const checked = checkConfig(config);
  assert.equal(checked.code, 0, checked.out);
  assert.match(checked.out, new RegExp(`shop-green .*via \\[?${lab.BASTION_ADDR.replace(/\./g, "\\.")}\\]? \\(root@`));
});

test("an agent full of other keys: the IdentityFile's key is offered first, as ssh does", async () => {
  const others = Array.from({ length: 7 }, (_, i) => newKey(`crowd_${i}`));
  const socket = join(dir, "crowded-agent.sock");
  const stopAgent = startAgent(socket, [...others, lab.LAB_KEY]);
  try {
    const config = appConfig(
      sshConfig(`Host shop-blue\n  HostName ${lab.BLUE_ADDR}\nHost shop-green\n  HostName ${lab.GREEN_ADDR}\n`, {
        common: `  IdentityAgent ${socket}\n  IdentityFile ${lab.LAB_KEY}\n`,
      }),
    );
    const checked = checkConfig(config);
    assert.equal(checked.code, 0, checked.out);
    assert.ok(checked.out.includes(`login by agent ${socket} key ssh-ed25519 ${fingerprint(lab.LAB_KEY)}`), checked.out);
  } finally {
    stopAgent();
  }
});

test("a private key file others may read is refused, as ssh refuses it", async () => {
  const loose = join(dir, "loose_key");
  copyFileSync(lab.LAB_KEY, loose);
  execFileSync("chmod", ["644", loose]);
  const config = appConfig(
    sshConfig(`Host shop-blue\n  HostName ${lab.BLUE_ADDR}\nHost shop-green\n  HostName ${lab.GREEN_ADDR}\n`, {
      common: `  IdentityAgent none\n  IdentityFile ${loose}\n  IdentitiesOnly yes\n`,
    }),
  );
  const checked = checkConfig(config);
  assert.equal(checked.code, 1, checked.out);
  assert.ok(checked.out.includes(`key file ${loose} may be read by others, which ssh refuses: chmod 600 ${loose}`), checked.out);
});

test("a login shell that cannot run commands fails check-config's ssh row, not only later steps", async () => {
  const bashrc = join(lab.LAB_DIR, "hosts", "green", "fs", "root", ".bashrc");
  writeFileSync(bashrc, "echo 'bashrc: nvm failed' >&2; exit 3\n");
  try {
    const checked = checkConfig(lab.LAB_BLUEGREEN_CONFIG);
    assert.equal(checked.code, 1, checked.out);
    assert.match(checked.out, /lab-green +❌ login ok, but a command cannot run there \(exit 3 .*bashrc: nvm failed\)/);
    assert.match(checked.out, /lab-blue +✅/);
  } finally {
    rmSync(bashrc, { force: true });
  }
});
