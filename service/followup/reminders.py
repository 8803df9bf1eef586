"""Scheduled follow-ups: SLA reminders and escalation of unacknowledged reports, satisfaction requests.

Each function owns its transaction and is safe to run concurrently or twice: candidates are locked with
`FOR UPDATE SKIP LOCKED` and skipped when the event (or notification) they would write already exists.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, select

from models import EventType, Feedback, Notification, Officer, Report, ReportEvent, ReportStatus, Role, Unit, db
from service.platform import clock
from service.followup import notifications, push_texts

BATCH = 500
# Closed reports older than this when the job first sees them are not asked for feedback any more
# (e.g. the scheduler was down for days, or a new deployment over old data).
FEEDBACK_HORIZON_DAYS = 7


@dataclass
class ReminderRun:
    reminded: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)


def remind_unacknowledged(escalation_delay_min: int | None = None) -> ReminderRun:
    """Remind the unit of reports not acknowledged by their due time; escalate them to the supervisors later."""
    if escalation_delay_min is None:
        escalation_delay_min = current_app.config["SLA_ESCALATION_DELAY_MIN"]
    run = ReminderRun()
    now = clock.now()
    for report in _overdue(EventType.SLA_REMINDER, now):
        overdue = _minutes(now - report.acknowledge_due_at)
        db.session.add(ReportEvent(
            report_id=report.id, type=EventType.SLA_REMINDER.value, at=now, actor_kind="system", unit_id=report.unit_id,
            text=f"Rappel : signalement non pris en compte, échéance dépassée de {overdue} min.",
            data={"due_at": report.acknowledge_due_at.isoformat(), "overdue_min": overdue}))
        run.reminded.append(report.id)
    db.session.flush()
    for report in _overdue(EventType.ESCALATED, now, escalation_delay_min):
        overdue = _minutes(now - report.acknowledge_due_at)
        unit = report.unit
        supervisors = supervisors_of(unit)
        target = unit.parent if unit.parent is not None else unit
        db.session.add(ReportEvent(
            report_id=report.id, type=EventType.ESCALATED.value, at=now, actor_kind="system", unit_id=report.unit_id,
            target_unit_id=target.id,
            text=(f"Escaladé aux superviseurs ({target.name}) : toujours non pris en compte "
                  f"{overdue} min après l'échéance."),
            data={"due_at": report.acknowledge_due_at.isoformat(), "overdue_min": overdue,
                  "supervisor_ids": [o.id for o in supervisors]}))
        run.escalated.append(report.id)
    db.session.commit()
    return run


def supervisors_of(unit: Unit) -> list[Officer]:
    """Active supervisors of the unit itself and of its parent (commandement)."""
    unit_ids = [unit.id] + ([unit.parent_id] if unit.parent_id else [])
    return db.session.scalars(select(Officer).where(
        Officer.role == Role.SUPERVISEUR.value, Officer.active, Officer.unit_id.in_(unit_ids)
    ).order_by(Officer.id)).all()


def request_feedback(delay_min: int | None = None) -> list[Notification]:
    """Ask residents to rate the answer some time after closure: one feedback_request per report, ever."""
    if delay_min is None:
        delay_min = current_app.config["SATISFACTION_DELAY_MIN"]
    already_asked = exists().where(Notification.report_id == Report.id,
                                   Notification.kind == push_texts.FEEDBACK_REQUEST)
    rated = exists().where(Feedback.report_id == Report.id)
    now = clock.now()
    ids = db.session.scalars(
        select(Report.id).where(
            Report.status == ReportStatus.CLOSED.value, Report.device_id.is_not(None),
            Report.closed_at <= now - timedelta(minutes=delay_min),
            Report.closed_at > now - timedelta(days=FEEDBACK_HORIZON_DAYS),
            ~already_asked, ~rated)
        .order_by(Report.closed_at).limit(BATCH)
        .with_for_update(of=Report, skip_locked=True)).all()
    queued = []
    for report in db.session.scalars(select(Report).where(Report.id.in_(ids))).all():
        queued += notifications.queue_for_report(report, push_texts.FEEDBACK_REQUEST)
    db.session.commit()
    notifications.dispatch_after_commit(queued)
    return queued


def _overdue(event_type: EventType, now: datetime, extra_min: int = 0) -> list[Report]:
    """Received (unacknowledged) reports past due + extra_min that have no `event_type` event yet."""
    done = exists().where(and_(ReportEvent.report_id == Report.id, ReportEvent.type == event_type.value))
    now = clock.now()
    ids = db.session.scalars(
        select(Report.id).where(
            Report.status == ReportStatus.RECEIVED.value,
            Report.acknowledge_due_at <= now - timedelta(minutes=extra_min), ~done)
        .order_by(Report.acknowledge_due_at).limit(BATCH)
        .with_for_update(of=Report, skip_locked=True)).all()
    if not ids:
        return []
    return db.session.scalars(select(Report).where(Report.id.in_(ids)).order_by(Report.acknowledge_due_at)).all()


def _minutes(delta) -> int:
    return max(0, int(delta.total_seconds() // 60))
