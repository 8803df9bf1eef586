"""Every report's packed row (service.statistics.packed_frame) kept in this process, so that a long dashboard view
need not read them again.

A view over several months of national reports would read every one of its reports' packed rows from PostgreSQL
and sort each clock before the first figure. The store reads every report once, sorts each clock
once, then follows each refresh of the clocks table by reading only the rows that refresh rewrote (their
`refresh_id`, migration 0009); a refresh that removed reports, or a full rebuild, makes it read everything again.
A view it can filter (period, category, unit tree, supervisor's scope) is then a mask over arrays in memory, and
its figures are those of the refresh the store is at, shown as the view's "as of" time.

Views shorter than INDICATOR_STORE_MIN_DAYS (default 45: a month of national reports is read fast enough) and
views with other filters (commune, département, territory, drill-downs) read their own rows as before.
The store costs memory in each process that serves long views (`footprint()`; measured in bench/README.md B4);
INDICATOR_STORE_MIN_DAYS=-1 turns it off.

    view(f, categories, outcomes) -> StoredView | None   # None: not for the store; read the rows instead
"""
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
from flask import current_app
from sqlalchemy import text

from models import db
from service.statistics import packed_frame
from service.statistics.filters import IndicatorFilters, unit_ids
from service.statistics.packed_frame import Frame

log = logging.getLogger(__name__)

# The filters a mask over the store can apply; any other one sends the view to its own read.
_STORE_FILTERS = {"start", "end", "category_code", "unit_id"}


@dataclass(frozen=True)
class _State:
    refresh_id: int  # the last refresh whose rows are in the store
    report_id: np.ndarray
    frame: Frame
    categories: tuple[str, ...]  # the codes frame.category and frame.outcome index
    outcomes: tuple[str, ...]
    # Overlay membership, one pair per (report, territory) it lies in: the report's row and the territory id.
    territory_rows: np.ndarray
    territory_ids: np.ndarray
    read_whole: bool  # built by reading every row (else from the rows of the newer refreshes)


@dataclass(frozen=True)
class StoredView:
    """The store's frame, the reports one view covers (mask), and every report's overlay memberships (rows of the
    frame and territory ids; the mask applies to them too)."""
    frame: Frame
    mask: np.ndarray
    territory_rows: np.ndarray
    territory_ids: np.ndarray


_lock = threading.Lock()
_state: _State | None = None


def view(f: IndicatorFilters, categories: list[str], outcomes: list[str]) -> StoredView | None:
    """The store's frame and the mask of the reports `f` covers, or None when `f` is not a view for the store
    (short, filtered by something a mask cannot apply, store off) or nothing was ever refreshed."""
    global _last_used
    min_days = current_app.config["INDICATOR_STORE_MIN_DAYS"]
    if min_days < 0 or set(f.query_args()) - _STORE_FILTERS:
        return None
    if f.start is not None and f.end is not None and (f.end - f.start).days + 1 < min_days:
        return None
    _last_used = time.monotonic()
    state = current(categories, outcomes)
    if state is None:
        return None
    return StoredView(state.frame, _mask(state, f), state.territory_rows, state.territory_ids)


def _mask(state: _State, f: IndicatorFilters) -> np.ndarray:
    columns = state.frame.columns
    mask = np.ones(len(state.frame), dtype=bool)
    day = columns["day"]
    if f.start is not None:
        mask &= day >= max(packed_frame.day_offset(f.start), -32768)
    if f.end is not None:
        mask &= day <= min(packed_frame.day_offset(f.end), 32767)
    if f.category_code:
        if f.category_code not in state.categories:
            return np.zeros(len(state.frame), dtype=bool)
        mask &= state.frame.category == state.categories.index(f.category_code)
    units = unit_ids(f)
    if units is not None:
        allowed = np.zeros(int(columns["unit"].max(initial=0)) + 1, dtype=bool)
        allowed[[u for u in units if 0 <= u < len(allowed)]] = True
        mask &= allowed[columns["unit"]]
    return mask


def current(categories: list[str], outcomes: list[str]) -> _State | None:
    """The store brought up to the last committed refresh (read whole, or only what changed since)."""
    global _state
    with _lock:
        state = _state
        have = state.refresh_id if state is not None else 0
        refreshes = db.session.execute(text(
            'SELECT id, started_at, "full", reports_removed FROM indicator_refreshes WHERE id >= :have ORDER BY id'
        ), {"have": have}).all()
        if not refreshes:
            _state = None  # never refreshed (or the store's refresh is gone: a test rolled it back)
            return None
        whole = (state is None or refreshes[0].id != have
                 or (tuple(categories), tuple(outcomes)) != (state.categories, state.outcomes)
                 or any(r.full or r.reports_removed for r in refreshes[1:]))
        if not whole and len(refreshes) == 1:
            return state
        started = time.monotonic()
        _state = _load(state, categories, outcomes, refreshes[-1].id, whole)
        log.info("indicator store %s to refresh %d: %d reports in %d ms", "loaded" if whole else "updated",
                 _state.refresh_id, len(_state.report_id), (time.monotonic() - started) * 1000)
        return _state


def _load(state: _State | None, categories: list[str], outcomes: list[str], seen: int, whole: bool) -> _State:
    """Read every row (whole) or the rows rewritten after the store's refresh, and build the new state."""
    after = -1 if whole else state.refresh_id  # rows written before migration 0009 carry refresh 0
    # One statement, so one snapshot: the rows, and their overlay memberships (the one row without a category).
    parts = packed_frame.fetch_binary("""
        SELECT c.category_code, c.outcome_code, string_agg(c.frame, ''), string_agg(int4send(c.report_id), ''),
               max(c.refresh_id)
        FROM indicator_report_clocks c WHERE c.refresh_id > :after
        GROUP BY c.category_code, c.outcome_code
        UNION ALL
        SELECT NULL, NULL, string_agg(int4send(t.id), ''), string_agg(int4send(c.report_id), ''), max(c.refresh_id)
        FROM indicator_report_clocks c CROSS JOIN LATERAL unnest(c.territory_ids) AS t(id)
        WHERE c.refresh_id > :after
    """, {"after": after})
    blobs = [part for part in parts if part[0] is not None]
    pair_territories, pair_reports = next(part for part in parts if part[0] is None)[2:4]
    # The rows may include refreshes committed after `seen` was read (refreshes commit one at a time, in id
    # order): the store is at the newest refresh whose rows it read.
    refresh_id = max([seen] + [row[4] for row in blobs])
    if not whole and db.session.execute(text(
            'SELECT EXISTS (SELECT 1 FROM indicator_refreshes WHERE id > :seen AND id <= :at '
            'AND ("full" OR reports_removed > 0))'), {"seen": seen, "at": refresh_id}).scalar_one():
        return _load(state, categories, outcomes, refresh_id, whole=True)
    as_of = db.session.execute(text("SELECT started_at FROM indicator_refreshes WHERE id = :id"),
                               {"id": refresh_id}).scalar_one()
    columns, category, outcome = packed_frame.unpack([row[:3] for row in blobs], categories, outcomes)
    report_id = packed_frame.int4s([row[3] for row in blobs])
    territory_rows, territory_ids = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    if not whole:
        # Rows rewritten by the newer refreshes replace their earlier version, memberships included.
        kept = ~np.isin(state.report_id, report_id)
        old = state.frame
        columns = {name: np.concatenate([old.columns[name][kept], column]) for name, column in columns.items()}
        category = np.concatenate([old.category[kept], category])
        outcome = np.concatenate([old.outcome[kept], outcome])
        moved_to = (np.cumsum(kept) - 1).astype(np.int32)
        still = kept[state.territory_rows]
        territory_rows = moved_to[state.territory_rows[still]]
        territory_ids = state.territory_ids[still]
        report_id = np.concatenate([state.report_id[kept], report_id])
    # Memberships read: from report id to the row the report now has (read rows come last, in the order read).
    first_read = len(report_id) - sum(len(row[3]) // 4 for row in blobs)
    if pair_reports:
        territory_rows = np.concatenate([territory_rows, packed_frame.rows_of(
            packed_frame.int4s([pair_reports]), report_id[first_read:], first_read)])
        territory_ids = np.concatenate([territory_ids, packed_frame.int4s([pair_territories])])
    return _State(refresh_id, report_id, Frame(columns, category, outcome, as_of), tuple(categories),
                  tuple(outcomes), territory_rows, territory_ids, whole)


# Once warmed, a thread keeps the store at the last refresh, so that a view rarely waits for an update; it lets
# the store go after an hour without a dashboard view (its memory is returned; the next view warms it again).
FOLLOW_INTERVAL_S = 5
IDLE_AFTER_S = 3600
_follower_started = False
_last_used = 0.0


def warm_in_background() -> None:
    """Load the store in a thread of its own, once per process, then follow the refreshes (called whenever a
    dashboard view is served). Not under tests: their one connection cannot be shared by threads."""
    global _follower_started, _last_used
    _last_used = time.monotonic()
    app = current_app._get_current_object()
    if _follower_started or app.testing or app.config["INDICATOR_STORE_MIN_DAYS"] < 0:
        return
    _follower_started = True
    threading.Thread(target=_follow, args=(app,), name="indicator-store", daemon=True).start()


def _follow(app) -> None:
    global _follower_started
    try:
        while follow_once(app):
            time.sleep(FOLLOW_INTERVAL_S)
    finally:
        _follower_started = False


def follow_once(app) -> bool:
    """Bring the store to the last refresh; False (and the store let go) once no view has used it for a while."""
    if time.monotonic() - _last_used > IDLE_AFTER_S:
        reset()
        return False
    with app.app_context():
        try:
            first = _state is None
            state = current(*packed_frame.reference_codes())
            if first and state is not None:
                # One grouping over everything: the allocator keeps the room later views reuse.
                view = packed_frame.View(state.frame)
                packed_frame.measures(view, view.keys(state.frame.category))
        except Exception:  # the next view updates the store itself
            log.exception("indicator store: update failed")
        finally:
            db.session.remove()
    return True


def footprint() -> dict:
    """What the store holds: refresh, reports, bytes of its arrays (for the benchmark and operations)."""
    state = _state
    if state is None:
        return {"refresh_id": None, "reports": 0, "bytes": 0, "read_whole": None}
    frame = state.frame
    arrays = (list(frame.columns.values()) + list(frame.by_value.values()) + list(frame.ordered_values.values())
              + list(frame.bucket.values())
              + [state.report_id, frame.category, frame.outcome, frame.age, frame.pattern, frame.rated,
                 frame.score_code, state.territory_rows, state.territory_ids])
    return {"refresh_id": state.refresh_id, "reports": len(state.report_id),
            "bytes": sum(a.nbytes for a in arrays), "as_of": frame.as_of, "read_whole": state.read_whole}


def reset() -> None:
    """Forget the store (the next long view reads everything again)."""
    global _state
    with _lock:
        _state = None
