// Self-test of the lab's HAProxy layouts (tests/lab/lab haproxy-start / haproxy-reset) and of the
// support.mjs helpers built on them (installHaproxyLayout, resetHaproxyLayout, colorAt,
// streamThrough, labRender, extraPorts), with the lab up:
//  - a layout of two files (haproxy.cfg with global, defaults and two frontends, on LB_PORT and
//    extraPorts[0], both to blue; the backends in conf.d/backends.cfg) started with
//    -f /etc/haproxy/haproxy.cfg -f /etc/haproxy/conf.d serves blue on both ports, and HAProxy's
//    master runs with both -f paths;
//  - files of any content (quotes, CRLF, $, backslashes) arrive on the LB byte for byte;
//  - a 3 s stream through the LB completes while /health keeps answering;
//  - haproxy-reset brings the default layout back on LB_PORT (and forgets the -f list).
// The lab's haproxy.cfg is put back as it was found (GREEN may be live after earlier e2e files).
// Usage: node tests/e2e/lab_layouts_selftest.mjs /path/to/bluegreen-mcp (the binary is not used).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  colorAt, extraPorts, installHaproxyLayout, lab, labRender, layoutBackends, layoutGlobalAndDefaults, readHaproxyConfig, resetHaproxyLayout, ssh,
  streamThrough, waitForBothUp,
} from "./support.mjs";

const cfg = "/etc/haproxy/haproxy.cfg";
const backends = "/etc/haproxy/conf.d/backends.cfg";
const oddFile = "/etc/haproxy/layout-selftest/odd file's.txt";
const oddText = "quotes ' \" `x` $HOME \\n \\\\ \r\nCRLF line\r\nünïcödé ✓\n\n";
const original = readHaproxyConfig();
let layoutActive = false;

const mainTemplate = `# lab_layouts_selftest: main file
${layoutGlobalAndDefaults}
frontend fe_app
    bind @LB_ADDR@:@LB_PORT@
    default_backend blue

frontend fe_extra
    bind @LB_ADDR@:${extraPorts[0]}
    default_backend blue
`;

const backendsTemplate = `# lab_layouts_selftest: backends, loaded from the conf.d directory
${layoutBackends}
listen stats
    bind @LB_ADDR@:@STATS_PORT@
    stats enable
    stats uri /
`;

// The HAProxy master's command line (inside lb), arguments joined by spaces.
function masterCmdline() {
  return ssh("lab-lb", `tr '\\0' ' ' </proc/$(cat /run/haproxy/haproxy.pid)/cmdline`).stdout.trim();
}

after(async () => {
  if (layoutActive) await resetHaproxyLayout();
  // Leave the lab's routing as it was found.
  if (readHaproxyConfig() !== original) {
    await installHaproxyLayout({ files: { [cfg]: original }, args: [] });
    await waitForBothUp();
  }
});

test("labRender fills in the lab's values and refuses unknown placeholders", () => {
  assert.equal(labRender("@LB_ADDR@:@LB_PORT@ @BLUE_ADDR@ @GREEN_ADDR@ @APP_PORT@ @STATS_PORT@ @EXTRA_PORT_2@"),
    `${lab.LB_ADDR}:${lab.LB_PORT} ${lab.BLUE_ADDR} ${lab.GREEN_ADDR} ${lab.APP_PORT} ${lab.STATS_PORT} ${extraPorts[1]}`);
  assert.deepEqual(extraPorts, [Number(lab.LB_PORT) + 1, Number(lab.LB_PORT) + 2]);
  assert.throws(() => labRender("@NO_SUCH@"), /unknown placeholder @NO_SUCH@/);
});

test("a two-file layout (haproxy.cfg + conf.d) serves blue on LB_PORT and an extra port", async () => {
  layoutActive = true;
  const served = await installHaproxyLayout({
    files: { [cfg]: labRender(mainTemplate), [backends]: labRender(backendsTemplate), [oddFile]: oddText },
    args: [cfg, "/etc/haproxy/conf.d"],
  });
  assert.equal(served, "blue");
  assert.equal(await colorAt(Number(lab.LB_PORT)), "blue");
  assert.equal(await colorAt(extraPorts[0]), "blue");
  assert.equal(await colorAt(extraPorts[0], "/"), "blue", "the X-App-Color header of a non-JSON answer");
  assert.match(masterCmdline(), / -f \/etc\/haproxy\/haproxy\.cfg -f \/etc\/haproxy\/conf\.d /);
  assert.equal(ssh("lab-lb", "cat /etc/haproxy/conf.d/backends.cfg").stdout, labRender(backendsTemplate));
  assert.equal(ssh("lab-lb", `base64 -w0 "${oddFile}"`).stdout, Buffer.from(oddText).toString("base64"));
  assert.equal(String(lab.LAB_HAPROXY_MASTER_PID), ssh("lab-lb", "cat /run/haproxy/haproxy.pid").stdout.trim(),
    "lab.env (and `lab`) name the new master");
});

test("a 3 s stream through the layout completes while /health keeps answering", async () => {
  const began = Date.now();
  const stream = streamThrough(Number(lab.LB_PORT), 3);
  assert.match(await stream.started, /^chunk 1\/3 from blue\n/);
  assert.equal(await colorAt(extraPorts[0]), "blue", "/health during the stream");
  const result = await stream;
  const took = Date.now() - began;
  assert.equal(result.status, 200);
  assert.equal(result.color, "blue");
  assert.equal(result.chunks, 3);
  assert.equal(result.complete, true, `body: ${result.body}`);
  assert.equal(result.error, undefined);
  assert.equal(result.body, "chunk 1/3 from blue\nchunk 2/3 from blue\nchunk 3/3 from blue\ndone blue\n");
  assert.ok(took >= 2500 && took < 10000, `the stream took ${took} ms`);
});

test("haproxy-reset brings the default layout back", async () => {
  await resetHaproxyLayout();
  layoutActive = false;
  assert.equal(await colorAt(Number(lab.LB_PORT)), "blue");
  const cmdline = masterCmdline();
  assert.match(cmdline, / -f \/etc\/haproxy\/haproxy\.cfg /);
  assert.doesNotMatch(cmdline, /conf\.d/);
  assert.equal(ssh("lab-lb", "test -e /etc/haproxy/conf.d", { allowFail: true }).code, 1, "conf.d is gone");
  assert.equal(ssh("lab-lb", `test -e "${oddFile}"`, { allowFail: true }).code, 1, "installed files are gone");
  assert.match(readHaproxyConfig(), /^frontend fe_app\n\s+bind \S+\n\s+default_backend blue$/m);
  await assert.rejects(colorAt(extraPorts[0]), /ECONNREFUSED/, "the extra frontend is gone");
});
