"""Per-report response-time clocks, materialised from report_events into `indicator_report_clocks`.

Clocks are derived from `report_events` only and are seconds from the report's `created` event:

* acknowledge — first sign the unit took the report into account: `acknowledged`, or, when that step was
  skipped, the first `dispatched` / `resolved` / `rejected` / `closed` event;
* dispatch — first `dispatched` event (NULL when no patrol was sent);
* resolve — first `resolved` / `rejected` / `closed` event. A reopened report counts once: its clocks stop at
  the first answer and the reopening is counted apart;
* inform — first `citizen_notified` event at or after that resolution (the resident was told the outcome).

Transfers never reset a clock: every clock runs from the creation, whichever unit answers.
The per-report clocks are materialised in `indicator_report_clocks` by `refresh_indicator_views()` (a
scheduled job); aggregates read that table only, so every figure shows the same "as of" time.
"""
import time
from datetime import datetime, timedelta

from sqlalchemy import text

from models import OPEN_STATUSES_SQL, db

# Late commits: an event row may become visible after a refresh that already saw higher ids.
INCREMENTAL_OVERLAP = timedelta(minutes=15)

_REFRESH_LOCK_KEY = 0x494E4443  # "INDC": advisory lock serialising refreshes

# Per-report clocks; {scope} restricts the events scanned (everything, or the reports that changed), {open} is
# OPEN_STATUSES_SQL.
CLOCKS_SELECT = """
WITH ev AS (
    SELECT e.report_id,
           coalesce(min(e.at) FILTER (WHERE e.type = 'created'), min(e.at)) AS created_at,
           coalesce(min(e.at) FILTER (WHERE e.type = 'acknowledged'),
                    min(e.at) FILTER (WHERE e.type IN ('dispatched', 'resolved', 'rejected', 'closed')))
               AS acknowledged_at,
           min(e.at) FILTER (WHERE e.type = 'dispatched') AS dispatched_at,
           min(e.at) FILTER (WHERE e.type IN ('resolved', 'rejected', 'closed')) AS resolved_at,
           bool_or(e.type = 'reopened') AS reopened,
           bool_or(e.type IN ('transferred', 'transfer_accepted')) AS transferred,
           array_agg(e.at) FILTER (WHERE e.type = 'citizen_notified') AS notified
    FROM report_events e
    WHERE {scope}
    GROUP BY e.report_id
), clocks AS (
    SELECT ev.*, (SELECT min(n) FROM unnest(ev.notified) AS n WHERE n >= ev.resolved_at) AS informed_at
    FROM ev
)
SELECT r.id, r.reference, r.received_at,
       (r.received_at AT TIME ZONE 'Europe/Paris')::date,
       date_trunc('week', r.received_at AT TIME ZONE 'Europe/Paris')::date,
       extract(hour FROM r.received_at AT TIME ZONE 'Europe/Paris')::smallint,
       extract(isodow FROM r.received_at AT TIME ZONE 'Europe/Paris')::smallint,
       r.unit_id, r.category_code, r.commune_insee, r.departement_code,
       coalesce((SELECT array_agg(t.id ORDER BY t.id) FROM territories t WHERE ST_Contains(t.geom, r.location)),
                '{{}}'::int[]),
       r.status, r.status IN {open}, r.source = 'app', r.outcome_code,
       c.reopened OR r.reopen_count > 0, c.transferred,
       r.acknowledge_due_at, r.dispatch_due_at, r.resolve_due_at,
       c.acknowledged_at, c.dispatched_at, c.resolved_at, c.informed_at,
       extract(epoch FROM c.acknowledged_at - c.created_at),
       extract(epoch FROM c.dispatched_at - c.created_at),
       extract(epoch FROM c.resolved_at - c.created_at),
       extract(epoch FROM c.informed_at - c.created_at),
       f.reactivite, f.courtoisie, f.information
FROM clocks c
JOIN reports r ON r.id = c.report_id
LEFT JOIN feedback f ON f.report_id = r.id
"""
CLOCK_COLUMNS = (
    "report_id, reference, received_at, day, week, hour, isodow, unit_id, category_code, commune_insee, "
    "departement_code, territory_ids, status, is_open, from_app, outcome_code, reopened, transferred, "
    "acknowledge_due_at, dispatch_due_at, resolve_due_at, acknowledged_at, dispatched_at, resolved_at, "
    "informed_at, acknowledge_s, dispatch_s, resolve_s, inform_s, feedback_reactivite, feedback_courtoisie, "
    "feedback_information")


def _insert_clocks(scope: str, refresh_id: int) -> int:
    # Stored in reception order: a period filter then reads adjacent pages instead of the whole table.
    sql = (f"INSERT INTO indicator_report_clocks (refresh_id, {CLOCK_COLUMNS}) "
           f"SELECT CAST(:refresh_id AS int), x.* FROM ({CLOCKS_SELECT.format(scope=scope, open=OPEN_STATUSES_SQL)}) x "
           "ORDER BY x.received_at")
    return db.session.execute(text(sql), {"refresh_id": refresh_id}).rowcount


def refresh_indicator_views(full: bool = False) -> dict:
    """Bring `indicator_report_clocks` up to date and commit; incremental unless `full` or never refreshed.

    Incremental: recompute the reports touched by events newer than the last refresh (with an overlap for
    transactions that committed late), and drop rows of deleted reports. Full: rebuild the whole table
    (TRUNCATE: dashboard reads wait for it, so the scheduled job stays incremental).
    """
    s = db.session
    started = time.monotonic()
    # One refresh at a time (scheduler overlap, a CLI run during the job): the others step aside.
    if not s.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _REFRESH_LOCK_KEY}).scalar_one():
        s.rollback()
        return {"full": full, "reports": 0, "duration_ms": 0, "skipped": True}
    started_at = s.execute(text("SELECT clock_timestamp()")).scalar_one()
    # Taken under the lock, so ids follow the order refreshes commit in; each row written carries it
    # (service.statistics.frame_store reads only the rows of refreshes it has not seen).
    refresh_id = s.execute(text("SELECT nextval(pg_get_serial_sequence('indicator_refreshes', 'id'))")).scalar_one()
    last = s.execute(text("SELECT last_event_id, started_at FROM indicator_refreshes ORDER BY id DESC LIMIT 1")).first()
    max_event_id = s.execute(text("SELECT coalesce(max(id), 0) FROM report_events")).scalar_one()
    if full or last is None:
        s.execute(text("TRUNCATE indicator_report_clocks"))
        refreshed = _insert_clocks("TRUE", refresh_id)
        removed = 0
        s.execute(text("ANALYZE indicator_report_clocks"))  # fresh statistics for the dashboard's plans
        full = True
    else:
        s.execute(text("""
            CREATE TEMP TABLE IF NOT EXISTS indicator_changed (report_id int PRIMARY KEY) ON COMMIT DELETE ROWS
        """))
        s.execute(text("""
            INSERT INTO indicator_changed
            SELECT DISTINCT report_id FROM report_events WHERE id > :last_id OR at > :since
            ON CONFLICT DO NOTHING
        """), {"last_id": last.last_event_id, "since": last.started_at - INCREMENTAL_OVERLAP})
        s.execute(text("""
            INSERT INTO indicator_changed SELECT f.report_id FROM feedback f WHERE f.created_at > :since
            ON CONFLICT DO NOTHING
        """), {"since": last.started_at - INCREMENTAL_OVERLAP})
        s.execute(text("DELETE FROM indicator_report_clocks "
                       "WHERE report_id IN (SELECT report_id FROM indicator_changed)"))
        refreshed = _insert_clocks("e.report_id IN (SELECT report_id FROM indicator_changed)", refresh_id)
        # Reports gone since the last refresh (deleted, or purged by retention): changed ones not written back,
        # and any other row left without its report.
        removed = s.execute(text("""
            SELECT count(*) FROM indicator_changed ch
            WHERE NOT EXISTS (SELECT 1 FROM indicator_report_clocks c WHERE c.report_id = ch.report_id)
        """)).scalar_one()
        removed += s.execute(text("""
            DELETE FROM indicator_report_clocks c WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE r.id = c.report_id)
        """)).rowcount
    duration_ms = int((time.monotonic() - started) * 1000)
    s.execute(text("""
        INSERT INTO indicator_refreshes
            (id, started_at, finished_at, last_event_id, "full", reports_refreshed, reports_removed, duration_ms)
        VALUES (:id, :started_at, clock_timestamp(), :last_event_id, :full, :n, :removed, :ms)
    """), {"id": refresh_id, "started_at": started_at, "last_event_id": max_event_id, "full": full, "n": refreshed,
           "removed": removed, "ms": duration_ms})
    s.commit()
    return {"full": full, "reports": refreshed, "duration_ms": duration_ms, "skipped": False}


def refresh_territories() -> int:
    """Recompute overlay membership of every materialised report (after a territory import); commits; returns how
    many reports changed territories.

    Recorded as a refresh of the rows it rewrote, with the "as of" time and event position of the last refresh
    (the clocks themselves are not recomputed), so that what keeps rows (service.statistics.frame_store) follows."""
    s = db.session
    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _REFRESH_LOCK_KEY})  # waits for a running refresh
    last = s.execute(text("SELECT last_event_id, started_at FROM indicator_refreshes ORDER BY id DESC LIMIT 1")).first()
    if last is None:  # nothing materialised yet: the first refresh computes memberships
        s.commit()
        return 0
    started = time.monotonic()
    refresh_id = s.execute(text("SELECT nextval(pg_get_serial_sequence('indicator_refreshes', 'id'))")).scalar_one()
    count = s.execute(text("""
        UPDATE indicator_report_clocks c SET territory_ids = m.ids, refresh_id = :refresh_id
        FROM (SELECT r.id, coalesce((SELECT array_agg(t.id ORDER BY t.id) FROM territories t
                                     WHERE ST_Contains(t.geom, r.location)), '{}'::int[]) AS ids
              FROM reports r) m
        WHERE m.id = c.report_id AND c.territory_ids IS DISTINCT FROM m.ids
    """), {"refresh_id": refresh_id}).rowcount
    s.execute(text("""
        INSERT INTO indicator_refreshes
            (id, started_at, finished_at, last_event_id, "full", reports_refreshed, reports_removed, duration_ms)
        VALUES (:id, :started_at, clock_timestamp(), :last_event_id, false, :n, 0, :ms)
    """), {"id": refresh_id, "started_at": last.started_at, "last_event_id": last.last_event_id, "n": count,
           "ms": int((time.monotonic() - started) * 1000)})
    s.commit()
    return count


def as_of() -> datetime | None:
    """When the data shown was taken (start of the last refresh), or None if never refreshed."""
    return db.session.execute(text("SELECT started_at FROM indicator_refreshes ORDER BY id DESC LIMIT 1")).scalar()
