#!/usr/bin/env bash
# `make bench`: provision a benchmark database (proxima_bench, Redis db 7) and run bench/run.py.
# QUICK=1 make bench runs the short variant (QUICK is passed through to bench/run.py).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROJECT_ROOT"
require_venv
load_env_file
trap stop_private_servers EXIT

[[ -f bench/run.py ]] || die "bench/run.py does not exist yet."
if [[ -n ${BENCH_DATABASE_URL:-} ]]; then export DATABASE_URL="$BENCH_DATABASE_URL"
elif [[ -n ${DATABASE_URL:-} ]]; then DATABASE_URL="$(dbtool with-database "$DATABASE_URL" proxima_bench)"; export DATABASE_URL; fi
if [[ -n ${BENCH_REDIS_URL:-} ]]; then export REDIS_URL="$BENCH_REDIS_URL"
elif [[ -n ${REDIS_URL:-} ]]; then REDIS_URL="$(dbtool with-redis-db "$REDIS_URL" 7)"; export REDIS_URL; fi

ensure_postgres proxima_bench
ensure_redis 7
ensure_database
export BENCH_DATABASE_URL="$DATABASE_URL" BENCH_REDIS_URL="$REDIS_URL"
migrate_and_load

step "Benchmark (bench/run.py${QUICK:+, QUICK=$QUICK})"
"$VENV/bin/python" bench/run.py
