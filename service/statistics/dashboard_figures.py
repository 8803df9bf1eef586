"""Everything the dashboard draws for a view, computed from the packed frame, cached in Redis until the next refresh
and computed ahead for the default views.

    dashboard_data(f) -> dict          # every figure, exact (the tests compare it with reference_sql)
    cached_dashboard_data(f) -> dict   # the same, from Redis when this refresh's figures were already computed
    prewarm_dashboards(unit_ids) -> int
"""
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import redis
from sqlalchemy import text

from models import db
from service.platform.redis_client import get_redis
from service.statistics import frame_store, packed_frame
from service.statistics.filters import IndicatorFilters, unit_descendants, unit_rollup, where_sql
from service.statistics.measures import (CLOCKS, COMMUNE_POINTS_LIMIT, FIGURE_PERCENTILES, TERRITORY_ROWS, UNIT_ROWS,
                                         empty_measures, finish)
from service.statistics.packed_frame import Frame, View
from service.statistics.report_clocks import as_of


def dashboard_data(f: IndicatorFilters) -> dict:
    """Everything the dashboard draws, exact, computed in memory from the packed rows of the filtered reports.

    The packed rows come from the process's store of every report (service.statistics.frame_store) for long views it
    can filter, else from one read of the filtered reports (PostgreSQL concatenates their `frame` bytea); NumPy
    computes every figure (service.statistics.packed_frame), and small queries name the units and place the communes.
    Same numbers as the per-figure SQL of service.statistics.reference_sql (the tests compare them); measured
    fastest, see bench/README.md B4.
    """
    categories, outcomes = packed_frame.reference_codes()
    has_territories = db.session.execute(text("SELECT EXISTS (SELECT 1 FROM territories)")).scalar_one()
    frame, mask, memberships = _rows_of_view(f, categories, outcomes, has_territories)
    view = View(frame, mask)
    return {
        "summary": _summary(view),
        "units": _units(view, f),
        "categories": _categories(view, categories),
        "weeks": _weeks(view),
        "heatmap": _heatmap(view),
        "outcomes": _outcomes(view, outcomes),
        "territories": _territories(frame, mask, memberships) if has_territories else [],
        "distributions": {clock: packed_frame.distribution(view, clock) for clock in CLOCKS},
        "communes": packed_frame.commune_points(view, COMMUNE_POINTS_LIMIT),
    }


def _rows_of_view(f: IndicatorFilters, categories: list[str], outcomes: list[str], has_territories: bool
                  ) -> tuple[Frame, np.ndarray | None, tuple[np.ndarray, np.ndarray] | None]:
    """(frame, mask of the reports the view covers (None: all), overlay memberships as (rows, territory ids)): from
    the store when it can serve the view, else read for the view alone."""
    stored = frame_store.view(f, categories, outcomes)
    if stored is not None:
        return stored.frame, stored.mask, (stored.territory_rows, stored.territory_ids)
    where, params, now = where_sql(f)
    db.session.execute(text("SET LOCAL jit = off"))  # compiling these expressions costs more than it saves
    frame, memberships = packed_frame.load(where, params, categories, outcomes, now, has_territories)
    return frame, None, memberships


def _summary(view: View) -> dict:
    """Every measure over the whole view, with the age of the open backlog and the "as of" time."""
    frame = view.frame
    row = finish(packed_frame.measures(view, view.keys(np.zeros(len(frame), dtype=np.int64))).get(0)
                 or empty_measures())
    ages = view.column(frame.age)
    age_p50, age_p90 = packed_frame.percentiles(ages)
    return row | {"backlog_age_p50": age_p50, "backlog_age_p90": age_p90,
                  "backlog_age_max": float(np.nanmax(ages)) if (~np.isnan(ages)).any() else None,
                  "as_of": frame.as_of}


def _units(view: View, f: IndicatorFilters) -> list[dict]:
    """Unit roll-up: each report counted under the top unit its unit belongs to (none: left out, as in SQL)."""
    units = view.frame.columns["unit"]
    pairs = unit_rollup(f)
    top_of = np.full(max([p[0] for p in pairs] + [int(units.max(initial=0))]) + 1, -1, dtype=np.int64)
    for unit_id, top in pairs:
        top_of[unit_id] = top
    per_unit = packed_frame.measures(view, view.keys(top_of[units]), limit=UNIT_ROWS)
    names = {r.id: r for r in db.session.execute(
        text("SELECT id, name, code FROM units WHERE id = ANY(:ids)"), {"ids": list(per_unit)})}
    return sorted(({"unit_name": names[k].name, "unit_code": names[k].code, "unit_id": k} | finish(row)
                   for k, row in per_unit.items()), key=lambda r: (-r["reports"], r["unit_name"]))


def _categories(view: View, categories: list[str]) -> list[dict]:
    return sorted(({"key": categories[k]} | finish(row)
                   for k, row in packed_frame.measures(view, view.keys(view.frame.category)).items()),
                  key=lambda r: (-r["reports"], r["key"]))


def _hour_of_week(view: View) -> np.ndarray:
    return view.frame.columns["how"].astype(np.int64)


def _weeks(view: View) -> list[dict]:
    """Per week of reception, keyed by its Monday."""
    week_keys = view.frame.columns["day"].astype(np.int64) - (_hour_of_week(view) // 24 - 1)
    return sorted(({"key": packed_frame.day_of(k)} | finish(row)
                   for k, row in packed_frame.measures(view, view.keys(week_keys),
                                                       FIGURE_PERCENTILES["week"]).items()),
                  key=lambda r: r["key"])


def _heatmap(view: View) -> list[dict]:
    """Per hour of the week of reception."""
    return sorted(({"isodow": k // 24, "hour": k % 24} | finish(row)
                   for k, row in packed_frame.measures(view, view.keys(_hour_of_week(view)),
                                                       FIGURE_PERCENTILES["hour_dow"]).items()),
                  key=lambda r: (r["isodow"], r["hour"]))


def _outcomes(view: View, outcomes: list[str]) -> list[dict]:
    """The outcome mix of the answered reports (key None: answered without an outcome code)."""
    frame = view.frame
    answered = frame.flag("is_open") == 0
    keys = view.keys(np.where(answered, frame.outcome, -1))
    return sorted(({"key": outcomes[k - 1] if k else None} | finish(row)
                   for k, row in packed_frame.measures(view, keys, FIGURE_PERCENTILES["outcome"]).items()),
                  key=lambda r: (-r["reports"], r["key"] is None, r["key"] or ""))


def _territories(frame: Frame, mask: np.ndarray | None, memberships: tuple[np.ndarray, np.ndarray]) -> list[dict]:
    """The territory table (those with most reports): each report of the view counts in every territory it lies in."""
    pairs, keys = packed_frame.territory_frame(frame, *memberships, mask)
    per_territory = packed_frame.measures(View(pairs), keys)
    names = dict(db.session.execute(text("SELECT id, name FROM territories WHERE id = ANY(:ids)"),
                                    {"ids": list(per_territory)}).all())
    rows = sorted(({"territory_id": k, "territory_name": names[k]} | finish(row)
                   for k, row in per_territory.items() if k in names),
                  key=lambda r: (-r["reports"], r["territory_name"]))
    return rows[:TERRITORY_ROWS]


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
