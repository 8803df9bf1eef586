#!/usr/bin/env bash
# The fault scenarios of tests/faults/ at their full length (minutes), on the test database and Redis db:
#   Redis down 30 s during a stream of intakes; PostgreSQL cut 30 s under load; FCM answering 503 for 60 s;
#   a worker SIGKILLed mid-push among 200 notifications; 50 concurrent retries of one Idempotency-Key.
# `make test` runs the same tests with 3–5 s outages. Output: bench/results/faults.log (and the console).
# Usage: bench/faults/run.sh   (TEST_DATABASE_URL / TEST_REDIS_URL as for the test suite)
set -euo pipefail
cd "$(dirname "$0")/../.."
export FAULTS_REDIS_OUTAGE_S=${FAULTS_REDIS_OUTAGE_S:-30}
export FAULTS_POSTGRES_OUTAGE_S=${FAULTS_POSTGRES_OUTAGE_S:-30}
export FAULTS_FCM_OUTAGE_S=${FAULTS_FCM_OUTAGE_S:-60}
export FAULTS_WORKER_KILL_COUNT=${FAULTS_WORKER_KILL_COUNT:-200}
export FAULTS_IDEMPOTENCY_SENDERS=${FAULTS_IDEMPOTENCY_SENDERS:-50}
mkdir -p bench/results
.venv/bin/pytest -p no:cacheprovider -q -s tests/faults "$@" 2>&1 \
    | grep --line-buffered -v '^{"ts"' | tee bench/results/faults.log
