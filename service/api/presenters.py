"""What a resident sees of a report: fields and a citizen-facing timeline, in their locale."""
from datetime import timedelta

from geoalchemy2.shape import to_shape

from sqlalchemy import func

from models import Feedback, OutcomeCode, Report, ReportEvent, ReportPhoto, db
from models.event import CITIZEN_VISIBLE
from service.reports import messages, workflow


TIMELINE_TEXT = {
    "created": ("Signalement reçu.", "Report received."),
    "routed": ("Transmis à {unit}.", "Sent to {unit}."),
    "acknowledged": ("Pris en compte par {unit}.", "Acknowledged by {unit}."),
    "dispatched": ("Une patrouille a été engagée.", "A patrol has been dispatched."),
    "transfer_accepted": ("Transféré à {unit}, compétente.", "Transferred to {unit}, which is competent."),
    "resolved": ("Intervention terminée.", "Intervention completed."),
    "closed": ("Signalement clôturé.", "Report closed."),
    "rejected": ("Signalement non retenu.", "Report not taken forward."),
    "reopened": ("Signalement rouvert.", "Report reopened."),
    "merged": ("Regroupé avec d'autres signalements du même fait.", "Grouped with other reports of the same event."),
}


def unit_dict(unit) -> dict:
    return {"id": unit.id, "name": unit.name, "kind": unit.kind, "synthetic": unit.synthetic}


def created_dict(report, emergency_notice: str | None) -> dict:
    """The intake answer; `report` is a Report or intake's WrittenReport (the same attributes)."""
    return {
        "reference": report.reference,
        "status": report.status,
        "category": report.category_code,
        "commune": {"insee_code": report.commune_insee, "name": report.commune_name,
                    "departement_code": report.departement_code},
        "unit": unit_dict(report.unit),
        "routing_reason": report.routing_reason,
        "expected_acknowledgement_by": report.acknowledge_due_at,
        "created_at": report.received_at,
        "emergency_notice": emergency_notice,
        "duplicate_of_incident": report.incident_id is not None,
    }


def timeline(report: Report, locale: str) -> list[dict]:
    events = db.session.execute(
        db.select(ReportEvent).where(ReportEvent.report_id == report.id, ReportEvent.citizen_visible)
        .order_by(ReportEvent.at, ReportEvent.id)).scalars().all()
    codes = {e.outcome_code for e in events if e.outcome_code}
    outcomes = ({o.code: o for o in db.session.execute(db.select(OutcomeCode).where(OutcomeCode.code.in_(codes)))
                 .scalars()} if codes else {})
    entries = []
    for event in events:
        if event.type not in {e.value for e in CITIZEN_VISIBLE}:
            continue
        fr, en = TIMELINE_TEXT.get(event.type, (event.type, event.type))
        unit_name = report.unit.name
        text = (en if locale == "en" else fr).format(unit=unit_name)
        if event.type == "rejected" and event.text:
            text = f"{text} {event.text}"
        outcome = None
        if event.outcome_code and event.outcome_code in outcomes:
            o = outcomes[event.outcome_code]
            outcome = {"code": o.code, "label": o.label_en if locale == "en" else o.label_fr,
                       "text": o.citizen_text_en if locale == "en" else o.citizen_text_fr}
        entries.append({"type": event.type, "at": event.at, "text": text, "outcome": outcome})
    return sorted(entries + _message_entries(report, locale), key=lambda entry: entry["at"])


MESSAGE_TEXT = {"unit": ("Message de {unit} : {text}", "Message from {unit}: {text}"),
                "resident": ("Votre message : {text}", "Your message: {text}")}


def _message_entries(report: Report, locale: str) -> list[dict]:
    """The report's thread in its timeline (service/reports/messages.py): the unit by its name, never an officer."""
    thread = messages.thread(report)
    names = messages.unit_names(thread)
    entries = []
    for message in thread:
        fr, en = MESSAGE_TEXT[message.author]
        text = message.text or "(photo)"
        entries.append({"type": f"{message.author}_message", "at": message.created_at, "outcome": None,
                        "text": (en if locale == "en" else fr).format(unit=names.get(message.unit_id, ""),
                                                                      text=text)})
    return entries


def report_dict(report: Report, locale: str) -> dict:
    point = to_shape(report.location)
    photos, feedback_given = _photos_and_feedback(report)
    body = created_dict(report, None)
    body.update({
        "description": report.description,
        "observed_at": report.observed_at,
        "ongoing": report.ongoing,
        "answers": report.answers,
        "photos": photos,
        "location": {"lat": point.y, "lon": point.x, "accuracy_m": report.accuracy_m},
        "timeline": timeline(report, locale),
        # The rule itself lives in the workflow (once, within RESIDENT_REOPEN_DAYS of closure).
        "can_reopen_until": (report.closed_at + timedelta(days=workflow.RESIDENT_REOPEN_DAYS)
                             if workflow.resident_may_reopen(report) else None),
        "feedback_given": feedback_given,
    })
    return body


def _photos_and_feedback(report: Report) -> tuple[int, bool]:
    """How many photos (counted in SQL: the photos themselves are megabytes the app does not need here) and
    whether feedback was given, in one round trip."""
    photos = db.select(func.count()).select_from(ReportPhoto).where(ReportPhoto.report_id == report.id)
    feedback = db.select(Feedback.report_id).where(Feedback.report_id == report.id).exists()
    row = db.session.execute(db.select(photos.scalar_subquery(), feedback)).one()
    return row[0], bool(row[1])
