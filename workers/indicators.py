"""Periodic refresh of the materialised indicator clocks read by the dashboard and the CSV export."""
from workers.queues import DEFAULT, job


@job(queue=DEFAULT, timeout=600, result_ttl=300)
def refresh_indicators() -> dict:
    from service.indicators import refresh_indicator_views
    return refresh_indicator_views()
