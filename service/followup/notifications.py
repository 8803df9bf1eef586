"""Outbox: notification rows written in the same transaction as the event that causes them.

Interface used by intake and workflow:
  queue_for_event(report, event) -> list[Notification]   # adds rows to the session, never commits
  dispatch_after_commit(notifications) -> None           # best-effort enqueue after commit; the relay covers failures
Intake writes its rows in its own single statement from `outbox_values` and hands their ids to
`dispatch_ids_after_commit`.

One row per active push token of the reporting device, rendered in the device's locale when the event
is written. A row that must wait for the end of the device's quiet hours gets `not_before` at that time and
is left `pending` for the relay. A row due now is written already `queued` when a job queue is configured, and
dispatch_after_commit enqueues its job right after the commit: no second transaction on the request's path. If the
enqueue fails the row goes back to `pending` at once; if the process dies between the commit and the enqueue, the
relay enqueues the row again after its requeue delay (workers/outbox.py, REQUEUE_AFTER_S), as for a job lost by
Redis.
"""
import logging
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import inspect, update

from models import Notification, NotificationState, Report, ReportEvent, db
from service.platform import clock
from service.followup import push_texts
from service.platform.clock import PARIS

log = logging.getLogger("proxima.notifications")

# workers.init_app registers the function that enqueues send jobs: service code does not import workers.
DISPATCHER = "proxima.push_dispatcher"


def queue_for_event(report: Report, event: ReportEvent) -> list[Notification]:
    """Outbox rows telling the reporting device about `event`; nothing for events residents are not told about."""
    kind = push_texts.kind_for_event(event.type)
    if kind is None:
        return []
    if event.id is None:
        db.session.flush()
    return queue_for_report(report, kind, event=event, urgent=push_texts.is_urgent(report.priority, event.type))


def queue_for_report(report: Report, kind: str, event: ReportEvent | None = None,
                     urgent: bool = False) -> list[Notification]:
    """Outbox rows of `kind` for the reporting device (also used for feedback requests, which have no event)."""
    device = report.device
    if device is None:
        return []  # Open311 or anonymous web report: nobody to notify
    locale = push_texts.normalise_locale(device.locale)
    payload = push_texts.render(push_texts.context_for(report, event, kind, locale, urgent=urgent))
    rows = [Notification(report_id=report.id, event_id=event.id if event is not None else None, **values)
            for values in outbox_values(device, [t.id for t in device.active_push_tokens], kind, payload, urgent)]
    for row in rows:
        row.handed_to_queue = row.state == NotificationState.QUEUED.value
    db.session.add_all(rows)
    return rows


def outbox_values(device, push_token_ids: list[int], kind: str, payload: dict, urgent: bool) -> list[dict]:
    """Column values (all but report_id and event_id) of the outbox rows of one message to `device`, whose active
    push tokens are `push_token_ids`: one row per token, due now or at the end of the device's quiet hours; or a
    single `skipped` row saying why nobody can be told. Used by the ORM path above and by intake's one statement.
    """
    common = dict(device_id=device.id, kind=kind, locale=push_texts.normalise_locale(device.locale),
                  payload=payload, urgent=urgent)
    preferences = device.preferences or {}
    if preferences.get("notify") is False or not push_token_ids:
        # Kept as a row so indicators can tell "could not be told" from "forgot to tell".
        reason = "NOTIFICATIONS_OFF" if push_token_ids else "NO_ACTIVE_TOKEN"
        return [dict(common, state=NotificationState.SKIPPED.value, last_error=reason)]
    now = clock.now()
    not_before = None
    if not urgent and preferences.get("quiet_hours"):
        not_before = quiet_hours_end(preferences["quiet_hours"], now)
    hand_off = not_before is None and current_app.extensions.get(DISPATCHER) is not None
    state = NotificationState.QUEUED if hand_off else NotificationState.PENDING
    return [dict(common, push_token_id=token_id, state=state.value, not_before=not_before or now, updated_at=now)
            for token_id in push_token_ids]


def dispatch_after_commit(notifications: list[Notification]) -> None:
    """Enqueue the jobs of the committed rows written `queued`; on failure they go back to `pending` for the relay."""
    # Identities only: reading attributes of rows expired by the commit would cost a query each.
    dispatch_ids_after_commit(
        [key[0] for key in (inspect(n).identity for n in notifications if n.handed_to_queue) if key])


def dispatch_ids_after_commit(ids: list[int]) -> None:
    """Enqueue the jobs of committed outbox rows `ids`, written `queued`; on failure they go back to `pending`."""
    if not ids:
        return
    dispatcher = current_app.extensions.get(DISPATCHER)
    try:
        dispatcher([(nid, 0) for nid in ids])  # rows just written: no attempt yet
    except Exception as exc:  # Redis down, timeout…: the rows are committed, the relay will pick them up
        log.warning("envoi différé des notifications %s au relais : %s", ids, exc)
        _hand_back(ids)


def _hand_back(ids: list[int]) -> None:
    """Rows marked queued whose enqueue failed go back to pending at once (not after the relay's requeue delay)."""
    if not ids:
        return
    try:
        db.session.execute(update(Notification).where(
            Notification.id.in_(ids), Notification.state == NotificationState.QUEUED.value)
            .values(state=NotificationState.PENDING.value, updated_at=clock.now()))
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
