#!/usr/bin/env bash
# The Debian package installed on a clean Debian 12: a minimal bookworm made by debootstrap from
# Debian's mirror, in a chroot. apt installs the package built from BUILD_DIR with everything it
# depends on (from the mirror); the postinst makes the user bluegreen-mcp and its home, and does not
# enable the unit; the unit's own ExecStart, run in the chroot as that user with the environment
# systemd would give it, serves MCP over HTTP on a loopback port (initialize with the bearer token:
# 200, serverInfo bluegreen-mcp, an Mcp-Session-Id; without a token: 401) and exits 0 on SIGTERM;
# `apt-get purge` removes the program and the home. Not tested: systemd itself starting the unit
# (this machine's PID 1 is not systemd); tests/package/deb_test.sh verifies the unit with
# systemd-analyze.
#
# Without the mirror (debootstrap or apt cannot download) the test is skipped (exit 77, which ctest
# reports as skipped, not passed). The root is cached in BLUEGREEN_DEBOOTSTRAP_CACHE (default
# /var/cache/bluegreen-mcp-test/bookworm.tar) so a second run needs no download for it.
#
# Usage: tests/package/install_test.sh BUILD_DIR   (as root)
set -euo pipefail
build=$(realpath "${1:?usage: install_test.sh BUILD_DIR}")
cache=${BLUEGREEN_DEBOOTSTRAP_CACHE:-/var/cache/bluegreen-mcp-test/bookworm.tar}
mirror=http://deb.debian.org/debian
work=$(mktemp -d /tmp/bluegreen-install-test.XXXXXX)
root=$work/root
serve_pid=
cleanup() {
  [[ -n $serve_pid ]] && kill -KILL "$serve_pid" 2>/dev/null
  for mount in proc dev/pts dev; do mountpoint -q "$root/$mount" && umount -l "$root/$mount"; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
[[ $(id -u) == 0 ]] || skip "needs root (debootstrap and chroot)"
command -v debootstrap >/dev/null || fail "debootstrap is missing (scripts/install-deps installs it)"

cpack --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/out/bluegreen-mcp_*_amd64.deb | head -n 1)

# A clean Debian 12 (minbase: what debootstrap installs, nothing of this machine's).
mkdir -p "$root"
if [[ -f $cache ]]; then
  tar -xf "$cache" -C "$root"
  echo "clean root: from the cache $cache"
else
  start=$SECONDS
  timeout 900 debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 5 "$work/debootstrap.log" >&2
    skip "debootstrap could not make a Debian 12 root from $mirror"
  }
  echo "clean root: debootstrap bookworm minbase in $((SECONDS - start)) s"
  mkdir -p "$(dirname "$cache")" && tar -cf "$cache.partial" -C "$root" . && mv "$cache.partial" "$cache"
fi
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# No service may start in the chroot (Debian's policy-rc.d: 101 = action forbidden).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }

[[ -e $root/usr/bin/bluegreen-mcp ]] && fail "the clean root already has bluegreen-mcp"
cp "$deb" "$root/tmp/bluegreen-mcp.deb"
timeout 600 chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive apt-get update \
  >"$work/apt.log" 2>&1 || { tail -n 5 "$work/apt.log" >&2; skip "apt-get update could not reach $mirror"; }
start=$SECONDS
timeout 600 chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends /tmp/bluegreen-mcp.deb >>"$work/apt.log" 2>&1 || {
  tail -n 30 "$work/apt.log" >&2
  grep -q "Failed to fetch\|Temporary failure resolving\|Could not connect" "$work/apt.log" &&
    skip "apt could not download the dependencies from $mirror"
  fail "apt-get install of the package failed on a clean Debian 12"
}
echo "ok - apt installed $(basename "$deb") and its dependencies on a clean Debian 12 in $((SECONDS - start)) s:" \
  "$(grep -c '^Setting up' "$work/apt.log") packages set up"

# What the package and its postinst left.
for path in /usr/bin/bluegreen-mcp /usr/share/man/man1/bluegreen-mcp.1.gz /etc/bluegreen-mcp/config.example.json \
  /lib/systemd/system/bluegreen-mcp.service /usr/share/doc/bluegreen-mcp/copyright; do
  [[ -e $root$path ]] || fail "$path is not installed"
done
in_root getent passwd bluegreen-mcp >/dev/null || fail "postinst made no user bluegreen-mcp"
home=$(in_root getent passwd bluegreen-mcp | cut -d: -f6)
[[ $home == /var/lib/bluegreen-mcp ]] || fail "the user's home is $home"
uid=$(in_root getent passwd bluegreen-mcp | cut -d: -f3)  # the chroot's, not this machine's names
[[ $(stat -c '%u %a' "$root$home") == "$uid 700" ]] || fail "$home is $(stat -c '%u %a' "$root$home"), not $uid 700"
if ls "$root"/etc/systemd/system/*.wants/bluegreen-mcp.service >/dev/null 2>&1; then
  fail "the unit was enabled on install"
fi
echo "ok - the user bluegreen-mcp (home $home, mode 700) exists and the unit is not enabled"
in_root /usr/bin/bluegreen-mcp --version | grep -q '^bluegreen-mcp ' || fail "--version in the clean root"

# The unit's ExecStart, as its user, with the environment systemd gives it (User=, Environment=).
exec_start=$(sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/bluegreen-mcp.service")
[[ $exec_start == "/usr/bin/bluegreen-mcp serve --config /etc/bluegreen-mcp/config.json --listen 127.0.0.1:8931 --tokens-file /etc/bluegreen-mcp/tokens" ]] ||
  fail "unexpected ExecStart: $exec_start"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$(head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
echo '{"apps": {}}' >"$root/etc/bluegreen-mcp/config.json"
printf '# written by install_test.sh\n%s  install-test\n' "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" \
  >"$root/etc/bluegreen-mcp/tokens"
in_root chown root:bluegreen-mcp /etc/bluegreen-mcp/tokens
chmod 640 "$root/etc/bluegreen-mcp/tokens"
command=${exec_start/127.0.0.1:8931/127.0.0.1:$port}
# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it (no quotes in it)
chroot --userspec=bluegreen-mcp:bluegreen-mcp "$root" env -i HOME="$home" USER=bluegreen-mcp LOGNAME=bluegreen-mcp \
  SHELL=/bin/sh PATH=/usr/local/bin:/usr/bin:/bin $command 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do
  grep -q "listening on http://127.0.0.1:$port/mcp" "$work/serve.log" && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; fail "serve exited in the clean root"; }
  sleep 0.1
done
grep -q "listening on" "$work/serve.log" || { cat "$work/serve.log" >&2; fail "serve did not listen"; }
body='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"install-test","version":"1"}}}'
post() {
  curl -sS -o "$work/reply" -D "$work/headers" -w '%{http_code}' "http://127.0.0.1:$port/mcp" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' "$@" -d "$body"
}
[[ $(post -H "Authorization: Bearer $token") == 200 ]] || { cat "$work/reply"; fail "initialize with the token"; }
grep -q '"name":"bluegreen-mcp"' "$work/reply" || fail "no serverInfo in $(cat "$work/reply")"
grep -qi '^Mcp-Session-Id: [0-9a-f]\{32\}' "$work/headers" || fail "no Mcp-Session-Id"
[[ $(post) == 401 ]] || fail "initialize without a token was not refused"
kill -TERM "$serve_pid"
status=0
wait "$serve_pid" || status=$?
serve_pid=
[[ $status == 0 ]] || { cat "$work/serve.log" >&2; fail "serve exited $status on SIGTERM"; }
echo "ok - the unit's ExecStart, as bluegreen-mcp in the clean root: initialize 200 with the token, 401 without, exit 0 on SIGTERM"

in_root apt-get purge -y bluegreen-mcp >>"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; fail "apt-get purge"; }
[[ -e $root/usr/bin/bluegreen-mcp ]] && fail "purge left /usr/bin/bluegreen-mcp"
[[ -e $root$home ]] && fail "purge left $home"
echo "ok - apt-get purge removed the program and $home"
