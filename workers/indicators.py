"""Periodic refresh of the materialised indicator clocks read by the dashboard and the CSV export.

Scheduled every few minutes (INDICATORS_INTERVAL_S in workers/worker.py): each run is incremental and only
recomputes the reports whose timeline changed; concurrent runs skip (advisory lock). After a refresh, the default
dashboard views (national, and each supervisor's unit tree) are computed into the cache. The long national views
(90 days, 12 months) are recomputed every 10 minutes, one job per view (service.statistics.indicator_snapshots).
"""
from datetime import date

from sqlalchemy import text

from models import db
from service.statistics.dashboard_figures import prewarm_dashboards
from service.statistics.filters import IndicatorFilters
from service.statistics.indicator_snapshots import long_views, remove_other_views, store_snapshot
from service.statistics.report_clocks import refresh_indicator_views
from workers.queues import DEFAULT, MAINTENANCE, enqueue_many, job

# Bound on the supervisors' views warmed per run (the others are computed on first opening).
MAX_WARMED_VIEWS = 50


@job(queue=DEFAULT, timeout=600, result_ttl=300)
def refresh_indicators() -> dict:
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
def store_indicator_snapshot(start: str, end: str, category_code: str | None) -> int:
    return store_snapshot(IndicatorFilters(start=date.fromisoformat(start), end=date.fromisoformat(end),
                                           category_code=category_code))
