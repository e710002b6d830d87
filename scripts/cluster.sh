#!/usr/bin/env bash
# A real kms cluster on one machine, on loopback ports chosen at `up` (docs/cluster.md):
#   etcd (Patroni's DCS) -> two PostgreSQL 15 nodes managed by Patroni (synchronous standby)
#   -> HAProxy (one frontend for the database, routed to the primary by Patroni's REST
#   GET /primary; one frontend per kms protocol, KMIP and HTTPS, TLS passed through, nodes
#   checked by GET /readyz) -> KMS_CLUSTER_NODES (default 2) `kms serve --store
#   postgresql://…` nodes, each with its own data folder, the first initialised, the others
#   joined to it.
#
#   scripts/cluster.sh up [--nodes N]     start everything, wait until healthy (refuses if up)
#   scripts/cluster.sh down [--keep]      stop everything; remove the state unless --keep
#   scripts/cluster.sh status             one line per part; exit 1 when something is down
#   scripts/cluster.sh env                the state as shell variables (for scripts and tests)
#   scripts/cluster.sh kill-primary       SIGKILL the Patroni leader and its PostgreSQL
#   scripts/cluster.sh start-pg NAME      restart a killed PostgreSQL node (it rejoins as standby)
#   scripts/cluster.sh kill-node NAME     SIGKILL a kms node (NAME: kms1, kms2, …)
#   scripts/cluster.sh start-node NAME    start a stopped or killed kms node again
#   scripts/cluster.sh stop-node NAME     SIGSTOP a kms node;  cont-node NAME: SIGCONT it
#
# The state folder is $KMS_CLUSTER_DIR (default .cache/cluster/ in the repository): ports,
# passwords (mode 0600), pid files, every part's configuration and log. As root, PostgreSQL
# and Patroni run as the `postgres` user in a folder it owns (/tmp/kms-cluster-pg.*, linked
# from the state folder as pg/). Timing, all overridable by the environment:
#   KMS_CLUSTER_TTL (10 s) KMS_CLUSTER_LOOP_WAIT (2 s) KMS_CLUSTER_RETRY_TIMEOUT (4 s)
#   KMS_CLUSTER_UP_TIMEOUT (120 s: `up` waits at most this long for each part)
#   KMS_CLUSTER_IDLE_TX_TIMEOUT (15s: PostgreSQL's idle_in_transaction_session_timeout, so a
#   frozen kms node cannot hold row locks, e.g. the audit chain's head, for longer)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${KMS_CLUSTER_DIR:-$REPO/.cache/cluster}"
PG_BIN="${KMS_CLUSTER_PG_BIN:-/usr/lib/postgresql/15/bin}"
KMS_MAIN="$REPO/dist/src/cli/main.js"
NODE_BIN="${KMS_CLUSTER_NODE:-$(command -v node)}"
TTL="${KMS_CLUSTER_TTL:-10}"
LOOP_WAIT="${KMS_CLUSTER_LOOP_WAIT:-2}"
RETRY_TIMEOUT="${KMS_CLUSTER_RETRY_TIMEOUT:-4}"
UP_TIMEOUT="${KMS_CLUSTER_UP_TIMEOUT:-120}"
IDLE_TX_TIMEOUT="${KMS_CLUSTER_IDLE_TX_TIMEOUT:-15s}"
HOST=127.0.0.1

die() {
  echo "cluster: $*" >&2
  exit 1
}
say() { echo "cluster: $*" >&2; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the PostgreSQL owner: `postgres` when we are root, else ourselves.
as_pg() {
  if is_root; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

# --- pid files and process groups -----------------------------------------------------------
# Every long-running part is started with setsid: its pid is its process group, and
# `down` signals the whole group (Patroni's PostgreSQL calls setsid itself: its postmaster.pid
# names that group).
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { [ -f "$1" ] && cat "$1" || true; }
kill_group() { # SIG PID
  local sig="$1" pid="$2"
  [ -n "$pid" ] || return 0
  kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
}
stop_group() { # PIDFILE [SECONDS]: SIGTERM the group, SIGKILL after SECONDS
  local pid
  pid="$(pid_of "$1")"
  [ -n "$pid" ] || return 0
  if alive "$pid"; then
    kill_group TERM "$pid"
    local i
    for ((i = 0; i < ${2:-10} * 10; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    alive "$pid" && kill_group KILL "$pid"
  fi
  # a group outlives its leader when children remain: SIGKILL what is left
  kill_group KILL "$pid"
  rm -f "$1"
}
any_alive() {
  local f
  for f in "$STATE"/*.pid "$STATE"/*/*.pid "$STATE"/nodes/*/serve.pid; do
    [ -f "$f" ] && alive "$(pid_of "$f")" && return 0
  done
  return 1
}
postmaster_pid() { # NAME
  local f="$STATE/pg/$1/data/postmaster.pid"
  [ -f "$f" ] && head -n 1 "$f" || true
}

# --- ports ---------------------------------------------------------------------------------
# N free loopback ports, all held open until every one is chosen (no duplicates).
free_ports() {
  "$NODE_BIN" -e '
    const net = require("node:net");
    const n = Number(process.argv[1]);
    const servers = [];
    const next = () => {
      if (servers.length === n) {
        console.log(servers.map((s) => s.address().port).join(" "));
        servers.forEach((s) => s.close());
        return;
      }
      const s = net.createServer();
      s.listen(0, "127.0.0.1", () => { servers.push(s); next(); });
    };
    next();
  ' "$1"
}

# --- health probes -------------------------------------------------------------------------
http_code() { curl --noproxy '*' -s -o /dev/null -m 2 -w '%{http_code}' "$@" 2>/dev/null || true; }

wait_for() { # WHAT SECONDS CMD...: retry CMD until it succeeds, else fail naming WHAT
  local what="$1" secs="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "cluster: $what is not healthy after ${secs}s (logs in $STATE)" >&2
      return 1
    fi
    sleep 0.5
  done
}

load_env() {
  [ -f "$STATE/cluster.env" ] || die "no cluster state in $STATE (scripts/cluster.sh up first)"
  # shellcheck disable=SC1091
  . "$STATE/cluster.env"
}

etcd_ok() { [ "$(http_code "http://$HOST:$ETCD_PORT/health")" = 200 ]; }
pg_rest() { # NAME -> its REST port
  case "$1" in pg1) echo "$PG1_REST" ;; pg2) echo "$PG2_REST" ;; *) return 1 ;; esac
}
pg_port() {
  case "$1" in pg1) echo "$PG1_PORT" ;; pg2) echo "$PG2_PORT" ;; *) return 1 ;; esac
}
# The Patroni leader's name, from any member's GET /cluster (empty when there is none).
patroni_leader() {
  local name body
  for name in pg1 pg2; do
    body="$(curl --noproxy '*' -s -m 2 "http://$HOST:$(pg_rest "$name")/cluster" 2>/dev/null || true)"
    [ -n "$body" ] || continue
    "$NODE_BIN" -e '
      try {
        const c = JSON.parse(process.argv[1]);
        const l = (c.members || []).find((m) => m.role === "leader" && m.state === "running");
        if (l) console.log(l.name);
      } catch {}
    ' "$body" && return 0
  done
}
# "role=ROLE state=STATE" of a member, as its own REST API reports it ("state=down" when it does not answer)
pg_member_state() {
  local body
  body="$(curl --noproxy '*' -s -m 2 "http://$HOST:$(pg_rest "$1")/patroni" 2>/dev/null || true)"
  [ -n "$body" ] || { echo "state=down"; return 0; }
  "$NODE_BIN" -e '
    try {
      const p = JSON.parse(process.argv[1]);
      console.log(`role=${p.role} state=${p.state}` + (p.sync_standby ? " sync=yes" : ""));
    } catch { console.log("state=unknown"); }
  ' "$body"
}
pg_primary_ok() { [ "$(http_code "http://$HOST:$(pg_rest "$1")/primary")" = 200 ]; }
# "leader sync-standby" once a leader runs and the other member is its synchronous standby.
patroni_pair_ok() {
  local body
  body="$(curl --noproxy '*' -s -m 2 "http://$HOST:$PG1_REST/cluster" 2>/dev/null || true)"
  [ -n "$body" ] || return 1
  "$NODE_BIN" -e '
    const c = JSON.parse(process.argv[1]);
    const m = c.members || [];
    const ok = m.some((x) => x.role === "leader" && x.state === "running") &&
      m.some((x) => x.role === "sync_standby" && (x.state === "running" || x.state === "streaming"));
    process.exit(ok ? 0 : 1);
  ' "$body" 2>/dev/null
}
# HAProxy starts every server UP and marks one down only after its checks failed (fall 2, 1 s
# apart): until then the database frontend also hands connections to the standby, and cuts
# them when it marks it down. Ready: its stats say one server of pg_primary is UP and the
# other DOWN (checks done), and a connection through it reaches the primary.
haproxy_db_ok() {
  local up
  up=$(curl --noproxy '*' -s -m 2 "http://$HOST:$HA_STATS_PORT/;csv" 2>/dev/null | awk -F, '$1 == "pg_primary" && $2 != "BACKEND" && $2 != "FRONTEND" { n[$18]++ } END { printf "%d %d", n["UP"], n["DOWN"] }')
  [ "$up" = "1 1" ] || return 1
  PGPASSWORD="$PG_SUPER_PASSWORD" PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -qAtX -h "$HOST" -p "$HA_DB_PORT" -U postgres -d postgres -c 'select not pg_is_in_recovery()' 2>/dev/null | grep -qx t
}
kms_ready() { [ "$(http_code -k "https://$HOST:$1/readyz")" = 200 ]; }
node_var() { # NAME KIND(kmip|https)
  local n="${1#kms}"
  local var="KMS${n}_$(echo "$2" | tr a-z A-Z)"
  echo "${!var:-}"
}

# --- up ------------------------------------------------------------------------------------
write_env() {
  umask 077
  cat >"$STATE/cluster.env" <<EOF
# written by scripts/cluster.sh up; mode 0600 (holds the database passwords)
NODES=$NODES
PG_DIR=$PG_DIR
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
PG1_PORT=$PG1_PORT
PG1_REST=$PG1_REST
PG2_PORT=$PG2_PORT
PG2_REST=$PG2_REST
HA_DB_PORT=$HA_DB_PORT
HA_KMIP_PORT=$HA_KMIP_PORT
HA_HTTPS_PORT=$HA_HTTPS_PORT
HA_STATS_PORT=$HA_STATS_PORT
PG_SUPER_PASSWORD=$PG_SUPER_PASSWORD
PG_REPL_PASSWORD=$PG_REPL_PASSWORD
KMS_DB_PASSWORD=$KMS_DB_PASSWORD
KMS_STORE_URL=postgresql://kms:$KMS_DB_PASSWORD@$HOST:$HA_DB_PORT/kms
EOF
  local i
  for ((i = 1; i <= NODES; i++)); do
    echo "KMS${i}_KMIP=${KMS_PORTS[$((2 * i - 2))]}" >>"$STATE/cluster.env"
    echo "KMS${i}_HTTPS=${KMS_PORTS[$((2 * i - 1))]}" >>"$STATE/cluster.env"
  done
  umask 022
}

start_etcd() {
  mkdir -p "$STATE/etcd"
  (
    cd "$STATE/etcd"
    setsid etcd --name etcd1 --data-dir "$STATE/etcd/data" \
      --listen-client-urls "http://$HOST:$ETCD_PORT" --advertise-client-urls "http://$HOST:$ETCD_PORT" \
      --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
      --initial-cluster "etcd1=http://$HOST:$ETCD_PEER_PORT" --initial-cluster-state new \
      --enable-v2=true >"$STATE/etcd/etcd.log" 2>&1 </dev/null &
    echo $! >"$STATE/etcd/etcd.pid"
  )
}

write_patroni_config() { # NAME PGPORT RESTPORT
  local name="$1" port="$2" rest="$3" dir="$PG_DIR/$1"
  mkdir -p "$dir"
  chmod 700 "$dir"
  umask 077
  cat >"$dir/patroni.yml" <<EOF
# written by scripts/cluster.sh up (docs/cluster.md explains each setting)
scope: kms
namespace: /kms-cluster/
name: $name
log:
  level: INFO
restapi:
  listen: $HOST:$rest
  connect_address: $HOST:$rest
etcd:
  host: $HOST:$ETCD_PORT
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: $LOOP_WAIT
    retry_timeout: $RETRY_TIMEOUT
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: false
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: 'on'
        max_connections: 200
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
        wal_log_hints: 'on'
        synchronous_commit: 'on'
        idle_in_transaction_session_timeout: '$IDLE_TX_TIMEOUT'
  initdb:
    - encoding: UTF8
    - data-checksums
    - auth-host: scram-sha-256
    - auth-local: trust
postgresql:
  listen: $HOST:$port
  connect_address: $HOST:$port
  data_dir: $dir/data
  bin_dir: $PG_BIN
  pgpass: $dir/pgpass
  pg_hba:
    - local all all trust
    - host replication replicator $HOST/32 scram-sha-256
    - host all all $HOST/32 scram-sha-256
  authentication:
    superuser:
      username: postgres
      password: $PG_SUPER_PASSWORD
    replication:
      username: replicator
      password: $PG_REPL_PASSWORD
    rewind:
      username: postgres
      password: $PG_SUPER_PASSWORD
  parameters:
    unix_socket_directories: '$dir'
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
  umask 022
  if is_root; then chown -R postgres:postgres "$dir"; fi
}

start_patroni() { # NAME
  local dir="$PG_DIR/$1"
  touch "$dir/patroni.log"
  if is_root; then chown postgres:postgres "$dir/patroni.log"; fi
  (
    cd "$dir"
    if is_root; then
      setsid setpriv --reuid=postgres --regid=postgres --init-groups -- patroni "$dir/patroni.yml" >>"$dir/patroni.log" 2>&1 </dev/null &
    else
      setsid patroni "$dir/patroni.yml" >>"$dir/patroni.log" 2>&1 </dev/null &
    fi
    echo $! >"$STATE/$1.patroni.pid"
  )
}

write_haproxy_config() {
  mkdir -p "$STATE/haproxy"
  local i kms_kmip="" kms_https=""
  for ((i = 1; i <= NODES; i++)); do
    local k h
    k="$(node_var "kms$i" kmip)"
    h="$(node_var "kms$i" https)"
    kms_kmip+="  server kms$i $HOST:$k check port $h check-ssl verify none"$'\n'
    kms_https+="  server kms$i $HOST:$h check check-ssl verify none"$'\n'
  done
  cat >"$STATE/haproxy/haproxy.cfg" <<EOF
# written by scripts/cluster.sh up (docs/cluster.md)
global
  log stderr format raw local0 info
  stats socket $STATE/haproxy/admin.sock mode 600 level admin
  maxconn 4096

defaults
  mode tcp
  log global
  option tcplog
  timeout connect 2s
  timeout client 30m
  timeout server 30m
  timeout check 2s
  retries 2
  option redispatch

# The database: only the Patroni leader answers 200 to GET /primary on its REST port.
# A demoted or dead primary is marked down after two failed checks (1 s apart) and its
# sessions are cut, so clients reconnect to the new primary.
frontend kms_db
  bind $HOST:$HA_DB_PORT
  default_backend pg_primary
backend pg_primary
  option httpchk GET /primary
  http-check expect status 200
  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
  server pg1 $HOST:$PG1_PORT check port $PG1_REST
  server pg2 $HOST:$PG2_PORT check port $PG2_REST

# KMIP (TTLV over mutual TLS): passed through, the client's certificate reaches the node.
# A node is in rotation while GET /readyz on its HTTPS port answers 200.
frontend kms_kmip
  bind $HOST:$HA_KMIP_PORT
  default_backend kms_kmip
backend kms_kmip
  balance leastconn
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
$kms_kmip
# HTTPS (KMIP over HTTPS, /livez, /readyz, console): passed through as well.
frontend kms_https
  bind $HOST:$HA_HTTPS_PORT
  default_backend kms_https
backend kms_https
  balance leastconn
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
$kms_https
listen stats
  bind $HOST:$HA_STATS_PORT
  mode http
  stats enable
  stats uri /
  stats refresh 2s
EOF
}

start_haproxy() {
  (
    cd "$STATE/haproxy"
    setsid haproxy -db -f "$STATE/haproxy/haproxy.cfg" >>"$STATE/haproxy/haproxy.log" 2>&1 </dev/null &
    echo $! >"$STATE/haproxy/haproxy.pid"
  )
}

# Idempotent, so that a connection cut half-way (a failover while starting) can be retried.
create_kms_database() {
  PGPASSWORD="$PG_SUPER_PASSWORD" PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -qX -v ON_ERROR_STOP=1 -h "$HOST" -p "$HA_DB_PORT" -U postgres -d postgres >/dev/null 2>&1 <<EOF
SELECT 'CREATE ROLE kms LOGIN PASSWORD ''$KMS_DB_PASSWORD''' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kms')\gexec
SELECT 'CREATE DATABASE kms OWNER kms' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'kms')\gexec
EOF
}

# --- kms nodes -----------------------------------------------------------------------------
kms() { "$NODE_BIN" "$KMS_MAIN" "$@"; }

node_dir() { echo "$STATE/nodes/$1"; }

# The node's config file: its own data folder and ports, the shared store and certificates.
write_node_config() { # NAME
  local name="$1" dir
  dir="$(node_dir "$name")"
  umask 077
  cat >"$dir/serve.json" <<EOF
{
  "host": "$HOST",
  "port": $(node_var "$name" kmip),
  "httpsPort": $(node_var "$name" https),
  "dataDir": "$dir/data",
  "store": "$KMS_STORE_URL",
  "cert": "$STATE/certs/server.pem",
  "key": "$STATE/certs/server.key",
  "ca": "$STATE/certs/ca.pem",
  "logFile": "$dir/serve.log"
}
EOF
  umask 022
}

start_node() { # NAME
  local name="$1" dir
  dir="$(node_dir "$name")"
  alive "$(pid_of "$dir/serve.pid")" && die "$name is already running"
  (
    cd "$dir"
    setsid "$NODE_BIN" "$KMS_MAIN" serve --config "$dir/serve.json" >>"$dir/serve.out" 2>&1 </dev/null &
    echo $! >"$dir/serve.pid"
  )
}

init_nodes() {
  local i name dir
  mkdir -p "$STATE/nodes" "$STATE/recovery"
  # The recovery key backups are wrapped to: its private key stays in the state folder
  # (a real deployment keeps it offline, docs/custody.md).
  openssl ecparam -name prime256v1 -genkey -noout -out "$STATE/recovery/recovery.key" 2>/dev/null
  chmod 600 "$STATE/recovery/recovery.key"
  openssl ec -in "$STATE/recovery/recovery.key" -pubout -out "$STATE/recovery/recovery.pub.pem" 2>/dev/null
  for ((i = 1; i <= NODES; i++)); do
    name="kms$i"
    dir="$(node_dir "$name")"
    mkdir -p "$dir"
    if [ "$i" -eq 1 ]; then
      # the first folder made over the database records the cluster's keys there (no secret)
      kms init --data-dir "$dir/data" --store "$KMS_STORE_URL" --recovery-key "$STATE/recovery/recovery.pub.pem" \
        >"$dir/init.log" 2>&1 || die "kms init of $name failed: $(tail -n 5 "$dir/init.log")"
      mkdir -p "$STATE/certs"
      cp "$dir/data/certs/ca.pem" "$dir/data/certs/server.pem" "$dir/data/certs/server.key" \
        "$dir/data/certs/client.pem" "$dir/data/certs/client.key" "$STATE/certs/"
      chmod 600 "$STATE/certs/"*.key
    else
      # software custody: a copy of the cluster's master key, checked against the database's
      # record (docs/cluster-nodes.md); with an HSM every node would open the same token
      kms init --data-dir "$dir/data" --store "$KMS_STORE_URL" --join --master-key "$(node_dir kms1)/data/master.key" \
        --recovery-key "$STATE/recovery/recovery.pub.pem" \
        >"$dir/init.log" 2>&1 || die "kms init --join of $name failed: $(tail -n 5 "$dir/init.log")"
    fi
    write_node_config "$name"
  done
}

# --- commands ------------------------------------------------------------------------------
cmd_up() {
  NODES="${KMS_CLUSTER_NODES:-2}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) NODES="$2"; shift 2 ;;
      *) die "up: unknown option $1" ;;
    esac
  done
  [[ "$NODES" =~ ^[0-9]$ ]] || die "up: --nodes must be 0-9 (0: the database and HAProxy only)"
  if [ -f "$STATE/cluster.env" ]; then
    if any_alive; then
      die "a cluster is already up in $STATE (scripts/cluster.sh status; scripts/cluster.sh down first)"
    fi
    say "removing the state of a stopped cluster in $STATE"
    cmd_down >/dev/null
  fi
  for tool in etcd patroni haproxy curl openssl setsid setpriv "$PG_BIN/postgres"; do
    command -v "$tool" >/dev/null || die "$tool is missing (bash scripts/setup-debian.sh installs it)"
  done
  [ -f "$KMS_MAIN" ] || die "$KMS_MAIN is missing (npx tsc -p tsconfig.build.json, or npm run build)"
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  # PostgreSQL's folders: owned by postgres when we are root, in /tmp so that user can reach them.
  PG_DIR="$(mktemp -d /tmp/kms-cluster-pg.XXXXXX)"
  chmod 711 "$PG_DIR"
  if is_root; then chown postgres:postgres "$PG_DIR"; fi
  ln -sfn "$PG_DIR" "$STATE/pg"
  local ports
  read -r -a ports <<<"$(free_ports $((10 + 2 * NODES)))"
  ETCD_PORT=${ports[0]} ETCD_PEER_PORT=${ports[1]}
  PG1_PORT=${ports[2]} PG1_REST=${ports[3]} PG2_PORT=${ports[4]} PG2_REST=${ports[5]}
  HA_DB_PORT=${ports[6]} HA_KMIP_PORT=${ports[7]} HA_HTTPS_PORT=${ports[8]} HA_STATS_PORT=${ports[9]}
  KMS_PORTS=("${ports[@]:10}")
  PG_SUPER_PASSWORD="$(openssl rand -hex 16)"
  PG_REPL_PASSWORD="$(openssl rand -hex 16)"
  KMS_DB_PASSWORD="$(openssl rand -hex 16)"
  write_env
  load_env
  trap 'say "up failed; stopping what was started (state kept in $STATE for the logs)"; cmd_down --keep >/dev/null 2>&1 || true' EXIT

  say "etcd on $HOST:$ETCD_PORT"
  start_etcd
  wait_for "etcd ($STATE/etcd/etcd.log)" "$UP_TIMEOUT" etcd_ok

  say "PostgreSQL pg1 $HOST:$PG1_PORT, pg2 $HOST:$PG2_PORT (Patroni REST $PG1_REST, $PG2_REST)"
  write_patroni_config pg1 "$PG1_PORT" "$PG1_REST"
  write_patroni_config pg2 "$PG2_PORT" "$PG2_REST"
  start_patroni pg1
  wait_for "Patroni pg1 (leader; $PG_DIR/pg1/patroni.log)" "$UP_TIMEOUT" pg_primary_ok pg1
  start_patroni pg2
  wait_for "Patroni pg2 (synchronous standby; $PG_DIR/pg2/patroni.log)" "$UP_TIMEOUT" patroni_pair_ok

  say "HAProxy: database $HOST:$HA_DB_PORT, KMIP $HOST:$HA_KMIP_PORT, HTTPS $HOST:$HA_HTTPS_PORT, stats http://$HOST:$HA_STATS_PORT/"
  write_haproxy_config
  start_haproxy
  wait_for "HAProxy's database frontend ($STATE/haproxy/haproxy.log)" "$UP_TIMEOUT" haproxy_db_ok
  wait_for "the kms database and role (through HAProxy)" "$UP_TIMEOUT" create_kms_database

  if [ "$NODES" -gt 0 ]; then
    say "kms nodes: $NODES"
    init_nodes
    local i
    for ((i = 1; i <= NODES; i++)); do start_node "kms$i"; done
    for ((i = 1; i <= NODES; i++)); do
      wait_for "kms node kms$i ($(node_dir "kms$i")/serve.log)" "$UP_TIMEOUT" kms_ready "$(node_var "kms$i" https)"
    done
    wait_for "HAProxy's kms frontends (no kms node in rotation)" "$UP_TIMEOUT" kms_ready "$HA_HTTPS_PORT"
  fi
  trap - EXIT
  cmd_status
}

stop_pg() { # NAME: Patroni stops its PostgreSQL on SIGTERM; a killed Patroni leaves it behind
  local pm
  pm="$(postmaster_pid "$1")"
  stop_group "$STATE/$1.patroni.pid" 15
  if alive "$pm"; then
    kill_group TERM "$pm"
    sleep 1
    kill_group KILL "$pm"
  fi
}

cmd_down() {
  local keep=0 name pm
  [ "${1:-}" = "--keep" ] && keep=1
  [ -d "$STATE" ] || {
    say "nothing to stop ($STATE does not exist)"
    return 0
  }
  local f
  for f in "$STATE"/nodes/*/serve.pid; do
    [ -f "$f" ] || continue
    kill_group CONT "$(pid_of "$f")"
    stop_group "$f" 10
  done
  stop_group "$STATE/haproxy/haproxy.pid" 5
  if [ "$keep" -eq 1 ]; then
    for name in pg1 pg2; do stop_pg "$name" & done
    wait
  else
    # the databases are about to be removed: no clean shutdown to wait for
    for name in pg1 pg2; do
      pm="$(postmaster_pid "$name")"
      kill_group KILL "$(pid_of "$STATE/$name.patroni.pid")"
      rm -f "$STATE/$name.patroni.pid"
      [ -n "$pm" ] && kill_group KILL "$pm"
    done
  fi
  stop_group "$STATE/etcd/etcd.pid" 5
  if [ "$keep" -eq 0 ]; then
    local pgdir
    pgdir="$(readlink "$STATE/pg" 2>/dev/null || true)"
    case "$pgdir" in /tmp/kms-cluster-pg.*) rm -rf "$pgdir" ;; esac
    rm -rf "$STATE"
    say "stopped; state removed"
  else
    say "stopped; state kept in $STATE"
  fi
}

cmd_status() {
  load_env
  local bad=0 i name kmip https pid state
  for ((i = 1; i <= NODES; i++)); do
    name="kms$i"
    kmip="$(node_var "$name" kmip)"
    https="$(node_var "$name" https)"
    pid="$(pid_of "$(node_dir "$name")/serve.pid")"
    if ! alive "$pid"; then
      state=down
    elif [ "$(ps -o stat= -p "$pid" | cut -c1)" = T ]; then
      state=stopped
    elif kms_ready "$https"; then
      state=ready
    else
      state=not-ready
    fi
    [ "$state" = ready ] || bad=1
    echo "node $name kmip=$HOST:$kmip https=$HOST:$https state=$state"
  done
  if [ "$(http_code "http://$HOST:$HA_STATS_PORT/")" = 200 ]; then state=up; else state=down bad=1; fi
  echo "haproxy kmip=$HOST:$HA_KMIP_PORT https=$HOST:$HA_HTTPS_PORT db=$HOST:$HA_DB_PORT stats=http://$HOST:$HA_STATS_PORT/ state=$state"
  local leader
  leader="$(patroni_leader || true)"
  if [ -n "$leader" ]; then
    echo "patroni leader=$leader db=$HOST:$(pg_port "$leader") rest=$HOST:$(pg_rest "$leader")"
  else
    echo "patroni leader=none"
    bad=1
  fi
  for name in pg1 pg2; do
    state="$(pg_member_state "$name")"
    echo "postgresql $name db=$HOST:$(pg_port "$name") rest=$HOST:$(pg_rest "$name") $state"
    case "$state" in *state=running* | *state=streaming*) ;; *) bad=1 ;; esac
  done
  if etcd_ok; then state=up; else state=down bad=1; fi
  echo "etcd $HOST:$ETCD_PORT state=$state"
  echo "certs=$STATE/certs"
  return "$bad"
}

cmd_env() {
  load_env
  grep -v '^#' "$STATE/cluster.env"
  echo "STATE=$STATE"
  echo "CERTS=$STATE/certs"
}

node_pid_or_die() {
  local pid
  pid="$(pid_of "$(node_dir "$1")/serve.pid")"
  alive "$pid" || die "$1 is not running"
  echo "$pid"
}

cmd_kill_primary() {
  load_env
  local leader pm
  leader="$(patroni_leader)"
  [ -n "$leader" ] || die "no Patroni leader to kill"
  pm="$(postmaster_pid "$leader")"
  # the whole machine failing: Patroni (it would restart PostgreSQL itself) and PostgreSQL
  kill_group KILL "$(pid_of "$STATE/$leader.patroni.pid")"
  [ -n "$pm" ] && kill_group KILL "$pm"
  echo "$leader"
}

cmd_start_pg() {
  load_env
  local name="${1:?start-pg NAME (pg1 or pg2)}"
  pg_rest "$name" >/dev/null || die "no PostgreSQL node $name"
  alive "$(pid_of "$STATE/$name.patroni.pid")" && die "$name is already running"
  start_patroni "$name"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  kill-primary) cmd_kill_primary ;;
  start-pg) shift; cmd_start_pg "$@" ;;
  kill-node) load_env; kill_group KILL "$(node_pid_or_die "${2:?kill-node NAME}")"; rm -f "$(node_dir "$2")/serve.pid" ;;
  stop-node) load_env; kill_group STOP "$(node_pid_or_die "${2:?stop-node NAME}")" ;;
  cont-node) load_env; kill_group CONT "$(node_pid_or_die "${2:?cont-node NAME}")" ;;
  start-node) load_env; start_node "${2:?start-node NAME}" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
