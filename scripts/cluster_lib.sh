# shellcheck shell=bash
# The local scale-out topology of `make cluster` (sourced by cluster.sh, cluster_stop.sh, cluster_test.sh).
# Every server listens on loopback on its own block of ports and keeps its data under var/cluster/:
#   PostgreSQL primary 5441, hot-standby replica 5442 (pg_basebackup -R), PgBouncer 6441 (transaction mode),
#   Redis master 6391 and replica 6392, Sentinels 26391-26393 (master name "proxima"),
#   gunicorn 8101 and 8102, two RQ workers (the first with the scheduler), a local FCM test server on 8191.
# Ports can be moved with the CLUSTER_* variables below; var/cluster/cluster.env records what was started.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER_DIR="$VAR_DIR/cluster"
CLUSTER_ENV="$CLUSTER_DIR/cluster.env"
CLUSTER_RUN="$CLUSTER_DIR/run"  # one pid file per process started with nohup
CLUSTER_DB="${CLUSTER_DB:-proxima}"
PG_PRIMARY_PORT="${CLUSTER_PG_PRIMARY_PORT:-5441}"
PG_REPLICA_PORT="${CLUSTER_PG_REPLICA_PORT:-5442}"
PGBOUNCER_PORT="${CLUSTER_PGBOUNCER_PORT:-6441}"
REDIS_MASTER_PORT="${CLUSTER_REDIS_MASTER_PORT:-6391}"
REDIS_REPLICA_PORT="${CLUSTER_REDIS_REPLICA_PORT:-6392}"
SENTINEL_PORTS=(${CLUSTER_SENTINEL_PORTS:-26391 26392 26393})
WEB_PORTS=(${CLUSTER_WEB_PORTS:-8101 8102})
FCM_PORT="${CLUSTER_FCM_PORT:-8191}"
SENTINEL_MASTER=proxima
WORKERS=2

# Roles as service.platform.database_roles names them: the owner migrates, the service connects as the
# application role; `postgres` (superuser) only administers (replication, the tests' observations).
OWNER_ROLE="${CLUSTER_DB}_owner"
APP_ROLE="${CLUSTER_DB}_app"
primary_url() { echo "postgresql+psycopg://${1:-postgres}@127.0.0.1:$PG_PRIMARY_PORT/$CLUSTER_DB"; }
replica_url() { echo "postgresql+psycopg://$APP_ROLE@127.0.0.1:$PG_REPLICA_PORT/$CLUSTER_DB"; }
pgbouncer_url() { echo "postgresql+psycopg://$APP_ROLE@127.0.0.1:$PGBOUNCER_PORT/$CLUSTER_DB"; }
sentinels() { local IFS=,; echo "${SENTINEL_PORTS[*]/#/127.0.0.1:}"; }

# Everything the cluster listens on, for the checks of cluster_stop.sh.
cluster_ports() {
    echo "$PG_PRIMARY_PORT $PG_REPLICA_PORT $PGBOUNCER_PORT $REDIS_MASTER_PORT $REDIS_REPLICA_PORT" \
        "${SENTINEL_PORTS[*]} ${WEB_PORTS[*]} $FCM_PORT"
}

port_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The environment of the cluster's web and worker processes (and of the cluster tests and bench).
write_cluster_env() {
    cat >"$CLUSTER_ENV" <<ENV
# Written by scripts/cluster.sh: the endpoints of the running cluster.
DATABASE_URL=$(pgbouncer_url)
DATABASE_PGBOUNCER=1
DATABASE_OWNER_URL=$(primary_url "$OWNER_ROLE")
DATABASE_REPLICA_URL=$(replica_url)
# Above the default 5 s: the replica tests must observe both sides of the bound on a loaded 2-core machine.
REPLICA_MAX_LAG_S=${REPLICA_MAX_LAG_S:-8}
# Straight to the primary: as the application role (the bench's "direct" runs), and as the administrator.
DATABASE_APP_DIRECT_URL=$(primary_url "$APP_ROLE")
DATABASE_PRIMARY_DIRECT_URL=$(primary_url)
REDIS_URL=redis://127.0.0.1:$REDIS_MASTER_PORT/0
REDIS_SENTINELS=$(sentinels)
REDIS_SENTINEL_MASTER=$SENTINEL_MASTER
REDIS_MASTER_PORT=$REDIS_MASTER_PORT
REDIS_REPLICA_PORT=$REDIS_REPLICA_PORT
WEB_URLS=$(printf 'http://127.0.0.1:%s,' "${WEB_PORTS[@]}" | sed 's/,$//')
FCM_ENDPOINT=http://127.0.0.1:$FCM_PORT
FCM_CREDENTIALS_FILE=$CLUSTER_DIR/fcm/service-account.json
FCM_RECEIVED_LOG=$CLUSTER_DIR/fcm/received.jsonl
CLUSTER_RUN_DIR=$CLUSTER_RUN
ENV
}

# export every variable of cluster.env
load_cluster_env() {
    [[ -f $CLUSTER_ENV ]] || die "no $CLUSTER_ENV: start the cluster with 'make cluster'"
    set -a
    # shellcheck disable=SC1090
    source "$CLUSTER_ENV"
    set +a
}

# stop_pidfile FILE [group]: TERM the process; with "group", wait for its whole process group (as started by
# spawn) to end; after 15 s, KILL what is left. Removes the file.
stop_pidfile() {
    local file=$1 target pid
    [[ -f $file ]] || return 0
    pid="$(cat "$file" 2>/dev/null || true)"
    target=$pid
    [[ ${2:-} == group ]] && target="-$pid"
    if [[ -n $pid ]] && kill -0 -- "$target" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 -- "$target" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "$target" 2>/dev/null || true
    fi
    rm -f "$file"
}
