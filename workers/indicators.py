"""Periodic refresh of the materialised indicator clocks read by the dashboard and the CSV export.

Scheduled every few minutes (INDICATORS_INTERVAL_S in workers/worker.py): each run is incremental and only
recomputes the reports whose timeline changed; concurrent runs skip (advisory lock). After a refresh, the default
dashboard views (national, and each supervisor's unit tree) are computed into the cache. The long national views
(90 days, 12 months) are recomputed every 10 minutes, one job per view (service.statistics.indicator_snapshots).

Pushes first: residents wait for their notifications, while the dashboard can be a few minutes behind. Both
jobs cost seconds of database and worker time at a national scale, taken from the push workers on the same
cores; while pushes are queued (a burst of intakes, a backlog after an FCM outage) they step aside and run later,
up to MAX_DEFERRAL.
"""
from datetime import date, timedelta

from sqlalchemy import text

from models import db
from service.platform import clock
from service.statistics.dashboard_figures import prewarm_dashboards
from service.statistics.filters import IndicatorFilters
from service.statistics.indicator_snapshots import long_views, remove_other_views, store_snapshot
from service.statistics.report_clocks import refresh_indicator_views
from workers.queues import DEFAULT, MAINTENANCE, enqueue, enqueue_many, job, pushes_waiting

# Bound on the supervisors' views warmed per run (the others are computed on first opening).
MAX_WARMED_VIEWS = 50
# Push jobs queued above which the indicator jobs step aside (a few jobs come and go with ordinary traffic).
PUSH_BACKLOG_JOBS = 10
# How late the indicators may fall behind a push backlog before they run anyway.
MAX_DEFERRAL = timedelta(minutes=5)
# A long view that stepped aside is tried again after this.
SNAPSHOT_RETRY = timedelta(seconds=30)


_LAST_REFRESH_AGE = text("SELECT clock_timestamp() - max(started_at) FROM indicator_refreshes")


def _pushes_come_first() -> bool:
    return pushes_waiting() > PUSH_BACKLOG_JOBS


@job(queue=DEFAULT, timeout=600, result_ttl=300)
def refresh_indicators() -> dict:
    """Incremental refresh, then the default views warmed; steps aside (the next run, a minute later, catches up)
    while pushes are queued, unless the last refresh is MAX_DEFERRAL old."""
    if _pushes_come_first():
        # Measured on the database's clock, which dates the refreshes.
        behind = db.session.execute(_LAST_REFRESH_AGE).scalar()
        db.session.rollback()
        if behind is not None and behind < MAX_DEFERRAL:
            return {"deferred": True}
    result = refresh_indicator_views()
    if not result.get("skipped"):
        units = list(db.session.scalars(text(
            "SELECT DISTINCT unit_id FROM officers WHERE active AND role = 'superviseur' AND unit_id IS NOT NULL "
            "ORDER BY unit_id LIMIT :n"), {"n": MAX_WARMED_VIEWS}))
        result["warmed_views"] = prewarm_dashboards(units)
    return result


@job(queue=DEFAULT, timeout=60, result_ttl=300)
def refresh_indicator_snapshots() -> int:
    """Queue the computation of every long national view, one job each on the maintenance queue: the worker takes
    pushes and follow-ups first between two views (each is long at a national scale)."""
    views = long_views()
    remove_other_views(views)
    enqueue_many(store_indicator_snapshot, [((f.start.isoformat(), f.end.isoformat(), f.category_code), None)
                                            for f in views])
    return len(views)


@job(queue=MAINTENANCE, timeout=600, result_ttl=300)
def store_indicator_snapshot(start: str, end: str, category_code: str | None, deferrals: int = 0) -> int:
    """Compute one long view; while pushes are queued, tried again SNAPSHOT_RETRY later (the view served meanwhile
    is the previous one), up to MAX_DEFERRAL. Returns the milliseconds it took, or -1 when it stepped aside."""
    if deferrals < MAX_DEFERRAL / SNAPSHOT_RETRY and _pushes_come_first():
        enqueue(store_indicator_snapshot, start, end, category_code, deferrals + 1,
                at=clock.on_system_clock(clock.now() + SNAPSHOT_RETRY))
        return -1
    return store_snapshot(IndicatorFilters(start=date.fromisoformat(start), end=date.fromisoformat(end),
                                           category_code=category_code))
