"""Scheduled follow-up jobs: SLA reminders and escalation, satisfaction requests, the daily retention purge."""
from service.followup import reminders
from service.reports import retention
from workers.queues import DEFAULT, MAINTENANCE, job


@job(queue=DEFAULT, timeout=300, result_ttl=300)
def remind_unacknowledged() -> dict:
    run = reminders.remind_unacknowledged()
    return {"reminded": run.reminded, "escalated": run.escalated}


@job(queue=DEFAULT, timeout=300, result_ttl=300)
def request_feedback() -> int:
    return len(reminders.request_feedback())


@job(queue=MAINTENANCE, timeout=3600)
def purge_expired_reports() -> dict:
    return retention.purge_expired_reports().counts()
