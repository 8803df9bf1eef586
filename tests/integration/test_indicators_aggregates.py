"""Aggregates against a straightforward Python computation over the same hand-built timelines."""
import random
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import text

from models import Category, Unit, db
from service.statistics import packed_frame as frame
from service.statistics.dashboard_figures import dashboard_data
from service.statistics.filters import IndicatorFilters, unit_descendants
from service.statistics.reference_sql import breakdown, distributions, exact_dashboard_data, summary
from service.statistics.report_clocks import refresh_indicator_views
from service.statistics.territories import TerritoryImportError, import_territories
from tests.integration.indicator_factory import T0, make_report


def percentile_cont(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    values = sorted(values)
    pos = p * (len(values) - 1)
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (pos - low) * (values[high] - values[low])


def test_percentile_reference_matches_known_values():
    assert percentile_cont([1, 2, 3, 4], 0.5) == 2.5
    assert percentile_cont([10], 0.9) == 10
    assert percentile_cont([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9) == 90
    assert percentile_cont([1, 2], 0.9) == pytest.approx(1.9)


def _random_timeline(rng: random.Random) -> list[tuple[str, float]]:
    timeline, t = [], 0.0
    shape = rng.choice(["full", "full", "no_dispatch", "open", "untouched", "rejected"])
    if shape == "untouched":
        return [("routed", 0)]
    if shape == "rejected":
        t = rng.uniform(1, 500)
        return [("rejected", t)] + ([("citizen_notified", t + 1)] if rng.random() < 0.5 else [])
    t += rng.uniform(0.5, 90)
    timeline.append(("acknowledged", round(t, 2)))
    if shape != "no_dispatch":
        t += rng.uniform(1, 240)
        timeline.append(("dispatched", round(t, 2)))
    if shape == "open":
        return timeline
    t += rng.uniform(5, 900)
    timeline.append(("resolved", round(t, 2)))
    if rng.random() < 0.7:
        timeline.append(("citizen_notified", round(t + rng.uniform(0.1, 10), 2)))
    timeline.append(("closed", round(t + 1, 2)))
    return timeline


def _expected_clocks(timeline):
    def first(*types):
        times = [m for t, m in timeline if t in types]
        return min(times) * 60 if times else None
    resolved = first("resolved", "rejected", "closed")
    informed = [m * 60 for t, m in timeline if t == "citizen_notified" and resolved is not None and m * 60 >= resolved]
    ack = first("acknowledged")
    return {"acknowledge": ack if ack is not None else first("dispatched", "resolved", "rejected", "closed"),
            "dispatch": first("dispatched"), "resolve": resolved, "inform": min(informed) if informed else None}


@pytest.fixture
def population(db_session):
    """About 60 reports over two units of one département and two categories, with known timelines."""
    rng = random.Random(20260302)
    parent = db.session.execute(text(
        "SELECT parent_id FROM units WHERE kind = 'police_nationale' AND receives_reports AND parent_id IS NOT NULL "
        "GROUP BY parent_id HAVING count(*) >= 2 ORDER BY parent_id LIMIT 1")).scalar_one()
    units = db.session.query(Unit).filter(Unit.parent_id == parent, Unit.receives_reports) \
        .order_by(Unit.id).limit(2).all()
    rows = []
    for i in range(60):
        unit = units[i % 2]
        category = ("rodeo_motorise", "degradation")[(i // 2) % 2]
        timeline = _random_timeline(rng)
        received = T0 + timedelta(hours=rng.randint(0, 24 * 20))
        feedback = (rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 5)) \
            if any(t == "closed" for t, _ in timeline) and rng.random() < 0.4 else None
        source = "app" if rng.random() < 0.85 else "open311"
        report = make_report(unit, timeline, category_code=category, received_at=received, source=source,
                             feedback=feedback)
        rows.append({"report": report, "unit": unit, "category": category, "timeline": timeline,
                     "clocks": _expected_clocks(timeline), "received": received, "feedback": feedback,
                     "source": source, "open": report.status in ("received", "acknowledged", "dispatched")})
    refresh_indicator_views(full=True)
    return {"parent": parent, "units": units, "rows": rows}


def _sla(rows, clock, step_minutes):
    met = breached = 0
    for r in rows:
        cat = db.session.get(Category, r["category"])
        due = {"acknowledge": cat.sla_acknowledge_min, "dispatch": cat.sla_dispatch_min,
               "resolve": cat.sla_resolve_min}[clock] * 60
        value = r["clocks"][clock]
        if value is not None:
            met, breached = (met + 1, breached) if value <= due else (met, breached + 1)
        elif clock != "dispatch" or r["open"]:
            breached += 1  # every due date of these 2026-03 reports has passed
    return met / (met + breached) if met + breached else None


def _check(result: dict, rows: list[dict]):
    assert result["reports"] == len(rows)
    for clock in ("acknowledge", "dispatch", "resolve", "inform"):
        values = [r["clocks"][clock] for r in rows if r["clocks"][clock] is not None]
        assert result[f"{clock}_n"] == len(values)
        assert result[f"{clock}_p50"] == pytest.approx(percentile_cont(values, 0.5))
        assert result[f"{clock}_p90"] == pytest.approx(percentile_cont(values, 0.9))
    for clock in ("acknowledge", "dispatch", "resolve"):
        assert result[f"{clock}_sla_rate"] == pytest.approx(_sla(rows, clock, None))
    closed_app = [r for r in rows if not r["open"] and r["source"] == "app"]
    informed = [r for r in closed_app if r["clocks"]["inform"] is not None]
    assert result["feedback_loop_rate"] == pytest.approx(len(informed) / len(closed_app))
    rated = [r["feedback"] for r in rows if r["feedback"]]
    assert result["feedback_n"] == len(rated)
    if rated:
        assert result["reactivite_mean"] == pytest.approx(sum(f[0] for f in rated) / len(rated))
    assert result["open_backlog"] == sum(r["open"] for r in rows)


def test_summary_matches_python(population):
    _check(summary(IndicatorFilters(scope_unit_ids=None)), population["rows"])


def test_filters_by_category_period_and_unit(population):
    rows = population["rows"]
    _check(summary(IndicatorFilters(category_code="degradation")), [r for r in rows if r["category"] == "degradation"])
    unit = population["units"][1]
    _check(summary(IndicatorFilters(unit_id=unit.id)), [r for r in rows if r["unit"].id == unit.id])
    start, end = date(2026, 3, 5), date(2026, 3, 12)
    in_period = [r for r in rows if start <= (r["received"] + timedelta(hours=1)).date() <= end]
    _check(summary(IndicatorFilters(start=start, end=end)), in_period)


def test_scope_limits_every_figure(population):
    unit = population["units"][0]
    scoped = summary(IndicatorFilters(scope_unit_ids=frozenset({unit.id})))
    assert scoped["reports"] == sum(r["unit"].id == unit.id for r in population["rows"])
    # A unit filter outside the scope finds nothing.
    other = population["units"][1]
    assert summary(IndicatorFilters(unit_id=other.id, scope_unit_ids=frozenset({unit.id})))["reports"] == 0


def test_unit_breakdown_rolls_up_through_the_tree(population):
    parent = population["parent"]
    assert set(u.id for u in population["units"]) <= set(unit_descendants(parent))
    rolled = breakdown(IndicatorFilters(unit_id=parent), "unit")
    by_unit = {r["unit_id"]: r["reports"] for r in rolled}
    assert by_unit == {u.id: 30 for u in population["units"]}
    # At the top of the tree the two units are counted under their état-major.
    top = {r["unit_id"]: r["reports"] for r in breakdown(IndicatorFilters(), "unit")}
    assert top[parent] == 60
    # The parent's own summary includes both children.
    assert summary(IndicatorFilters(unit_id=parent))["reports"] == 60


def test_category_week_and_heatmap_breakdowns(population):
    rows = population["rows"]
    cats = {r["key"]: r for r in breakdown(IndicatorFilters(), "category")}
    for code in ("rodeo_motorise", "degradation"):
        _check(cats[code], [r for r in rows if r["category"] == code])
    weeks = breakdown(IndicatorFilters(), "week")
    assert sum(w["reports"] for w in weeks) == 60
    assert [w["key"] for w in weeks] == sorted(w["key"] for w in weeks)
    assert all(w["key"].weekday() == 0 for w in weeks)
    cells = breakdown(IndicatorFilters(), "hour_dow")
    assert sum(c["reports"] for c in cells) == 60
    for cell in cells:
        expected = [r for r in rows if (r["received"] + timedelta(hours=1)).hour == cell["hour"]
                    and (r["received"] + timedelta(hours=1)).isoweekday() == cell["isodow"]]
        assert cell["reports"] == len(expected)


def test_distribution_buckets(population):
    dist = distributions(IndicatorFilters())
    edges = (300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)
    for clock in ("acknowledge", "resolve"):
        expected = [0] * 11
        for r in population["rows"]:
            v = r["clocks"][clock]
            if v is not None:
                expected[sum(v >= e for e in edges)] += 1
        assert dist[clock] == expected


def test_clock_drill_down_lists_the_measured_reports(population):
    s = summary(IndicatorFilters())
    for clock in ("acknowledge", "dispatch", "resolve", "inform"):
        assert summary(IndicatorFilters(clock=clock))["reports"] == s[f"{clock}_n"]


def test_sla_drill_down_lists_exactly_the_breaches(population):
    f = IndicatorFilters(sla="acknowledge:breached")
    s = summary(IndicatorFilters())
    assert summary(f)["reports"] == s["acknowledge_breached"]
    assert summary(IndicatorFilters(sla="acknowledge:met"))["reports"] == s["acknowledge_met"]


def test_territory_overlay(population):
    report = population["rows"][0]["report"]
    lon, lat = db.session.execute(text("SELECT ST_X(location), ST_Y(location) FROM reports WHERE id = :id"),
                                  {"id": report.id}).one()
    d = 0.0005
    square = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    result = import_territories({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "QRR-TEST", "name": "Quartier test"},
         "geometry": {"type": "Polygon", "coordinates": [square]}}]}, kind="qrr")
    assert result == {"created": 1, "updated": 0}
    territory_id = db.session.execute(text("SELECT id FROM territories WHERE code = 'QRR-TEST'")).scalar_one()
    inside = summary(IndicatorFilters(territory_id=territory_id))
    same_point = [r for r in population["rows"] if r["unit"].id == population["rows"][0]["unit"].id]
    assert inside["reports"] == len(same_point)
    assert breakdown(IndicatorFilters(), "territory")[0]["territory_name"] == "Quartier test"
    with pytest.raises(TerritoryImportError):
        import_territories({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                                                                        "geometry": None}]})



def _same(fast, exact, path="") -> None:
    """Equal figures: numbers within float rounding, everything else identical."""
    if isinstance(exact, Decimal):
        exact = float(exact)  # extract(epoch …) is numeric in SQL
    if isinstance(exact, dict):
        assert set(fast) == set(exact), path
        for key in exact:
            _same(fast[key], exact[key], f"{path}.{key}")
    elif isinstance(exact, list):
        assert len(fast) == len(exact), path
        for i, (a, b) in enumerate(zip(fast, exact)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(exact, float) or isinstance(fast, float):
        assert fast == pytest.approx(exact, rel=1e-9, abs=1e-6), path
    else:
        assert fast == exact, path


@pytest.mark.parametrize("filters", [{}, {"category_code": "degradation"}, {"start": date(2026, 3, 5),
                                                                            "end": date(2026, 3, 12)}])
def test_dashboard_data_equals_the_per_figure_queries(population, filters):
    """The in-memory path (packed rows + NumPy) gives exactly what one SQL query per figure gives."""
    f = IndicatorFilters(**filters)
    fast, exact = dashboard_data(f), exact_dashboard_data(f)
    assert fast["summary"]["reports"] > 0
    # Communes with equal counts may come in any order from SQL.
    fast_communes, exact_communes = fast.pop("communes"), exact.pop("communes")
    _same(sorted(fast_communes, key=lambda c: c["commune_insee"]),
          sorted(exact_communes, key=lambda c: c["commune_insee"]))
    _same(fast, exact)


def test_dashboard_data_of_a_unit_tree_and_of_nothing(population):
    parent = population["parent"]
    f = IndicatorFilters(unit_id=parent, scope_unit_ids=frozenset(unit_descendants(parent)))
    fast, exact = dashboard_data(f), exact_dashboard_data(f)
    _same(fast["units"], exact["units"])
    _same(fast["summary"], exact["summary"])
    empty = dashboard_data(IndicatorFilters(start=date(2001, 1, 1), end=date(2001, 1, 2)))
    assert empty["summary"]["reports"] == 0 and empty["units"] == [] and empty["communes"] == []
    assert empty["summary"]["acknowledge_p50"] is None


def test_grouped_percentiles_match_percentile_cont():
    """The vectorised interpolation over consecutive groups, against the reference on each group."""
    rng = random.Random(7)
    groups = [sorted(rng.lognormvariate(5, 2) for _ in range(rng.randint(0, 40))) for _ in range(50)]
    ordered = np.array([v for g in groups for v in g])
    p50, p90 = frame._interpolate(ordered, np.array([len(g) for g in groups]), (0.5, 0.9))
    for g, a, b in zip(groups, p50.tolist(), p90.tolist()):
        if g:
            assert a == pytest.approx(percentile_cont(g, 0.5)) and b == pytest.approx(percentile_cont(g, 0.9))
        else:
            assert np.isnan(a) and np.isnan(b)


def test_commune_keys_round_trip():
    assert [frame._insee(k) for k in (75056, 1001, 120004, 220033, 97411)] == \
        ["75056", "01001", "2A004", "2B033", "97411"]
