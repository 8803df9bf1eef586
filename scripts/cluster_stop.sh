#!/usr/bin/env bash
# `make cluster-stop`: stop every process of `make cluster` (web, workers, FCM test server, Sentinels, Redis,
# PgBouncer, both PostgreSQL servers) and check that none of the cluster's ports still answers. Data stays in
# var/cluster/ (make clean removes it).
set -euo pipefail
source "$(dirname "$0")/cluster_lib.sh"
cd "$PROJECT_ROOT"

step "Stopping the Proxima cluster"
for file in "$CLUSTER_RUN"/web-*.pid "$CLUSTER_RUN"/worker-*.pid "$CLUSTER_RUN"/fcm.pid; do
    [[ -e $file ]] || continue
    info "$(basename "$file" .pid)"
    stop_pidfile "$file" group
done
for port in "${SENTINEL_PORTS[@]}"; do stop_pidfile "$CLUSTER_DIR/sentinel-$port/sentinel.pid"; done
for port in "$REDIS_MASTER_PORT" "$REDIS_REPLICA_PORT"; do stop_pidfile "$CLUSTER_DIR/redis-$port/redis.pid"; done
stop_pidfile "$CLUSTER_DIR/pgbouncer/pgbouncer.pid"
for data in "$CLUSTER_DIR/pg-replica/data" "$CLUSTER_DIR/pg-primary/data"; do
    if [[ -f $data/postmaster.pid ]]; then
        info "PostgreSQL $(dirname "$data")"
        _as_postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
done

still=()
for port in $(cluster_ports); do if port_listening "$port"; then still+=("$port"); fi; done
[[ ${#still[@]} -eq 0 ]] || die "still listening on ${still[*]} (not started by this cluster?)"
info "nothing of the cluster is running any more"
