"""Database maintenance jobs: the monthly partitions of reports, report_events and notifications, created ahead."""
from service.platform import clock, partitions
from workers.queues import MAINTENANCE, job


@job(queue=MAINTENANCE, timeout=600)
def create_partitions() -> list[str]:
    return partitions.ensure_partitions(clock.now().date())
