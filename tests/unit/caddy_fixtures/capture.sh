#!/bin/bash
# usage: capture.sh NAME  -> starts caddy with cf/NAME.Caddyfile, saves out/NAME.json and out/NAME.raw
# Run from /tmp/wt-caddy-cap with the Caddyfiles in cf/; stop Caddy after with kill $(cat /tmp/wt-caddy-cap/caddy.pid).
set -u
name=$1
out=/tmp/wt-caddy-cap/out; mkdir -p $out
sock=/tmp/wt-caddy-cap/admin.sock
HOME=/tmp/wt-caddy-cap/home caddy start --config cf/$name.Caddyfile --adapter caddyfile --pidfile /tmp/wt-caddy-cap/caddy.pid > $out/$name.start.log 2>&1 || { echo start failed; cat $out/$name.start.log; exit 1; }
for i in $(seq 50); do [ -S $sock ] && break; sleep 0.1; done
printf 'GET /config/ HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n' | socat - UNIX-CONNECT:$sock > $out/$name.raw
curl -sS --unix-socket $sock -H "Host;" http://localhost/config/ > $out/$name.json
