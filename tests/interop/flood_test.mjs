// Protocol abuse through the real binary: a flood of malformed, mistyped, unknown and valid
// messages (plus an oversized line) as fast as a pipe takes them. Every request with a usable id
// gets exactly one reply, every malformed line one error, the server keeps serving afterwards,
// and its memory stays bounded.
//
// Usage: node flood_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const binary = process.argv[2];
const server = spawn(binary, ["--enable-test-tools", "--log-level", "off"], { stdio: ["pipe", "pipe", "inherit"] });
const replies = new Map();
let nullIdErrors = 0;
let waiter = null;
createInterface({ input: server.stdout }).on("line", (line) => {
  const message = JSON.parse(line);  // stdout must only ever carry JSON
  if (message.id === null) nullIdErrors++;
  else if (message.id !== undefined) replies.set(message.id, (replies.get(message.id) ?? 0) + 1);
  if (waiter && message.id === waiter.id) waiter.resolve(message);
});
const write = (text) =>
  server.stdin.write(text + "\n") ? Promise.resolve() : new Promise((r) => server.stdin.once("drain", r));

const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))[1]) / 1024;
await write(JSON.stringify({ jsonrpc: "2.0", id: "init", method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "flood", version: "1" } } }));
await new Promise((resolve) => { waiter = { id: "init", resolve }; });
const rssBefore = rss();

const kinds = [
  (i) => `{"jsonrpc":"2.0","id":${i},"method":"ping"}`,
  (i) => `{"jsonrpc":"2.0","id":${i},"method":"no/such/method"}`,
  (i) => `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"test_echo","arguments":{"text":${i}}}}`,
  (i) => `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"nope"}}`,
  (i) => `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":"not an object"}`,
  () => `{"jsonrpc":"2.0","id":`,                    // parse error: null-id reply
  () => `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`,  // batch: null-id reply
  () => `{"jsonrpc":"2.0","id":true,"method":"ping"}`, // bad id: null-id reply
];
const total = 4000;
let expectedNull = 0;
const expectedIds = [];
for (let i = 0; i < total; i++) {
  const kind = i % kinds.length;
  if (kind >= 5) expectedNull++;
  else expectedIds.push(i);
  await write(kinds[kind](i));
  if (i === total / 2) {
    await write("x".repeat(5 * 1024 * 1024));  // oversized: discarded, one null-id error
    expectedNull++;
  }
}

const last = await new Promise((resolve) => {
  waiter = { id: "last", resolve };
  write(JSON.stringify({ jsonrpc: "2.0", id: "last", method: "ping" }));
});
assert.deepEqual(last.result, {});
// Replies to pipelined requests arrive before the last ping's only if they were not dropped.
await new Promise((r) => setTimeout(r, 500));
const missing = expectedIds.filter((id) => replies.get(id) !== 1);
assert.deepEqual(missing, [], `requests without exactly one reply: ${missing.slice(0, 10)}`);
assert.equal(nullIdErrors, expectedNull);
// Growth, not absolute size, so the bound holds under sanitizers too: the 5 MiB line must not
// be buffered whole, and nothing may accumulate per message.
// Under AddressSanitizer (the asan preset sets ASAN_OPTIONS) freed memory sits in its quarantine,
// so the bound there is looser.
const growthMiB = rss() - rssBefore;
const bound = process.env.ASAN_OPTIONS ? 192 : 32;
assert.ok(growthMiB < bound, `memory grew by ${growthMiB.toFixed(1)} MiB (bound ${bound})`);
server.stdin.end();
const code = await new Promise((r) => server.on("exit", r));
assert.equal(code, 0);
console.log(`flood: ${total + 1} lines, ${expectedIds.length} replies, ${expectedNull} null-id errors, memory growth ${growthMiB.toFixed(1)} MiB`);
console.log("1 passed, 0 failed");
