"""Intake of a resident's report: validate, route, group duplicates, write everything in one transaction.

Used by the mobile API and by Open311, so both channels give identical results.
"""
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from models import Device, EventType, IdempotencyRecord, Report, ReportStatus, db
from service.platform import clock, limits
from service.followup import notifications, push_texts
from service.reports import intake_sql
from service.reports.answers import validate_answers
from service.reports.categories import CategoryRules, active_category
from service.reports.photos import CleanPhoto, clean_photos
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

    def contact_if_given(self) -> dict | None:
        """The reporter's contact details when any is given; kept apart from the report (their own table, read
        access audited)."""
        contact = self.contact or {}
        return contact if any(contact.get(k) for k in ("name", "email", "phone")) else None


@dataclass(frozen=True)
class WrittenReport:
    """What the intake answer says of a report (the report just written, or the first one on a replay): the
    attributes of models.Report that the channels' answers read, with `unit` holding id, name, kind, synthetic."""
    id: int
    reference: str
    status: str
    category_code: str
    commune_insee: str | None
    commune_name: str | None
    departement_code: str | None
    unit: object
    routing_reason: str
    acknowledge_due_at: datetime
    received_at: datetime
    incident_id: int | None

    @classmethod
    def of(cls, report: Report) -> "WrittenReport":
        return cls(report.id, report.reference, report.status, report.category_code, report.commune_insee,
                   report.commune_name, report.departement_code, report.unit, report.routing_reason,
                   report.acknowledge_due_at, report.received_at, report.incident_id)


@dataclass
class IntakeResult:
    report: WrittenReport
    created: bool
    emergency_notice: str | None


@dataclass
class CheckedSubmission:
    """What validation keeps of a submission: the category, cleaned text and answers, re-encoded photos."""
    category: CategoryRules
    description: str
    observed_at: datetime
    answers: dict
    photos: list[CleanPhoto]


def submit_report(submission: ReportSubmission) -> IntakeResult:
    """Accept a report, or raise IntakeRejected having written nothing. Its rows are written by one statement.

    The steps: validate → route → read what the rules need in one statement (an earlier use of the
    Idempotency-Key, the device's reports of the minute, of the day and nearby, its push tokens, a duplicate) →
    a retry answers the first report → the device's caps (limits.DeviceCapReached) → write the report, its events,
    outbox rows, contact, photos, key and incident in one statement (intake_sql) → commit → hand the outbox rows
    due now to the push queue. A retry whose report would be refused now (its category withdrawn, its observation
    grown too old) still answers the report it made.
    """
    now = clock.now()
    try:
        checked = _validate(submission, now)
        placement = _route(submission, checked.category, now)
    except IntakeRejected:
        replay = _replay(submission) if submission.idempotency_key else None
        if replay is None:
            raise
        return replay
    unit = placement.decision.unit
    device = submission.device
    config = current_app.config
    before = intake_sql.read_before_writing(
        device.id if device else None, submission.lon, submission.lat, checked.category, unit.id, now,
        caps_since=tuple(now - cap.window for cap in limits.DEVICE_CAPS),
        storm_since=now - timedelta(minutes=config["STORM_WINDOW_MIN"]),
        storm_radius_m=config["STORM_RADIUS_M"], idempotency_scope=submission.idempotency_scope,
        idempotency_key=submission.idempotency_key)
    if before.replay_report_id is not None:
        return _replayed(submission, before.replay_request_hash, before.replay_report_id)
    if device is not None:
        limits.check_device_caps(before.device_counts, now)
    report = _report_values(submission, checked, placement, now)
    # Many reports from one device at one place: held for supervisor review.
    storm = limits.storm_event(before.nearby_from_device) if device is not None else None
    report["flagged_for_review"] = storm is not None
    events = _events(submission.source, placement, joins_incident=before.duplicate_id is not None, storm=storm)
    outbox = _outbox(device, before.push_token_ids, report, checked.category, unit)
    return _write_and_commit(submission, checked, report, events, outbox, before, unit)


def _validate(submission: ReportSubmission, now: datetime) -> CheckedSubmission:
    """Every check that needs no routing, all errors at once (field -> French messages); IntakeRejected if any."""
    category = active_category(submission.category_code)
    if category is None:
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
    photos, photo_errors = clean_photos(submission.photos)
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


def _route(submission: ReportSubmission, category: CategoryRules, now: datetime) -> Placement:
    """The competent unit at this place and instant, or IntakeRejected with the reason."""
    try:
        return route(submission.lon, submission.lat, category.code, list(category.forces), now)
    except OutsideTerritory:
        raise IntakeRejected(OUTSIDE_TERRITORY, {"location": [OUTSIDE_TERRITORY]})
    except NoCompetentUnit:
        message = "Aucune unité n'est compétente pour cette catégorie à cet endroit."
        raise IntakeRejected(message, {"category": [message]})


def _report_values(submission: ReportSubmission, checked: CheckedSubmission, placement: Placement,
                   now: datetime) -> dict:
    """The report row's values, with its service-level due times fixed at reception from the category."""
    category, commune, unit = checked.category, placement.commune, placement.decision.unit
    return dict(
        reference=new_reference(), category_code=category.code, description=checked.description,
        lon=submission.lon, lat=submission.lat, accuracy_m=submission.accuracy_m, commune_insee=commune.insee_code,
        commune_name=commune.name, departement_code=commune.departement_code, observed_at=checked.observed_at,
        received_at=now, ongoing=submission.ongoing, status=ReportStatus.RECEIVED.value, priority=category.priority,
        emergency=category.emergency_hint, unit_id=unit.id, routing_reason=placement.decision.reason,
        device_id=submission.device.id if submission.device else None, source=submission.source,
        partner_key_id=submission.partner_key_id, answers=checked.answers,
        acknowledge_due_at=now + timedelta(minutes=category.sla_acknowledge_min),
        dispatch_due_at=now + timedelta(minutes=category.sla_dispatch_min),
        resolve_due_at=now + timedelta(minutes=category.sla_resolve_min),
    )


def _events(source: str, placement: Placement, joins_incident: bool, storm: dict | None) -> list[dict]:
    """The intake's timeline, in order: created, routed (with why), merged when it joins an incident (the incident's
    id is filled in by the statement), flagged when it is part of a storm. `routed` is the one pushed at intake."""
    decision = placement.decision
    events = [
        dict(type=EventType.CREATED.value, actor_kind="partner" if source == "open311" else "citizen", text=None,
             citizen_visible=True, data={}),
        dict(type=EventType.ROUTED.value, actor_kind="system", text=decision.reason, citizen_visible=True,
             data={"commune": placement.commune.insee_code, "fallback_distance_m": decision.fallback_distance_m,
                   "closed_units": [u.id for u in decision.closed_units]}),
    ]
    if joins_incident:
        events.append(dict(type=EventType.MERGED.value, actor_kind="system", citizen_visible=True,
                           text="Regroupé avec d'autres signalements du même fait.", data={"automatic": True}))
    if storm is not None:
        events.append(storm)
    return events


def _outbox(device, push_token_ids: list[int], report: dict, category: CategoryRules, unit) -> list[dict]:
    """The outbox rows of the one push at intake: "received, handled by X" (the other intake events are in the
    timeline). None for a report without device (Open311)."""
    if device is None:
        return []
    kind = push_texts.kind_for_event(EventType.ROUTED.value)
    urgent = push_texts.is_urgent(category.priority, EventType.ROUTED.value)
    locale = push_texts.normalise_locale(device.locale)
    payload = push_texts.render(push_texts.MessageContext(
        kind=kind, reference=report["reference"], locale=locale, sensitive=category.sensitive, urgent=urgent,
        category=category.label(locale), unit=unit.name))
    return notifications.outbox_values(device, push_token_ids, kind, payload, urgent)


def _write_and_commit(submission: ReportSubmission, checked: CheckedSubmission, report: dict, events: list[dict],
                      outbox: list[dict], before: intake_sql.BeforeWriting, unit) -> IntakeResult:
    """Write and commit once, then hand the queued pushes to the dispatcher. A concurrent request that committed
    the same Idempotency-Key first wins: its report is returned."""
    idempotency = ((submission.idempotency_scope, submission.idempotency_key, submission.fingerprint())
                   if submission.idempotency_key else None)
    try:
        written = intake_sql.write(report, events, outbox, submission.contact_if_given(), checked.photos,
                                   before.duplicate_id, before.duplicate_incident_id, idempotency)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        replay = _replay(submission) if submission.idempotency_key else None
        if replay is None:
            raise
        return replay
    notifications.dispatch_ids_after_commit(written.queued_notification_ids)
    answer = WrittenReport(
        written.report_id, report["reference"], report["status"], report["category_code"], report["commune_insee"],
        report["commune_name"], report["departement_code"], unit, report["routing_reason"],
        report["acknowledge_due_at"], report["received_at"], written.incident_id)
    return IntakeResult(answer, True, EMERGENCY_NOTICE if checked.category.emergency_hint else None)


def _replay(submission: ReportSubmission) -> IntakeResult | None:
    """The answer to a retry of an Idempotency-Key already used, read on its own; None when the key is new."""
    record = db.session.get(IdempotencyRecord, (submission.idempotency_scope, submission.idempotency_key))
    if record is None:
        return None
    return _replayed(submission, record.request_hash, record.report_id)


def _replayed(submission: ReportSubmission, request_hash: str, report_id: int) -> IntakeResult:
    """The first report made with this Idempotency-Key; IntakeRejected when the key came with another body."""
    if request_hash != submission.fingerprint():
        raise IntakeRejected("Cette clé d'idempotence a déjà servi pour un autre signalement.",
                             {"Idempotency-Key": ["Déjà utilisée avec un contenu différent."]})
    report = db.session.get(Report, report_id)
    return IntakeResult(WrittenReport.of(report), False, EMERGENCY_NOTICE if report.category.emergency_hint else None)
