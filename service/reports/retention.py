"""Retention: a report past its category's retention keeps its clocks and loses everything personal.

Which reports: those that ended (resolved, closed or rejected) more than `Category.retention_days` ago, and those
that never ended whose last activity (`updated_at`) is more than `Category.inactive_retention_days` ago — an
abandoned open report is not kept forever either.

What goes: photos, the photos of the report's messages and the reporter's contact (deleted); the description, the
answers to the category's questions (a number plate, a name), the free text of every officer and resident event
(notes, reasons), the texts of the messages between the unit and the resident, feedback comments and notification
payloads (cleared); the location is snapped to a grid of about 100 m and `anonymised_at` records when.
What stays: the report row with its category, unit, commune, statuses and the timestamps of its timeline and
feedback marks, so every indicator keeps working.
"""
import math
from dataclasses import dataclass, field, fields
from datetime import datetime

from sqlalchemy import text

from models import db
from service.platform import audit, clock

# About 100 m: a degree of latitude is ~111 km. Longitude steps widen with latitude to stay ~100 m.
GRID_M = 100
LAT_STEP = GRID_M / 111_320
BATCH = 500

_EXPIRED_WHERE = """
    r.anonymised_at IS NULL AND (
        (r.status IN ('resolved', 'closed', 'rejected')
         AND coalesce(r.closed_at, r.updated_at) < CAST(:now AS timestamptz) - make_interval(days => c.retention_days))
        OR (r.status NOT IN ('resolved', 'closed', 'rejected')
            AND r.updated_at < CAST(:now AS timestamptz) - make_interval(days => c.inactive_retention_days)))"""

EXPIRED = text(f"""
    SELECT r.id FROM reports r JOIN categories c ON c.code = r.category_code
    WHERE {_EXPIRED_WHERE}
    ORDER BY r.id LIMIT :batch
    FOR UPDATE OF r SKIP LOCKED""")

# Rows still on their way (pending, queued, sending, retrying) keep what they must send.
_DONE_NOTIFICATION = "state NOT IN ('pending', 'queued', 'sending', 'retrying')"

# What a purge at :now would touch, counted without changing anything (dry run).
_WOULD_PURGE = text(f"""
    WITH expired AS (SELECT r.id FROM reports r JOIN categories c ON c.code = r.category_code WHERE {_EXPIRED_WHERE})
    SELECT (SELECT count(*) FROM expired) AS reports,
           (SELECT count(*) FROM report_photos WHERE report_id IN (SELECT id FROM expired)) AS photos,
           (SELECT count(*) FROM report_contacts WHERE report_id IN (SELECT id FROM expired)) AS contacts,
           (SELECT count(*) FROM report_events WHERE report_id IN (SELECT id FROM expired)
              AND actor_kind <> 'system' AND text IS NOT NULL) AS texts,
           (SELECT count(*) FROM feedback WHERE report_id IN (SELECT id FROM expired)
              AND comment IS NOT NULL) AS comments,
           (SELECT count(*) FROM notifications WHERE report_id IN (SELECT id FROM expired)
              AND payload <> '{{}}'::jsonb AND {_DONE_NOTIFICATION}) AS payloads,
           (SELECT count(*) FROM report_messages WHERE report_id IN (SELECT id FROM expired)
              AND text <> '') AS message_texts,
           (SELECT count(*) FROM report_message_photos p JOIN report_messages m ON m.id = p.message_id
              WHERE m.report_id IN (SELECT id FROM expired)) AS message_photos""")

# Same arithmetic as coarsen() below, in SQL.
_SNAP = """ST_SetSRID(ST_MakePoint(
    round(ST_X({g}) / (:lat_step / cos(radians(round(ST_Y({g}) / :lat_step) * :lat_step))))
        * (:lat_step / cos(radians(round(ST_Y({g}) / :lat_step) * :lat_step))),
    round(ST_Y({g}) / :lat_step) * :lat_step), 4326)"""

ANONYMISE = text(f"""
    UPDATE reports SET location = {_SNAP.format(g="location")}, description = '', answers = '{{}}'::jsonb,
        accuracy_m = greatest(coalesce(accuracy_m, 0), {GRID_M}), anonymised_at = CAST(:now AS timestamptz)
    WHERE id = ANY(:ids)""")

# Free text typed by people (notes, reasons, a resident's reopening); system texts (routing reasons) name no one.
CLEAR_EVENT_TEXTS = text("""
    UPDATE report_events SET text = NULL WHERE report_id = ANY(:ids) AND actor_kind <> 'system' AND text IS NOT NULL""")
# Messages keep their author and instant (the exchange indicators read them), not what was written or shown.
CLEAR_MESSAGE_TEXTS = text("UPDATE report_messages SET text = '' WHERE report_id = ANY(:ids) AND text <> ''")
DELETE_MESSAGE_PHOTOS = text("""
    DELETE FROM report_message_photos
    WHERE message_id IN (SELECT id FROM report_messages WHERE report_id = ANY(:ids))""")
CLEAR_FEEDBACK_COMMENTS = text("UPDATE feedback SET comment = NULL WHERE report_id = ANY(:ids) AND comment IS NOT NULL")
CLEAR_NOTIFICATION_PAYLOADS = text(f"""
    UPDATE notifications SET payload = '{{}}'::jsonb
    WHERE report_id = ANY(:ids) AND payload <> '{{}}'::jsonb AND {_DONE_NOTIFICATION}""")

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
    texts: int = 0
    comments: int = 0
    payloads: int = 0
    message_texts: int = 0
    message_photos: int = 0
    report_ids: list[int] = field(default_factory=list, repr=False)

    def counts(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "report_ids"}


def coarsen(lon: float, lat: float) -> tuple[float, float]:
    """Snap a point to the ~100 m grid used by the purge."""
    snapped_lat = round(lat / LAT_STEP) * LAT_STEP
    lon_step = LAT_STEP / math.cos(math.radians(snapped_lat))
    return round(lon / lon_step) * lon_step, snapped_lat


def what_would_be_purged(as_of: datetime | None = None) -> PurgeResult:
    """The counts a purge at `as_of` (default now) would reach; nothing changes."""
    row = db.session.execute(_WOULD_PURGE, {"now": as_of or clock.now()}).one()
    return PurgeResult(**row._mapping)


def purge_expired_reports(max_batches: int = 200, as_of: datetime | None = None) -> PurgeResult:
    """Anonymise every report past retention at `as_of` (default now, never later), one transaction per batch."""
    now = clock.now()
    as_of = min(as_of or now, now)
    result = PurgeResult()
    for _ in range(max_batches):
        ids = db.session.execute(EXPIRED, {"batch": BATCH, "now": as_of}).scalars().all()
        if not ids:
            break
        batch = _purge_batch(ids, now)
        audit.record("system", "retention_purge", "reports", None, {"report_ids": ids, **batch.counts()})
        db.session.commit()
        for name, value in batch.counts().items():
            setattr(result, name, getattr(result, name) + value)
        result.report_ids.extend(ids)
        if len(ids) < BATCH:
            break
    return result


def _purge_batch(ids: list[int], now: datetime) -> PurgeResult:
    params = {"ids": ids}
    photos = db.session.execute(text("DELETE FROM report_photos WHERE report_id = ANY(:ids)"), params).rowcount
    contacts = db.session.execute(text("DELETE FROM report_contacts WHERE report_id = ANY(:ids)"), params).rowcount
    texts = db.session.execute(CLEAR_EVENT_TEXTS, params).rowcount
    comments = db.session.execute(CLEAR_FEEDBACK_COMMENTS, params).rowcount
    payloads = db.session.execute(CLEAR_NOTIFICATION_PAYLOADS, params).rowcount
    message_texts = db.session.execute(CLEAR_MESSAGE_TEXTS, params).rowcount
    message_photos = db.session.execute(DELETE_MESSAGE_PHOTOS, params).rowcount
    db.session.execute(ANONYMISE, {"ids": ids, "lat_step": LAT_STEP, "now": now})
    db.session.execute(ANONYMISE_INCIDENTS, {"ids": ids, "lat_step": LAT_STEP})
    return PurgeResult(len(ids), photos, contacts, texts, comments, payloads, message_texts, message_photos)
