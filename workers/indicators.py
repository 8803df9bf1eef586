"""Periodic refresh of the materialised indicator clocks read by the dashboard and the CSV export.

Scheduled every few minutes (INDICATORS_INTERVAL_S in workers/worker.py): each run is incremental and only
recomputes the reports whose timeline changed; concurrent runs skip (advisory lock).
"""
from workers.queues import DEFAULT, job


@job(queue=DEFAULT, timeout=600, result_ttl=300)
def refresh_indicators() -> dict:
    from service.indicators import refresh_indicator_views
    return refresh_indicator_views()
