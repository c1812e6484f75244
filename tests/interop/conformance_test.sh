#!/usr/bin/env bash
# Interop test: the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# package.json) runs its server scenarios (the "active" suite) against `bluegreen-mcp serve` on a
# free loopback port. Scenarios that need the suite's own tools are expected to fail, listed with
# the reason in conformance_expected_failures.yaml; any other failure, or an expected one passing,
# fails this test. The per-scenario results are kept in the working directory (conformance/).
#
# Usage: tests/interop/conformance_test.sh /path/to/bluegreen-mcp
set -euo pipefail

binary=${1:?usage: conformance_test.sh /path/to/bluegreen-mcp}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
suite=$root/node_modules/@modelcontextprotocol/conformance/dist/index.js
[[ -f $suite ]] || {
  echo "FAIL: npm packages missing; run scripts/install-deps (or: npm ci)" >&2
  exit 1
}
# The suite needs Node >= 22; the node@22 package in node_modules provides it.
export PATH=$root/node_modules/.bin:$PATH

log=$(mktemp)
"$binary" serve --listen 127.0.0.1:0 --log-level info 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
url=
for _ in $(seq 100); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$log" | head -n 1 || true)
  [[ -n $url ]] && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; echo "FAIL: serve exited" >&2; exit 1; }
  sleep 0.1
done
[[ -n $url ]] || { cat "$log" >&2; echo "FAIL: serve did not say where it listens" >&2; exit 1; }

rm -rf conformance
status=0
timeout 300 node "$suite" server --url "$url" --expected-failures "$here/conformance_expected_failures.yaml" \
  -o conformance || status=$?
# An expected failure must fail for the reason listed (the suite's fixture is missing here), not for
# another one that would hide a real defect.
node -e '
  const fs = require("fs");
  let bad = 0;
  for (const dir of fs.readdirSync("conformance")) {
    for (const check of JSON.parse(fs.readFileSync(`conformance/${dir}/checks.json`, "utf8"))) {
      if (check.status !== "FAILURE") continue;
      const why = check.errorMessage || "";
      if (!/Unknown tool: test_|Unknown prompt: test_|Resource not found: test:\/\/|"test_[a-z_]+" is not a prompt/.test(why)) {
        console.error(`FAIL: ${dir}: ${check.id} failed for another reason: ${why}`);
        bad++;
      }
    }
  }
  if (bad) process.exit(1);
  console.log("ok - every expected failure is a missing fixture of the suite (test_* tool, prompt or test:// resource)");
' || status=1
kill -TERM "$server"
wait "$server" || { echo "FAIL: serve exited with status $? on SIGTERM" >&2; status=1; }
trap 'rm -f "$log"' EXIT
exit "$status"
