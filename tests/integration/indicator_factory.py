"""Hand-built reports and timelines for the indicator tests (real rows, written through the ORM)."""
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text

from models import Category, Feedback, Report, ReportEvent, Unit, db

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in Paris


def any_unit(kind: str = "police_nationale", offset: int = 0) -> Unit:
    return db.session.scalars(select(Unit).where(Unit.kind == kind, Unit.receives_reports)
                              .order_by(Unit.id).offset(offset).limit(1)).one()


def make_report(unit: Unit, timeline: list[tuple[str, float]], category_code: str = "rodeo_motorise",
                received_at: datetime = T0, status: str | None = None, source: str = "app",
                commune_insee: str | None = None, point: tuple[float, float] | None = None,
                outcome_code: str | None = None, feedback: tuple[int, int, int] | None = None) -> Report:
    """A report received at `received_at` whose events happen `minutes` after it: [("acknowledged", 4), …]."""
    category = db.session.get(Category, category_code)
    if point is None:
        lon, lat = db.session.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(jurisdiction) AS p FROM units WHERE id = :id) s"),
            {"id": unit.id}).one()
    else:
        lon, lat = point
    if commune_insee is None:
        commune_insee = db.session.execute(text(
            "SELECT insee_code FROM communes WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
            "LIMIT 1"), {"lon": lon, "lat": lat}).scalar()
    final = status or _status_after([t for t, _ in timeline])
    report = Report(
        reference="PX-T" + secrets.token_hex(5).upper(), category_code=category_code, description="test",
        location=f"SRID=4326;POINT({lon} {lat})", observed_at=received_at, received_at=received_at,
        commune_insee=commune_insee, departement_code=unit.departement_code, status=final,
        priority=category.priority, unit_id=unit.id, routing_reason="test", source=source,
        outcome_code=outcome_code,
        acknowledge_due_at=received_at + timedelta(minutes=category.sla_acknowledge_min),
        dispatch_due_at=received_at + timedelta(minutes=category.sla_dispatch_min),
        resolve_due_at=received_at + timedelta(minutes=category.sla_resolve_min))
    db.session.add(report)
    db.session.flush()
    db.session.add(ReportEvent(report_id=report.id, type="created", at=received_at, unit_id=unit.id))
    for event_type, minutes in timeline:
        db.session.add(ReportEvent(report_id=report.id, type=event_type, at=received_at + timedelta(minutes=minutes),
                                   unit_id=unit.id))
    if feedback:
        db.session.add(Feedback(report_id=report.id, reactivite=feedback[0], courtoisie=feedback[1],
                                information=feedback[2]))
    db.session.flush()
    return report


def _status_after(types: list[str]) -> str:
    status = "received"
    for t in types:
        status = {"acknowledged": "acknowledged", "dispatched": "dispatched", "resolved": "resolved",
                  "closed": "closed", "rejected": "rejected", "reopened": "acknowledged"}.get(t, status)
    return status
