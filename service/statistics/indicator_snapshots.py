"""Long-period national dashboard views, computed ahead by a job and served as stored.

The live dashboard (service.statistics.dashboard_figures.dashboard_data) computes a long view from the reports kept
in the process (service.statistics.frame_store), which still takes long at a national scale (bench/README.md B4).
The period presets of the national view over 90 days and 12 months, with or without one category, are what
supervisors open most: those are materialised in `indicator_snapshots` every SNAPSHOT_INTERVAL_S
(workers.indicators.refresh_indicator_snapshots, one job per view so that pushes are not held up; also
`flask indicators snapshots`) and served as stored, each with the "as of" time it was computed from, which the
page shows.

    served_dashboard_data(f) -> dict     # the stored view when one matches f exactly and is fresh, else live (cached)
    store_snapshot(f) -> int             # compute and store one long view (one job each in the worker)
    refresh_snapshots(today) -> dict     # every long view in this process; removes those of earlier days
"""
import json
import logging
import time
from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from models import Category, IndicatorSnapshot, db
from service.platform import clock
from service.statistics import dashboard_figures, frame_store
from service.statistics.filters import IndicatorFilters

log = logging.getLogger(__name__)

# The period presets of the dashboard computed ahead (days ending today); the default 30-day view stays live.
LONG_PERIOD_DAYS = (90, 365)
SNAPSHOT_INTERVAL_S = 600
# A snapshot older than this is not served (the job has stopped): the live computation is slow but current.
SNAPSHOT_MAX_AGE = timedelta(seconds=3 * SNAPSHOT_INTERVAL_S)


def snapshot_key(f: IndicatorFilters) -> str | None:
    """The key a view is stored under, or None when it is never materialised (a scope, a unit, a drill-down…)."""
    if f.scope_unit_ids is not None:
        return None
    args = f.query_args()
    if set(args) - {"start", "end", "category_code"}:
        return None
    return json.dumps(args, sort_keys=True)


def long_views(today: date | None = None) -> list[IndicatorFilters]:
    """The national views of each long period ending today: every category together, then each one."""
    today = today or clock.today_in_paris()
    codes = [None] + list(db.session.scalars(select(Category.code).where(Category.active).order_by(Category.code)))
    return [IndicatorFilters(start=today - timedelta(days=days - 1), end=today, category_code=code)
            for days in LONG_PERIOD_DAYS for code in codes]


def served_dashboard_data(f: IndicatorFilters) -> dict:
    """What the dashboard shows for these filters: the stored view if it matches and is fresh, else computed."""
    frame_store.warm_in_background()  # for the long custom views that may follow
    key = snapshot_key(f)
    if key is not None:
        row = db.session.execute(
            select(IndicatorSnapshot.payload, IndicatorSnapshot.computed_at).where(IndicatorSnapshot.key == key)
        ).first()
        if row is not None and row.computed_at >= clock.now() - SNAPSHOT_MAX_AGE:
            data = json.loads(row.payload, object_hook=dashboard_figures.json_object_hook)
            data["snapshot"] = {"computed_at": row.computed_at}
            return data
    return dashboard_figures.cached_dashboard_data(f)


def store_snapshot(f: IndicatorFilters) -> int:
    """Compute one long view and store it (replacing the previous one); returns the milliseconds it took."""
    t0 = time.monotonic()
    data = dashboard_figures.dashboard_data(f)
    db.session.rollback()  # end the read transaction (and its SET LOCAL) before writing
    values = {"payload": json.dumps(data, default=dashboard_figures.json_default), "as_of": data["summary"]["as_of"],
              "computed_at": clock.now(), "duration_ms": round((time.monotonic() - t0) * 1000)}
    db.session.execute(insert(IndicatorSnapshot).values(key=snapshot_key(f), **values)
                       .on_conflict_do_update(index_elements=["key"], set_=values))
    db.session.commit()
    return values["duration_ms"]


def remove_other_views(views: list[IndicatorFilters]) -> int:
    """Drop the stored views that are not among these (those of earlier days): never served, only taking room."""
    keys = [snapshot_key(f) for f in views]
    removed = db.session.execute(delete(IndicatorSnapshot).where(IndicatorSnapshot.key.not_in(keys))).rowcount
    db.session.commit()
    return removed


def refresh_snapshots(today: date | None = None) -> dict:
    """Recompute every long view in this process (`flask indicators snapshots`, the benchmark). The worker spreads
    the same work over one job per view instead (workers.indicators.refresh_indicator_snapshots)."""
    started = time.monotonic()
    views = long_views(today)
    for f in views:
        store_snapshot(f)
    result = {"views": len(views), "removed": remove_other_views(views),
              "duration_ms": round((time.monotonic() - started) * 1000)}
    log.info("vues longues du tableau de bord recalculées : %s", result)
    return result
