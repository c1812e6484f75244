// Protocol abuse through the real binary: a flood of malformed, mistyped, unknown and valid
// messages (plus an oversized line) as fast as a pipe takes them, then more tool calls at once than
// the server runs (mcp::ServerLimits::max_concurrent_calls, 32).
// - Flood: every request with a usable id gets exactly one reply, every malformed line one error,
//   every valid test_echo call its own text back (or "server busy" if 32 were running), the server
//   keeps serving afterwards, and its memory stays bounded.
// - Limit: 40 test_sleep calls sent at once: the first 32 run (each on its own thread), the other 8
//   are refused at once with a "server busy" error; pings are answered while all 32 run; cancelled
//   calls send no result, the others finish, and their slots are free again afterwards.
//
// Usage: node flood_test.mjs /path/to/bluegreen-mcp
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createInterface } from "node:readline";

const binary = process.argv[2];
const server = spawn(binary, ["--enable-test-tools", "--log-level", "off"], { stdio: ["pipe", "pipe", "inherit"] });
const replies = new Map();  // id -> every reply with that id, in arrival order
let nullIdErrors = 0;
const waiters = new Map();  // id -> resolve of the promise reply() returned
createInterface({ input: server.stdout }).on("line", (line) => {
  const message = JSON.parse(line);  // stdout must only ever carry JSON
  if (message.id === null) nullIdErrors++;
  else if (message.id !== undefined) {
    replies.set(message.id, [...(replies.get(message.id) ?? []), message]);
    waiters.get(message.id)?.(message);
    waiters.delete(message.id);
  }
});
const write = (text) =>
  server.stdin.write(text + "\n") ? Promise.resolve() : new Promise((r) => server.stdin.once("drain", r));
// The first reply to `id`, whether it already came or not.
const reply = (id) =>
  replies.has(id) ? Promise.resolve(replies.get(id)[0]) : new Promise((resolve) => waiters.set(id, resolve));
const request = (id, method, params) => JSON.stringify({ jsonrpc: "2.0", id, method, params });
const busy = (message) => message.error?.code === -32000 && /^Server busy: 32 requests/.test(message.error.message);

const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))[1]) / 1024;
await write(request("init", "initialize",
  { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "flood", version: "1" } }));
await reply("init");
const rssBefore = rss();

const kinds = [
  (i) => `{"jsonrpc":"2.0","id":${i},"method":"ping"}`,
  (i) => `{"jsonrpc":"2.0","id":${i},"method":"no/such/method"}`,
  (i) => `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"test_echo","arguments":{"text":"${i}"}}}`,
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

await write(request("last", "ping"));
assert.deepEqual((await reply("last")).result, {});
// Replies to pipelined requests arrive before the last ping's only if they were not dropped (tool
// calls answer from their own threads: give them a moment).
await sleep(500);
const missing = expectedIds.filter((id) => replies.get(id)?.length !== 1);
assert.deepEqual(missing, [], `requests without exactly one reply: ${missing.slice(0, 10)}`);
assert.equal(nullIdErrors, expectedNull);
// Each valid echo call ran and answered its own text, unless 32 calls were running then.
let echoed = 0;
let echoBusy = 0;
for (const id of expectedIds.filter((id) => id % kinds.length === 2)) {
  const [message] = replies.get(id);
  if (busy(message)) {
    echoBusy++;
    continue;
  }
  assert.equal(message.result?.isError, false, JSON.stringify(message));
  assert.deepEqual(message.result.structuredContent, { text: String(id) });
  echoed++;
}
assert.ok(echoed > 0, "no test_echo call succeeded");
// Growth, not absolute size, so the bound holds under sanitizers too: the 5 MiB line must not
// be buffered whole, and nothing may accumulate per message.
// Under AddressSanitizer (the asan preset sets ASAN_OPTIONS) freed memory sits in its quarantine,
// and ThreadSanitizer (TSAN_OPTIONS) keeps shadow memory and a history per thread, so the bound
// there is looser.
const growthMiB = rss() - rssBefore;
const bound = process.env.ASAN_OPTIONS || process.env.TSAN_OPTIONS ? 192 : 32;
assert.ok(growthMiB < bound, `memory grew by ${growthMiB.toFixed(1)} MiB (bound ${bound})`);
console.log(`flood: ${total + 1} lines, ${expectedIds.length} replies (test_echo: ${echoed} answered, ` +
  `${echoBusy} busy), ${expectedNull} null-id errors, memory growth ${growthMiB.toFixed(1)} MiB`);

// --- More calls at once than the limit -------------------------------------------------------
// The echo calls' threads have ended by now (each ends right after its reply): no call is running.
await sleep(500);
const limit = 32;
const sleepIds = Array.from({ length: limit + 8 }, (_, i) => `sleep-${i}`);
const sleepMs = 3000;
// One write: the server reads them in one go and starts each on its own thread in order.
await write(sleepIds.map((id) => request(id, "tools/call", { name: "test_sleep", arguments: { ms: sleepMs } }))
  .join("\n"));
const started = Date.now();
// The 8 over the limit are refused at once, without waiting for a slot.
const refused = await Promise.all(sleepIds.slice(limit).map(reply));
for (const message of refused) assert.ok(busy(message), `expected "server busy", got ${JSON.stringify(message)}`);
// The reader is not blocked by running calls: a ping and another call are answered meanwhile.
await write(request("ping-while-busy", "ping"));
assert.deepEqual((await reply("ping-while-busy")).result, {});
await write(request("echo-while-busy", "tools/call", { name: "test_echo", arguments: { text: "x" } }));
assert.ok(busy(await reply("echo-while-busy")), "a call beyond the limit must be refused while 32 run");
const answeredEarly = sleepIds.slice(0, limit).filter((id) => replies.has(id));
assert.ok(Date.now() - started < sleepMs, "the refusals and the ping took as long as the calls: not concurrent");
assert.deepEqual(answeredEarly, [], "calls within the limit answered before they could have slept");
// Cancel the first 8: they stop early and send no result; the other 24 finish.
const cancelled = sleepIds.slice(0, 8);
for (const id of cancelled) {
  await write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id } }));
}
const finished = await Promise.all(sleepIds.slice(8, limit).map(reply));
for (const message of finished) {
  assert.equal(message.result?.isError, false, JSON.stringify(message));
  assert.equal(message.result.content[0].text, `slept ${sleepMs} ms`);
}
// All 32 ran at once: together they took about one call's time, not 32.
const elapsed = Date.now() - started;
assert.ok(elapsed < 4 * sleepMs, `32 calls of ${sleepMs} ms took ${elapsed} ms: they did not run concurrently`);
// Every slot is free again: 32 more calls at once all run.
const againIds = Array.from({ length: limit }, (_, i) => `again-${i}`);
await write(againIds.map((id) => request(id, "tools/call", { name: "test_echo", arguments: { text: id } })).join("\n"));
for (const [i, message] of (await Promise.all(againIds.map(reply))).entries()) {
  assert.deepEqual(message.result?.structuredContent, { text: againIds[i] }, JSON.stringify(message));
}
await sleep(200);
assert.deepEqual(cancelled.filter((id) => replies.has(id)), [], "a cancelled call sent a result");
const duplicates = [...replies].filter(([, list]) => list.length !== 1).map(([id]) => id);
assert.deepEqual(duplicates, [], "ids answered more than once");
console.log(`limit: ${limit} of ${sleepIds.length} calls ran at once (${sleepIds.length - limit} refused as busy), ` +
  `${cancelled.length} cancelled, ${finished.length} finished in ${elapsed} ms`);

server.stdin.end();
const code = await new Promise((r) => server.on("exit", r));
assert.equal(code, 0);
console.log("1 passed, 0 failed");
