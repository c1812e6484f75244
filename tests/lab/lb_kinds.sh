# shellcheck shell=bash
# tests/lab/lb_kinds.sh - sourced by tests/lab/lab: which load balancer the lab's LB hosts (lb, and
# lb2 of an LB pair) run: HAProxy (the default), nginx or Caddy. `lab up --lb TYPE` chooses it; it
# is remembered in $LAB/lb-type (absent: haproxy), so a later `up` keeps it, and `up --fresh` and
# `down --purge` go back to HAProxy. Changing it stops the other kinds' processes on each LB.
#
# Each kind runs as a real daemon inside the LB's own namespace, the way Debian 12 sets it up, with
# paths private to each LB (lb and lb2 share no file):
#   nginx  /etc/nginx/nginx.conf (nginx.conf.in: pid /run/nginx/nginx.pid, includes
#          /etc/nginx/sites-enabled/*) and /etc/nginx/sites-enabled/app.conf (nginx-app.conf.in:
#          `upstream blue`, `upstream green`, the frontend's `proxy_pass http://<live>;` and a
#          stub_status page on the stats port). Master pid: /run/nginx/nginx.pid.
#   caddy  /etc/caddy/Caddyfile (Caddyfile.in: admin API on the unix socket
#          /run/caddy/admin.sock only, never on the network; `reverse_proxy` to the live colour's
#          servers with active health checks). HOME=/var/lib/caddy as for Debian's caddy user, so
#          its autosave is /var/lib/caddy/.config/caddy/autosave.json. Pid: /run/caddy/caddy.pid.
# The admin API answers a request through the unix socket only with an empty Host header
# (caddy_admin: curl -H 'Host;').

LB_TYPES=(haproxy nginx caddy)

# load_lb_type: LB_TYPE from $LB_TYPE_FILE (absent: haproxy).
load_lb_type() {
  LB_TYPE=haproxy
  if [[ -r $LB_TYPE_FILE ]]; then read -r LB_TYPE <"$LB_TYPE_FILE" || true; fi
  is_lb_type "$LB_TYPE" || die "$LB_TYPE_FILE is damaged ('$LB_TYPE'); fix it or run 'lab up --lb haproxy'"
}
is_lb_type() { [[ " ${LB_TYPES[*]} " == *" $1 "* ]]; }
save_lb_type() {
  if [[ $LB_TYPE == haproxy ]]; then rm -f "$LB_TYPE_FILE"; else echo "$LB_TYPE" | write_if_changed "$LB_TYPE_FILE" || true; fi
}

# lb_kind_paths: the nginx and Caddy paths of the current LB (use_lb calls it), seen from outside.
lb_kind_paths() {
  NGINX_CONF=$LB_FS/etc/nginx/nginx.conf
  NGINX_SITE=$LB_FS/etc/nginx/sites-enabled/app.conf
  NGINX_PIDFILE=$LB_FS/run/nginx/nginx.pid
  NGINX_LOG=$LOGS/$LBH-nginx.log
  CADDYFILE=$LB_FS/etc/caddy/Caddyfile
  CADDY_PIDFILE=$LB_FS/run/caddy/caddy.pid
  CADDY_ADMIN_SOCK=$LB_FS/run/caddy/admin.sock
  CADDY_LOG=$LOGS/$LBH-caddy.log
}

# daemon_pid PIDFILE COMM: the pid in PIDFILE if it is a COMM process of the current LB.
daemon_pid() {
  local pid
  read -r pid 2>/dev/null <"$1" || return 1
  [[ $pid =~ ^[0-9]+$ ]] && pid_in_host "$pid" "$LBH" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]] || return 1
  echo "$pid"
}
nginx_master_pid() { daemon_pid "$NGINX_PIDFILE" nginx; }
caddy_pid() { daemon_pid "$CADDY_PIDFILE" caddy; }

# lb_pid: the pid of the current LB's load balancer of the lab's type (HAProxy: its master).
lb_pid() {
  case $LB_TYPE in
    haproxy) haproxy_master_pid ;;
    nginx) nginx_master_pid ;;
    caddy) caddy_pid ;;
  esac
}

# lb_describe: "haproxy master pid N" (nginx master pid N, caddy pid N) of the current LB.
lb_describe() {
  local pid
  pid=$(lb_pid) || {
    echo "$LB_TYPE DOWN"
    return 1
  }
  case $LB_TYPE in
    caddy) echo "caddy pid $pid" ;;
    *) echo "$LB_TYPE master pid $pid" ;;
  esac
}

# stop_lb_kinds [KEEP]: end the current LB's load-balancer processes of every kind but KEEP
# (none: all of them), so their ports are free.
stop_lb_kinds() {
  local keep=${1:-} pid comm
  local -a pids=()
  [[ $keep == haproxy ]] || stop_haproxy
  scan_lab
  for pid in ${HOST_PIDS[$LBH]:-}; do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    [[ ($comm == nginx || $comm == caddy) && $comm != "$keep" ]] && pids+=("$pid")
  done
  if ((${#pids[@]})); then
    terminate "${HOST_NS[$LBH]}" "${pids[@]}" || die "$LBH: load-balancer processes survived SIGKILL: ${pids[*]}"
  fi
  [[ $keep == nginx ]] || rm -f "$NGINX_PIDFILE"
  [[ $keep == caddy ]] || rm -f "$CADDY_PIDFILE" "$CADDY_ADMIN_SOCK"
}

# ensure_lb_running: the current LB runs the lab's type of load balancer, and no other kind.
ensure_lb_running() {
  stop_lb_kinds "$LB_TYPE"
  if lb_pid >/dev/null; then
    # Running, but its config was removed (a test starting from the rendered one): render it again.
    if [[ $LB_TYPE == nginx && ! -s $NGINX_SITE ]]; then
      render_nginx_site "$(initial_live_color)" | write_if_changed "$NGINX_SITE" || true
      in_host "$LBH" /usr/sbin/nginx -s reload >>"$NGINX_LOG" 2>&1 || fail "$LBH" "nginx -s reload failed" "$NGINX_LOG"
    elif [[ $LB_TYPE == caddy && ! -s $CADDYFILE ]]; then
      render_caddyfile "$(initial_live_color)" | write_if_changed "$CADDYFILE" || true
      in_caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile >>"$CADDY_LOG" 2>&1 ||
        fail "$LBH" "caddy reload failed" "$CADDY_LOG"
    fi
    return 0
  fi
  case $LB_TYPE in
    haproxy) start_haproxy ;;
    nginx) start_nginx ;;
    caddy) start_caddy ;;
  esac
}

# pool_servers_of COLOUR: "ADDR ADDR ..." of the colour's servers the topology runs (blue first).
pool_servers_of() {
  local h out=''
  for h in "${APP_HOSTS[@]}"; do [[ $(host_colour "$h") == "$1" ]] && out+="${ADDR[$h]} "; done
  echo "${out% }"
}

# ------------------------------------------------------------------------------------ nginx --

# render_nginx_site LIVE: the current LB's sites-enabled/app.conf from nginx-app.conf.in: an
# upstream per colour with a `server ADDR:PORT;` line per server of that colour, the frontend's
# proxy_pass to LIVE.
render_nginx_site() {
  local live=$1 c servers
  local -a args=()
  for c in blue green; do
    servers=''
    for a in $(pool_servers_of "$c"); do servers+="    server $a:$APP_PORT;\\n"; done
    args+=(-e "s|^ *@${c^^}_SERVERS@\$|${servers%\\n}|")
  done
  sed -e "s/@LB_ADDR@/${ADDR[$LBH]}/g" -e "s/@LB_PORT@/$LB_PORT/g" -e "s/@STATS_PORT@/$STATS_PORT/g" \
    -e "s/@LIVE@/$live/g" "${args[@]}" "$SCRIPT_DIR/nginx-app.conf.in"
}

# nginx_live_color: the upstream the current LB's app.conf sends traffic to (blue or green).
nginx_live_color() {
  sed -n 's/^[[:space:]]*proxy_pass http:\/\/\(blue\|green\);.*/\1/p' "$NGINX_SITE" 2>/dev/null | head -1 | grep .
}

nginx_check() { in_host "$LBH" /usr/sbin/nginx -t -q; }

# start_nginx: the current LB's nginx master (daemon), its configuration rendered first where it
# is missing (traffic on the colour the LB pair serves, else blue); returns once the frontend port
# answers.
start_nginx() {
  local log=$NGINX_LOG deadline
  mkdir -p "$LB_FS/etc/nginx/sites-enabled" "$LB_FS/etc/nginx/conf.d" "$LB_FS/var/log/nginx" "$LB_FS/run/nginx"
  [[ -s $NGINX_CONF ]] || cp "$SCRIPT_DIR/nginx.conf.in" "$NGINX_CONF"
  [[ -s $NGINX_SITE ]] || render_nginx_site "$(initial_live_color)" | write_if_changed "$NGINX_SITE" || true
  printf '=== %s lab: nginx -t\n' "$(date '+%F %T')" >>"$log"
  nginx_check >>"$log" 2>&1 || fail "$LBH" "'nginx -t' rejects /etc/nginx/nginx.conf" "$log"
  rm -f "$NGINX_PIDFILE"
  in_host "$LBH" /usr/sbin/nginx </dev/null >>"$log" 2>&1 || fail "$LBH" "nginx did not start" "$log"
  deadline=$((SECONDS + 10))
  until nginx_master_pid >/dev/null; do
    ((SECONDS < deadline)) || fail "$LBH" "nginx wrote no pid file /run/nginx/nginx.pid within 10s" "$log"
    sleep 0.05
  done
}

# ------------------------------------------------------------------------------------ caddy --

# render_caddyfile LIVE: the current LB's Caddyfile from Caddyfile.in, reverse_proxy to LIVE's servers.
render_caddyfile() {
  local upstreams='' a
  for a in $(pool_servers_of "$1"); do upstreams+="$a:$APP_PORT "; done
  sed -e "s/@LB_ADDR@/${ADDR[$LBH]}/g" -e "s/@LB_PORT@/$LB_PORT/g" -e "s/@STATS_PORT@/$STATS_PORT/g" \
    -e "s/@UPSTREAMS@/${upstreams% }/g" "$SCRIPT_DIR/Caddyfile.in"
}

# caddy_admin PATH [CURL ARGS...]: a request to the current LB's admin API through its unix socket.
caddy_admin() {
  local path=$1
  shift
  curl -sS -m 3 --unix-socket "$CADDY_ADMIN_SOCK" -H 'Host;' "$@" "http://localhost$path"
}

# in_caddy ARGS...: `caddy ARGS...` inside the current LB, with the environment Debian gives it.
in_caddy() { in_host "$LBH" env HOME=/var/lib/caddy /usr/bin/caddy "$@"; }

# start_caddy: the current LB's Caddy (`caddy start`: returns once its config is loaded), its
# Caddyfile rendered first where it is missing (traffic on the colour the LB pair serves, else blue).
start_caddy() {
  local log=$CADDY_LOG deadline
  mkdir -p "$LB_FS/etc/caddy" "$LB_FS/run/caddy" "$LB_FS/var/lib/caddy"
  [[ -s $CADDYFILE ]] || render_caddyfile "$(initial_live_color)" | write_if_changed "$CADDYFILE" || true
  rm -f "$CADDY_PIDFILE" "$CADDY_ADMIN_SOCK"
  printf '=== %s lab: caddy start\n' "$(date '+%F %T')" >>"$log"
  in_caddy start --config /etc/caddy/Caddyfile --adapter caddyfile --pidfile /run/caddy/caddy.pid \
    </dev/null >>"$log" 2>&1 || fail "$LBH" "caddy did not start" "$log"
  deadline=$((SECONDS + 10))
  until caddy_pid >/dev/null && caddy_admin /config/ >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$LBH" "caddy's admin API (/run/caddy/admin.sock) does not answer within 10s" "$log"
    sleep 0.05
  done
}

# ------------------------------------------------------------------------------ readiness --

# wait_lb_kind_serving DEADLINE: the current LB (nginx or Caddy) serves blue or green through its
# frontend, and what the deployment tool uses works over SSH: `nginx -t`, or Caddy's admin API
# through its unix socket (the upstreams of its reverse_proxy).
wait_lb_kind_serving() {
  local deadline=$1
  until frontend_color >/dev/null; do
    ((SECONDS < deadline)) || fail "$LBH" "frontend http://${ADDR[$LBH]}:$LB_PORT/health does not answer healthy from blue or green within ${TIMEOUT}s" "$(lb_log)"
    sleep 0.1
  done
  case $LB_TYPE in
    nginx) ssh_lab "$LBH" "nginx -t -q" ||
      fail "$LBH" "'nginx -t' does not pass over ssh" "$LOGS/$LBH-sshd.log" ;;
    caddy) ssh_lab "$LBH" "curl -sf -m 3 --unix-socket /run/caddy/admin.sock -H 'Host;' http://localhost/reverse_proxy/upstreams | grep -q '\"address\"'" ||
      fail "$LBH" "caddy's admin API does not list upstreams over ssh" "$CADDY_LOG" ;;
  esac
}

lb_log() {
  case $LB_TYPE in
    haproxy) echo "$HAPROXY_LOG" ;;
    nginx) echo "$NGINX_LOG" ;;
    caddy) echo "$CADDY_LOG" ;;
  esac
}

# sync_pool_kind: with nginx or Caddy, the current LB's config gets the pool's servers (the colour
# it serves kept); a running one reloads (`nginx -s reload`, `caddy reload`: no request dropped).
sync_pool_kind() {
  local live
  case $LB_TYPE in
    nginx)
      [[ -s $NGINX_SITE ]] || return 0
      live=$(nginx_live_color) || return 0
      render_nginx_site "$live" | write_if_changed "$NGINX_SITE" || return 0
      nginx_master_pid >/dev/null || return 0
      nginx_check >>"$NGINX_LOG" 2>&1 || fail "$LBH" "'nginx -t' rejects the config with the pool's servers" "$NGINX_LOG"
      in_host "$LBH" /usr/sbin/nginx -s reload >>"$NGINX_LOG" 2>&1 || fail "$LBH" "nginx -s reload failed" "$NGINX_LOG"
      ;;
    caddy)
      [[ -s $CADDYFILE ]] || return 0
      live=$(frontend_color) || return 0
      render_caddyfile "$live" | write_if_changed "$CADDYFILE" || return 0
      caddy_pid >/dev/null || return 0
      in_caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile >>"$CADDY_LOG" 2>&1 ||
        fail "$LBH" "caddy reload failed" "$CADDY_LOG"
      ;;
  esac
}
