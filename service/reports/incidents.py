"""Incidents: reports of the same category close in space and time, handled by one unit, are one incident.

An incident belongs to one unit (`Incident.unit_id`) and holds only that unit's reports: grouping is a unit's
triage tool, and an incident spanning units would show each unit the other's report references, statuses and
names. So a report joins only an incident of the unit it is routed to (at intake: the duplicate lookup and the
incident's count in service.reports.intake_sql), officers merge only within a unit, and a
report whose transfer is accepted leaves its incident (workflow.accept_transfer).
"""
from sqlalchemy import func, select

from models import OPEN_STATUSES, EventType, Incident, Report, ReportEvent, db
from models.event import CITIZEN_VISIBLE
from service.accounts.scope import unit_in_scope
from service.platform import clock
from service.followup import notifications

# --- Officers' corrections: merge a report into an incident, or split it out -------------------------------

OTHER_UNIT = ("Seuls des signalements traités par la même unité peuvent être regroupés : transférez d'abord "
              "le signalement.")


class IncidentError(Exception):
    """A refused merge or split; `message` is French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _event(report: Report, officer, event_type: EventType, data: dict, text_fr: str | None = None) -> ReportEvent:
    event = ReportEvent(report_id=report.id, type=event_type.value, at=clock.now(), actor_kind="officer",
                        officer_id=officer.id,
                        unit_id=report.unit_id, citizen_visible=event_type in CITIZEN_VISIBLE, data=data,
                        text=text_fr)
    db.session.add(event)
    db.session.flush()
    return event


def _check_scope(officer, *unit_ids) -> None:
    if not all(unit_in_scope(officer, u) for u in unit_ids):
        raise IncidentError("Signalement ou incident hors de votre périmètre.")


def leave_incident(report: Report) -> Incident | None:
    """Remove `report` from its incident, keeping the incident's count and status right."""
    if report.incident_id is None:
        return None
    old = db.session.get(Incident, report.incident_id, with_for_update=True)
    report.incident_id = None
    db.session.flush()
    _recount(old)
    return old


def _recount(incident: Incident) -> None:
    incident.report_count = db.session.scalar(
        select(func.count()).select_from(Report).where(Report.incident_id == incident.id))
    refresh_status(incident)


def refresh_status(incident: Incident) -> None:
    """An incident is open while any of its reports is open."""
    still_open = db.session.scalar(select(func.count()).select_from(Report).where(
        Report.incident_id == incident.id, Report.status.in_(OPEN_STATUSES)))
    incident.status = "open" if still_open else "closed"


def merge(report: Report, incident: Incident, officer) -> Incident:
    """Attach `report` to `incident` (same category, both in the officer's scope); one MERGED event. Commits."""
    officer = getattr(officer, "officer", officer)
    db.session.refresh(report, with_for_update=True)
    _check_scope(officer, report.unit_id, incident.unit_id)
    if report.incident_id == incident.id:
        raise IncidentError("Ce signalement fait déjà partie de cet incident.")
    if report.category_code != incident.category_code:
        raise IncidentError("Seuls des signalements de même nature peuvent être regroupés.")
    if report.unit_id != incident.unit_id:
        raise IncidentError(OTHER_UNIT)
    previous = leave_incident(report)
    report.incident_id = incident.id
    incident.last_report_at = max(incident.last_report_at, report.received_at)
    incident.first_report_at = min(incident.first_report_at, report.received_at)
    db.session.flush()
    _recount(incident)
    event = _event(report, officer, EventType.MERGED,
                   {"incident_id": incident.id, "previous_incident_id": previous.id if previous else None})
    queued = notifications.queue_for_event(report, event)
    db.session.commit()
    notifications.dispatch_after_commit(queued)
    return incident


def merge_reports(report: Report, other: Report, officer) -> Incident:
    """Merge `report` with `other`: into `other`'s incident, or a new incident founded on `other`. Commits."""
    officer = getattr(officer, "officer", officer)
    _check_scope(officer, report.unit_id, other.unit_id)
    if report.id == other.id:
        raise IncidentError("Un signalement ne peut pas être fusionné avec lui-même.")
    if report.category_code != other.category_code:
        raise IncidentError("Seuls des signalements de même nature peuvent être regroupés.")
    if report.unit_id != other.unit_id:
        raise IncidentError(OTHER_UNIT)
    if other.incident_id is None:
        incident = Incident(category_code=other.category_code, unit_id=other.unit_id, location=other.location,
                            first_report_at=other.received_at, last_report_at=other.received_at, report_count=1)
        db.session.add(incident)
        db.session.flush()
        other.incident_id = incident.id
        db.session.flush()
    else:
        incident = db.session.get(Incident, other.incident_id)
    return merge(report, incident, officer)


def split(report: Report, officer) -> Incident:
    """Take `report` out of its incident (it stands alone again); one SPLIT event. Commits."""
    officer = getattr(officer, "officer", officer)
    db.session.refresh(report, with_for_update=True)
    _check_scope(officer, report.unit_id)
    if report.incident_id is None:
        raise IncidentError("Ce signalement ne fait partie d'aucun incident.")
    incident = leave_incident(report)
    _event(report, officer, EventType.SPLIT, {"incident_id": incident.id})
    db.session.commit()
    return incident
