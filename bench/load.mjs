// A bounded load through one or more HAProxy frontends (loopback only) while the colours are
// switched back and forth, as bench.mjs has always measured zero-drop switching, shared with
// pools.mjs (the same load through both frontends of an LB pair). Bounded in count and time:
// `rate` requests per second to each URL for `seconds`, each with a 5 s deadline; the switcher
// stops 1.5 s before the end so the last switch's requests are answered within the run.
import { readFileSync } from "node:fs";

// The share of this machine's CPU time the hypervisor gave to other machines (steal, from
// /proc/stat) between two readings: a starved machine is slower and noisier, so the run says so.
export function cpuTimes() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}
export const stolenPercent = (from, to) => ((100 * (to.steal - from.steal)) / Math.max(1, to.total - from.total)).toFixed(0);

// `urls`: the frontends, each sent `rate` requests a second; `switchOnce` (async, returns whether
// it switched; null for none): called again and again, 300 ms apart, while the load runs.
// Returns { perUrl: { url: counts }, switches, stolenPercent } with counts
// { sent, ok, non2xx, errors, timeouts } (timeouts: no answer within 5 s, counted in errors too).
export async function boundedLoad({ urls, rate = 200, seconds = 10, switchOnce = null }) {
  const perUrl = Object.fromEntries(urls.map((url) => [url, { sent: 0, ok: 0, non2xx: 0, errors: 0, timeouts: 0 }]));
  let switches = 0;
  const inflight = [];
  const cpuBefore = cpuTimes();
  const started = Date.now();
  const fire = async (url) => {
    const stats = perUrl[url];
    stats.sent++;
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await r.arrayBuffer();
      if (r.status >= 200 && r.status < 300) stats.ok++;
      else stats.non2xx++;
    } catch (e) {
      stats.errors++;
      if (e.name === "TimeoutError") stats.timeouts++;  // no answer within 5 s
    }
  };
  const generator = (async () => {
    for (let i = 0; i < rate * seconds; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      for (const url of urls) inflight.push(fire(url));
    }
  })();
  const switcher = (async () => {
    while (switchOnce && Date.now() - started < (seconds - 1.5) * 1000) {
      if (await switchOnce()) switches++;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  })();
  await Promise.all([generator, switcher]);
  await Promise.all(inflight);
  return { perUrl, switches, stolenPercent: stolenPercent(cpuBefore, cpuTimes()) };
}
