#!/usr/bin/env bash
# `make cluster`: start the local scale-out topology (see scripts/cluster_lib.sh for what listens where), wait
# until every piece answers, and print the endpoints. `make cluster-stop` stops all of it.
set -euo pipefail
source "$(dirname "$0")/cluster_lib.sh"
cd "$PROJECT_ROOT"
require_venv
for binary in "$PG_BIN/initdb" "$PG_BIN/pg_basebackup" /usr/sbin/pgbouncer "$(command -v redis-server || true)" \
        "$(command -v redis-sentinel || true)"; do
    [[ -n $binary && -x $binary ]] || die "missing $binary: run 'make cluster' (it installs PgBouncer, pg_partman, Redis Sentinel)"
done
[[ $EUID -ne 0 ]] || id postgres >/dev/null 2>&1 || die "no 'postgres' system account to run PostgreSQL as"
for port in $(cluster_ports); do
    if port_listening "$port"; then
        die "port $port is in use: is the cluster already running ('make cluster-stop'), or set CLUSTER_* ports"
    fi
done
mkdir -p "$CLUSTER_DIR" "$CLUSTER_RUN"
chmod 755 "$VAR_DIR" "$CLUSTER_DIR"
# If any step fails, stop what was started so far.
trap 'status=$?; if [[ $status -ne 0 ]]; then info "start-up failed: stopping what started"; "$PROJECT_ROOT/scripts/cluster_stop.sh" >/dev/null 2>&1 || true; fi' EXIT

# --- PostgreSQL: primary, then a hot standby built from it ------------------------------------------------
pg_start() {  # DATA_DIR PORT LOG EXTRA...
    local data=$1 port=$2 log=$3; shift 3
    _as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
        -o "-p $port -k $(dirname "$data") -c listen_addresses=127.0.0.1 $*" start >/dev/null \
        || die "PostgreSQL on port $port did not start, see $log"
}

step "PostgreSQL primary on 127.0.0.1:$PG_PRIMARY_PORT"
primary="$CLUSTER_DIR/pg-primary"
mkdir -p "$primary"
[[ $EUID -ne 0 ]] || chown postgres: "$primary"
if [[ ! -f $primary/data/PG_VERSION ]]; then
    info "initialising $primary/data"
    _as_postgres "$PG_BIN/initdb" -D "$primary/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$primary/initdb.log" 2>&1 || die "initdb failed, see $primary/initdb.log"
    rm -rf "$CLUSTER_DIR/pg-replica"  # a standby of an earlier primary cannot follow this one
fi
# wal_keep_size lets the standby catch up after a pause without a replication slot to clean up.
pg_start "$primary/data" "$PG_PRIMARY_PORT" "$primary/server.log" \
    "-c wal_level=replica -c max_wal_senders=5 -c wal_keep_size=512MB -c max_connections=200" \
    "-c shared_buffers=256MB -c synchronous_commit=on"
dbtool pg-ensure-db "$(primary_url)" || die "could not create the database $CLUSTER_DB"

step "PostgreSQL hot standby on 127.0.0.1:$PG_REPLICA_PORT (streaming from the primary)"
replica="$CLUSTER_DIR/pg-replica"
mkdir -p "$replica"
[[ $EUID -ne 0 ]] || chown postgres: "$replica"
if [[ ! -f $replica/data/PG_VERSION ]]; then
    info "pg_basebackup -R into $replica/data"
    _as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U postgres -D "$replica/data" \
        -R -X stream -c fast >"$replica/basebackup.log" 2>&1 || die "pg_basebackup failed, see $replica/basebackup.log"
fi
# hot_standby_feedback: a dashboard query on the standby is not cancelled by the primary's vacuum.
pg_start "$replica/data" "$PG_REPLICA_PORT" "$replica/server.log" \
    "-c hot_standby=on -c hot_standby_feedback=on -c max_connections=200 -c shared_buffers=256MB"

# --- PgBouncer, transaction mode ----------------------------------------------------------------------------
step "PgBouncer (transaction mode) on 127.0.0.1:$PGBOUNCER_PORT"
bouncer="$CLUSTER_DIR/pgbouncer"
mkdir -p "$bouncer"
printf '"%s" ""\n' postgres "$APP_ROLE" "$OWNER_ROLE" >"$bouncer/userlist.txt"  # trust: names only
cat >"$bouncer/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PRIMARY_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir = $bouncer
auth_type = trust
auth_file = $bouncer/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
server_lifetime = 3600
logfile = $bouncer/pgbouncer.log
pidfile = $bouncer/pgbouncer.pid
; libpq parameters psycopg may send that PgBouncer does not track
ignore_startup_parameters = extra_float_digits,options
INI
[[ $EUID -ne 0 ]] || chown -R postgres: "$bouncer"
_as_postgres /usr/sbin/pgbouncer -d -q "$bouncer/pgbouncer.ini" || die "PgBouncer did not start, see $bouncer/pgbouncer.log"
dbtool pg-wait "postgresql+psycopg://postgres@127.0.0.1:$PGBOUNCER_PORT/$CLUSTER_DB" 15 || die "PgBouncer does not answer, see $bouncer/pgbouncer.log"

# --- Redis master, replica, three Sentinels -----------------------------------------------------------------
step "Redis master 127.0.0.1:$REDIS_MASTER_PORT, replica :$REDIS_REPLICA_PORT, Sentinels ${SENTINEL_PORTS[*]}"
redis_start() {  # PORT EXTRA...
    local port=$1 dir="$CLUSTER_DIR/redis-$1"; shift
    mkdir -p "$dir"
    # No persistence, like the single Redis: what it holds is rebuilt from the database (outbox relay).
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" || die "Redis on $port did not start"
    dbtool redis-wait "redis://127.0.0.1:$port/0" 10 || die "Redis on $port does not answer, see $dir/redis.log"
}
redis_start "$REDIS_MASTER_PORT"
redis_start "$REDIS_REPLICA_PORT" --replicaof 127.0.0.1 "$REDIS_MASTER_PORT"
for port in "${SENTINEL_PORTS[@]}"; do
    dir="$CLUSTER_DIR/sentinel-$port"
    mkdir -p "$dir"
    # Written afresh at each start (Sentinel rewrites its file as it learns the topology).
    cat >"$dir/sentinel.conf" <<CONF
port $port
bind 127.0.0.1
daemonize yes
pidfile $dir/sentinel.pid
logfile $dir/sentinel.log
dir $dir
sentinel monitor $SENTINEL_MASTER 127.0.0.1 $REDIS_MASTER_PORT 2
sentinel down-after-milliseconds $SENTINEL_MASTER 2000
sentinel failover-timeout $SENTINEL_MASTER 10000
sentinel parallel-syncs $SENTINEL_MASTER 1
CONF
    redis-sentinel "$dir/sentinel.conf" || die "Sentinel on $port did not start, see $dir/sentinel.log"
done
for port in "${SENTINEL_PORTS[@]}"; do
    for _ in $(seq 1 50); do
        replicas="$(redis-cli -p "$port" sentinel replicas "$SENTINEL_MASTER" 2>/dev/null | grep -c "$REDIS_REPLICA_PORT" || true)"
        [[ $replicas -ge 1 ]] && break
        sleep 0.2
    done
    [[ $replicas -ge 1 ]] || die "Sentinel on $port does not see the replica"
done

step "Schema and reference data (migrations on the primary, directly)"
report="$CLUSTER_DIR/demo-accounts.txt"
(
    export DATABASE_URL REDIS_URL="redis://127.0.0.1:$REDIS_MASTER_PORT/0" PROXIMA_ENV=development
    DATABASE_URL="$(primary_url)"
    ensure_roles  # the owner migrates, the application role is what the service connects as
    migrate_and_load --seed-demo --report "$report"
)
# The replica lag check reads the standby's WAL receiver status, which only pg_read_all_stats may see.
dbtool pg-ping "$(primary_url)" && "$PG_BIN/psql" -X -q "$(primary_url | sed 's/+psycopg//')" \
    -c "GRANT pg_read_all_stats TO $APP_ROLE" || die "could not grant pg_read_all_stats to $APP_ROLE"

# --- FCM test server, web, workers --------------------------------------------------------------------------
write_cluster_env
load_cluster_env
export PYTHONPATH="$PROJECT_ROOT" PROXIMA_ENV=development SECRET_KEY="${SECRET_KEY:-cluster-not-secret}"
# Every client of a loopback cluster (tests, bench) comes from 127.0.0.1: the per-address limits would count
# them as one resident. The per-device limits and the daily cap stay as configured.
export RATELIMIT_INTAKE_PER_IP="${RATELIMIT_INTAKE_PER_IP:-100000 per minute}" \
    RATELIMIT_REGISTRATION_PER_IP="${RATELIMIT_REGISTRATION_PER_IP:-100000 per minute}" \
    RATELIMIT_OPEN311_READ_PER_IP="${RATELIMIT_OPEN311_READ_PER_IP:-100000 per minute}"

spawn() {  # NAME COMMAND...: run in a process group of its own, detached from this shell, pid in run/NAME.pid
    local name=$1; shift
    setsid nohup "$@" >>"$CLUSTER_DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$CLUSTER_RUN/$name.pid"
}

# An RQ worker quits when Redis fails under a job it is finishing (a failover): started again after a second,
# as systemd's Restart=always would in a deployment. Stopped with its process group (cluster_stop.sh).
supervised() {
    local command
    printf -v command '%q ' "$@"
    echo "trap 'kill -TERM \$child 2>/dev/null; wait \$child; exit 0' TERM
while :; do $command & child=\$!; wait \$child; echo \"exited (status \$?), restarting in 1 s\" >&2; sleep 1; done"
}

step "Local FCM test server on 127.0.0.1:$FCM_PORT (pushes of the cluster, logged to $FCM_RECEIVED_LOG)"
mkdir -p "$CLUSTER_DIR/fcm"
spawn fcm "$VENV/bin/python" -m tests.cluster.fcm_test_server --port "$FCM_PORT" \
    --credentials "$FCM_CREDENTIALS_FILE" --log "$FCM_RECEIVED_LOG"
for _ in $(seq 1 50); do [[ -f $FCM_CREDENTIALS_FILE ]] && break; sleep 0.2; done
[[ -f $FCM_CREDENTIALS_FILE ]] || die "the FCM test server did not start, see $CLUSTER_DIR/fcm.log"

for port in "${WEB_PORTS[@]}"; do
    step "gunicorn on 127.0.0.1:$port"
    spawn "web-$port" "$VENV/bin/gunicorn" --bind "127.0.0.1:$port" --workers "${CLUSTER_WEB_WORKERS:-2}" \
        --worker-class gthread --threads "${GUNICORN_THREADS:-4}" --timeout 60 --graceful-timeout 10 \
        --error-logfile - wsgi:app
done
for n in $(seq 1 $WORKERS); do
    step "RQ worker $n$([[ $n -eq 1 ]] && echo ' (with the scheduler)')"
    # shellcheck disable=SC2046
    spawn "worker-$n" bash -c "$(supervised "$VENV/bin/flask" --app wsgi worker $([[ $n -eq 1 ]] && echo --with-scheduler))"
done
for port in "${WEB_PORTS[@]}"; do
    dbtool http-wait "http://127.0.0.1:$port/readyz" 90 || die "gunicorn on $port is not ready, see $CLUSTER_DIR/web-$port.log"
done
for n in $(seq 1 $WORKERS); do
    kill -0 "$(cat "$CLUSTER_RUN/worker-$n.pid")" 2>/dev/null || die "RQ worker $n exited, see $CLUSTER_DIR/worker-$n.log"
done

trap - EXIT
cat >&2 <<BANNER

================================================================================
 Proxima cluster is running (data under $CLUSTER_DIR)
   web               $WEB_URLS
   PostgreSQL        primary 127.0.0.1:$PG_PRIMARY_PORT, hot standby 127.0.0.1:$PG_REPLICA_PORT, database $CLUSTER_DB
   PgBouncer         127.0.0.1:$PGBOUNCER_PORT (transaction mode, in front of the primary)
   Redis             master 127.0.0.1:$REDIS_MASTER_PORT, replica 127.0.0.1:$REDIS_REPLICA_PORT
   Sentinels         $REDIS_SENTINELS (master name $REDIS_SENTINEL_MASTER)
   RQ workers        $WORKERS (logs $CLUSTER_DIR/worker-*.log)
   FCM test server   $FCM_ENDPOINT (accepted pushes in $FCM_RECEIVED_LOG)
   environment       $CLUSTER_ENV
 make test-cluster runs the cluster tests; make cluster-stop stops everything.
================================================================================
BANNER
if [[ -s $report ]]; then printf 'Demo officer accounts:\n%s\n\n' "$(cat "$report")" >&2; fi
