# Proxima: two commands for a new user.
#   make run    provision everything (system packages, .venv, front-end libraries, PostgreSQL+PostGIS, Redis,
#               schema, reference data, demo accounts) and serve http://127.0.0.1:$${PORT:-8000}
#   make test   same provisioning on the test database, then the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := help

VENV_STAMP := .venv/.proxima-installed
NODE_STAMP := node_modules/.proxima-installed
VENDOR_STAMP := service/static/vendor/.stamp
BENCH_STAMP := .venv/.proxima-bench-installed
SYSTEM_PACKAGES_FLAGS :=

.PHONY: help run test bench cluster cluster-stop test-cluster deps system-packages vendor clean

help:
	@echo "make run     provision and serve Proxima on http://127.0.0.1:$${PORT:-8000} (Ctrl-C stops it)"
	@echo "make test    provision the test database and run the whole test suite"
	@echo "make bench   run bench/run.py (QUICK=1 for the short variant)"
	@echo "make cluster       start the local scale-out topology (replica, PgBouncer, Sentinel, 2 web, 2 workers)"
	@echo "make test-cluster  run the cluster tests (tests/cluster) against it"
	@echo "make cluster-stop  stop every process of the cluster"
	@echo "make clean   remove .venv, node_modules, vendored files and private servers' data (var/)"

run: deps
	@scripts/run.sh

# Chromium and its driver are only needed by the browser tests of the console.
test: SYSTEM_PACKAGES_FLAGS := --browser
test: deps
	@scripts/test.sh

bench: deps $(BENCH_STAMP)
	@$(if $(QUICK),QUICK=$(QUICK)) scripts/bench.sh

# The scale-out topology of docs/scaling.md on loopback, data under var/cluster/ (scripts/cluster_lib.sh).
cluster: SYSTEM_PACKAGES_FLAGS := --cluster
cluster: deps
	@scripts/cluster.sh

cluster-stop:
	@scripts/cluster_stop.sh

test-cluster: deps
	@scripts/cluster_test.sh

deps: system-packages $(VENV_STAMP) $(VENDOR_STAMP)

system-packages:
	@scripts/system_packages.sh $(SYSTEM_PACKAGES_FLAGS)

# Reinstalled only when the package metadata changes (a new dependency in setup.cfg).
$(VENV_STAMP): setup.cfg pyproject.toml
	@scripts/venv.sh

$(BENCH_STAMP): setup.cfg pyproject.toml $(VENV_STAMP)
	@scripts/venv.sh test,bench $@

$(NODE_STAMP): package.json package-lock.json
	@echo "==> Front-end packages (npm ci)" >&2
	@npm ci --omit=peer --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

vendor: $(VENDOR_STAMP)

$(VENDOR_STAMP): $(NODE_STAMP) scripts/vendor.sh
	@scripts/vendor.sh

clean:
	rm -rf .venv node_modules service/static/vendor var
