#!/usr/bin/env bash
# The Debian package (packaging/CMakeLists.txt), built from BUILD_DIR with cpack and checked as a
# Debian 12 machine would take it: the control data (Depends from dpkg-shlibdeps, plus
# openssh-client; /etc/bluegreen-mcp/config.example.json a conffile), the files it installs, apt
# resolving every dependency for it (apt-get install --simulate, which changes nothing), and the
# extracted binary: --version, its manual page, and an MCP session over stdio on the packaged
# example configuration (initialize, tools/list; nothing is contacted).
#
# Usage: tests/package/deb_test.sh BUILD_DIR
set -euo pipefail
build=$(realpath "${1:?usage: deb_test.sh BUILD_DIR}")
work=$(mktemp -d /tmp/bluegreen-deb-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/out/bluegreen-mcp_*_amd64.deb 2>/dev/null | head -n 1)
[[ -f $deb ]] || fail "no bluegreen-mcp_*_amd64.deb in $work/out"
echo "package: $(basename "$deb") ($(stat -c %s "$deb") bytes)"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for dep in openssh-client libssh-4 libspdlog1.10 libcpp-httplib0.11 libssl3 libstdc++6; do
  [[ $depends == *"$dep"* ]] || fail "Depends lacks $dep"
done
[[ $(dpkg-deb -f "$deb" Package) == bluegreen-mcp ]] || fail "Package is not bluegreen-mcp"
[[ $(dpkg-deb -I "$deb" conffiles) == /etc/bluegreen-mcp/config.example.json ]] || fail "conffiles"

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/bin/bluegreen-mcp ./usr/share/man/man1/bluegreen-mcp.1.gz ./etc/bluegreen-mcp/config.example.json \
            ./usr/share/doc/bluegreen-mcp/copyright ./usr/share/doc/bluegreen-mcp/README.md; do
  grep -qxF "$path" <<<"$contents" || fail "the package lacks $path"
done
if grep -q '^\./usr/local' <<<"$contents"; then fail "the package installs under /usr/local"; fi

# apt resolves the package's dependencies on this Debian 12 machine (simulated: nothing changes).
apt-get install --simulate --no-install-recommends "$deb" >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt cannot install it"; }
grep -q "^Inst bluegreen-mcp " "$work/apt.log" || { cat "$work/apt.log"; fail "apt would not install bluegreen-mcp"; }

root="$work/root"
dpkg-deb -x "$deb" "$root"
bin="$root/usr/bin/bluegreen-mcp"
version=$("$bin" --version)
[[ $version =~ ^bluegreen-mcp\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed '$version'"
echo "--version: $version"
man -l "$root/usr/share/man/man1/bluegreen-mcp.1.gz" 2>/dev/null | grep -q "check-config" || fail "the manual page lacks check-config"

# An MCP session on the packaged example configuration: the three model tools are listed.
config="$root/etc/bluegreen-mcp/config.example.json"
reply=$(printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"deb-test","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' |
  timeout 20 "$bin" --config "$config" --log-level warn 2>"$work/stderr.log")
for tool in get_deployment_status deploy_to_standby switch_traffic; do
  grep -q "\"name\":\"$tool\"" <<<"$reply" || { cat "$work/stderr.log"; fail "tools/list lacks $tool: $reply"; }
done
echo "PASS: the package installs /usr/bin/bluegreen-mcp, its manual page and /etc/bluegreen-mcp/config.example.json; apt resolves it; the binary serves MCP"
