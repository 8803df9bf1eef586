"""Reference implementation the tests compare the packed frame against, not used at runtime: every dashboard
figure as one SQL query over indicator_report_clocks, aggregating the measures of service.statistics.measures.

The dashboard computes the same figures from the packed frame (service.statistics.dashboard_figures); the tests
hold both equal, and the benchmark (bench/b4_indicators.py) times these queries part by part.
"""
from sqlalchemy import text

from models import db
from models.indicator import BUCKET_EDGES
from service.statistics.filters import IndicatorFilters, unit_rollup, where_sql
from service.statistics.measures import (BUCKET_LABELS, CLOCKS, COMMUNE_POINTS_LIMIT, FIGURE_PERCENTILES,
                                         TERRITORY_ROWS, UNIT_ROWS, finish, measures_sql)


def summary(f: IndicatorFilters) -> dict:
    """Count, median / P90 of every clock, SLA shares, feedback loop, satisfaction, open backlog and its age."""
    where, params, now = where_sql(f)
    row = db.session.execute(text(f"""
        SELECT {measures_sql()},
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM :as_of - c.received_at))
                   FILTER (WHERE c.is_open) AS backlog_age_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM :as_of - c.received_at))
                   FILTER (WHERE c.is_open) AS backlog_age_p90,
               extract(epoch FROM :as_of - min(c.received_at) FILTER (WHERE c.is_open)) AS backlog_age_max
        FROM indicator_report_clocks c WHERE {where}
    """), params).mappings().one()
    return finish(row) | {"as_of": now}


_DIMENSIONS = {
    "category": ("c.category_code", "category_code"),
    "commune": ("c.commune_insee", "commune_insee"),
    "departement": ("c.departement_code", "departement_code"),
    "week": ("c.week", "week"),
    "hour_dow": ("c.isodow, c.hour", None),
    "outcome": ("c.outcome_code", "outcome_code"),
}


def breakdown(f: IndicatorFilters, dimension: str, limit: int | None = None, light: bool = False) -> list[dict]:
    """The summary measures grouped by one dimension (unit rolls up through the unit tree).

    `light`: only the percentiles the dashboard draws for that dimension (fewer sorts).
    """
    if dimension == "unit":
        return _unit_breakdown(f, limit)
    if dimension == "territory":
        return _territory_breakdown(f, limit)
    key, _ = _DIMENSIONS[dimension]
    where, params, _ = where_sql(f)
    keys = "isodow, hour" if dimension == "hour_dow" else "key"
    select_key = "c.isodow, c.hour" if dimension == "hour_dow" else f"{key} AS key"
    order = "isodow, hour" if dimension == "hour_dow" else ("key" if dimension == "week" else "reports DESC, key")
    if dimension == "outcome":
        where += " AND NOT c.is_open"  # the outcome mix of answered reports
    measures = measures_sql(FIGURE_PERCENTILES.get(dimension, CLOCKS)) if light else measures_sql()
    sql = (f"SELECT {select_key}, {measures} FROM indicator_report_clocks c WHERE {where} "
           f"GROUP BY {keys} ORDER BY {order}")
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [finish(r) for r in db.session.execute(text(sql), params).mappings()]


def _unit_breakdown(f: IndicatorFilters, limit: int | None) -> list[dict]:
    pairs = unit_rollup(f)
    where, params, _ = where_sql(f)
    params["map_unit"] = [p[0] for p in pairs]
    params["map_top"] = [p[1] for p in pairs]
    # Group on the integer key alone (cheaper sorts), name the units afterwards.
    sql = f"""
        SELECT u.name AS unit_name, u.code AS unit_code, g.*
        FROM (SELECT m.top AS unit_id, {measures_sql()}
              FROM indicator_report_clocks c
              JOIN unnest(CAST(:map_unit AS int[]), CAST(:map_top AS int[])) AS m(unit_id, top)
                ON m.unit_id = c.unit_id
              WHERE {where}
              GROUP BY m.top ORDER BY reports DESC, m.top {f"LIMIT {int(limit)}" if limit else ""}) g
        JOIN units u ON u.id = g.unit_id
        ORDER BY g.reports DESC, u.name
    """
    return [finish(r) for r in db.session.execute(text(sql), params).mappings()]


def _territory_breakdown(f: IndicatorFilters, limit: int | None) -> list[dict]:
    where, params, _ = where_sql(f)
    sql = f"""
        SELECT t.id AS territory_id, t.name AS territory_name, {measures_sql()}
        FROM indicator_report_clocks c CROSS JOIN LATERAL unnest(c.territory_ids) AS tid
        JOIN territories t ON t.id = tid
        WHERE {where}
        GROUP BY t.id, t.name ORDER BY reports DESC, t.name
    """
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [finish(r) for r in db.session.execute(text(sql), params).mappings()]


def distributions(f: IndicatorFilters) -> dict[str, list[int]]:
    """Count of reports per duration bucket (BUCKET_LABELS), for each clock."""
    where, params, _ = where_sql(f)
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


def commune_points(f: IndicatorFilters, limit: int = COMMUNE_POINTS_LIMIT) -> list[dict]:
    """Reports per commune with a point to draw them at (town hall, else a point inside the commune)."""
    where, params, _ = where_sql(f)
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


def exact_dashboard_data(f: IndicatorFilters) -> dict:
    """Everything the dashboard draws, one SQL query per figure: what `dashboard_data` is tested against."""
    return {
        "summary": summary(f),
        "units": breakdown(f, "unit", limit=UNIT_ROWS),
        "categories": breakdown(f, "category"),
        "weeks": breakdown(f, "week", light=True),
        "heatmap": breakdown(f, "hour_dow", light=True),
        "outcomes": breakdown(f, "outcome", light=True),
        "territories": breakdown(f, "territory", limit=TERRITORY_ROWS),
        "distributions": distributions(f),
        "communes": commune_points(f),
    }
