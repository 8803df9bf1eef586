"""Test fixtures: a real PostgreSQL+PostGIS database built by the migrations, a real Redis, per-test rollback.

Environment (set by `make test`; the defaults suit this machine):
  TEST_DATABASE_URL  database used by the suite (created if missing), default .../proxima_test, as an administrator:
                     the suite creates the database's owner and application roles (service.platform.database_roles)
                     and runs as the application role, as the service does in production; the migrations and the
                     cleanup between tests run as the owner
  TEST_REDIS_URL     Redis database used by the suite (flushed around each test), default redis://127.0.0.1:6379/15
  TEST_INSTANT       the instant every test starts at, unless it states its own with @pytest.mark.instant(...)
                     (default: a Tuesday 10:00 in Paris, police municipale open; `make test` runs the suite a
                     second time at 03:00, police municipale closed, to catch a test that forgot to state its
                     instant)

The service never reads the machine's clock in a test: every application built from `_test_config()` gets the one
`ManualClock`, set to the test's instant and running on from there. The `clock` fixture returns it
(`clock.set(...)`, `clock.advance(minutes=5)`, `clock.freeze()`).
"""
import os
import threading
from datetime import datetime, timezone

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from werkzeug.serving import make_server

from models import db
from service.platform import clock as service_clock
from service.platform.config import normalise_database_url
from service.platform.database_roles import ensure_roles, role_names
from tests.instants import WEEKDAY_DAYTIME

TEST_ADMIN_URL = normalise_database_url(
    os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/proxima_test"))
_OWNER_ROLE, _APP_ROLE = role_names(make_url(TEST_ADMIN_URL).database)
# What the service connects with (the application role), and what migrates and cleans up (the owner).
TEST_DATABASE_URL = make_url(TEST_ADMIN_URL).set(username=_APP_ROLE, password=None).render_as_string(
    hide_password=False)
TEST_OWNER_URL = make_url(TEST_ADMIN_URL).set(username=_OWNER_ROLE, password=None).render_as_string(
    hide_password=False)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

TEST_INSTANT = datetime.fromisoformat(os.environ.get("TEST_INSTANT") or WEEKDAY_DAYTIME)
SUITE_CLOCK = service_clock.ManualClock(TEST_INSTANT)

# Tables holding reference data, which the suite loads once and keeps between runs; and the record of the
# partitions of reports, which lives as long as they do.
REFERENCE_TABLES = {"categories", "outcome_codes", "departements", "communes", "units", "spatial_ref_sys",
                    "alembic_version", "report_id_blocks"}


def _ensure_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def pytest_sessionstart(session):
    """The test database and its two roles exist before any test connects (idempotent, a fraction of a second)."""
    _ensure_database(TEST_ADMIN_URL)
    ensure_roles(TEST_ADMIN_URL)


def _test_config() -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL,
        "DATABASE_OWNER_URL": TEST_OWNER_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "RATELIMIT_STORAGE_URI": TEST_REDIS_URL,
        "SECRET_KEY": "test-secret",
        "PROXIMA_ENV": "test",
        "FCM_CREDENTIALS_FILE": None,
        # Check the units table on every routing, so units created by a test are seen at once.
        "ROUTING_INDEX_TTL_S": 0,
        "CLOCK": SUITE_CLOCK,
    }


@pytest.fixture(scope="session")
def app():
    """The application on the test database: migrated to head, reference data loaded once."""
    from service import create_app
    application = create_app(_test_config())
    with application.app_context():
        from flask_migrate import upgrade
        upgrade(revision="heads")  # every branch; a test asserts there is only one head
        from service.reference_data.loader import ensure_reference_data
        ensure_reference_data(quiet=True)
        _truncate_transactional_tables()
    yield application


def owner_engine():
    """The owner's connection: what the tests use to play an attacker with more than the service's rights."""
    global _OWNER_ENGINE
    if _OWNER_ENGINE is None:
        _OWNER_ENGINE = create_engine(TEST_OWNER_URL, pool_size=1)
    return _OWNER_ENGINE


_OWNER_ENGINE = None


def _truncate_transactional_tables() -> None:
    """As the owner (the application role may not truncate): the audit tables' append-only triggers are disabled
    for the cleanup only, inside its transaction."""
    db.session.remove()
    tables = [t.name for t in db.metadata.sorted_tables if t.name not in REFERENCE_TABLES]
    audit_tables = [t for t in ("audit_log", "audit_checkpoints") if t in tables]
    with owner_engine().begin() as conn:
        for table in audit_tables:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        for table in audit_tables:
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        # Units created by tests (imports) are not synthetic demo units.
        conn.execute(text("DELETE FROM units WHERE NOT synthetic"))


def clock_environment() -> dict:
    """Environment for a process a test starts (worker, gunicorn): its clock reads the same instant as the test's."""
    offset = (SUITE_CLOCK.now() - datetime.now(timezone.utc)).total_seconds()
    return {"TEST_CLOCK_OFFSET_S": f"{offset:.6f}"}


@pytest.fixture(autouse=True)
def clock(request):
    """The service's clock for this test: the instant the test states, else the suite's TEST_INSTANT.

    One clock for every application the suite builds (they all take `_test_config()`), set again for each test.
    """
    marker = request.node.get_closest_marker("instant")
    SUITE_CLOCK.running = True
    SUITE_CLOCK.set(datetime.fromisoformat(marker.args[0]) if marker else TEST_INSTANT)
    return SUITE_CLOCK


@pytest.fixture
def redis_conn(app):
    conn = redis.Redis.from_url(TEST_REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def db_session(app, redis_conn):
    """Each test runs inside a transaction that is rolled back; app code may commit (savepoints)."""
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        engines = db.engines
        original = engines[None]
        engines[None] = connection
        try:
            yield db.session
        finally:
            db.session.remove()
            engines[None] = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture
def committed(app, redis_conn):
    """For tests that need real commits seen by other connections or processes (races, workers, servers).

    Nothing is rolled back: transactional tables are truncated after the test.
    """
    with app.app_context():
        yield db.session
        db.session.remove()
        _truncate_transactional_tables()


@pytest.fixture
def live_server(app, committed):
    """Base URL of the app served on 127.0.0.1 from a thread, for browsers and HTTP clients.

    Their requests use connections of their own, hence `committed` rather than per-test rollback.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
