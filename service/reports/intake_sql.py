"""Intake's two statements: what must be known before writing (one SELECT), then every write (one INSERT … CTE).

An intake used to cost about thirteen round trips and four ORM flushes (the category, the daily cap, the duplicate,
the report, its events, the storm count, the device's tokens, the unit for the push text, the outbox, the
idempotency key). The rules are unchanged and still decided in Python — service.platform.limits (daily cap,
storm), service.reports.incidents (which reports are one incident), service.followup.notifications (the outbox
rows) — but what they need is read in one statement and what they decide is written in another. The write is one
statement, atomic on its own: the mobile API runs the intake in autocommit (service.platform.database.in_autocommit),
which spares the `BEGIN` and `COMMIT` round trips; Open311 runs it inside its request's transaction.
"""
import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from models import OPEN_STATUSES_SQL, db


def _compact(sql: str) -> str:
    """The statement without its comments and repeated blanks. psycopg caches its parsing of a statement only up to
    4,096 characters: the write statement, as laid out here, is longer and was parsed again on every intake."""
    return " ".join(re.sub(r"--[^\n]*", "", sql).split())


# The device's reports in the windows of its two caps (a minute, a day: service.platform.limits.DEVICE_CAPS) and
# those near this point in the storm window, its active
# push tokens, the most recent open report of the same category and unit within the category's duplicate
# radius and window (the incident it joins), and the report an Idempotency-Key already made, if any (a retry).
# A report without device (Open311) counts nothing.
_BEFORE_WRITING = text(_compact("""
    SELECT caps.in_first, caps.oldest_in_first, caps.in_second, caps.oldest_in_second,
           (SELECT count(*) FROM reports r
            WHERE r.device_id = :device_id AND r.received_at >= :storm_since
              AND ST_DWithin(r.location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography,
                             :storm_radius_m)) AS nearby_from_device,
           (SELECT array_agg(t.id ORDER BY t.id) FROM push_tokens t
            WHERE t.device_id = :device_id AND t.active) AS push_token_ids,
           duplicate.id AS duplicate_id, duplicate.incident_id AS duplicate_incident_id,
           replayed.report_id AS replay_report_id, replayed.request_hash AS replay_request_hash
    FROM (SELECT count(*) FILTER (WHERE received_at > :first_since) AS in_first,
                 min(received_at) FILTER (WHERE received_at > :first_since) AS oldest_in_first,
                 count(*) AS in_second, min(received_at) AS oldest_in_second
          FROM reports WHERE device_id = :device_id AND received_at > :second_since) caps
    LEFT JOIN LATERAL (
        SELECT id, incident_id FROM reports
        WHERE category_code = :category AND unit_id = :unit_id AND status IN {open_statuses}
          AND received_at >= :at - make_interval(mins => :window_min)
          AND location && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :radius_deg)
          AND ST_DWithin(location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius_m)
        ORDER BY received_at DESC LIMIT 1) duplicate ON true
    LEFT JOIN idempotency_keys replayed ON replayed.scope = :idempotency_scope AND replayed.key = :idempotency_key
""".format(open_statuses=OPEN_STATUSES_SQL)))


@dataclass(frozen=True)
class BeforeWriting:
    # For each of the device's two caps: how many of its reports were received in the window, and the oldest.
    device_counts: list[tuple[int, datetime | None]]
    nearby_from_device: int
    push_token_ids: list[int]
    duplicate_id: int | None
    duplicate_incident_id: int | None
    # The Idempotency-Key's earlier use: the report it made and the hash of that request; None when it is new.
    replay_report_id: int | None
    replay_request_hash: str | None


def read_before_writing(device_id, lon: float, lat: float, category, unit_id: int, now: datetime,
                        caps_since: tuple[datetime, datetime], storm_since: datetime,
                        storm_radius_m: float, idempotency_scope: str | None,
                        idempotency_key: str | None) -> BeforeWriting:
    """`caps_since`: the start of each cap's window, the shorter one first."""
    first_since, second_since = caps_since
    assert first_since >= second_since
    # Degrees of latitude per metre; longitude degrees are larger near the poles, so widen generously.
    radius_deg = category.duplicate_radius_m / 111_000 * 2
    row = db.session.connection().execute(_BEFORE_WRITING, {
        "device_id": device_id, "lon": lon, "lat": lat, "first_since": first_since, "second_since": second_since,
        "storm_since": storm_since,
        "storm_radius_m": storm_radius_m, "category": category.code, "unit_id": unit_id, "at": now,
        "window_min": category.duplicate_window_min, "radius_deg": radius_deg,
        "radius_m": category.duplicate_radius_m, "idempotency_scope": idempotency_scope,
        "idempotency_key": idempotency_key}).one()
    return BeforeWriting([(row.in_first, row.oldest_in_first), (row.in_second, row.oldest_in_second)],
                         row.nearby_from_device, row.push_token_ids or [],
                         row.duplicate_id, row.duplicate_incident_id, row.replay_report_id, row.replay_request_hash)


# Every row of an intake. Data-modifying CTEs all run, whether or not the final SELECT reads them; a part with
# nothing to write selects no row (no duplicate, no contact, no photo, no Idempotency-Key, no device).
_WRITE = text(_compact("""
WITH new_incident AS (
    -- The duplicate had no incident: the two reports become one, placed and dated by the first.
    INSERT INTO incidents (category_code, unit_id, location, first_report_at, last_report_at, report_count)
    SELECT category_code, unit_id, location, received_at, :received_at, 2 FROM reports
    WHERE id = :duplicate_id AND CAST(:duplicate_incident_id AS integer) IS NULL
    RETURNING id
), first_joins AS (
    UPDATE reports SET incident_id = new_incident.id FROM new_incident WHERE reports.id = :duplicate_id
), counted AS (
    -- One more report in the duplicate's incident; the row lock orders concurrent arrivals.
    UPDATE incidents SET report_count = report_count + 1, last_report_at = greatest(last_report_at, :received_at)
    WHERE id = :duplicate_incident_id
    RETURNING id
), report AS (
    INSERT INTO reports (reference, category_code, description, location, accuracy_m, commune_insee, commune_name,
                         departement_code, observed_at, received_at, ongoing, status, priority, emergency, unit_id,
                         routing_reason, device_id, source, partner_key_id, answers, flagged_for_review,
                         acknowledge_due_at, dispatch_due_at, resolve_due_at, updated_at, incident_id)
    VALUES (:reference, :category_code, :description, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :accuracy_m,
            :commune_insee, :commune_name, :departement_code, :observed_at, :received_at, :ongoing, :status,
            :priority, :emergency, :unit_id, :routing_reason, :device_id, :source, :partner_key_id,
            CAST(:answers AS jsonb), :flagged_for_review, :acknowledge_due_at, :dispatch_due_at, :resolve_due_at,
            :received_at, (SELECT id FROM new_incident UNION ALL SELECT id FROM counted LIMIT 1))
    RETURNING id, incident_id
), events AS (
    -- In the order given (created, routed, merged, flagged): the timeline sorts events of one instant by id.
    INSERT INTO report_events (report_id, type, at, actor_kind, unit_id, text, citizen_visible, data)
    SELECT report.id, e.type, :received_at, e.actor_kind, :unit_id, e.text, e.citizen_visible,
           CASE WHEN e.type = 'merged' THEN e.data || jsonb_build_object('incident_id', report.incident_id)
                ELSE e.data END
    FROM report, jsonb_to_recordset(CAST(:events AS jsonb))
         AS e(n integer, type text, actor_kind text, text text, citizen_visible boolean, data jsonb)
    ORDER BY e.n
    RETURNING id, type
), outbox AS (
    -- The push that tells the resident where the report went: about the `routed` event.
    INSERT INTO notifications (report_id, event_id, device_id, push_token_id, kind, locale, payload, urgent, state,
                               last_error, not_before, updated_at)
    SELECT report.id, events.id, n.device_id, n.push_token_id, n.kind, n.locale, n.payload, n.urgent, n.state,
           n.last_error, coalesce(n.not_before, now()), coalesce(n.updated_at, now())
    FROM report, events, jsonb_to_recordset(CAST(:outbox AS jsonb))
         AS n(device_id uuid, push_token_id integer, kind text, locale text, payload jsonb, urgent boolean,
              state text, last_error text, not_before timestamptz, updated_at timestamptz)
    WHERE events.type = 'routed'
    RETURNING id, state
), contact AS (
    INSERT INTO report_contacts (report_id, name, email, phone)
    SELECT report.id, :contact_name, :contact_email, :contact_phone FROM report WHERE :with_contact
), photos AS (
    INSERT INTO report_photos (report_id, content_type, width, height, content)
    SELECT report.id, p.content_type, p.width, p.height, p.content
    FROM report, unnest(CAST(:photo_types AS text[]), CAST(:photo_widths AS integer[]),
                        CAST(:photo_heights AS integer[]), CAST(:photo_contents AS bytea[]))
         WITH ORDINALITY AS p(content_type, width, height, content, n)
    ORDER BY p.n
), idempotency AS (
    -- A concurrent twin with the same key waits here on the unique index until the first one commits.
    INSERT INTO idempotency_keys (scope, key, request_hash, report_id)
    SELECT :idempotency_scope, :idempotency_key, :request_hash, report.id FROM report
    WHERE CAST(:idempotency_key AS text) IS NOT NULL
)
SELECT report.id, report.incident_id, ARRAY(SELECT id FROM outbox WHERE state = 'queued' ORDER BY id) AS queued
FROM report
"""))


@dataclass(frozen=True)
class Written:
    report_id: int
    incident_id: int | None
    queued_notification_ids: list[int]


def write(report: dict, events: list[dict], outbox: list[dict], contact: dict | None, photos: list,
          duplicate_id: int | None, duplicate_incident_id: int | None,
          idempotency: tuple[str, str, str] | None) -> Written:
    """Insert the report (`report`: its column values, `lon`/`lat` for the point), its events in order, the outbox
    rows of its `routed` event, its contact, photos and Idempotency-Key, and join or make its incident. Raises
    sqlalchemy's IntegrityError when a concurrent request took the same Idempotency-Key."""
    contact = contact or {}
    scope, key, request_hash = idempotency or (None, None, None)
    row = db.session.connection().execute(_WRITE, {
        **report, "answers": json.dumps(report["answers"]),
        "events": json.dumps([{"n": n, **event} for n, event in enumerate(events)]),
        "outbox": json.dumps(outbox, default=str),
        "with_contact": bool(contact), "contact_name": contact.get("name"), "contact_email": contact.get("email"),
        "contact_phone": contact.get("phone"),
        "photo_types": [p.content_type for p in photos], "photo_widths": [p.width for p in photos],
        "photo_heights": [p.height for p in photos], "photo_contents": [p.content for p in photos],
        "duplicate_id": duplicate_id, "duplicate_incident_id": duplicate_incident_id,
        "idempotency_scope": scope, "idempotency_key": key, "request_hash": request_hash}).one()
    return Written(row.id, row.incident_id, list(row.queued))
