#!/usr/bin/env bash
# `make test`: provision like `make run` but on the test database (proxima_test) and Redis db 15, then run the
# whole suite. TEST_DATABASE_URL / TEST_REDIS_URL, when set, choose the database and Redis db to use.
# Extra pytest arguments: PYTEST_ARGS="-k routing -x" make test
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROJECT_ROOT"
require_venv
load_env_file
trap stop_private_servers EXIT

# The suite never touches the development database: rewrite the URLs to the test ones.
if [[ -n ${TEST_DATABASE_URL:-} ]]; then
    export DATABASE_URL="$TEST_DATABASE_URL"
elif [[ -n ${DATABASE_URL:-} ]]; then
    DATABASE_URL="$(dbtool with-database "$DATABASE_URL" proxima_test)"; export DATABASE_URL
fi
if [[ -n ${TEST_REDIS_URL:-} ]]; then
    export REDIS_URL="$TEST_REDIS_URL"
elif [[ -n ${REDIS_URL:-} ]]; then
    REDIS_URL="$(dbtool with-redis-db "$REDIS_URL" 15)"; export REDIS_URL
fi

ensure_postgres proxima_test
ensure_redis 15
ensure_database
export TEST_DATABASE_URL="$DATABASE_URL" TEST_REDIS_URL="$REDIS_URL" PROXIMA_ENV=test
migrate_and_load

step "Test suite (pytest)"
# Sequential on purpose: the suite shares one test database and rolls each test back in its own transaction.
# shellcheck disable=SC2086
"$VENV/bin/pytest" ${PYTEST_ARGS:-}
