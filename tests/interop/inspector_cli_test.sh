#!/usr/bin/env bash
# Interop test: the MCP Inspector's CLI mode (npx @modelcontextprotocol/inspector --cli) starts the
# real binary, initializes it, lists its tools and calls one, exactly as a user trying the server
# from a terminal would.
#
# Usage: tests/interop/inspector_cli_test.sh /path/to/bluegreen-mcp
set -euo pipefail

binary=${1:?usage: inspector_cli_test.sh /path/to/bluegreen-mcp}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ -d $root/node_modules/@modelcontextprotocol/inspector ]] || {
  echo "FAIL: npm packages missing; run scripts/install-deps (or: npm ci)" >&2
  exit 1
}
# The Inspector needs Node >= 22; the node@22 package in node_modules provides it.
export PATH=$root/node_modules/.bin:$PATH
cd "$root"

inspector() {
  timeout 60 npx --no-install @modelcontextprotocol/inspector --cli "$@" -- "$binary" --enable-test-tools --log-level warn
}

check() {  # check NAME JS-EXPRESSION-ON-r < json
  node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
    if (!('"$2"')) { console.error("FAIL: '"$1"': " + JSON.stringify(r)); process.exit(1); }
    console.log("ok - '"$1"'");'
}

inspector --method tools/list |
  check "inspector lists the tools" 'r.tools.map(t => t.name).join() === "get_deployment_status,deploy_to_standby,switch_traffic,test_echo,test_sleep,test_fail,test_long"'
inspector --method tools/call --tool-name test_echo --tool-arg text=hello |
  check "inspector calls a tool" 'r.isError === false && r.content[0].text === "hello" && r.structuredContent.text === "hello"'
# The Inspector exits non-zero for an isError result (and says so on stderr); the result itself
# is on stdout.
{ inspector --method tools/call --tool-name test_echo --tool-arg wrong=1 2>/dev/null || true; } |
  check "inspector sees an isError result for bad arguments" 'r.isError === true && /arguments\.wrong: unknown argument/.test(r.content[0].text)'
echo "3 passed, 0 failed"
