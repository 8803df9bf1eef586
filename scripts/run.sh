#!/usr/bin/env bash
# `make run`: reach PostgreSQL and Redis, migrate, load the reference data and demo accounts, then serve Proxima
# with gunicorn together with an RQ worker (with scheduler). Ctrl-C stops everything this script started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROJECT_ROOT"
require_venv
load_env_file

PORT="${PORT:-8000}"
CHILDREN=()

cleanup() {
    trap - EXIT INT TERM
    if [[ ${#CHILDREN[@]} -gt 0 ]]; then
        step "Stopping Proxima"
        kill -TERM "${CHILDREN[@]}" 2>/dev/null || true
        # gunicorn and the RQ worker finish their current request/job; give them a few seconds.
        for _ in $(seq 1 30); do
            alive=0
            for pid in "${CHILDREN[@]}"; do if kill -0 "$pid" 2>/dev/null; then alive=1; fi; done
            [[ $alive -eq 1 ]] || break
            sleep 0.5
        done
        kill -KILL "${CHILDREN[@]}" 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    stop_private_servers
}
trap cleanup EXIT
# Ctrl-C (or a TERM from a supervisor) is the normal way to stop: exit 0 once everything is stopped.
trap 'exit 0' INT TERM

ensure_postgres proxima
ensure_redis 0
ensure_database
ensure_roles
report="$(mktemp -t proxima-run.XXXXXX)"
# Demo accounts and the demo history belong to development only (production refuses to start with them).
if [[ ${PROXIMA_ENV:-development} == development ]]; then
    migrate_and_load --seed-demo --report "$report"
else
    migrate_and_load --report "$report"
fi
credentials="$(cat "$report")"
rm -f "$report"

dbtool port-free "$PORT" || die "port $PORT on 127.0.0.1 is already in use: stop what listens there or set PORT=…"

step "Starting gunicorn on http://127.0.0.1:$PORT"
"$VENV/bin/gunicorn" --bind "127.0.0.1:$PORT" --workers "${WEB_CONCURRENCY:-3}" --worker-class gthread \
    --threads "${GUNICORN_THREADS:-4}" --timeout 60 --graceful-timeout 10 \
    --access-logfile - --error-logfile - wsgi:app &
CHILDREN+=($!)

step "Starting the RQ worker (with scheduler)"
"$VENV/bin/flask" --app wsgi worker --with-scheduler &
CHILDREN+=($!)

dbtool http-wait "http://127.0.0.1:$PORT/readyz" 60 || die "gunicorn did not become ready on port $PORT"
cat >&2 <<BANNER

================================================================================
 Proxima is running
   citizen API       http://127.0.0.1:$PORT/api/v1   (docs: http://127.0.0.1:$PORT/api/v1/docs)
   officer console   http://127.0.0.1:$PORT/console
   readiness         http://127.0.0.1:$PORT/readyz
   database          $(dbtool describe "$DATABASE_URL")
   redis             $(dbtool describe "$REDIS_URL")
 Demo units are synthetic (built from communes by a rule, see README).
 Press Ctrl-C to stop.
================================================================================
BANNER
if [[ -n $credentials ]]; then
    printf 'Demo officer accounts:\n%s\n\n' "$credentials" >&2
fi

status=0
wait -n "${CHILDREN[@]}" || status=$?
info "a process exited (status $status): stopping the others"
exit "$status"
