"""The filters of a dashboard view (`IndicatorFilters`) and the SQL that selects the reports they cover.

    where_sql(f) -> (condition on indicator_report_clocks c, parameters, "as of" time)
    unit_ids(f), unit_rollup(f)      # the units a view covers, and the unit each is counted under
    driver_statement(sql, params)    # for reads SQLAlchemy does not run itself (binary frames, COPY)
"""
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import text

from models import db
from models.indicator import BUCKET_EDGES
from service.platform import clock as service_clock
from service.statistics.measures import BUCKET_LABELS, CLOCKS, SLA_CLOCKS, sla_breached_sql, sla_met_sql
from service.statistics.report_clocks import as_of

DEFAULT_PERIOD_DAYS = 30


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


def where_clause(f: IndicatorFilters) -> tuple[str, dict]:
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
            parts.append(sla_met_sql(clock) if verdict == "met" else sla_breached_sql(clock))
            params["as_of"] = as_of() or service_clock.now()
    return " AND ".join(parts), params


def unit_rollup(f: IndicatorFilters) -> list[tuple[int, int]]:
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


# Percentile sorts of a month of national reports fit in memory with this (per query, this transaction only).
DASHBOARD_WORK_MEM = "64MB"


def where_sql(f: IndicatorFilters) -> tuple[str, dict, datetime]:
    """The condition selecting the reports `f` covers, its parameters (`:as_of` included) and the "as of" time the
    figures are computed at; sets this transaction's work_mem for the sorts that follow."""
    db.session.execute(text(f"SET LOCAL work_mem = '{DASHBOARD_WORK_MEM}'"))
    where, params = where_clause(f)
    now = as_of() or service_clock.now()
    params["as_of"] = now
    return where, params, now


def driver_statement(sql: str, params: dict) -> tuple[str, dict]:
    """`sql` (named `:params`) as the driver's own text and values, for what SQLAlchemy does not run itself:
    binary reads and COPY. Only the parameters the statement names are passed."""
    used = {k: v for k, v in params.items() if re.search(rf":{k}\b", sql)}
    compiled = text(sql).bindparams(**used).compile(dialect=db.engine.dialect)
    return str(compiled), compiled.params
