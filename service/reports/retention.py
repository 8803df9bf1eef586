"""Retention: closed reports older than their category's retention lose photos, contact and precise location.

The report row, its category, unit, commune, timeline and feedback stay, so every indicator keeps working;
the location is snapped to a grid of about 100 m and `anonymised_at` records when it happened.
"""
import math
from dataclasses import dataclass

from sqlalchemy import text

from models import db
from service.platform import audit, clock

# About 100 m: a degree of latitude is ~111 km. Longitude steps widen with latitude to stay ~100 m.
GRID_M = 100
LAT_STEP = GRID_M / 111_320
BATCH = 500

EXPIRED = text("""
    SELECT r.id FROM reports r JOIN categories c ON c.code = r.category_code
    WHERE r.anonymised_at IS NULL AND r.status IN ('closed', 'rejected')
      AND coalesce(r.closed_at, r.updated_at) < CAST(:now AS timestamptz) - make_interval(days => c.retention_days)
    ORDER BY r.id LIMIT :batch
    FOR UPDATE OF r SKIP LOCKED""")

# Same arithmetic as coarsen() below, in SQL.
_SNAP = """ST_SetSRID(ST_MakePoint(
    round(ST_X({g}) / (:lat_step / cos(radians(round(ST_Y({g}) / :lat_step) * :lat_step))))
        * (:lat_step / cos(radians(round(ST_Y({g}) / :lat_step) * :lat_step))),
    round(ST_Y({g}) / :lat_step) * :lat_step), 4326)"""

ANONYMISE = text(f"""
    UPDATE reports SET location = {_SNAP.format(g="location")},
        accuracy_m = greatest(coalesce(accuracy_m, 0), {GRID_M}), anonymised_at = CAST(:now AS timestamptz)
    WHERE id = ANY(:ids)""")

# An incident keeps its first report's location: coarsen it once none of its reports is precise any more.
ANONYMISE_INCIDENTS = text(f"""
    UPDATE incidents i SET location = {_SNAP.format(g="i.location")}
    WHERE i.id IN (SELECT incident_id FROM reports WHERE id = ANY(:ids) AND incident_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.incident_id = i.id AND r.anonymised_at IS NULL)""")


@dataclass
class PurgeResult:
    reports: int = 0
    photos: int = 0
    contacts: int = 0


def coarsen(lon: float, lat: float) -> tuple[float, float]:
    """Snap a point to the ~100 m grid used by the purge."""
    snapped_lat = round(lat / LAT_STEP) * LAT_STEP
    lon_step = LAT_STEP / math.cos(math.radians(snapped_lat))
    return round(lon / lon_step) * lon_step, snapped_lat


def purge_expired_reports(max_batches: int = 200) -> PurgeResult:
    """Anonymise every report past retention, batch by batch, one committed transaction per batch."""
    result = PurgeResult()
    for _ in range(max_batches):
        ids = db.session.execute(EXPIRED, {"batch": BATCH, "now": clock.now()}).scalars().all()
        if not ids:
            break
        photos = db.session.execute(text("DELETE FROM report_photos WHERE report_id = ANY(:ids)"), {"ids": ids})
        contacts = db.session.execute(text("DELETE FROM report_contacts WHERE report_id = ANY(:ids)"), {"ids": ids})
        db.session.execute(ANONYMISE, {"ids": ids, "lat_step": LAT_STEP, "now": clock.now()})
        db.session.execute(ANONYMISE_INCIDENTS, {"ids": ids, "lat_step": LAT_STEP})
        audit.record("system", "retention_purge", "reports", None,
                     {"report_ids": ids, "photos": photos.rowcount, "contacts": contacts.rowcount})
        db.session.commit()
        result.reports += len(ids)
        result.photos += photos.rowcount
        result.contacts += contacts.rowcount
        if len(ids) < BATCH:
            break
    return result
