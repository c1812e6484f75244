// Measures the server's cold start (process spawn to the initialize reply) and its idle resident
// memory after initialize + tools/list, over repeated runs. Prints figures; asserts nothing.
//
// Usage: node bench/startup.mjs /path/to/bluegreen-mcp [runs=50]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const [binary, runsArg] = process.argv.slice(2);
if (!binary) {
  console.error("usage: node bench/startup.mjs /path/to/bluegreen-mcp [runs=50]");
  process.exit(2);
}
const runs = Number(runsArg ?? 50);

function once() {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(binary, ["--log-level", "warn"], { stdio: ["pipe", "pipe", "inherit"] });
    let coldStartMs;
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const message = JSON.parse(line);
      if (message.id === 1) {
        coldStartMs = Number(process.hrtime.bigint() - started) / 1e6;
        child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
        child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) + "\n");
      } else if (message.id === 2) {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
        child.stdin.end();
        child.once("exit", () => resolve({ coldStartMs, rssKb }));
      }
    });
    child.on("error", reject);
    child.stdin.write(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
      }) + "\n",
    );
  });
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

const results = [];
for (let i = 0; i < runs; i++) results.push(await once());
const cold = results.map((r) => r.coldStartMs);
const rss = results.map((r) => r.rssKb / 1024);
console.log(`binary: ${binary}  runs: ${runs}`);
console.log(`cold start (spawn -> initialize reply): median ${quantile(cold, 0.5).toFixed(2)} ms, p90 ${quantile(cold, 0.9).toFixed(2)} ms`);
console.log(`idle RSS after initialize + tools/list: median ${quantile(rss, 0.5).toFixed(1)} MiB, max ${Math.max(...rss).toFixed(1)} MiB`);
