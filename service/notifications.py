"""Outbox: notification rows written in the same transaction as the event that causes them.

Interface used by intake and workflow (implemented fully by the push issue):
  queue_for_event(report, event) -> list[Notification]   # adds rows to the session, never commits
  dispatch_after_commit(notifications) -> None           # best-effort enqueue after commit; the relay covers failures
"""
from models import Notification, Report, ReportEvent


def queue_for_event(report: Report, event: ReportEvent) -> list[Notification]:
    return []


def dispatch_after_commit(notifications: list[Notification]) -> None:
    return None
