"""Outbox: notification rows written in the same transaction as the event that causes them.

Interface used by intake and workflow:
  queue_for_event(report, event) -> list[Notification]   # adds rows to the session, never commits
  dispatch_after_commit(notifications) -> None           # best-effort enqueue after commit; the relay covers failures

One row per active push token of the reporting device, rendered in the device's locale when the event
is written. A row that must wait for the end of the device's quiet hours gets `not_before` at that time.
"""
import logging
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, inspect, update

from models import Notification, NotificationState, Report, ReportEvent, db
from service import messages

log = logging.getLogger("proxima.notifications")

PARIS = ZoneInfo("Europe/Paris")
# workers.init_app registers the function that enqueues send jobs: service code does not import workers.
DISPATCHER = "proxima.push_dispatcher"


def queue_for_event(report: Report, event: ReportEvent) -> list[Notification]:
    """Outbox rows telling the reporting device about `event`; nothing for events residents are not told about."""
    kind = messages.kind_for_event(event.type)
    if kind is None:
        return []
    if event.id is None:
        db.session.flush()
    return queue_for_report(report, kind, event=event, urgent=messages.is_urgent(report.priority, event.type))


def queue_for_report(report: Report, kind: str, event: ReportEvent | None = None,
                     urgent: bool = False) -> list[Notification]:
    """Outbox rows of `kind` for the reporting device (also used for feedback requests, which have no event)."""
    device = report.device
    if device is None:
        return []  # Open311 or anonymous web report: nobody to notify
    locale = messages.normalise_locale(device.locale)
    payload = messages.render(messages.context_for(report, event, kind, locale, urgent=urgent))
    common = dict(report_id=report.id, event_id=event.id if event is not None else None, device_id=device.id,
                  kind=kind, locale=locale, payload=payload, urgent=urgent)
    preferences = device.preferences or {}
    tokens = device.active_push_tokens
    if preferences.get("notify") is False or not tokens:
        # Kept as a row so indicators can tell "could not be told" from "forgot to tell".
        reason = "NOTIFICATIONS_OFF" if tokens else "NO_ACTIVE_TOKEN"
        rows = [Notification(**common, state=NotificationState.SKIPPED.value, last_error=reason)]
    else:
        not_before = None
        if not urgent and preferences.get("quiet_hours"):
            # Minute-grained window: the process clock will do, and spares a round trip on every intake.
            not_before = quiet_hours_end(preferences["quiet_hours"], datetime.now(timezone.utc))
        rows = [Notification(**common, push_token_id=token.id,
                             **({"not_before": not_before} if not_before else {})) for token in tokens]
    db.session.add_all(rows)
    return rows


def dispatch_after_commit(notifications: list[Notification]) -> None:
    """Hand the committed rows that are due now to the job queue; failures are logged, the relay retries."""
    ids = [key[0] for key in (inspect(n).identity for n in notifications) if key]
    if not ids:
        return
    dispatcher = current_app.extensions.get(DISPATCHER)
    if dispatcher is None:
        return
    due = []
    try:
        # Marked queued like the relay does, so the relay does not enqueue them a second time.
        due = db.session.execute(
            update(Notification).where(
                Notification.id.in_(ids), Notification.state == NotificationState.PENDING.value,
                Notification.not_before <= func.now())
            .values(state=NotificationState.QUEUED.value, updated_at=func.now())
            .returning(Notification.id, Notification.attempts)).all()
        db.session.commit()
        if due:
            dispatcher([(row.id, row.attempts) for row in due])
    except Exception as exc:  # Redis down, timeout…: the rows are committed, the relay will pick them up
        db.session.rollback()
        log.warning("envoi différé des notifications %s au relais : %s", ids, exc)
        _hand_back([row.id for row in due])


def _hand_back(ids: list[int]) -> None:
    """Rows marked queued whose enqueue failed go back to pending at once (not after the relay's requeue delay)."""
    if not ids:
        return
    try:
        db.session.execute(update(Notification).where(
            Notification.id.in_(ids), Notification.state == NotificationState.QUEUED.value)
            .values(state=NotificationState.PENDING.value, updated_at=func.now()))
        db.session.commit()
    except Exception as exc:  # the database is gone too: the relay requeues them later
        db.session.rollback()
        log.warning("notifications %s laissées en file sans tâche : %s", ids, exc)


def quiet_hours_end(quiet_hours: dict | None, now: datetime) -> datetime | None:
    """End of the device's quiet-hours window if `now` falls inside it (Europe/Paris), else None."""
    window = _parse_window(quiet_hours)
    if window is None:
        return None
    start, end = window
    local = now.astimezone(PARIS)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
    else:  # overnight window, e.g. 22:00 → 07:00
        inside = clock >= start or clock < end
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=PARIS)


def _parse_window(quiet_hours: dict | None) -> tuple[time, time] | None:
    if not isinstance(quiet_hours, dict):
        return None
    try:
        start = time.fromisoformat(str(quiet_hours["start"]))
        end = time.fromisoformat(str(quiet_hours["end"]))
    except (KeyError, ValueError):
        return None
    return None if start == end else (start, end)
