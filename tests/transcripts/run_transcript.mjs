// Pipes a recorded transcript through the real binary over stdio and compares the replies.
//
// Usage: node run_transcript.mjs BINARY TRANSCRIPT.jsonl [server args...]
//
// A transcript is JSON lines, each one of:
//   {"send": <message>}        write the message as one line to the server's stdin
//   {"send_raw": "<text>"}     write the text verbatim (plus a newline): malformed input
//   {"send_oversized": N}      write a line of N bytes (to test the message size limit)
//   {"expect": <pattern>}      the next message from the server must match the pattern
//   {"comment": "..."}         ignored
// A pattern matches when every key it names matches recursively (extra keys in the message are
// fine); arrays must match element by element and have the same length; the string "<any>"
// matches any value that is present. At the end stdin is closed, the server must exit 0 within
// 5 s, and it must not have written anything beyond the expected messages.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const [binary, transcriptPath, ...serverArgs] = process.argv.slice(2);
if (!binary || !transcriptPath) {
  console.error("usage: node run_transcript.mjs BINARY TRANSCRIPT.jsonl [server args...]");
  process.exit(2);
}

function matches(pattern, value, path = "$") {
  if (pattern === "<any>") return value === undefined ? `${path}: missing` : null;
  if (Array.isArray(pattern)) {
    if (!Array.isArray(value)) return `${path}: expected an array, got ${JSON.stringify(value)}`;
    if (pattern.length !== value.length) return `${path}: expected ${pattern.length} items, got ${value.length}`;
    for (let i = 0; i < pattern.length; i++) {
      const problem = matches(pattern[i], value[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (pattern !== null && typeof pattern === "object") {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return `${path}: expected an object, got ${JSON.stringify(value)}`;
    }
    for (const [key, sub] of Object.entries(pattern)) {
      const problem = matches(sub, value[key], `${path}.${key}`);
      if (problem) return problem;
    }
    return null;
  }
  return pattern === value ? null : `${path}: expected ${JSON.stringify(pattern)}, got ${JSON.stringify(value)}`;
}

const entries = readFileSync(transcriptPath, "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line, i) => {
    try {
      return JSON.parse(line);
    } catch (e) {
      console.error(`${transcriptPath}:${i + 1}: not JSON: ${e.message}`);
      process.exit(2);
    }
  });

const server = spawn(binary, serverArgs, { stdio: ["pipe", "pipe", "pipe"] });
let stderr = "";
server.stderr.on("data", (d) => (stderr += d));
const exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));

const received = [];
const waiters = [];
createInterface({ input: server.stdout }).on("line", (line) => {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    message = { __not_json__: line };
  }
  const waiter = waiters.shift();
  if (waiter) waiter(message);
  else received.push(message);
});

function nextMessage(timeoutMs = 5000) {
  if (received.length > 0) return Promise.resolve(received.shift());
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(onMessage), 1);
      resolve(undefined);
    }, timeoutMs);
    const onMessage = (m) => {
      clearTimeout(timer);
      resolve(m);
    };
    waiters.push(onMessage);
  });
}

function fail(message) {
  console.error(`FAIL ${transcriptPath}: ${message}`);
  console.error(`--- server stderr ---\n${stderr}`);
  server.kill("SIGKILL");
  process.exit(1);
}

let expectations = 0;
for (const [index, entry] of entries.entries()) {
  const where = `entry ${index + 1}`;
  if ("send" in entry) {
    server.stdin.write(JSON.stringify(entry.send) + "\n");
  } else if ("send_raw" in entry) {
    server.stdin.write(entry.send_raw + "\n");
  } else if ("send_oversized" in entry) {
    const chunk = "x".repeat(1 << 20);
    for (let left = entry.send_oversized; left > 0; left -= chunk.length) {
      if (!server.stdin.write(chunk.slice(0, Math.min(left, chunk.length)))) {
        await new Promise((r) => server.stdin.once("drain", r));
      }
    }
    server.stdin.write("\n");
  } else if ("expect" in entry) {
    const message = await nextMessage();
    if (message === undefined) fail(`${where}: no message within 5 s; expected ${JSON.stringify(entry.expect)}`);
    const problem = matches(entry.expect, message);
    if (problem) fail(`${where}: ${problem}\n  message: ${JSON.stringify(message)}`);
    expectations++;
  } else if (!("comment" in entry)) {
    fail(`${where}: unknown entry ${JSON.stringify(entry)}`);
  }
}

server.stdin.end();
const timeout = setTimeout(() => fail("server did not exit within 5 s of stdin closing"), 5000);
const { code, signal } = await exited;
clearTimeout(timeout);
if (signal !== null || code !== 0) fail(`server exited with code ${code}, signal ${signal}`);
if (received.length > 0) fail(`unexpected extra output: ${JSON.stringify(received)}`);
console.log(`${transcriptPath}: ${expectations} replies matched; server exited 0`);
console.log(`${expectations} passed, 0 failed`);
