#!/usr/bin/env bash
# The Debian package (packaging/CMakeLists.txt), built from BUILD_DIR with cpack and checked as a
# Debian 12 machine would take it: the control data (Depends from dpkg-shlibdeps, plus
# openssh-client and adduser; /etc/bluegreen-mcp/config.example.json a conffile; postinst, prerm
# and postrm), the files it installs, apt resolving every dependency for it (apt-get install
# --simulate, which changes nothing), and the extracted binary: --version, its manual page, and an
# MCP session over stdio on the packaged example configuration (initialize, tools/list; nothing is
# contacted). Then the systemd unit /lib/systemd/system/bluegreen-mcp.service: systemd-analyze
# verify accepts it; the maintainer scripts, run with every command they call stubbed (nothing on
# this machine changes): postinst creates the user and does not enable or start the unit, postrm
# purge removes /var/lib/bluegreen-mcp and keeps the user; and the unit's own ExecStart,
# with the extracted binary, a temporary config and tokens file and a free loopback port, serves
# MCP over HTTP (initialize with the bearer token: 200, serverInfo bluegreen-mcp, an
# Mcp-Session-Id; without it or with another: 401) and exits 0 on SIGTERM. Not tested here: the
# unit under a running systemd (its user, StateDirectory and sandbox), which needs systemd as PID 1.
#
# Usage: tests/package/deb_test.sh BUILD_DIR
set -euo pipefail
build=$(realpath "${1:?usage: deb_test.sh BUILD_DIR}")
work=$(mktemp -d /tmp/bluegreen-deb-test.XXXXXX)
serve_pid=
trap '[[ -n $serve_pid ]] && kill -KILL "$serve_pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/out/bluegreen-mcp_*_amd64.deb 2>/dev/null | head -n 1)
[[ -f $deb ]] || fail "no bluegreen-mcp_*_amd64.deb in $work/out"
echo "package: $(basename "$deb") ($(stat -c %s "$deb") bytes)"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for dep in openssh-client adduser libssh-4 libspdlog1.10 libcpp-httplib0.11 libssl3 libstdc++6; do
  [[ $depends == *"$dep"* ]] || fail "Depends lacks $dep"
done
[[ $(dpkg-deb -f "$deb" Package) == bluegreen-mcp ]] || fail "Package is not bluegreen-mcp"
[[ $(dpkg-deb -I "$deb" conffiles) == /etc/bluegreen-mcp/config.example.json ]] || fail "conffiles"

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/bin/bluegreen-mcp ./usr/share/man/man1/bluegreen-mcp.1.gz ./etc/bluegreen-mcp/config.example.json \
            ./usr/share/doc/bluegreen-mcp/copyright ./usr/share/doc/bluegreen-mcp/README.md \
            ./lib/systemd/system/bluegreen-mcp.service; do
  grep -qxF "$path" <<<"$contents" || fail "the package lacks $path"
done
if grep -q '^\./usr/local' <<<"$contents"; then fail "the package installs under /usr/local"; fi

# The maintainer scripts: present, executable, valid sh.
dpkg-deb -e "$deb" "$work/control"
for script in postinst prerm postrm; do
  [[ -f $work/control/$script ]] || fail "the package has no $script"
  [[ $(stat -c %a "$work/control/$script") == 755 ]] || fail "$script is not mode 755"
  sh -n "$work/control/$script" || fail "$script is not valid sh"
done

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
echo "stdio: initialize and tools/list answered"

# --- The systemd unit ---------------------------------------------------------------------------
unit="$root/lib/systemd/system/bluegreen-mcp.service"

# systemd-analyze verify on the packaged file (Documentation= man:bluegreen-mcp(1) found in the
# extracted manual pages). Unless the package is installed here, its only complaint is that
# /usr/bin/bluegreen-mcp does not exist, so it is also verified as a copy whose ExecStart names the
# extracted binary instead, which must pass without a word.
export MANPATH="$root/usr/share/man"
verify=$(systemd-analyze verify "$unit" 2>&1) && verify_rc=0 || verify_rc=$?
if [[ ! -x /usr/bin/bluegreen-mcp ]]; then
  [[ $verify_rc -ne 0 && $verify == "bluegreen-mcp.service: Command /usr/bin/bluegreen-mcp is not executable: No such file or directory" ]] ||
    fail "systemd-analyze verify of the packaged unit (rc $verify_rc): $verify"
else
  [[ $verify_rc -eq 0 && -z $verify ]] || fail "systemd-analyze verify of the packaged unit (rc $verify_rc): $verify"
fi
mkdir "$work/unit"
sed "s#^ExecStart=/usr/bin/bluegreen-mcp #ExecStart=$bin #" "$unit" >"$work/unit/bluegreen-mcp.service"
verify=$(systemd-analyze verify "$work/unit/bluegreen-mcp.service" 2>&1) || fail "systemd-analyze verify (ExecStart: the extracted binary): $verify"
[[ -z $verify ]] || fail "systemd-analyze verify (ExecStart: the extracted binary) complains: $verify"
unset MANPATH
echo "systemd-analyze verify: the unit passes (packaged: only /usr/bin/bluegreen-mcp missing here)"
grep -qxF "ConditionPathExists=/etc/bluegreen-mcp/config.json" "$unit" || fail "the unit does not wait for /etc/bluegreen-mcp/config.json"
grep -qxF "User=bluegreen-mcp" "$unit" || fail "the unit does not run as bluegreen-mcp"

# The maintainer scripts run with every command they call replaced by a stub that logs its
# arguments (PATH holds the stubs only, so nothing else runs and nothing on this machine changes).
# postinst on a fresh install creates the user, registers the unit, and neither enables nor starts
# it; postrm purge forgets the unit and removes /var/lib/bluegreen-mcp, and leaves the user.
stubs="$work/stubs"
mkdir "$stubs"
for cmd in getent adduser deluser userdel install rm deb-systemd-helper deb-systemd-invoke systemctl; do
  # A first install: getent finds no user (2); deb-systemd-helper debian-installed and was-enabled
  # say no (1).
  cat >"$stubs/$cmd" <<EOF
#!/bin/sh
echo "$cmd \$*" >>"\$STUB_LOG"
case "$cmd \$*" in
  getent*) exit 2 ;;
  *debian-installed*|*was-enabled*) exit 1 ;;
esac
exit 0
EOF
  chmod 755 "$stubs/$cmd"
done
maintainer_script() {  # SCRIPT ARG...: runs it on the stubs; its commands in $work/SCRIPT.log
  local script=$1
  shift
  STUB_LOG="$work/$script.log" PATH="$stubs" /bin/sh "$work/control/$script" "$@" >"$work/$script.out" 2>&1 ||
    { cat "$work/$script.out" "$work/$script.log"; fail "$script $* failed (with stubs)"; }
  touch "$work/$script.log"
}
maintainer_script postinst configure ""
grep -q "^adduser --system --group --home /var/lib/bluegreen-mcp .*bluegreen-mcp$" "$work/postinst.log" ||
  { cat "$work/postinst.log"; fail "postinst does not create the system user bluegreen-mcp"; }
grep -qxF "deb-systemd-helper update-state bluegreen-mcp.service" "$work/postinst.log" ||
  { cat "$work/postinst.log"; fail "postinst does not register the unit (deb-systemd-helper update-state)"; }
if grep -Eq "^deb-systemd-helper (enable|reenable)|^deb-systemd-invoke|^systemctl .*(enable|start)" "$work/postinst.log"; then
  cat "$work/postinst.log"
  fail "postinst enables or starts the unit on a fresh install"
fi
maintainer_script postrm purge
for expected in "deb-systemd-helper purge bluegreen-mcp.service" "rm -rf /var/lib/bluegreen-mcp"; do
  grep -qxF "$expected" "$work/postrm.log" || { cat "$work/postrm.log"; fail "postrm purge does not run: $expected"; }
done
if grep -Eq "^(deluser|userdel)" "$work/postrm.log"; then cat "$work/postrm.log"; fail "postrm purge removes the user"; fi
echo "maintainer scripts (stubbed): postinst creates the user and registers the unit, neither enabling nor starting it; postrm purge removes its state"

# The unit's own ExecStart, as systemd would split it (no quotes, specifiers or variables in it),
# with the extracted binary, temporary config and tokens files and a free loopback port.
mapfile -t execstart < <(grep '^ExecStart=' "$unit")
((${#execstart[@]} == 1)) || fail "the unit has ${#execstart[@]} ExecStart lines"
line=${execstart[0]#ExecStart=}
[[ $line != *[\"\'%\$\\]* ]] || fail "ExecStart has quotes, specifiers, variables or continuations: $line"
read -ra argv <<<"$line"
[[ ${argv[0]} == /usr/bin/bluegreen-mcp && ${argv[1]} == serve ]] || fail "ExecStart is not /usr/bin/bluegreen-mcp serve: $line"
echo "ExecStart: $line"

etc="$work/etc"
home="$work/home"
mkdir -p "$etc" "$home"
printf '{ "apps": {} }\n' >"$etc/config.json"
token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
{
  echo "# accepted bearer tokens: printf %s \"\$TOKEN\" | sha256sum"
  echo
  printf %s "$token" | sha256sum
} >"$etc/tokens"
chmod 640 "$etc/tokens"  # as README says (root:bluegreen-mcp); the server refuses a file others may read

# A port nothing listens on (bash's /dev/tcp connects or fails), from a range away from the
# usual services.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

# Starts the service's command on a free port; 1 when it exits before listening (the port may
# have been taken meanwhile: the caller retries).
start_service() {
  port=$(free_port) || fail "no free loopback port"
  local -a cmd=("$bin")
  local i
  for ((i = 1; i < ${#argv[@]}; i++)); do
    case ${argv[i]} in
      --config) [[ ${argv[i + 1]} == /etc/bluegreen-mcp/config.json ]] || fail "ExecStart: --config ${argv[i + 1]}"
                cmd+=(--config "$etc/config.json"); i=$((i + 1)) ;;
      --tokens-file) [[ ${argv[i + 1]} == /etc/bluegreen-mcp/tokens ]] || fail "ExecStart: --tokens-file ${argv[i + 1]}"
                     cmd+=(--tokens-file "$etc/tokens"); i=$((i + 1)) ;;
      --listen) [[ ${argv[i + 1]} == 127.0.0.1:8931 ]] || fail "ExecStart: --listen ${argv[i + 1]}"
                cmd+=(--listen "127.0.0.1:$port"); i=$((i + 1)) ;;
      *) cmd+=("${argv[i]}") ;;
    esac
  done
  [[ " ${cmd[*]} " == *" --tokens-file $etc/tokens "* && " ${cmd[*]} " == *" --listen 127.0.0.1:$port "* ]] ||
    fail "ExecStart lacks --tokens-file or --listen: $line"
  # As systemd starts it: a bare environment, the home as working directory, UMask=0077.
  (cd "$home" && umask 0077 && exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME="$home" \
      USER="$(id -un)" LOGNAME="$(id -un)" SHELL=/bin/sh "${cmd[@]}") 2>"$work/serve.log" &
  serve_pid=$!
  for _ in $(seq 200); do
    grep -qF "listening on http://127.0.0.1:$port/mcp" "$work/serve.log" && return 0
    kill -0 "$serve_pid" 2>/dev/null || { wait "$serve_pid" || true; serve_pid=; return 1; }
    sleep 0.1
  done
  cat "$work/serve.log"
  fail "ExecStart did not log 'listening on http://127.0.0.1:$port/mcp' within 20 s"
}
started=0
for _ in 1 2 3; do
  if start_service; then started=1; break; fi
done
((started)) || { cat "$work/serve.log"; fail "ExecStart exited before listening"; }
echo "serve: listening on http://127.0.0.1:$port/mcp"

# POST initialize; prints the HTTP status; headers and body into $work/reply.*.
initialize='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"deb-test","version":"1"}}}'
post_initialize() {
  curl -sS --noproxy '*' --max-time 10 -o "$work/reply.body" -D "$work/reply.headers" -w '%{http_code}' \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' "$@" \
    --data-binary "$initialize" "http://127.0.0.1:$port/mcp"
}
status=$(post_initialize -H "Authorization: Bearer $token") || { cat "$work/serve.log"; fail "curl to /mcp failed"; }
[[ $status == 200 ]] || { cat "$work/reply.headers" "$work/reply.body" "$work/serve.log"; fail "initialize with the token: HTTP $status"; }
grep -q '"name":"bluegreen-mcp"' "$work/reply.body" || { cat "$work/reply.body"; fail "the initialize reply does not name bluegreen-mcp"; }
session=$(grep -i '^mcp-session-id:' "$work/reply.headers" | head -n 1 | cut -d: -f2- | tr -d ' \r')
[[ -n $session ]] || { cat "$work/reply.headers"; fail "the initialize reply has no Mcp-Session-Id"; }
echo "http: initialize with the bearer token: 200, serverInfo bluegreen-mcp, Mcp-Session-Id $session"
status=$(post_initialize) || fail "curl to /mcp failed"
[[ $status == 401 ]] || { cat "$work/reply.headers" "$work/reply.body"; fail "initialize without a token: HTTP $status, not 401"; }
status=$(post_initialize -H "Authorization: Bearer x$token") || fail "curl to /mcp failed"
[[ $status == 401 ]] || { cat "$work/reply.headers" "$work/reply.body"; fail "initialize with another token: HTTP $status, not 401"; }
echo "http: without the token and with another: 401"

# SIGTERM (systemd's stop): exit status 0, within 10 s.
kill -TERM "$serve_pid"
for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$serve_pid" 2>/dev/null && { cat "$work/serve.log"; fail "still running 10 s after SIGTERM"; }
wait "$serve_pid" && serve_rc=0 || serve_rc=$?
serve_pid=
((serve_rc == 0)) || { cat "$work/serve.log"; fail "exit status $serve_rc after SIGTERM, not 0"; }
echo "serve: exit status 0 on SIGTERM"

echo "PASS: the package installs /usr/bin/bluegreen-mcp, its manual page, /etc/bluegreen-mcp/config.example.json and bluegreen-mcp.service; apt resolves it; the binary serves MCP over stdio; systemd-analyze verify accepts the unit, postinst does not enable it, and its ExecStart serves MCP over HTTP with bearer tokens"
