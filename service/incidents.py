"""Incidents: reports of the same category close in space and time are one incident (duplicates)."""
from sqlalchemy import text

from models import Incident, Report, db

# The most recent open report of the same category within the category's radius and time window.
_NEARBY_OPEN_REPORT = text("""
    SELECT id, incident_id FROM reports
    WHERE category_code = :category AND id <> :report_id
      AND status IN ('received', 'acknowledged', 'dispatched')
      AND received_at >= :at - make_interval(mins => :window_min)
      AND location && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :radius_deg)
      AND ST_DWithin(location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius_m)
    ORDER BY received_at DESC LIMIT 1
""")


def group_into_incident(report: Report, lon: float, lat: float) -> Incident | None:
    """Attach `report` (flushed, not committed) to the incident of a nearby open duplicate, creating the
    incident when the duplicate had none. Returns the incident, or None when the report stands alone."""
    category = report.category
    # Degrees of latitude per metre; longitude degrees are larger near the poles, so widen generously.
    radius_deg = category.duplicate_radius_m / 111_000 * 2
    row = db.session.execute(_NEARBY_OPEN_REPORT, {
        "category": category.code, "report_id": report.id, "at": report.received_at,
        "window_min": category.duplicate_window_min, "lon": lon, "lat": lat, "radius_deg": radius_deg,
        "radius_m": category.duplicate_radius_m}).first()
    if row is None:
        return None
    if row.incident_id is not None:
        incident = db.session.get(Incident, row.incident_id, with_for_update=True)
        incident.report_count += 1
        incident.last_report_at = report.received_at
    else:
        first = db.session.get(Report, row.id)
        incident = Incident(category_code=category.code, unit_id=first.unit_id, location=first.location,
                            first_report_at=first.received_at, last_report_at=report.received_at, report_count=2)
        db.session.add(incident)
        db.session.flush()
        first.incident_id = incident.id
    report.incident_id = incident.id
    return incident
