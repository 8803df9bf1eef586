"""Which database a request reads from (the primary, or the streaming replica for reads that tolerate lag), and
which requests run in autocommit (`in_autocommit`: the intake, whose write is one statement).

With DATABASE_REPLICA_URL set, a view that only reads what may be seconds old (the dashboard, its report list
and CSV export, Open311 GET) calls `read_from_replica()`: the rest of the request's reads go to the replica,
provided its replay lag is at most REPLICA_MAX_LAG_S; a replica that lags, stopped streaming or does not
answer leaves the request on the primary. Writes always go to the primary (models.session.RoutingSession), and
so do the reads that must see the caller's own writes: intake answers, console actions, a resident's own report.

Behind PgBouncer in transaction mode (DATABASE_PGBOUNCER), one client connection meets several server
connections, one per transaction: psycopg must not prepare statements server-side (`prepare_threshold=None`),
and nothing may rely on session state. Proxima only takes transaction-level advisory locks
(`pg_advisory_xact_lock`) and `SET LOCAL`, which end with their transaction, and does not LISTEN.
"""
import logging
import threading
import time
from functools import wraps

from flask import Flask, current_app, g
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from models import db
from models.session import READ_BIND

REPLICA_BIND = "replica"
# How long a lag measurement is trusted, per process: one query on the replica per second at most.
LAG_CHECK_INTERVAL_S = 1.0

log = logging.getLogger("proxima.database")

# Seconds since the last replayed transaction, or 0 when everything received is replayed (an idle primary
# makes the replay timestamp old without any lag). NULL (= too old) when the standby no longer streams: no WAL
# receiver at all, or one whose status is not `streaming` (a role without pg_read_all_stats reads a NULL status,
# so only the receiver's presence is checked for it: grant that role for the strict check, docs/scaling.md).
_REPLICA_LAG = text("""
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE coalesce(status, 'streaming') = 'streaming')
            THEN NULL
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
    END
""")


def engine_options(config: dict, pgbouncer: bool) -> dict:
    """SQLAlchemy engine options for a database URL; `pgbouncer`: the URL is PgBouncer in transaction mode."""
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    connect_args = dict(options.get("connect_args", {}))
    if pgbouncer:
        connect_args["prepare_threshold"] = None  # a prepared statement lives on one server connection only
    options["connect_args"] = connect_args
    return options


def init_app(app: Flask) -> None:
    """Configure the engines (before `db.init_app`): PgBouncer's options, and the replica bind when set."""
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config, app.config.get("DATABASE_PGBOUNCER", False))
    replica_url = app.config.get("DATABASE_REPLICA_URL")
    if replica_url:
        binds = dict(app.config.get("SQLALCHEMY_BINDS") or {})
        binds[REPLICA_BIND] = {"url": replica_url, **engine_options(app.config, pgbouncer=False)}
        app.config["SQLALCHEMY_BINDS"] = binds
    app.extensions["proxima_replica_lag"] = _LagCheck()


class _LagCheck:
    """The replica's last measured lag, shared by the threads of a process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._lag_s: float | None = None

    def lag_s(self) -> float | None:
        """Seconds of lag (None: unknown, the replica is unusable), measured at most once per interval."""
        now = time.monotonic()
        if now - self._checked_at < LAG_CHECK_INTERVAL_S:
            return self._lag_s
        with self._lock:
            if now - self._checked_at >= LAG_CHECK_INTERVAL_S:
                self._lag_s = _measure_lag()
                self._checked_at = time.monotonic()
            return self._lag_s


def _measure_lag() -> float | None:
    try:
        with db.engines[REPLICA_BIND].connect() as conn:
            lag = conn.execute(_REPLICA_LAG).scalar()
    except SQLAlchemyError as exc:
        log.warning("replica unreachable, reads stay on the primary: %s", exc.__class__.__name__)
        return None
    return None if lag is None else float(lag)


def replica_lag_s() -> float | None:
    """The replica's lag as this process last measured it; None without a usable replica."""
    if REPLICA_BIND not in current_app.config.get("SQLALCHEMY_BINDS", {}):
        return None
    return current_app.extensions["proxima_replica_lag"].lag_s()


def read_from_replica() -> bool:
    """Send the rest of this request's reads to the replica if it is configured and close enough to the
    primary; returns whether it did. Call it in views whose reads tolerate REPLICA_MAX_LAG_S of lag."""
    lag = replica_lag_s()
    if lag is None or lag > current_app.config["REPLICA_MAX_LAG_S"]:
        return False
    setattr(g, READ_BIND, REPLICA_BIND)
    return True


def autocommit_request() -> bool:
    """Run the rest of this request's statements in autocommit: each commits alone, with no `BEGIN` and `COMMIT`
    round trips (two of the six an intake made). Only for a request whose every write is one statement, atomic on
    its own (the intake writes all its rows with one INSERT of data-modifying CTEs), and whose reads need no
    snapshot shared between statements (under READ COMMITTED each statement takes its own snapshot anyway).

    Returns whether it did: not once the session has begun a transaction, and not when the session is bound to a
    connection rather than an engine (a test's transaction, which the request must stay inside). The connection
    goes back to the pool in its usual transactional mode (SQLAlchemy resets the isolation level on return)."""
    session = db.session()
    if session.in_transaction() or not isinstance(session.get_bind(), Engine):
        return False
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True


def in_autocommit(view):
    """View decorator: the request runs in autocommit from its first statement on (`autocommit_request`); place
    it above the decorators that read the database (the device's authentication)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        autocommit_request()
        return view(*args, **kwargs)
    return wrapper


def reads_from_replica() -> bool:
    """Whether this request's reads currently go to the replica."""
    return g.get(READ_BIND) == REPLICA_BIND
