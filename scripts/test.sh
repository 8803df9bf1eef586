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
# The suite is given the administrator's URL: it runs as the database's application role and migrates as its owner
# (tests/conftest.py), the roles that ensure_roles creates here for the provisioning below.
export TEST_DATABASE_URL="$DATABASE_URL" TEST_REDIS_URL="$REDIS_URL" PROXIMA_ENV=test
ensure_roles
migrate_and_load

step "Test suite (pytest)"
# Sequential on purpose: the suite shares one test database and rolls each test back in its own transaction.
# Every test starts at a stated instant (tests/instants.py; TEST_INSTANT, by default a weekday at 10:00 in Paris,
# police municipale open), never at the machine's time.
# shellcheck disable=SC2086
"$VENV/bin/pytest" ${PYTEST_ARGS:-}

if [[ -z ${PYTEST_ARGS:-} ]]; then
    # The guard: the tests that route reports again, at 03:00 (police municipale closed) and under a machine time
    # zone on the other side of the world. A test that forgot to state its instant, or that reads the machine's
    # clock or zone, passes in one of the two runs and fails in the other.
    step "Test suite again at night and in another time zone (unit and integration tests)"
    TEST_INSTANT="2026-11-24T03:00:00+01:00" TZ="Pacific/Auckland" \
        "$VENV/bin/pytest" -q -m "not slow and not browser" tests/unit tests/integration
fi
