"""Public Open311 view of reports: request lists, detail, notes history and mySociety status updates.

Privacy (the rules every query below applies):
- reports of sensitive categories never appear;
- locations are rounded to 3 decimals of a degree (≈ 110 m north-south, ≈ 75 m east-west in France);
- the resident's free-text description is never published: it may name the resident or third parties.
  `description` is sent empty; the category and the French status notes say what the request is about;
- no reporter identity, contact, device, photo or observation time leaves through these queries.
One SQL query per page of requests (plus one for the notes of the whole page with `extensions=true`).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from models import OPEN_STATUSES, Category, IdempotencyRecord, OutcomeCode, Report, ReportEvent, Unit, db
from models.event import CITIZEN_VISIBLE

COORDINATE_DECIMALS = 3
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000

_STATUS_NOTES = {
    "received": "Reçu, en attente de prise en compte.",
    "acknowledged": "Pris en compte par l'unité.",
    "dispatched": "Patrouille engagée.",
    "resolved": "Traité.",
    "closed": "Clôturé.",
    "rejected": "Non retenu.",
}

_VISIBLE_TYPES = sorted(t.value for t in CITIZEN_VISIBLE)


@dataclass
class RequestQuery:
    """Filters of GET /requests, already parsed. `ids` overrides every other filter."""

    ids: list[str] | None = None
    service_codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    page: int = 1
    page_size: int = MAX_RESULTS
    extensions: bool = False


def _open_condition():
    return Report.status.in_(OPEN_STATUSES)


def _updated_column():
    """The request's updated_datetime: its closing time once closed, else its last change."""
    return case((_open_condition(), Report.updated_at), else_=func.coalesce(Report.closed_at, Report.updated_at))


def _request_select(extensions: bool):
    parent = aliased(Report)
    columns = [
        Report.id, Report.reference, Report.status, Report.category_code, Category.label_fr.label("service_name"),
        Unit.name.label("unit_name"), Report.received_at, Report.updated_at, Report.closed_at,
        Report.resolve_due_at, Report.commune_name,
        func.round(func.ST_Y(Report.location).cast(db.Numeric), COORDINATE_DECIMALS).label("lat"),
        func.round(func.ST_X(Report.location).cast(db.Numeric), COORDINATE_DECIMALS).label("lon"),
        OutcomeCode.citizen_text_fr.label("outcome_text"),
    ]
    if extensions:
        # The incident's first report is the parent; the others are its duplicates.
        first_of_incident = (select(parent.reference).where(parent.incident_id == Report.incident_id)
                             .order_by(parent.received_at, parent.id).limit(1).scalar_subquery())
        columns.append(first_of_incident.label("parent_reference"))
    return (select(*columns)
            .join(Category, Category.code == Report.category_code)
            .join(Unit, Unit.id == Report.unit_id)
            .outerjoin(OutcomeCode, OutcomeCode.code == Report.outcome_code)
            .where(Category.sensitive.is_(False)))


def default_window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The spec's window: last 90 days by default; one bound alone extends 90 days from it."""
    if start is None and end is None:
        return now - MAX_SPAN, now
    if start is None:
        return end - MAX_SPAN, end
    if end is None:
        return start, start + MAX_SPAN
    return start, end


def find_requests(query: RequestQuery, now: datetime | None = None) -> list[dict]:
    statement = _request_select(query.extensions)
    if query.ids:
        statement = statement.where(Report.reference.in_(query.ids[:MAX_RESULTS]))
    else:
        if query.service_codes:
            statement = statement.where(Report.category_code.in_(query.service_codes))
        if query.statuses and set(query.statuses) != {"open", "closed"}:
            condition = _open_condition()
            statement = statement.where(condition if query.statuses == ["open"] else ~condition)
        # Sync clients (updated_after/updated_before) want every change, whatever the request date.
        if query.start or query.end or not (query.updated_after or query.updated_before):
            start, end = default_window(query.start, query.end, now)
            statement = statement.where(Report.received_at >= start, Report.received_at <= end)
        if query.updated_after:
            statement = statement.where(_updated_column() > query.updated_after)
        if query.updated_before:
            statement = statement.where(_updated_column() <= query.updated_before)
        statement = statement.limit(query.page_size).offset((query.page - 1) * query.page_size)
    statement = statement.order_by(Report.received_at.desc(), Report.id.desc())
    rows = db.session.execute(statement).all()
    requests = [_request_document(row, query.extensions) for row in rows]
    if query.extensions and rows:
        notes = notes_by_report([row.id for row in rows])
        for row, document in zip(rows, requests):
            document["notes"] = notes.get(row.id, [])
    return requests


def _request_document(row, extensions: bool) -> dict:
    is_open = row.status in OPEN_STATUSES
    notes = _STATUS_NOTES.get(row.status, "")
    if not is_open and row.outcome_text:
        notes = f"{notes} {row.outcome_text}"
    document = {
        "service_request_id": row.reference,
        "status": "open" if is_open else "closed",
        "status_notes": notes,
        "service_name": row.service_name,
        "service_code": row.category_code,
        "description": "",
        "agency_responsible": row.unit_name,
        "service_notice": "",
        "requested_datetime": row.received_at,
        "updated_datetime": (row.closed_at or row.updated_at) if not is_open else row.updated_at,
        "expected_datetime": row.resolve_due_at,
        "address": row.commune_name or "",
        "address_id": "",
        "zipcode": "",
        "lat": float(row.lat),
        "long": float(row.lon),
        "media_url": "",
    }
    if extensions:
        parent = row.parent_reference
        duplicate = parent is not None and parent != row.reference
        document["extended_attributes"] = {
            "duplicate": duplicate,
            "parent_request_id": parent if duplicate else "",
            "detailed_status": row.status,
        }
    return document


def find_request(reference: str, extensions: bool) -> dict | None:
    found = find_requests(RequestQuery(ids=[reference], extensions=extensions))
    return found[0] if found else None


# --- notes and status updates, from the citizen-visible events -------------------------------------------

def _event_select():
    target = aliased(Unit)
    return (select(ReportEvent.id, ReportEvent.report_id, ReportEvent.type, ReportEvent.at, Report.reference,
                   Unit.name.label("unit_name"), target.name.label("target_unit_name"),
                   ReportEvent.outcome_code, OutcomeCode.citizen_text_fr.label("outcome_text"),
                   OutcomeCode.open311_status.label("outcome_status"))
            .join(Report, Report.id == ReportEvent.report_id)
            .outerjoin(Unit, Unit.id == ReportEvent.unit_id)
            .outerjoin(target, target.id == ReportEvent.target_unit_id)
            .outerjoin(OutcomeCode, OutcomeCode.code == ReportEvent.outcome_code)
            .where(ReportEvent.type.in_(_VISIBLE_TYPES)))


def event_text(row) -> str:
    """What a partner may read about an event: fixed French texts, never an officer's free text."""
    unit = row.unit_name or "l'unité compétente"
    texts = {
        "created": "Signalement reçu.",
        "routed": f"Transmis à {unit}.",
        "acknowledged": f"Pris en compte par {unit}.",
        "dispatched": "Patrouille engagée.",
        "transfer_accepted": f"Transféré à {row.target_unit_name or unit}.",
        "resolved": row.outcome_text or "Traité.",
        "closed": "Signalement clôturé." + (f" {row.outcome_text}" if row.outcome_text else ""),
        "rejected": "Signalement non retenu." + (f" {row.outcome_text}" if row.outcome_text else ""),
        "reopened": "Signalement rouvert.",
        "merged": "Regroupé avec d'autres signalements du même fait.",
    }
    return texts.get(row.type, "")


def extended_status(row) -> str:
    """mySociety's extended status set for an event."""
    by_type = {
        "created": "open", "routed": "open", "reopened": "open",
        "acknowledged": "investigating", "transfer_accepted": "investigating",
        "dispatched": "in_progress", "merged": "duplicate",
    }
    if row.type in by_type:
        return by_type[row.type]
    if row.type == "rejected":
        return row.outcome_status if row.outcome_status not in (None, "fixed") else "no_further_action"
    return row.outcome_status or "closed"


def notes_by_report(report_ids: list[int]) -> dict[int, list[dict]]:
    statement = _event_select().where(ReportEvent.report_id.in_(report_ids)).order_by(ReportEvent.at, ReportEvent.id)
    notes: dict[int, list[dict]] = {}
    for row in db.session.execute(statement):
        notes.setdefault(row.report_id, []).append(
            {"datetime": row.at, "type": row.type, "description": event_text(row)})
    return notes


def find_updates(start: datetime, end: datetime, page: int, page_size: int) -> list[dict]:
    statement = (_event_select().join(Category, Category.code == Report.category_code)
                 .where(Category.sensitive.is_(False), ReportEvent.at >= start, ReportEvent.at <= end)
                 .order_by(ReportEvent.at, ReportEvent.id).limit(page_size).offset((page - 1) * page_size))
    return [{
        "update_id": str(row.id),
        "service_request_id": row.reference,
        "status": extended_status(row),
        "updated_datetime": row.at,
        "description": event_text(row),
        "media_url": "",
        "external_status_code": row.outcome_code or row.type,
    } for row in db.session.execute(statement)]


# --- tokens ------------------------------------------------------------------------------------------------

def resolve_token(token: str, partner_key_id: int | None) -> str | None:
    """Reference behind a token, or None.

    Proxima assigns references synchronously, so POST never answers with a token. For clients that poll
    tokens anyway, a token is either the reference itself, or (with the partner's api_key) the
    Idempotency-Key the partner sent with its POST. Sensitive reports resolve only for their own partner.
    """
    visible = and_(Category.code == Report.category_code,
                   Category.sensitive.is_(False) if partner_key_id is None
                   else (Category.sensitive.is_(False) | (Report.partner_key_id == partner_key_id)))
    reference = db.session.execute(
        select(Report.reference).join(Category, visible).where(Report.reference == token)).scalar_one_or_none()
    if reference is None and partner_key_id is not None:
        reference = db.session.execute(
            select(Report.reference).join(IdempotencyRecord, IdempotencyRecord.report_id == Report.id)
            .where(IdempotencyRecord.scope == f"partner:{partner_key_id}", IdempotencyRecord.key == token)
        ).scalar_one_or_none()
    return reference
