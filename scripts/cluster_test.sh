#!/usr/bin/env bash
# `make test-cluster`: the cluster tests (tests/cluster, marked `cluster`) against the topology of `make cluster`,
# which must be running. Extra pytest arguments: PYTEST_ARGS="-k sentinel" make test-cluster
set -euo pipefail
source "$(dirname "$0")/cluster_lib.sh"
cd "$PROJECT_ROOT"
require_venv
load_cluster_env
for url in ${WEB_URLS//,/ }; do
    dbtool http-wait "$url/readyz" 10 || die "$url does not answer: start the cluster with 'make cluster'"
done

step "Cluster tests (pytest -m cluster tests/cluster)"
export PROXIMA_CLUSTER_ENV="$CLUSTER_ENV" PYTHONPATH="$PROJECT_ROOT"
# shellcheck disable=SC2086
"$VENV/bin/pytest" -m cluster ${PYTEST_ARGS:-} tests/cluster
