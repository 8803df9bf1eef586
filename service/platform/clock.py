"""The service's clock: every reading of "now" goes through here, so that tests can fix the instant.

Routing depends on the hour (a police municipale is closed at night), SLA clocks and reminders on elapsed time,
quiet hours and the reopen window on the date. Production reads the system clock (UTC, NTP-synchronised on every
host); a test gives the application a `ManualClock` and every decision, in Python and in SQL (bound as
`:now`), sees that instant. Stored timestamps that describe *when a row was written* for bookkeeping only keep
the database's `server_default=now()`.

`PARIS` is the one definition of the zone in which units keep their hours and supervisors read their figures.
"""
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

PARIS = ZoneInfo("Europe/Paris")
EXTENSION_KEY = "proxima.clock"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock set to a chosen instant: tests state the instant they run at.

    Running (the default), it moves on from that instant at the pace of the system clock, so code that waits
    or measures elapsed time behaves as in production; frozen, it stays there until `set` or `advance`.
    """

    def __init__(self, instant: datetime, running: bool = True):
        self.running = running
        self.set(instant)

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("A fixed instant needs a time zone (an offset or ZoneInfo).")
        self._instant = instant.astimezone(timezone.utc)
        self._set_at = time.monotonic()

    def advance(self, delta: timedelta | None = None, **kwargs) -> datetime:
        self.set(self.now() + (delta if delta is not None else timedelta(**kwargs)))
        return self.now()

    def freeze(self) -> None:
        self.set(self.now())
        self.running = False

    def now(self) -> datetime:
        if not self.running:
            return self._instant
        return self._instant + timedelta(seconds=time.monotonic() - self._set_at)


class OffsetClock:
    """The system clock moved by a fixed offset: a process started by a test (a worker, a gunicorn server) reads
    the same instant as the test's `ManualClock` (TEST_CLOCK_OFFSET_S, honoured only with PROXIMA_ENV=test)."""

    def __init__(self, offset_s: float):
        self.offset = timedelta(seconds=offset_s)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


SYSTEM_CLOCK = SystemClock()


def init_app(app) -> None:
    """The application's clock: the system clock, or the clock object passed as `CLOCK` in the configuration
    mapping given to `create_app` (tests; never read from the environment)."""
    clock = app.config.get("CLOCK")
    offset = app.config.get("TEST_CLOCK_OFFSET_S")
    if clock is None and offset is not None and app.config.get("PROXIMA_ENV") == "test":
        clock = OffsetClock(offset)
    app.extensions[EXTENSION_KEY] = clock or SYSTEM_CLOCK


def now() -> datetime:
    """The application's current instant (UTC); the system clock outside an application context."""
    if has_app_context():
        return current_app.extensions.get(EXTENSION_KEY, SYSTEM_CLOCK).now()
    return SYSTEM_CLOCK.now()


def on_system_clock(instant: datetime) -> datetime:
    """The machine-clock instant at which the service's clock will read `instant`, for schedulers that run on the
    machine's time (RQ's `enqueue_at`); the same instant in production."""
    return SYSTEM_CLOCK.now() + (instant - now())


def today_in_paris():
    return now().astimezone(PARIS).date()
