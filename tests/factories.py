"""Test data built through the models (real rows). Add functions here; keep existing ones stable."""
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from models import Category, Device, Officer, PushToken, Report, ReportEvent, Unit, db
from service.platform import clock as service_clock

# A point in Paris 4e, served by the demo police nationale.
PARIS = (2.3522, 48.8566)


def make_device(locale: str = "fr", tokens: tuple[str, ...] = (), preferences: dict | None = None,
                platform: str = "android") -> Device:
    """A resident's device with the given FCM registration tokens (flushed, not committed)."""
    device = Device(token_hash=secrets.token_hex(32), platform=platform, locale=locale,
                    preferences=preferences or {})
    for token in tokens:
        device.push_tokens.append(PushToken(token=token))
    db.session.add(device)
    db.session.flush()
    return device


def unit_at(lon: float, lat: float, kind: str = "police_nationale") -> Unit:
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    return db.session.scalars(select(Unit).where(
        Unit.receives_reports, Unit.kind == kind, func.ST_Contains(Unit.jurisdiction, point)).limit(1)).one()


def make_report(category_code: str = "nuisance_sonore", device: Device | None = None,
                point: tuple[float, float] = PARIS, status: str = "received", unit: Unit | None = None,
                received_at: datetime | None = None, closed_at: datetime | None = None,
                acknowledge_due_at: datetime | None = None) -> Report:
    """A routed report (created + routed events) written directly through the models (flushed)."""
    category = db.session.get(Category, category_code)
    lon, lat = point
    unit = unit or unit_at(lon, lat)
    received_at = received_at or service_clock.now()
    commune = db.session.execute(text(
        "SELECT insee_code, name FROM communes WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
        "LIMIT 1"), {"lon": lon, "lat": lat}).first()
    report = Report(
        reference="PX-T" + secrets.token_hex(5).upper()[:9], category=category, description="Test",
        location=f"SRID=4326;POINT({lon} {lat})", accuracy_m=8.0, observed_at=received_at,
        received_at=received_at, commune_insee=commune.insee_code if commune else None,
        commune_name=commune.name if commune else None, departement_code=unit.departement_code,
        status=status, priority=category.priority, unit_id=unit.id, routing_reason="Test",
        device_id=device.id if device else None, closed_at=closed_at,
        acknowledge_due_at=acknowledge_due_at or received_at + timedelta(minutes=category.sla_acknowledge_min),
        dispatch_due_at=received_at + timedelta(minutes=category.sla_dispatch_min),
        resolve_due_at=received_at + timedelta(minutes=category.sla_resolve_min))
    db.session.add(report)
    db.session.flush()
    for event_type in ("created", "routed"):
        db.session.add(ReportEvent(report_id=report.id, type=event_type, at=received_at, unit_id=unit.id,
                                   citizen_visible=True))
    db.session.flush()
    return report


def add_event(report: Report, event_type: str, **fields) -> ReportEvent:
    """Append a timeline event to a report (flushed)."""
    event = ReportEvent(report_id=report.id, type=event_type, unit_id=fields.pop("unit_id", report.unit_id),
                        citizen_visible=fields.pop("citizen_visible", True), **fields)
    db.session.add(event)
    db.session.flush()
    return event


def make_officer(unit: Unit, role: str = "agent", email: str | None = None) -> Officer:
    officer = Officer(email=email or f"{secrets.token_hex(4)}@test.interieur.gouv.fr", display_name="Test",
                      password_hash="!", role=role, unit_id=unit.id)
    db.session.add(officer)
    db.session.flush()
    return officer
