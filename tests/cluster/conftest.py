"""Fixtures of the cluster tests: the running `make cluster` topology, read from var/cluster/cluster.env.

These tests only run when selected by `make test-cluster` (scripts/cluster_test.sh sets PROXIMA_CLUSTER_ENV to
the file scripts/cluster.sh wrote); under `make test` they are skipped, so the ordinary suite never needs the
cluster. They act on the cluster's own database and servers (a Redis master is killed, replay is paused): run
them on a development cluster only.
"""
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

CLUSTER_ENV = os.environ.get("PROXIMA_CLUSTER_ENV")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.cluster)
            if not CLUSTER_ENV:
                item.add_marker(pytest.mark.skip(reason="needs the cluster: make cluster && make test-cluster"))


def read_env(path: str) -> dict[str, str]:
    values = {}
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="session")
def cluster() -> dict[str, str]:
    return read_env(CLUSTER_ENV)


@pytest.fixture(scope="session")
def web_urls(cluster) -> list[str]:
    return cluster["WEB_URLS"].split(",")


@pytest.fixture(scope="session")
def primary(cluster):
    """A direct connection to the primary (not through PgBouncer) as the administrator, in autocommit."""
    engine = create_engine(cluster["DATABASE_PRIMARY_DIRECT_URL"], isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def replica(cluster):
    """The replica as the administrator (pausing replay needs a superuser)."""
    administrator = make_url(cluster["DATABASE_PRIMARY_DIRECT_URL"]).username
    url = make_url(cluster["DATABASE_REPLICA_URL"]).set(username=administrator)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def wait_replica_caught_up(primary, replica, timeout: float = 30) -> None:
    """Until the replica has replayed everything the primary had written when called."""
    with primary.connect() as conn:
        target = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
    deadline = time.monotonic() + timeout
    with replica.connect() as conn:
        while time.monotonic() < deadline:
            if conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)"), {"t": target}).scalar():
                return
            time.sleep(0.05)
    raise AssertionError(f"the replica did not replay up to {target} within {timeout} s")
