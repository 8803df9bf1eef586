"""Periodic refresh of the materialised indicator clocks read by the dashboard and the CSV export.

Scheduled every few minutes (INDICATORS_INTERVAL_S in workers/worker.py): each run is incremental and only
recomputes the reports whose timeline changed; concurrent runs skip (advisory lock). After a refresh, the default
dashboard views (national, and each supervisor's unit tree) are computed into the cache. The long national views
(90 days, 12 months) are recomputed less often by refresh_indicator_snapshots (service.indicator_snapshots).
"""
from sqlalchemy import text

from workers.queues import DEFAULT, job

# Bound on the supervisors' views warmed per run (the others are computed on first opening).
MAX_WARMED_VIEWS = 50


@job(queue=DEFAULT, timeout=600, result_ttl=300)
def refresh_indicators() -> dict:
    from models import db
    from service.indicators import prewarm_dashboards, refresh_indicator_views
    result = refresh_indicator_views()
    if not result.get("skipped"):
        units = list(db.session.scalars(text(
            "SELECT DISTINCT unit_id FROM officers WHERE active AND role = 'superviseur' AND unit_id IS NOT NULL "
            "ORDER BY unit_id LIMIT :n"), {"n": MAX_WARMED_VIEWS}))
        result["warmed_views"] = prewarm_dashboards(units)
    return result


@job(queue=DEFAULT, timeout=1800, result_ttl=300)
def refresh_indicator_snapshots() -> dict:
    from service.indicator_snapshots import refresh_snapshots
    return refresh_snapshots()
