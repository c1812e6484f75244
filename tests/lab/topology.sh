# shellcheck shell=bash
# tests/lab/topology.sh - sourced by tests/lab/lab: the lab's topology, i.e. how many app servers
# each colour has (a pool: blue, blue2 .. blue4 and green, green2 .. green4) and how many load
# balancers route to them (lb, and lb2 for an LB pair with the same routing). `lab topology`
# changes it on a running lab; `up` keeps it; `up --fresh` and `down --purge` go back to
# pool=1 lbs=1, where the lab is exactly the four-host lab it always was.

MAX_POOL=4
MAX_LBS=2

# load_topology: POOL_SIZE and LB_COUNT from $TOPOLOGY_FILE (absent: 1 and 1), then the host
# lists that follow from them.
load_topology() {
  local key val
  POOL_SIZE=1
  LB_COUNT=1
  if [[ -r $TOPOLOGY_FILE ]]; then
    while IFS='=' read -r key val; do
      case $key in
        POOL_SIZE) POOL_SIZE=$val ;;
        LB_COUNT) LB_COUNT=$val ;;
      esac
    done <"$TOPOLOGY_FILE"
  fi
  [[ $POOL_SIZE =~ ^[1-4]$ && $LB_COUNT =~ ^[12]$ ]] ||
    die "$TOPOLOGY_FILE is damaged (POOL_SIZE=$POOL_SIZE LB_COUNT=$LB_COUNT); fix it or run 'lab topology --pool 1 --lbs 1'"
  set_topology_hosts
}

save_topology() {
  printf 'POOL_SIZE=%s\nLB_COUNT=%s\n' "$POOL_SIZE" "$LB_COUNT" | write_if_changed "$TOPOLOGY_FILE" || true
}

# set_topology_hosts: which hosts run for POOL_SIZE and LB_COUNT. The order is the order of
# status and summaries: blue blue2 .. green green2 .. lb lb2 bastion (pool=1 lbs=1: blue green
# lb bastion, as always).
set_topology_hosts() {
  local c k h
  local -A seen=()
  APP_HOSTS=()
  for c in blue green; do
    APP_HOSTS+=("$c")
    for ((k = 2; k <= POOL_SIZE; k++)); do APP_HOSTS+=("$c$k"); done
  done
  LB_HOSTS=(lb)
  ((LB_COUNT < 2)) || LB_HOSTS+=(lb2)
  INTERNAL_HOSTS=("${APP_HOSTS[@]}" "${LB_HOSTS[@]}")
  HOSTS=("${INTERNAL_HOSTS[@]}" bastion)
  # The extra hosts' addresses are derived from BLUE_ADDR: an address chosen for another host
  # can be one of them.
  for h in "${HOSTS[@]}"; do
    [[ -z ${seen[${ADDR[$h]}]:-} ]] ||
      die "$h and ${seen[${ADDR[$h]}]} would both listen on ${ADDR[$h]} (pool hosts are ${BLUE_ADDR%.*}.1K/.2K, lb2 ${BLUE_ADDR%.*}.5); choose other BLUEGREEN_LAB_*_ADDR or a smaller topology"
    seen[${ADDR[$h]}]=$h
  done
}

# set_extra_addresses: the extra hosts' addresses, from the first three octets of BLUE_ADDR:
# blueK = P.(10+K), greenK = P.(20+K), lb2 = P.5.
set_extra_addresses() {
  local p=${BLUE_ADDR%.*} k
  for k in 2 3 4; do
    ADDR["blue$k"]=$p.$((10 + k))
    ADDR["green$k"]=$p.$((20 + k))
  done
  ADDR["lb2"]=$p.5
}

# host_colour HOST: blue for blue, blue2 ...; green for green ...; lb for lb, lb2.
host_colour() { echo "${1%%[0-9]*}"; }

# in_topology HOST: HOST is one of the hosts the topology runs.
in_topology() { [[ " ${HOSTS[*]} " == *" $1 "* ]]; }

# pool_members: "blue2=ADDR blue3=ADDR green2=ADDR ...": the app hosts beyond each colour's first.
pool_members() {
  local h out=''
  for h in "${APP_HOSTS[@]}"; do
    [[ $h == blue || $h == green ]] || out+="$h=${ADDR[$h]} "
  done
  echo "${out% }"
}

# ------------------------------------------------------------ app hosts --

# match_checkout HOST: a pool member that was just cloned runs what its colour's first host runs:
# the same commit, detached if the first host's checkout is detached (as a deploy leaves it).
match_checkout() {
  local h=$1 first dir sha
  first=$LAB/hosts/$(host_colour "$h")/fs/srv/app
  dir=$LAB/hosts/$h/fs/srv/app
  sha=$(git -C "$first" rev-parse -q --verify 'HEAD^{commit}') ||
    fail "$h" "cannot read the commit $(host_colour "$h") runs ($first), which a new pool member starts with"
  if [[ $(git -C "$dir" rev-parse HEAD) == "$sha" ]] && git -C "$first" symbolic-ref -q HEAD >/dev/null; then
    return 0
  fi
  # A commit the origin does not have (made on the first host itself) comes from its checkout.
  git -C "$dir" cat-file -e "$sha^{commit}" 2>/dev/null || git -C "$dir" fetch -q "$first" HEAD ||
    fail "$h" "cannot fetch $sha from $first"
  git -C "$dir" checkout -q --detach "$sha"
}

# ------------------------------------------------------------ HAProxy --

# cfg_live_color FILE: the backend (blue or green) that `frontend fe_app` of FILE names in its
# default_backend; status 1 when there is none of the two.
cfg_live_color() {
  local c
  c=$(awk '/^[^ \t#]/ { fe = ($1 == "frontend" && $2 == "fe_app") }
           fe && $1 == "default_backend" { print $2; exit }' "$1" 2>/dev/null) || return 1
  [[ $c == blue || $c == green ]] && echo "$c"
}

# lb_live_color LB: the colour LB sends traffic to: its default haproxy.cfg's, else (custom layout,
# a config of another shape) what its frontend serves.
lb_live_color() {
  local c
  if [[ ! -s $LAB/hosts/$1/haproxy-args ]] && c=$(cfg_live_color "$LAB/hosts/$1/fs/etc/haproxy/haproxy.cfg"); then
    echo "$c"
    return 0
  fi
  frontend_color "$1"
}

# cfg_pool_servers FILE: the pool servers (blue2, green3, ...) that FILE has server lines for,
# sorted, space-separated.
cfg_pool_servers() {
  awk '$1 == "server" && $2 ~ /^(blue|green)[0-9]+$/ { print $2 }' "$1" 2>/dev/null | sort | paste -sd' ' -
}

wanted_pool_servers() {
  local m
  for m in $(pool_members); do echo "${m%%=*}"; done | sort | paste -sd' ' -
}

master_cmd() { socat -T 3 - "UNIX-CONNECT:$MASTER_SOCK" <<<"$1" 2>/dev/null; }

# haproxy_workers current|old: pids of the current LB's workers ("# workers" of `show proc`) or of
# the old ones a reload left finishing their connections ("# old workers").
haproxy_workers() {
  master_cmd 'show proc' | awk -v want="$1" '
    /^# workers/ { sec = "current"; next }
    /^# old workers/ { sec = "old"; next }
    /^#/ { sec = ""; next }
    sec == want && $2 == "worker" { printf "%s%s", sep, $1; sep = " " }
    END { print "" }'
}

# reload_haproxy: the current LB's HAProxy (use_lb) rereads its config through the master socket.
# The new worker takes over the listening sockets (expose-fd listeners) and old workers finish
# what they serve, so no request is dropped. The reload command returns before the new worker
# serves: this returns once the admin socket is answered by a new worker.
reload_haproxy() {
  local before now deadline=$((SECONDS + 10))
  before=$(haproxy_workers current)
  printf '=== %s lab topology: reload (workers before: %s)\n' "$(date '+%F %T')" "$before" >>"$HAPROXY_LOG"
  master_cmd reload >/dev/null || true
  until now=$(haproxy_workers current) && [[ -n $now && $now != "$before" && $(admin_cmd 'show info') == *"Pid: $now"* ]]; do
    ((SECONDS < deadline)) || fail "$LBH" "no new haproxy worker within 10s of 'reload' on the master socket (workers: ${now:-none})" "$HAPROXY_LOG"
    sleep 0.05
  done
}

# sync_pool_servers: the current LB's default haproxy.cfg (use_lb) must have a server line for
# each pool member the topology runs and none for others. If not, it is rendered again from the
# template with the colour it sends traffic to kept, checked with `haproxy -c`, and a running
# HAProxy reloaded. A custom layout (`lab haproxy-start PATH...`) is never touched; a missing or
# unreadable config is left to start_haproxy, which repairs it.
sync_pool_servers() {
  local live old log=$HAPROXY_LOG
  custom_haproxy_layout && return 0
  [[ -s $HAPROXY_CFG ]] || return 0
  [[ $(cfg_pool_servers "$HAPROXY_CFG") != "$(wanted_pool_servers)" ]] || return 0
  if ! live=$(cfg_live_color "$HAPROXY_CFG"); then
    haproxy_master_pid >/dev/null || return 0
    live=$(frontend_color) ||
      fail "$LBH" "cannot tell which colour haproxy.cfg sends traffic to (no 'default_backend blue|green' in 'frontend fe_app', no healthy answer from http://${ADDR[$LBH]}:$LB_PORT/health)" "$log"
  fi
  old=$(mktemp "$HAPROXY_CFG.before-topology.XXXXXX")
  cp -p "$HAPROXY_CFG" "$old"
  render_haproxy_cfg "$live" | write_if_changed "$HAPROXY_CFG" || true
  load_haproxy_paths
  printf '=== %s lab topology: pool servers now: %s; haproxy -c\n' "$(date '+%F %T')" "$(wanted_pool_servers)" >>"$log"
  if ! haproxy_check >>"$log" 2>&1; then
    mv -f "$old" "$HAPROXY_CFG"
    fail "$LBH" "'haproxy -c' rejects the template config with the pool's servers; the previous haproxy.cfg is back" "$log"
  fi
  rm -f "$old"
  if haproxy_master_pid >/dev/null; then reload_haproxy; fi
}

# ----------------------------------------------------------- extra hosts --

# retire_hosts HOST...: stop extra hosts the topology no longer runs. The LBs were reloaded
# without them (sync_pool_servers); old workers still finishing requests on them get up to 5 s
# (a client's idle keep-alive connection can keep one longer: it is not waited for).
retire_hosts() {
  local lbh deadline=$((SECONDS + 5))
  for lbh in "${LB_HOSTS[@]}"; do
    use_lb "$lbh"
    until [[ -z $(haproxy_workers old) ]] || ((SECONDS >= deadline)); do sleep 0.1; done
  done
  use_lb lb
  scan_lab
  # Not waiting for init to reap them (wait_reaped): a zombie holds no namespace, port or file.
  stop_hosts "$@"
  say "topology: stopped $*"
}

# forget_host HOST: an extra host that does not run loses its private files (/srv, /root,
# /etc/haproxy, the state dir, ...), its remembered HAProxy layout and `lab sftp off`, so that when
# the topology asks for it again it starts as a new server: a pool member with its colour's commit,
# lb2 with lb's routing. Its host key (and so known_hosts) stays.
forget_host() {
  local hd=$LAB/hosts/$1 p
  local -a dirs=()
  for p in "${PRIVATE_PATHS[@]}"; do [[ -d $hd/fs$p ]] && dirs+=("$hd/fs$p"); done
  ((${#dirs[@]} == 0)) || find "${dirs[@]}" -mindepth 1 -delete
  rm -f "$hd/haproxy-args" "$hd/no-sftp" "$hd/sshd.pid"
}

# --------------------------------------------------------- bluegreen-mcp --

# render_topology_config: the app "shop" of bluegreen-mcp.json in the pool / LB-pair format:
# hosts.blue and hosts.green are arrays of servers (each with its HAProxy server name), and
# loadBalancer is an array of load balancers (the same object per LB, at its own address);
# deploy.maxParallel and healthGate.minHealthy are the pool size.
render_topology_config() {
  local h
  local -a entries=()
  for h in "${APP_HOSTS[@]}"; do entries+=("app:$h:$(host_colour "$h"):${ADDR[$h]}"); done
  for h in "${LB_HOSTS[@]}"; do entries+=("lb:$h:${ADDR[$h]}"); done
  # shellcheck disable=SC2016 # a Python program, $LAB in it is text
  render_bluegreen_config | python3 -c '
import copy, json, sys

pool, app_port, lb_addr = int(sys.argv[1]), sys.argv[2], sys.argv[3]
config = json.load(sys.stdin)
config["_comment"] = ("bluegreen-mcp configuration for the loopback lab in the pool / LB-pair format, for its "
                      "current topology (rendered by tests/lab/lab from bluegreen-mcp.json.in into "
                      "$LAB/bluegreen-mcp-topology.json)")
shop = config["apps"]["shop"]
first = shop["hosts"]
one_lb = shop["loadBalancer"]
hosts = {"blue": [], "green": []}
lbs = []
for entry in sys.argv[4:]:
    kind, name, *rest = entry.split(":")
    if kind == "app":
        colour, address = rest
        server = copy.deepcopy(first[colour])
        server.update(ssh="lab-" + name, address=address, healthUrl=f"http://{address}:{app_port}/health")
        server["haproxyServer"] = name
        hosts[colour].append(server)
    else:
        (address,) = rest
        lb = copy.deepcopy(one_lb)
        lb["ssh"] = "lab-" + name
        for key in ("verifyUrl", "publicUrl", "statsUrl"):
            lb[key] = lb[key].replace(f"//{lb_addr}:", f"//{address}:")
        lbs.append(lb)
shop["hosts"] = hosts
shop["loadBalancer"] = lbs
shop["deploy"]["maxParallel"] = pool
shop["healthGate"]["minHealthy"] = pool
print(json.dumps(config, indent=2, ensure_ascii=False))
' "$POOL_SIZE" "$APP_PORT" "$LB_ADDR" "${entries[@]}"
}

# -------------------------------------------------------------- command --

cmd_topology() {
  local pool='' lbs='' started lbh h
  while (($#)); do
    case $1 in
      --pool | --lbs)
        (($# >= 2)) || die "topology: $1 needs a number"
        if [[ $1 == --pool ]]; then pool=$2; else lbs=$2; fi
        shift
        ;;
      *) die "usage: lab topology [--pool N] [--lbs M] (N servers per colour, 1-$MAX_POOL; M load balancers, 1-$MAX_LBS)" ;;
    esac
    shift
  done
  [[ -z $pool || $pool =~ ^[1-4]$ ]] || die "topology: --pool takes 1 to $MAX_POOL (servers per colour), not '$pool'"
  [[ -z $lbs || $lbs =~ ^[12]$ ]] || die "topology: --lbs takes 1 or $MAX_LBS (load balancers), not '$lbs'"
  [[ -e $MARKER ]] || die "no lab at $LAB (run: lab up)"
  if [[ -z $pool && -z $lbs ]]; then
    load_settings
    echo "pool=$POOL_SIZE lbs=$LB_COUNT"
    return 0
  fi
  require_root
  started=$(date +%s%N)
  take_lock
  load_settings
  pool=${pool:-$POOL_SIZE}
  lbs=${lbs:-$LB_COUNT}
  if [[ ! -e $LAB/lab.env ]]; then
    POOL_SIZE=$pool LB_COUNT=$lbs
    set_topology_hosts
    save_topology
    say "topology: pool=$pool lbs=$lbs saved; the lab is down: 'lab up' starts it so"
    return 0
  fi
  scan_lab
  if ((pool != POOL_SIZE)); then
    # The pool's servers go into the default haproxy.cfg only; a layout of the test's own making
    # would silently keep routing to the old set.
    for lbh in "${LB_HOSTS[@]}"; do
      [[ $lbh == lb || $lbs == 2 ]] || continue
      [[ -s $LAB/hosts/$lbh/haproxy-args ]] || continue
      die "topology: $lbh runs a custom HAProxy layout (lab haproxy-start $(paste -sd' ' "$LAB/hosts/$lbh/haproxy-args")); the pool's servers go into the default haproxy.cfg only: run 'lab haproxy-reset$([[ $lbh == lb ]] || echo " --lb $lbh")' first"
    done
  fi
  POOL_SIZE=$pool LB_COUNT=$lbs
  set_topology_hosts
  save_topology
  # A lab made before there were extra hosts gets their keys, configs and known_hosts entries
  # (`up` renders them every time; here they only cost time once they exist).
  setup_layout
  # shellcheck disable=SC2153 # ALL_HOSTS is set by tests/lab/lab, which sources this file
  for h in "${ALL_HOSTS[@]}"; do
    [[ -s $LAB/hosts/$h/sshd_config && -s $LAB/hosts/$h/boot.sh && -s $LAB/hosts/$h/ssh_host_ed25519_key ]] || {
      render_ssh_files
      break
    }
  done
  # Only the pool members: blue's and green's app.env are `up`'s (a test may have rewritten
  # them, and rendering them again would restart their apps under traffic).
  local -a members=()
  for h in "${APP_HOSTS[@]}"; do [[ $h == blue || $h == green ]] || members+=("$h"); done
  ((${#members[@]} == 0)) || render_app_hosts "${members[@]}"
  converge --sync-pool
  render_lab_configs
  write_env_file
  local ms=$((($(date +%s%N) - started) / 1000000))
  say "topology: pool=$POOL_SIZE lbs=$LB_COUNT, healthy ($((ms / 1000)).$(printf '%03d' $((ms % 1000)))s): ${HOSTS[*]}"
}
