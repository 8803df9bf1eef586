"""Intake of a resident's report: validate, route, group duplicates, write everything in one transaction.

Used by the mobile API and by Open311, so both channels give identical results.
"""
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from geoalchemy2.elements import WKTElement
from sqlalchemy.exc import IntegrityError

from models import (Category, Device, EventType, IdempotencyRecord, Report, ReportContact, ReportEvent,
                    ReportPhoto, ReportStatus, db)
from service.platform import clock, limits
from service.followup import notifications
from service.reports.answers import validate_answers
from service.reports.incidents import incident_for_new_report
from service.reports.photos import CleanPhoto, PhotoRejected, clean_photo
from service.reports.references import new_reference
from service.reports.routing import NoCompetentUnit, OutsideTerritory, Placement, route

DESCRIPTION_MAX = 4000
# A phone's clock may run a little ahead of ours.
FUTURE_TOLERANCE = timedelta(minutes=5)
# Older observations are not a matter for a live report.
MAX_OBSERVATION_AGE = timedelta(days=30)

EMERGENCY_NOTICE = ("Si une personne est en danger, appelez immédiatement le 17 (police secours) ou le 112 ; "
                    "personnes sourdes ou malentendantes : SMS au 114. Un signalement n'est pas un appel d'urgence.")
OUTSIDE_TERRITORY = "Ce lieu est en dehors des territoires couverts par Proxima."


class IntakeRejected(Exception):
    """The submission cannot be accepted; nothing was written."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


@dataclass
class ReportSubmission:
    category_code: str
    description: str
    lat: float
    lon: float
    accuracy_m: float | None = None
    observed_at: datetime | None = None
    ongoing: bool = False
    answers: dict = field(default_factory=dict)
    photos: list[bytes] = field(default_factory=list)
    contact: dict | None = None
    device: Device | None = None
    partner_key_id: int | None = None
    source: str = "app"
    idempotency_scope: str | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """Hash of what the caller asked for: the same Idempotency-Key with another body is an error."""
        body = {
            "category": self.category_code, "description": self.description, "lat": self.lat, "lon": self.lon,
            "accuracy_m": self.accuracy_m, "observed_at": self.observed_at.isoformat() if self.observed_at else None,
            "ongoing": self.ongoing, "answers": self.answers, "contact": self.contact,
            "photos": [hashlib.sha256(p).hexdigest() for p in self.photos],
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class IntakeResult:
    report: Report
    created: bool
    emergency_notice: str | None


@dataclass
class CheckedSubmission:
    """What validation keeps of a submission: the category, cleaned text and answers, re-encoded photos."""
    category: Category
    description: str
    observed_at: datetime
    answers: dict
    photos: list[CleanPhoto]


def submit_report(submission: ReportSubmission) -> IntakeResult:
    """Accept a report, or raise IntakeRejected having written nothing. Commits once, on success.

    The steps: replay an Idempotency-Key already used → the device's daily cap (limits.DailyCapReached) → validate
    → route → join an incident → build the report → write its events and contact → hold it if it is part of a storm
    → queue the intake push → commit.
    """
    if submission.idempotency_key:
        replay = _replay(submission)
        if replay is not None:
            return replay
    now = clock.now()
    if submission.device is not None:
        limits.check_daily_cap(submission.device.id, now)
    checked = _validate(submission, now)
    placement = _route(submission, checked.category, now)
    incident_id = incident_for_new_report(checked.category, placement.decision.unit.id, submission.lon, submission.lat,
                                          now)
    report = _build_report(submission, checked, placement, incident_id, now)
    routed = _write_events(report, submission.source, placement, now)
    _write_contact(report, submission.contact)
    db.session.flush()
    limits.flag_if_storm(report, now)  # many reports from one device at one place: held for review
    # One push at intake: "received, handled by X". The other intake events are in the timeline.
    outbox = notifications.queue_for_event(report, routed)
    return _commit(submission, report, outbox)


def _validate(submission: ReportSubmission, now: datetime) -> CheckedSubmission:
    """Every check that needs no routing, all errors at once (field -> French messages); IntakeRejected if any."""
    category = db.session.get(Category, submission.category_code)
    if category is None or not category.active:
        raise IntakeRejected("Catégorie inconnue.", {"category": ["Catégorie inconnue."]})
    errors: dict[str, list[str]] = {}
    description = (submission.description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"{DESCRIPTION_MAX} caractères au plus."]
    observed_at = submission.observed_at or now
    observed_at_error = _observed_at_error(observed_at, now)
    if observed_at_error:
        errors["observed_at"] = [observed_at_error]
    answers, answer_errors = validate_answers(category.attributes, submission.answers or {})
    if answer_errors:
        errors["answers"] = [f"{code} : {' '.join(msgs)}" for code, msgs in answer_errors.items()]
    photos, photo_errors = _clean_photos(submission.photos)
    if photo_errors:
        errors["photos"] = photo_errors
    if errors:
        raise IntakeRejected("Le signalement contient des erreurs.", errors)
    return CheckedSubmission(category, description, observed_at, answers, photos)


def _observed_at_error(observed_at: datetime, now: datetime) -> str | None:
    if observed_at.tzinfo is None:
        return "Indiquez le fuseau horaire (ISO 8601 avec décalage)."
    if observed_at > now + FUTURE_TOLERANCE:
        return "La date d'observation est dans le futur."
    if observed_at < now - MAX_OBSERVATION_AGE:
        return "Les faits datent de plus de 30 jours : déposez plainte ou contactez votre unité."
    return None


def _clean_photos(raw_photos: list[bytes]) -> tuple[list[CleanPhoto], list[str]]:
    """Photos decoded, re-encoded and stripped of metadata, or the reason each one is refused."""
    max_count = current_app.config["PHOTO_MAX_COUNT"]
    if len(raw_photos) > max_count:
        return [], [f"{max_count} photos au plus."]
    photos, errors = [], []
    for index, raw in enumerate(raw_photos):
        try:
            photos.append(clean_photo(raw, current_app.config["PHOTO_MAX_BYTES"]))
        except PhotoRejected as exc:
            errors.append(f"Photo {index + 1} : {exc}")
    return photos, errors


def _route(submission: ReportSubmission, category: Category, now: datetime) -> Placement:
    """The competent unit at this place and instant, or IntakeRejected with the reason."""
    try:
        return route(submission.lon, submission.lat, category.code, category.forces, now)
    except OutsideTerritory:
        raise IntakeRejected(OUTSIDE_TERRITORY, {"location": [OUTSIDE_TERRITORY]})
    except NoCompetentUnit:
        message = "Aucune unité n'est compétente pour cette catégorie à cet endroit."
        raise IntakeRejected(message, {"category": [message]})


def _build_report(submission: ReportSubmission, checked: CheckedSubmission, placement: Placement,
                  incident_id: int | None, now: datetime) -> Report:
    """The report row with its photos and service-level due times, added to the session and flushed (id known)."""
    category, commune, unit = checked.category, placement.commune, placement.decision.unit
    report = Report(
        reference=new_reference(), category=category, description=checked.description,
        location=WKTElement(f"POINT({submission.lon} {submission.lat})", srid=4326),
        accuracy_m=submission.accuracy_m, commune_insee=commune.insee_code, commune_name=commune.name,
        departement_code=commune.departement_code, observed_at=checked.observed_at, received_at=now,
        ongoing=submission.ongoing, status=ReportStatus.RECEIVED.value, priority=category.priority,
        emergency=category.emergency_hint, unit_id=unit.id, routing_reason=placement.decision.reason,
        device_id=submission.device.id if submission.device else None, source=submission.source,
        partner_key_id=submission.partner_key_id, answers=checked.answers,
        acknowledge_due_at=now + timedelta(minutes=category.sla_acknowledge_min),
        dispatch_due_at=now + timedelta(minutes=category.sla_dispatch_min),
        resolve_due_at=now + timedelta(minutes=category.sla_resolve_min),
        updated_at=now, incident_id=incident_id,
    )
    for photo in checked.photos:
        report.photos.append(ReportPhoto(content_type=photo.content_type, width=photo.width, height=photo.height,
                                         content=photo.content))
    db.session.add(report)
    db.session.flush()
    return report


def _write_events(report: Report, source: str, placement: Placement, now: datetime) -> ReportEvent:
    """The intake's timeline: created, routed (with why), and merged when it joined an incident. Returns `routed`,
    the one event pushed to the resident at intake."""
    decision, unit_id = placement.decision, placement.decision.unit.id
    actor = "partner" if source == "open311" else "citizen"
    db.session.add(ReportEvent(report_id=report.id, type=EventType.CREATED.value, at=now, actor_kind=actor,
                               unit_id=unit_id, citizen_visible=True))
    routed = ReportEvent(report_id=report.id, type=EventType.ROUTED.value, at=now, actor_kind="system",
                         unit_id=unit_id, text=decision.reason, citizen_visible=True,
                         data={"commune": placement.commune.insee_code,
                               "fallback_distance_m": decision.fallback_distance_m,
                               "closed_units": [u.id for u in decision.closed_units]})
    db.session.add(routed)
    if report.incident_id is not None:
        db.session.add(ReportEvent(report_id=report.id, type=EventType.MERGED.value, at=now, actor_kind="system",
                                   unit_id=unit_id, citizen_visible=True,
                                   text="Regroupé avec d'autres signalements du même fait.",
                                   data={"incident_id": report.incident_id, "automatic": True}))
    return routed


def _write_contact(report: Report, contact: dict | None) -> None:
    """The reporter's contact details, kept apart from the report (their own table, read access audited)."""
    if contact and any(contact.get(k) for k in ("name", "email", "phone")):
        db.session.add(ReportContact(report_id=report.id, name=contact.get("name"), email=contact.get("email"),
                                     phone=contact.get("phone")))


def _commit(submission: ReportSubmission, report: Report, outbox: list) -> IntakeResult:
    """Commit once (with the Idempotency-Key record last), then hand the queued pushes to the dispatcher."""
    with _written_rows_kept_loaded():
        try:
            if submission.idempotency_key:
                # Last write of the transaction: a concurrent twin blocks here until the first one commits.
                db.session.add(IdempotencyRecord(scope=submission.idempotency_scope, key=submission.idempotency_key,
                                                 request_hash=submission.fingerprint(), report_id=report.id))
                db.session.flush()
            db.session.commit()
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key committed first: return its report.
            db.session.rollback()
            replay = _replay(submission) if submission.idempotency_key else None
            if replay is None:
                raise
            return replay
        notifications.dispatch_after_commit(outbox)
    return IntakeResult(report, True, EMERGENCY_NOTICE if report.category.emergency_hint else None)


@contextmanager
def _written_rows_kept_loaded():
    """Commits that keep the session's objects loaded: the answer shows the report just written, as written,
    rather than reading it and its unit back (three round trips and an ORM refresh on every intake). The outbox
    rows' state changes in the database after that (queued, sent) are not read in this request."""
    session = db.session()
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = True


def _replay(submission: ReportSubmission) -> IntakeResult | None:
    record = db.session.get(IdempotencyRecord, (submission.idempotency_scope, submission.idempotency_key))
    if record is None:
        return None
    if record.request_hash != submission.fingerprint():
        raise IntakeRejected("Cette clé d'idempotence a déjà servi pour un autre signalement.",
                             {"Idempotency-Key": ["Déjà utilisée avec un contenu différent."]})
    report = db.session.get(Report, record.report_id)
    return IntakeResult(report, False, EMERGENCY_NOTICE if report.category.emergency_hint else None)
