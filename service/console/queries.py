"""Read models of the console: the triage queue, map layers, a report's page, scoped lookups (404 outside scope)."""
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort
from sqlalchemy import any_, case, func, literal, or_, select

from models import (CannedQuestion, Category, Incident, Officer, OutcomeCode, Report, ReportContact, ReportEvent,
                    ReportMessage, ReportPhoto, Unit, db)
from service.accounts.scope import in_scope, unit_ids_in_scope, unit_in_scope
from service.reports.workflow import OPEN, STATUS_LABELS_FR
from service.platform import clock

QUEUE_LIMIT = 200
PERIODS = {"24h": timedelta(hours=24), "7j": timedelta(days=7), "30j": timedelta(days=30)}
STATUS_FILTERS = {"ouverts": tuple(OPEN), "tous": None, **{s: (s,) for s in STATUS_LABELS_FR}}
DUE_LABELS = {"received": "prise en compte", "acknowledged": "engagement", "dispatched": "résolution",
              "resolved": "résolution"}

EVENT_LABELS_FR = {
    "created": "Signalement reçu", "routed": "Attribué à l'unité compétente", "acknowledged": "Pris en compte",
    "dispatched": "Patrouille engagée", "note": "Note interne", "transferred": "Transfert demandé",
    "transfer_accepted": "Transfert accepté", "transfer_declined": "Transfert refusé", "resolved": "Résolu",
    "closed": "Clôturé", "rejected": "Rejeté", "reopened": "Rouvert", "merged": "Regroupé dans un incident",
    "split": "Retiré de l'incident", "citizen_notified": "Résident informé", "sla_reminder": "Rappel de délai",
    "escalated": "Signalé au superviseur", "feedback": "Avis du résident", "flagged": "Mis en attente de vérification",
}


def visible(column_unit, column_pending, officer):
    """A report is visible to its unit's scope, and to the scope of a unit a transfer is offered to."""
    return or_(in_scope(column_unit, officer), in_scope(column_pending, officer))


def get_report_or_404(report_id: int, officer: Officer) -> Report:
    report = db.session.get(Report, report_id)
    if report is None or not (unit_in_scope(officer, report.unit_id)
                              or unit_in_scope(officer, report.pending_transfer_unit_id)):
        abort(404)
    return report


def get_incident_or_404(incident_id: int, officer: Officer) -> Incident:
    """The incident, for an officer whose scope holds its unit or one of its reports; else 404."""
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        abort(404)
    if not unit_in_scope(officer, incident.unit_id) and not db.session.scalar(
            select(Report.id).where(Report.incident_id == incident.id, in_scope(Report.unit_id, officer)).limit(1)):
        abort(404)
    return incident


UNREAD = "non-lus"


@dataclass
class QueueFilters:
    status: str = "ouverts"
    category: str = ""
    period: str = ""
    # "non-lus": only reports with resident messages the unit has not read, whatever their status (a resident may
    # write on a report closed a few days ago).
    messages: str = ""

    @classmethod
    def from_args(cls, args) -> "QueueFilters":
        status = args.get("statut", "ouverts")
        period = args.get("periode", "")
        return cls(status=status if status in STATUS_FILTERS else "ouverts",
                   category=(args.get("categorie") or "")[:64],
                   period=period if period in PERIODS else "",
                   messages=UNREAD if args.get("messages") == UNREAD else "")

    def as_args(self) -> dict:
        return {k: v for k, v in (("statut", self.status), ("categorie", self.category), ("periode", self.period),
                                  ("messages", self.messages)) if v}


@dataclass
class QueueRow:
    id: int
    reference: str
    category_label: str
    category_code: str
    priority: int
    status: str
    commune: str
    received_at: datetime
    due_at: datetime
    due_label: str
    ongoing: bool
    emergency: bool
    # Reported as ongoing, and still within the category's "live" time (a rodéo is stale after ~2 h).
    live: bool
    lat: float
    lon: float
    unit_name: str
    incident_id: int | None
    incident_size: int
    transfer_in: bool
    transfer_out: bool
    transfer_declined: bool
    unread_messages: int = 0

    @property
    def status_label(self) -> str:
        return STATUS_LABELS_FR.get(self.status, self.status)

    def marker(self) -> dict:
        return {"id": self.id, "lat": self.lat, "lon": self.lon, "reference": self.reference,
                "category": self.category_label, "priority": self.priority, "status": self.status_label,
                "incident_size": self.incident_size}


def _due_expr():
    return case((Report.status == "received", Report.acknowledge_due_at),
                (Report.status == "acknowledged", Report.dispatch_due_at),
                else_=Report.resolve_due_at)


def queue(officer: Officer, filters: QueueFilters, now: datetime | None = None) -> list[QueueRow]:
    """Reports in scope, most urgent first (priority, then time left before the next SLA target).

    Reports of one incident collapse into its most urgent report, which carries the incident's size.
    """
    now = now or clock.now()
    due = _due_expr().label("due_at")
    last_transfer = (select(ReportEvent.type).where(
        ReportEvent.report_id == Report.id,
        ReportEvent.type.in_(("transferred", "transfer_accepted", "transfer_declined")))
        .order_by(ReportEvent.id.desc()).limit(1).correlate(Report).scalar_subquery())
    unread = (select(func.count()).select_from(ReportMessage).where(
        ReportMessage.report_id == Report.id, ReportMessage.author == "resident", ReportMessage.read_at.is_(None))
        .correlate(Report).scalar_subquery())
    sibling = Report.__table__.alias("sibling")
    incident_size = (select(func.count()).select_from(sibling).where(sibling.c.incident_id == Report.incident_id)
                     .correlate(Report).scalar_subquery())
    stmt = (select(Report.id, Report.reference, Category.label_fr.label("category_label"),
                   Category.code.label("category_code"), Report.priority, Report.status, Report.commune_name,
                   Report.received_at, due, Report.ongoing, Report.emergency,
                   func.ST_Y(Report.location).label("lat"), func.ST_X(Report.location).label("lon"),
                   Unit.name.label("unit_name"), Report.incident_id, incident_size.label("incident_size"),
                   Report.unit_id, Report.pending_transfer_unit_id, last_transfer.label("last_transfer"),
                   Category.live_minutes, unread.label("unread_messages"))
            .join(Category, Category.code == Report.category_code)
            .join(Unit, Unit.id == Report.unit_id)
            .where(visible(Report.unit_id, Report.pending_transfer_unit_id, officer)))
    statuses = STATUS_FILTERS[filters.status]
    if filters.messages == UNREAD:
        # Only the unit in charge reads a thread: a unit a transfer is offered to has nothing unread.
        statuses = None
        stmt = stmt.where(unread > 0, in_scope(Report.unit_id, officer))
    if statuses:
        stmt = stmt.where(Report.status.in_(statuses))
    if filters.category:
        stmt = stmt.where(Report.category_code == filters.category)
    if filters.period:
        stmt = stmt.where(Report.received_at >= now - PERIODS[filters.period])
    stmt = stmt.order_by(Report.priority, due, Report.received_at).limit(QUEUE_LIMIT)
    rows, seen_incidents = [], set()
    scope = unit_ids_in_scope(officer)
    for r in db.session.execute(stmt).all():
        size = r.incident_size if r.incident_id else 0
        if r.incident_id and size > 1:
            if r.incident_id in seen_incidents:
                continue
            seen_incidents.add(r.incident_id)
        pending = r.pending_transfer_unit_id
        transfer_in = pending is not None and pending in scope and r.unit_id not in scope
        live = r.ongoing and (r.live_minutes is None or now - r.received_at <= timedelta(minutes=r.live_minutes))
        rows.append(QueueRow(
            id=r.id, reference=r.reference, category_label=r.category_label, category_code=r.category_code,
            priority=r.priority, status=r.status, commune=r.commune_name or "", received_at=r.received_at,
            due_at=r.due_at, due_label=DUE_LABELS.get(r.status, ""), ongoing=r.ongoing, emergency=r.emergency,
            live=live, lat=r.lat, lon=r.lon, unit_name=r.unit_name, incident_id=r.incident_id,
            incident_size=size if size > 1 else 0, transfer_in=transfer_in,
            transfer_out=pending is not None and not transfer_in,
            transfer_declined=r.last_transfer == "transfer_declined",
            unread_messages=r.unread_messages if r.unit_id in scope else 0))
    return rows


def categories() -> list[Category]:
    return db.session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.label_fr)).all()


def outcome_codes() -> list[OutcomeCode]:
    return db.session.scalars(select(OutcomeCode).order_by(OutcomeCode.label_fr)).all()


def jurisdictions_geojson(officer: Officer, max_units: int = 60) -> dict:
    """The jurisdictions of the units in scope, simplified for display (none beyond `max_units`, e.g. an admin)."""
    stmt = (select(Unit.id, Unit.name, Unit.code, Unit.synthetic,
                   func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(Unit.jurisdiction, 0.0002), 5))
            .where(in_scope(Unit.id, officer), Unit.jurisdiction.isnot(None)).order_by(Unit.id).limit(max_units + 1))
    rows = db.session.execute(stmt).all()
    if len(rows) > max_units:
        return {"type": "FeatureCollection", "features": [], "truncated": True}
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(geom),
         "properties": {"id": uid, "name": name, "code": code, "synthetic": synthetic}}
        for uid, name, code, synthetic, geom in rows]}


@dataclass
class TimelineEntry:
    event: ReportEvent
    label: str
    author: str
    unit_name: str | None
    target_unit_name: str | None
    outcome_label: str | None


def timeline(report: Report) -> list[TimelineEntry]:
    events = db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id)
                                .order_by(ReportEvent.at, ReportEvent.id)).all()
    unit_ids = {e.unit_id for e in events} | {e.target_unit_id for e in events}
    units = {u.id: u.name for u in db.session.scalars(select(Unit).where(Unit.id.in_(unit_ids - {None})))}
    outcomes = {o.code: o.label_fr for o in outcome_codes()}
    authors = {"citizen": "Résident", "resident": "Résident", "partner": "Partenaire", "system": "Proxima"}
    entries = []
    for e in events:
        if e.officer is not None:
            author = e.officer.display_name or e.officer.email
        else:
            author = authors.get(e.actor_kind, e.actor_kind)
        entries.append(TimelineEntry(e, EVENT_LABELS_FR.get(e.type, e.type), author, units.get(e.unit_id),
                                     units.get(e.target_unit_id), outcomes.get(e.outcome_code)))
    return entries


def answers_for_display(report: Report) -> list[tuple[str, str]]:
    """The extra answers with the category's French question labels and value names."""
    by_code = {a.get("code"): a for a in (report.category.attributes or [])}
    shown = []
    for code, value in (report.answers or {}).items():
        attribute = by_code.get(code, {})
        names = {v.get("key"): v.get("name_fr") for v in attribute.get("values", [])}
        values = value if isinstance(value, list) else [value]
        shown.append((attribute.get("description_fr", code), ", ".join(str(names.get(v, v)) for v in values)))
    return shown


def photo_ids(report: Report) -> list[int]:
    return db.session.scalars(select(ReportPhoto.id).where(ReportPhoto.report_id == report.id)
                              .order_by(ReportPhoto.id)).all()


def get_photo_or_404(report: Report, photo_id: int) -> ReportPhoto:
    photo = db.session.get(ReportPhoto, photo_id)
    if photo is None or photo.report_id != report.id:
        abort(404)
    return photo


def has_contact(report: Report) -> bool:
    return db.session.get(ReportContact, report.id) is not None


def transfer_targets(report: Report, radius_m: int = 15000, limit: int = 40) -> list[Unit]:
    """Units that could take over: active, receiving reports, competent for the report's category (force and
    category list, as routing requires), whose jurisdiction is near the report."""
    point = Report.location
    # Degrees, generous for longitude at French latitudes: an index-friendly prefilter before the exact distance.
    radius_deg = radius_m / 111_000 * 1.6
    category = report.category
    stmt = (select(Unit).join(Report, Report.id == report.id)
            .where(Unit.active.is_(True), Unit.receives_reports.is_(True), Unit.id != report.unit_id,
                   Unit.kind.in_(category.forces),
                   or_(Unit.categories.is_(None), literal(category.code) == any_(Unit.categories)),
                   func.ST_DWithin(Unit.jurisdiction, point, radius_deg))
            .order_by(func.ST_Distance(Unit.jurisdiction, point), Unit.name).limit(limit))
    return db.session.scalars(stmt).all()


def merge_candidates(report: Report, officer: Officer, radius_m: int = 1000, days: int = 7, limit: int = 10):
    """Other reports of the same category and unit, nearby and recent, that this one could be merged with."""
    other = Report.__table__.alias("other")
    stmt = (select(Report).join(other, other.c.id == report.id)
            .where(Report.id != report.id, Report.category_code == report.category_code,
                   or_(Report.incident_id.is_(None), Report.incident_id != func.coalesce(report.incident_id, 0)),
                   in_scope(Report.unit_id, officer), Report.unit_id == other.c.unit_id,  # incidents stay in a unit
                   Report.received_at >= other.c.received_at - timedelta(days=days),
                   Report.received_at <= other.c.received_at + timedelta(days=days),
                   func.ST_DWithin(func.Geography(Report.location), func.Geography(other.c.location), radius_m))
            .order_by(func.ST_Distance(func.Geography(Report.location), func.Geography(other.c.location)))
            .limit(limit))
    return db.session.scalars(stmt).all()


def incident_reports(incident: Incident, officer: Officer) -> list[Report]:
    """The incident's reports the officer may see (never another unit's reference or status)."""
    return db.session.scalars(select(Report).where(Report.incident_id == incident.id, in_scope(Report.unit_id, officer))
                              .order_by(Report.received_at)).all()


def incident_siblings(report: Report, officer: Officer) -> list[Report]:
    if report.incident_id is None:
        return []
    return db.session.scalars(select(Report).where(Report.incident_id == report.incident_id, Report.id != report.id,
                                                   in_scope(Report.unit_id, officer))
                              .order_by(Report.received_at)).all()


def officers() -> list[Officer]:
    return db.session.scalars(select(Officer).order_by(Officer.email)).all()


def report_point(report: Report) -> tuple[float, float]:
    """(lat, lon) of the report."""
    row = db.session.execute(select(func.ST_Y(Report.location), func.ST_X(Report.location))
                             .where(Report.id == report.id)).one()
    return row[0], row[1]


def canned_questions() -> list[tuple[CannedQuestion, str]]:
    """Every canned question with its category's French label, by category then order."""
    return db.session.execute(select(CannedQuestion, Category.label_fr)
                              .join(Category, Category.code == CannedQuestion.category_code)
                              .order_by(Category.label_fr, CannedQuestion.position, CannedQuestion.id)).all()


def get_canned_question_or_404(question_id: int) -> CannedQuestion:
    question = db.session.get(CannedQuestion, question_id)
    if question is None:
        abort(404)
    return question


def get_officer_or_404(officer_id: int) -> Officer:
    officer = db.session.get(Officer, officer_id)
    if officer is None:
        abort(404)
    return officer
