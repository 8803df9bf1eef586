"""Proximity indicators: every piece of response-time SQL, reused by the dashboard, the CSV export and the jobs.

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
import hashlib
import json
import re
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import redis
from sqlalchemy import text

from models import db
from models.indicator import BUCKET_EDGES
from service.platform import clock as service_clock

CLOCKS = ("acknowledge", "dispatch", "resolve", "inform")
SLA_CLOCKS = ("acknowledge", "dispatch", "resolve")
# Distribution buckets: BUCKET_EDGES (models.indicator), upper bounds in seconds: 5 min … 7 d, more.
BUCKET_LABELS = ("< 5 min", "5–15 min", "15–30 min", "30 min–1 h", "1–2 h", "2–4 h", "4–8 h", "8–24 h",
                 "1–2 j", "2–7 j", "> 7 j")
DEFAULT_PERIOD_DAYS = 30
# Late commits: an event row may become visible after a refresh that already saw higher ids.
INCREMENTAL_OVERLAP = timedelta(minutes=15)

_OPEN_STATUSES = "('received', 'acknowledged', 'dispatched')"
_REFRESH_LOCK_KEY = 0x494E4443  # "INDC": advisory lock serialising refreshes

# Per-report clocks; {scope} restricts the events scanned (everything, or the reports that changed).
_CLOCKS_SELECT = """
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
_CLOCK_COLUMNS = (
    "report_id, reference, received_at, day, week, hour, isodow, unit_id, category_code, commune_insee, "
    "departement_code, territory_ids, status, is_open, from_app, outcome_code, reopened, transferred, "
    "acknowledge_due_at, dispatch_due_at, resolve_due_at, acknowledged_at, dispatched_at, resolved_at, "
    "informed_at, acknowledge_s, dispatch_s, resolve_s, inform_s, feedback_reactivite, feedback_courtoisie, "
    "feedback_information")


def _insert_clocks(scope: str, refresh_id: int) -> int:
    # Stored in reception order: a period filter then reads adjacent pages instead of the whole table.
    sql = (f"INSERT INTO indicator_report_clocks (refresh_id, {_CLOCK_COLUMNS}) "
           f"SELECT CAST(:refresh_id AS int), x.* FROM ({_CLOCKS_SELECT.format(scope=scope, open=_OPEN_STATUSES)}) x "
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
    # (service.statistics.indicator_store reads only the rows of refreshes it has not seen).
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
    (the clocks themselves are not recomputed), so that what keeps rows (service.statistics.indicator_store) follows."""
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


def unit_descendants(unit_id: int) -> list[int]:
    """The unit and every unit below it in the supervision tree."""
    return list(db.session.scalars(text("""
        WITH RECURSIVE tree(id) AS (
            SELECT id FROM units WHERE id = :root
            UNION SELECT u.id FROM units u JOIN tree t ON u.parent_id = t.id)
        SELECT id FROM tree ORDER BY id
    """), {"root": unit_id}))


@dataclass(frozen=True)
class IndicatorFilters:
    """The filters on screen. `scope_unit_ids` (None = everything) is the officer's scope, never user input."""

    start: date | None = None
    end: date | None = None  # inclusive
    unit_id: int | None = None  # with every unit below it
    category_code: str | None = None
    territory_id: int | None = None
    commune_insee: str | None = None
    departement_code: str | None = None
    # Drill-down from a figure to the reports behind it.
    week: date | None = None
    hour: int | None = None
    isodow: int | None = None
    outcome_code: str | None = None
    clock: str | None = None
    bucket: int | None = None  # index into BUCKET_LABELS for `clock`
    sla: str | None = None  # "acknowledge:met", "resolve:breached"…
    open_only: bool = False
    scope_unit_ids: frozenset[int] | None = field(default=None, compare=False)

    @classmethod
    def default(cls, today: date | None = None, **kwargs) -> "IndicatorFilters":
        today = today or service_clock.today_in_paris()
        return cls(start=today - timedelta(days=DEFAULT_PERIOD_DAYS - 1), end=today, **kwargs)

    def query_args(self) -> dict:
        """The filters as URL query arguments (for links to the report list and the export)."""
        args = {}
        for name in ("start", "end", "unit_id", "category_code", "territory_id", "commune_insee",
                     "departement_code", "week", "hour", "isodow", "outcome_code", "clock", "bucket", "sla"):
            value = getattr(self, name)
            if value is not None and value != "":
                args[name] = value.isoformat() if isinstance(value, date) else value
        if self.open_only:
            args["open_only"] = 1
        return args

    def drill(self, **changes) -> dict:
        return replace(self, **changes).query_args()


def unit_ids(f: IndicatorFilters) -> set[int] | None:
    """The units whose reports `f` covers (the selected unit's tree, within the viewer's scope); None: all."""
    units = None
    if f.unit_id is not None:
        units = set(unit_descendants(f.unit_id))
    if f.scope_unit_ids is not None:
        units = set(f.scope_unit_ids) if units is None else units & set(f.scope_unit_ids)
    return units


def _where(f: IndicatorFilters) -> tuple[str, dict]:
    """SQL condition on `indicator_report_clocks` (alias c) and its parameters."""
    parts, params = ["TRUE"], {}
    if f.start:
        parts.append("c.received_at >= CAST(:start AS timestamp) AT TIME ZONE 'Europe/Paris'")
        params["start"] = f.start
    if f.end:
        parts.append("c.received_at < CAST(:end_excl AS timestamp) AT TIME ZONE 'Europe/Paris'")
        params["end_excl"] = f.end + timedelta(days=1)
    units = unit_ids(f)
    if units is not None:
        parts.append("c.unit_id = ANY(:unit_ids)")
        params["unit_ids"] = sorted(units)
    for name, column in (("category_code", "category_code"), ("commune_insee", "commune_insee"),
                         ("departement_code", "departement_code"), ("week", "week"), ("hour", "hour"),
                         ("isodow", "isodow"), ("outcome_code", "outcome_code")):
        value = getattr(f, name)
        if value is not None and value != "":
            parts.append(f"c.{column} = :{name}")
            params[name] = value
    if f.territory_id is not None:
        parts.append("c.territory_ids @> ARRAY[CAST(:territory_id AS int)]")
        params["territory_id"] = f.territory_id
    if f.open_only:
        parts.append("c.is_open")
    if f.clock in CLOCKS and f.bucket is None:
        parts.append(f"c.{f.clock}_s IS NOT NULL")  # the reports a median of this clock is computed over
    if f.clock in CLOCKS and f.bucket is not None and 0 <= f.bucket < len(BUCKET_LABELS):
        low = BUCKET_EDGES[f.bucket - 1] if f.bucket > 0 else 0
        parts.append(f"c.{f.clock}_s >= :bucket_low")
        params["bucket_low"] = low
        if f.bucket < len(BUCKET_EDGES):
            parts.append(f"c.{f.clock}_s < :bucket_high")
            params["bucket_high"] = BUCKET_EDGES[f.bucket]
    if f.sla:
        clock, _, verdict = f.sla.partition(":")
        if clock in SLA_CLOCKS and verdict in ("met", "breached"):
            parts.append(_sla_met(clock) if verdict == "met" else _sla_breached(clock))
            params["as_of"] = as_of() or service_clock.now()
    return " AND ".join(parts), params


_STEP_AT = {"acknowledge": "acknowledged_at", "dispatch": "dispatched_at", "resolve": "resolved_at"}


def _sla_met(clock: str) -> str:
    return f"(c.{_STEP_AT[clock]} <= c.{clock}_due_at)"


def _sla_breached(clock: str) -> str:
    """Late, or not done and already overdue. A report closed without a patrol has no dispatch to be late for."""
    at, due = f"c.{_STEP_AT[clock]}", f"c.{clock}_due_at"
    pending = "c.is_open AND " if clock == "dispatch" else ""
    return f"({at} > {due} OR ({at} IS NULL AND {pending}{due} < :as_of))"


def _measures(percentiles: tuple[str, ...] = CLOCKS) -> str:
    """Aggregate columns shared by the summary and every breakdown; percentiles (sorts) only where drawn."""
    cols = ["count(*) AS reports"]
    for clock in CLOCKS:
        cols.append(f"count(c.{clock}_s) AS {clock}_n")
        if clock in percentiles:
            cols += [f"percentile_cont(0.5) WITHIN GROUP (ORDER BY c.{clock}_s) AS {clock}_p50",
                     f"percentile_cont(0.9) WITHIN GROUP (ORDER BY c.{clock}_s) AS {clock}_p90"]
        else:
            cols += [f"NULL::float AS {clock}_p50", f"NULL::float AS {clock}_p90"]
    for clock in SLA_CLOCKS:
        cols += [f"count(*) FILTER (WHERE {_sla_met(clock)}) AS {clock}_met",
                 f"count(*) FILTER (WHERE {_sla_breached(clock)}) AS {clock}_breached"]
    cols += ["count(*) FILTER (WHERE NOT c.is_open AND c.from_app) AS closed_app",
             "count(*) FILTER (WHERE NOT c.is_open AND c.from_app AND c.informed_at IS NOT NULL) AS informed",
             "count(*) FILTER (WHERE c.is_open) AS open_backlog",
             "count(*) FILTER (WHERE c.reopened) AS reopened",
             "count(c.feedback_reactivite) AS feedback_n",
             "avg(c.feedback_reactivite)::float AS reactivite_mean",
             "avg(c.feedback_courtoisie)::float AS courtoisie_mean",
             "avg(c.feedback_information)::float AS information_mean"]
    return ", ".join(cols)


def _finish(row: dict) -> dict:
    """Derived ratios (None when there is nothing to divide by)."""
    out = dict(row)
    for clock in SLA_CLOCKS:
        judged = (out[f"{clock}_met"] or 0) + (out[f"{clock}_breached"] or 0)
        out[f"{clock}_sla_rate"] = out[f"{clock}_met"] / judged if judged else None
    out["feedback_loop_rate"] = out["informed"] / out["closed_app"] if out["closed_app"] else None
    out["feedback_response_rate"] = out["feedback_n"] / out["closed_app"] if out["closed_app"] else None
    means = [out[k] for k in ("reactivite_mean", "courtoisie_mean", "information_mean") if out[k] is not None]
    out["satisfaction_mean"] = sum(means) / len(means) if means else None
    return out


# Percentile sorts of a month of national reports fit in memory with this (per query, this transaction only).
DASHBOARD_WORK_MEM = "64MB"


def _params(f: IndicatorFilters) -> tuple[str, dict, datetime]:
    db.session.execute(text(f"SET LOCAL work_mem = '{DASHBOARD_WORK_MEM}'"))
    where, params = _where(f)
    now = as_of() or service_clock.now()
    params["as_of"] = now
    return where, params, now


def driver_statement(sql: str, params: dict) -> tuple[str, dict]:
    """`sql` (named `:params`) as the driver's own text and values, for what SQLAlchemy does not run itself:
    binary reads and COPY. Only the parameters the statement names are passed."""
    used = {k: v for k, v in params.items() if re.search(rf":{k}\b", sql)}
    compiled = text(sql).bindparams(**used).compile(dialect=db.engine.dialect)
    return str(compiled), compiled.params


def summary(f: IndicatorFilters) -> dict:
    """Count, median / P90 of every clock, SLA shares, feedback loop, satisfaction, open backlog and its age."""
    where, params, now = _params(f)
    row = db.session.execute(text(f"""
        SELECT {_measures()},
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM :as_of - c.received_at))
                   FILTER (WHERE c.is_open) AS backlog_age_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM :as_of - c.received_at))
                   FILTER (WHERE c.is_open) AS backlog_age_p90,
               extract(epoch FROM :as_of - min(c.received_at) FILTER (WHERE c.is_open)) AS backlog_age_max
        FROM indicator_report_clocks c WHERE {where}
    """), params).mappings().one()
    return _finish(row) | {"as_of": now}


_DIMENSIONS = {
    "category": ("c.category_code", "category_code"),
    "commune": ("c.commune_insee", "commune_insee"),
    "departement": ("c.departement_code", "departement_code"),
    "week": ("c.week", "week"),
    "hour_dow": ("c.isodow, c.hour", None),
    "outcome": ("c.outcome_code", "outcome_code"),
}


# Percentiles each figure draws (every other breakdown computes them all).
_LIGHT = {"week": ("acknowledge", "resolve"), "hour_dow": ("acknowledge",), "outcome": ()}


def breakdown(f: IndicatorFilters, dimension: str, limit: int | None = None, light: bool = False) -> list[dict]:
    """The summary measures grouped by one dimension (unit rolls up through the unit tree).

    `light`: only the percentiles the dashboard draws for that dimension (fewer sorts).
    """
    if dimension == "unit":
        return _unit_breakdown(f, limit)
    if dimension == "territory":
        return _territory_breakdown(f, limit)
    key, _ = _DIMENSIONS[dimension]
    where, params, _ = _params(f)
    keys = "isodow, hour" if dimension == "hour_dow" else "key"
    select_key = "c.isodow, c.hour" if dimension == "hour_dow" else f"{key} AS key"
    order = "isodow, hour" if dimension == "hour_dow" else ("key" if dimension == "week" else "reports DESC, key")
    if dimension == "outcome":
        where += " AND NOT c.is_open"  # the outcome mix of answered reports
    measures = _measures(_LIGHT.get(dimension, CLOCKS)) if light else _measures()
    sql = (f"SELECT {select_key}, {measures} FROM indicator_report_clocks c WHERE {where} "
           f"GROUP BY {keys} ORDER BY {order}")
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_finish(r) for r in db.session.execute(text(sql), params).mappings()]


def _rollup_map(f: IndicatorFilters) -> list[tuple[int, int]]:
    """(unit id, the unit it is counted under): the selected unit's children (and itself), or the tree roots."""
    rows = db.session.execute(text("""
        WITH RECURSIVE tree(id, top) AS (
            SELECT id, id FROM units
            WHERE (CAST(:root AS int) IS NULL AND parent_id IS NULL) OR parent_id = CAST(:root AS int)
            UNION ALL SELECT u.id, t.top FROM units u JOIN tree t ON u.parent_id = t.id)
        SELECT id, top FROM tree
    """), {"root": f.unit_id}).all()
    if f.unit_id is not None:
        rows.append((f.unit_id, f.unit_id))
    return [tuple(r) for r in rows]


def _unit_breakdown(f: IndicatorFilters, limit: int | None) -> list[dict]:
    pairs = _rollup_map(f)
    where, params, _ = _params(f)
    params["map_unit"] = [p[0] for p in pairs]
    params["map_top"] = [p[1] for p in pairs]
    # Group on the integer key alone (cheaper sorts), name the units afterwards.
    sql = f"""
        SELECT u.name AS unit_name, u.code AS unit_code, g.*
        FROM (SELECT m.top AS unit_id, {_measures()}
              FROM indicator_report_clocks c
              JOIN unnest(CAST(:map_unit AS int[]), CAST(:map_top AS int[])) AS m(unit_id, top)
                ON m.unit_id = c.unit_id
              WHERE {where}
              GROUP BY m.top ORDER BY reports DESC, m.top {f"LIMIT {int(limit)}" if limit else ""}) g
        JOIN units u ON u.id = g.unit_id
        ORDER BY g.reports DESC, u.name
    """
    return [_finish(r) for r in db.session.execute(text(sql), params).mappings()]


def _territory_breakdown(f: IndicatorFilters, limit: int | None) -> list[dict]:
    where, params, _ = _params(f)
    sql = f"""
        SELECT t.id AS territory_id, t.name AS territory_name, {_measures()}
        FROM indicator_report_clocks c CROSS JOIN LATERAL unnest(c.territory_ids) AS tid
        JOIN territories t ON t.id = tid
        WHERE {where}
        GROUP BY t.id, t.name ORDER BY reports DESC, t.name
    """
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_finish(r) for r in db.session.execute(text(sql), params).mappings()]


def distributions(f: IndicatorFilters) -> dict[str, list[int]]:
    """Count of reports per duration bucket (BUCKET_LABELS), for each clock."""
    where, params, _ = _params(f)
    params["edges"] = list(BUCKET_EDGES)
    rows = db.session.execute(text(f"""
        SELECT v.clock, width_bucket(v.seconds, CAST(:edges AS float8[])) AS bucket, count(*) AS n
        FROM indicator_report_clocks c
        CROSS JOIN LATERAL (VALUES ('acknowledge', c.acknowledge_s), ('dispatch', c.dispatch_s),
                                   ('resolve', c.resolve_s), ('inform', c.inform_s)) AS v(clock, seconds)
        WHERE {where} AND v.seconds IS NOT NULL
        GROUP BY 1, 2
    """), params).all()
    out = {clock: [0] * len(BUCKET_LABELS) for clock in CLOCKS}
    for clock, bucket, n in rows:
        out[clock][bucket] += n
    return out


COMMUNE_POINTS_LIMIT = 3000
TERRITORY_ROWS = 30


def commune_points(f: IndicatorFilters, limit: int = COMMUNE_POINTS_LIMIT) -> list[dict]:
    """Reports per commune with a point to draw them at (town hall, else a point inside the commune)."""
    where, params, _ = _params(f)
    rows = db.session.execute(text(f"""
        WITH per AS (
            SELECT c.commune_insee, count(*) AS reports,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY c.acknowledge_s) AS acknowledge_p50
            FROM indicator_report_clocks c WHERE {where} AND c.commune_insee IS NOT NULL
            GROUP BY 1 ORDER BY 2 DESC LIMIT {int(limit)})
        SELECT per.*, m.name,
               ST_Y(coalesce(m.town_hall, ST_PointOnSurface(m.geom))) AS lat,
               ST_X(coalesce(m.town_hall, ST_PointOnSurface(m.geom))) AS lon
        FROM per JOIN communes m ON m.insee_code = per.commune_insee ORDER BY reports DESC
    """), params).mappings()
    return [dict(r) for r in rows]


EXPORT_COLUMNS = (
    "reference", "received_at", "category_code", "category_label", "unit_code", "unit_name", "commune_insee",
    "commune_name", "departement_code", "status", "outcome_code", "reopened", "transferred",
    "acknowledged_at", "dispatched_at", "resolved_at", "informed_at",
    "acknowledge_min", "dispatch_min", "resolve_min", "inform_min",
    "acknowledge_sla", "dispatch_sla", "resolve_sla",
    "feedback_reactivite", "feedback_courtoisie", "feedback_information",
)


def _sla_verdict(clock: str) -> str:
    return (f"CASE WHEN {_sla_met(clock)} THEN 'respecte' WHEN {_sla_breached(clock)} THEN 'depasse' "
            f"ELSE '' END AS {clock}_sla")


def report_rows_sql(f: IndicatorFilters, order: str = "c.received_at DESC, c.report_id DESC",
                    limit: int | None = None, offset: int = 0) -> tuple[str, dict]:
    """One row per report behind a figure, with its clocks: the report list and the CSV export share it."""
    where, params, _ = _params(f)
    minutes = ", ".join(f"round(CAST(c.{k}_s / 60.0 AS numeric), 1) AS {k}_min" for k in CLOCKS)
    local = ", ".join(f"c.{k} AT TIME ZONE 'Europe/Paris' AS {k}" for k in
                      ("received_at", "acknowledged_at", "dispatched_at", "resolved_at", "informed_at"))
    sql = f"""
        SELECT c.report_id, c.reference, {local}, c.category_code, cat.label_fr AS category_label, u.code AS unit_code,
               u.name AS unit_name, c.commune_insee, m.name AS commune_name, c.departement_code, c.status,
               c.outcome_code, c.reopened, c.transferred, {minutes},
               {", ".join(_sla_verdict(k) for k in SLA_CLOCKS)},
               c.feedback_reactivite, c.feedback_courtoisie, c.feedback_information
        FROM indicator_report_clocks c
        JOIN categories cat ON cat.code = c.category_code
        JOIN units u ON u.id = c.unit_id
        LEFT JOIN communes m ON m.insee_code = c.commune_insee
        WHERE {where}
        ORDER BY {order}
    """
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return sql, params


def count_reports(f: IndicatorFilters) -> int:
    where, params, _ = _params(f)
    return db.session.execute(text(f"SELECT count(*) FROM indicator_report_clocks c WHERE {where}"),
                              params).scalar_one()


def report_rows(f: IndicatorFilters, limit: int = 100, offset: int = 0) -> list[dict]:
    sql, params = report_rows_sql(f, limit=limit, offset=offset)
    return [dict(r) for r in db.session.execute(text(sql), params).mappings()]


def exact_dashboard_data(f: IndicatorFilters) -> dict:
    """Everything the dashboard draws, one SQL query per figure: the reference `dashboard_data` is tested against."""
    return {
        "summary": summary(f),
        "units": breakdown(f, "unit", limit=30),
        "categories": breakdown(f, "category"),
        "weeks": breakdown(f, "week", light=True),
        "heatmap": breakdown(f, "hour_dow", light=True),
        "outcomes": breakdown(f, "outcome", light=True),
        "territories": breakdown(f, "territory", limit=30),
        "distributions": distributions(f),
        "communes": commune_points(f),
    }


def reference_codes() -> tuple[list[str], list[str]]:
    """Category and outcome codes, in the order the packed frames index them."""
    return (list(db.session.scalars(text("SELECT code FROM categories ORDER BY code"))),
            list(db.session.scalars(text("SELECT code FROM outcome_codes ORDER BY code"))))


def dashboard_data(f: IndicatorFilters) -> dict:
    """Everything the dashboard draws, exact, computed in memory from the packed clocks of the filtered reports.

    The packed rows come from the process's store of every report (service.statistics.indicator_store) for long views it
    can filter, else from one read of the filtered reports (PostgreSQL concatenates their `frame` bytea); NumPy
    computes every figure (service.statistics.indicator_frame), and small queries name the units and place the communes.
    Same numbers as the per-figure SQL of `exact_dashboard_data` (the tests compare them), many times faster.
    """
    from service.statistics import indicator_frame as frame
    from service.statistics import indicator_store
    categories, outcomes = reference_codes()
    has_territories = db.session.execute(text("SELECT EXISTS (SELECT 1 FROM territories)")).scalar_one()
    stored = indicator_store.view(f, categories, outcomes)
    if stored is not None:
        data, mask = stored.frame, stored.mask
        memberships = (stored.territory_rows, stored.territory_ids)
    else:
        where, params, now = _params(f)
        db.session.execute(text("SET LOCAL jit = off"))  # compiling these expressions costs more than it saves
        (data, memberships), mask = frame.load(where, params, categories, outcomes, now, has_territories), None
    columns = data.columns
    view = frame.View(data, mask)
    keyed = view.keys

    summary_row = _finish(frame.measures(view, keyed(np.zeros(len(data), dtype=np.int64))).get(0)
                          or _empty_measures())
    ages = view.column(data.age)
    age_p50, age_p90 = frame.percentiles(ages)
    summary_row |= {"backlog_age_p50": age_p50, "backlog_age_p90": age_p90,
                    "backlog_age_max": float(np.nanmax(ages)) if (~np.isnan(ages)).any() else None,
                    "as_of": data.as_of}

    # Unit roll-up: each report counted under the top unit its unit belongs to (none: left out, as in SQL).
    pairs = _rollup_map(f)
    top_of = np.full(max([p[0] for p in pairs] + [int(columns["unit"].max(initial=0))]) + 1, -1, dtype=np.int64)
    for unit_id, top in pairs:
        top_of[unit_id] = top
    per_unit = frame.measures(view, keyed(top_of[columns["unit"]]), limit=30)
    names = {r.id: r for r in db.session.execute(
        text("SELECT id, name, code FROM units WHERE id = ANY(:ids)"), {"ids": list(per_unit)})}
    units = sorted(({"unit_name": names[k].name, "unit_code": names[k].code, "unit_id": k} | _finish(row)
                    for k, row in per_unit.items()), key=lambda r: (-r["reports"], r["unit_name"]))

    by_category = sorted(({"key": categories[k]} | _finish(row)
                          for k, row in frame.measures(view, keyed(data.category)).items()),
                         key=lambda r: (-r["reports"], r["key"]))
    how = columns["how"].astype(np.int64)
    week_keys = columns["day"].astype(np.int64) - (how // 24 - 1)
    weeks = sorted(({"key": frame.day_of(k)} | _finish(row)
                    for k, row in frame.measures(view, keyed(week_keys), _LIGHT["week"]).items()),
                   key=lambda r: r["key"])
    heatmap = sorted(({"isodow": k // 24, "hour": k % 24} | _finish(row)
                      for k, row in frame.measures(view, keyed(how), _LIGHT["hour_dow"]).items()),
                     key=lambda r: (r["isodow"], r["hour"]))
    answered = (columns["flags"] & 1) == 0
    outcome_keys = keyed(np.where(answered, data.outcome, -1))
    outcome_rows = sorted(({"key": outcomes[k - 1] if k else None} | _finish(row)
                           for k, row in frame.measures(view, outcome_keys, ()).items()),
                          key=lambda r: (-r["reports"], r["key"] is None, r["key"] or ""))
    return {
        "summary": summary_row,
        "units": units,
        "categories": by_category,
        "weeks": weeks,
        "heatmap": heatmap,
        "outcomes": outcome_rows,
        "territories": _territories(*frame.territory_frame(data, *memberships, mask)) if has_territories else [],
        "distributions": {clock: frame.distribution(view, clock) for clock in CLOCKS},
        "communes": frame.commune_points(view, COMMUNE_POINTS_LIMIT),
    }


def _territories(pairs, keys: np.ndarray) -> list[dict]:
    """The territory table (the 30 with most reports) from a frame of one row per (report, territory) in view."""
    from service.statistics import indicator_frame as frame
    per_territory = frame.measures(frame.View(pairs), keys)
    names = dict(db.session.execute(text("SELECT id, name FROM territories WHERE id = ANY(:ids)"),
                                    {"ids": list(per_territory)}).all())
    rows = sorted(({"territory_id": k, "territory_name": names[k]} | _finish(row)
                   for k, row in per_territory.items() if k in names),
                  key=lambda r: (-r["reports"], r["territory_name"]))
    return rows[:TERRITORY_ROWS]


def _empty_measures() -> dict:
    row = {"reports": 0, "closed_app": 0, "informed": 0, "open_backlog": 0, "reopened": 0, "feedback_n": 0,
           "reactivite_mean": None, "courtoisie_mean": None, "information_mean": None}
    for clock in CLOCKS:
        row |= {f"{clock}_n": 0, f"{clock}_p50": None, f"{clock}_p90": None}
    for clock in SLA_CLOCKS:
        row |= {f"{clock}_met": 0, f"{clock}_breached": 0}
    return row


def json_default(value):
    """JSON encoder hook for dashboard data (dates and times kept distinguishable)."""
    if isinstance(value, datetime):
        return {"__dt": value.isoformat()}
    if isinstance(value, date):
        return {"__d": value.isoformat()}
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value))


def json_object_hook(obj: dict):
    """Inverse of json_default."""
    if "__dt" in obj:
        return datetime.fromisoformat(obj["__dt"])
    if "__d" in obj:
        return date.fromisoformat(obj["__d"])
    return obj


def cached_dashboard_data(f: IndicatorFilters, ttl_s: int = 900) -> dict:
    """dashboard_data, kept in Redis until the next refresh (the key holds the "as of" time and the scope).

    Figures only change when the clocks table is refreshed, so a repeated view costs one Redis read.
    Redis being down only costs the cache.
    """
    from service.platform.redis_client import get_redis
    scope = sorted(f.scope_unit_ids) if f.scope_unit_ids is not None else None
    raw = json.dumps([str(as_of()), f.query_args(), scope], default=str, sort_keys=True)
    key = "indicators:dashboard:" + hashlib.sha256(raw.encode()).hexdigest()
    try:
        hit = get_redis().get(key)
        if hit:
            return json.loads(hit, object_hook=json_object_hook)
    except redis.RedisError:
        return dashboard_data(f)
    data = dashboard_data(f)
    try:
        get_redis().set(key, json.dumps(data, default=json_default), ex=ttl_s)
    except redis.RedisError:
        pass
    return data


def prewarm_dashboards(supervisor_unit_ids: list[int], today: date | None = None) -> int:
    """Compute the default views into the cache right after a refresh: the national one (admins) and each
    supervisor's own tree, so that opening the dashboard never waits for the SQL. Returns the number of views."""
    views = [IndicatorFilters.default(today=today)]
    for unit_id in supervisor_unit_ids:
        views.append(IndicatorFilters.default(today=today, unit_id=unit_id,
                                              scope_unit_ids=frozenset(unit_descendants(unit_id))))
    for f in views:
        cached_dashboard_data(f)
        db.session.rollback()  # end the read transaction (and its SET LOCAL) between views
    return len(views)
