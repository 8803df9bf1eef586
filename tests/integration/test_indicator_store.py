"""Every report's packed rows kept in the process (service.statistics.frame_store): same figures as SQL, kept
current."""
import logging
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from models import ReportEvent, db
from service.statistics import frame_store
from service.statistics.dashboard_figures import dashboard_data
from service.statistics.filters import IndicatorFilters, unit_descendants
from service.statistics.packed_frame import reference_codes
from service.statistics.reference_sql import exact_dashboard_data
from service.statistics.report_clocks import refresh_indicator_views
from service.statistics.territories import import_territories
from tests.integration.indicator_factory import any_unit, make_report
from tests.integration.test_indicators_aggregates import _same, population  # noqa: F401 (fixture)
from service.platform import clock as service_clock


@pytest.fixture
def store_on(app, monkeypatch):
    """The store serves every view it can filter, whatever its length."""
    monkeypatch.setitem(app.config, "INDICATOR_STORE_MIN_DAYS", 0)
    frame_store.reset()
    yield
    frame_store.reset()


def _same_dashboard(f: IndicatorFilters, from_store: bool = True) -> dict:
    """dashboard_data(f) as served from the store (or read), checked against one SQL query per figure."""
    assert (frame_store.view(f, *reference_codes()) is not None) == from_store
    fast, exact = dashboard_data(f), exact_dashboard_data(f)
    fast_communes, exact_communes = fast.pop("communes"), exact.pop("communes")
    _same(sorted(fast_communes, key=lambda c: c["commune_insee"]),
          sorted(exact_communes, key=lambda c: c["commune_insee"]))
    _same(fast, exact)
    return fast


@pytest.mark.parametrize("filters", [{}, {"category_code": "degradation"}, {"category_code": "no_such_code"},
                                     {"start": date(2026, 3, 5), "end": date(2026, 3, 12)},
                                     {"start": date(2026, 3, 9)}, {"end": date(2026, 3, 9)}])
def test_store_figures_equal_the_per_figure_queries(population, store_on, filters):  # noqa: F811
    fast = _same_dashboard(IndicatorFilters(**filters))
    if filters.get("category_code") == "no_such_code":
        assert fast["summary"]["reports"] == 0
    else:
        assert fast["summary"]["reports"] > 0


def test_store_applies_unit_trees_and_the_viewers_scope(population, store_on):  # noqa: F811
    parent, units = population["parent"], population["units"]
    fast = _same_dashboard(IndicatorFilters(unit_id=parent, scope_unit_ids=frozenset(unit_descendants(parent))))
    assert fast["summary"]["reports"] == 60
    # A supervisor of one unit asking for the parent's tree sees their own unit only.
    fast = _same_dashboard(IndicatorFilters(unit_id=parent, scope_unit_ids=frozenset({units[0].id})))
    assert fast["summary"]["reports"] == 30
    assert [u["unit_id"] for u in fast["units"]] == [units[0].id]


def test_store_leaves_short_and_otherwise_filtered_views_to_their_own_read(
        population, app, monkeypatch):  # noqa: F811
    categories = reference_codes()
    monkeypatch.setitem(app.config, "INDICATOR_STORE_MIN_DAYS", 45)
    try:
        assert frame_store.view(IndicatorFilters(start=date(2026, 3, 1), end=date(2026, 3, 30)),
                                *categories) is None
        assert frame_store.view(IndicatorFilters(start=date(2026, 1, 1), end=date(2026, 3, 30)),
                                *categories) is not None
        for other in ({"departement_code": "59"}, {"territory_id": 1}, {"hour": 3}, {"open_only": True},
                      {"sla": "acknowledge:breached"}):
            assert frame_store.view(IndicatorFilters(**other), *categories) is None, other
        monkeypatch.setitem(app.config, "INDICATOR_STORE_MIN_DAYS", -1)
        assert frame_store.view(IndicatorFilters(), *categories) is None
    finally:
        frame_store.reset()


def test_store_follows_each_refresh_reading_only_what_changed(db_session, store_on, caplog):
    now = service_clock.now().replace(microsecond=0)
    unit = any_unit()
    answered = make_report(unit, [("acknowledged", 5)], received_at=now - timedelta(days=40))
    make_report(unit, [("acknowledged", 8), ("resolved", 30), ("closed", 31)], received_at=now - timedelta(days=90))
    refresh_indicator_views(full=True)
    f = IndicatorFilters()
    assert _same_dashboard(f)["summary"]["reports"] == 2

    # A new report and a new step on an existing one: the next refresh rewrites their two rows only.
    make_report(unit, [("acknowledged", 3)], category_code="nuisance_sonore", received_at=now - timedelta(hours=2))
    db.session.add(ReportEvent(report_id=answered.id, type="resolved", at=now - timedelta(minutes=5), unit_id=unit.id))
    db.session.flush()
    assert refresh_indicator_views()["reports"] == 2
    with caplog.at_level(logging.INFO, logger="service.statistics.frame_store"):
        fast = _same_dashboard(f)
    assert "indicator store updated" in caplog.text and "3 reports" in caplog.text
    assert frame_store.footprint()["read_whole"] is False
    assert fast["summary"]["reports"] == 3 and fast["summary"]["resolve_n"] == 2
    assert fast["summary"]["as_of"] == db.session.execute(text(
        "SELECT max(started_at) FROM indicator_refreshes")).scalar_one()


def test_store_reads_everything_again_when_a_refresh_removed_reports(db_session, store_on, caplog):
    now = service_clock.now().replace(microsecond=0)
    unit = any_unit("gendarmerie")
    gone = make_report(unit, [("acknowledged", 5)], received_at=now - timedelta(days=10))
    make_report(unit, [("acknowledged", 7)], received_at=now - timedelta(days=11))
    refresh_indicator_views(full=True)
    assert _same_dashboard(IndicatorFilters())["summary"]["reports"] == 2

    db.session.execute(text("DELETE FROM report_events WHERE report_id = :id"), {"id": gone.id})
    db.session.execute(text("DELETE FROM reports WHERE id = :id"), {"id": gone.id})
    result = refresh_indicator_views()
    assert db.session.execute(text("SELECT reports_removed FROM indicator_refreshes ORDER BY id DESC LIMIT 1")
                              ).scalar_one() == 1, result
    with caplog.at_level(logging.INFO, logger="service.statistics.frame_store"):
        assert _same_dashboard(IndicatorFilters())["summary"]["reports"] == 1
    assert "indicator store loaded" in caplog.text and frame_store.footprint()["read_whole"] is True


def test_store_starts_over_when_its_refresh_is_gone(db_session, store_on):
    """A refresh the store read and that no longer exists (rolled back in tests; cleaned up by hand) is not
    trusted: the store reads everything again."""
    unit = any_unit()
    make_report(unit, [("acknowledged", 5)], received_at=service_clock.now() - timedelta(days=3))
    refresh_indicator_views(full=True)
    assert _same_dashboard(IndicatorFilters())["summary"]["reports"] == 1
    db.session.execute(text("DELETE FROM indicator_refreshes"))
    assert frame_store.view(IndicatorFilters(), *reference_codes()) is None
    refresh_indicator_views(full=True)
    assert _same_dashboard(IndicatorFilters())["summary"]["reports"] == 1


def test_store_reads_rows_written_before_refreshes_were_numbered(db_session, store_on):
    make_report(any_unit(), [("acknowledged", 5)], received_at=service_clock.now() - timedelta(days=3))
    refresh_indicator_views(full=True)
    db.session.execute(text("UPDATE indicator_report_clocks SET refresh_id = 0"))  # as migration 0009 left them
    assert _same_dashboard(IndicatorFilters())["summary"]["reports"] == 1


def test_store_follower_loads_follows_and_lets_go_when_unused(app, db_session, store_on, monkeypatch):
    unit = any_unit()
    make_report(unit, [("acknowledged", 5)], received_at=service_clock.now() - timedelta(days=3))
    refresh_indicator_views(full=True)
    frame_store.warm_in_background()  # its thread would share the test transaction's one connection
    assert not frame_store._follower_started and frame_store.footprint()["reports"] == 0

    assert frame_store.follow_once(app)  # what the thread runs every few seconds
    assert frame_store.footprint()["reports"] == 1
    make_report(unit, [("acknowledged", 9)], received_at=service_clock.now() - timedelta(hours=1))
    refresh_indicator_views()
    assert frame_store.follow_once(app)
    footprint = frame_store.footprint()
    assert footprint["reports"] == 2 and footprint["bytes"] > 0
    assert footprint["refresh_id"] == db.session.execute(text("SELECT max(id) FROM indicator_refreshes")).scalar()

    monkeypatch.setattr(frame_store, "_last_used", time.monotonic() - frame_store.IDLE_AFTER_S - 1)
    assert not frame_store.follow_once(app)
    assert frame_store.footprint()["reports"] == 0


def _square(lon: float, lat: float, d: float = 0.0005) -> list:
    return [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]]


@pytest.mark.parametrize("from_store", [True, False])
def test_territory_table_follows_imports_and_overlaps(population, app, monkeypatch, from_store):  # noqa: F811
    """Memberships come with the rows (from the store, or read with the view's rows); a territory import rewrites
    the rows that changed territories (a refresh at the same "as of" time), which the store follows; a report in
    two territories counts in both."""
    monkeypatch.setitem(app.config, "INDICATOR_STORE_MIN_DAYS", 0 if from_store else -1)
    frame_store.reset()
    f = IndicatorFilters()
    assert _same_dashboard(f, from_store)["territories"] == []
    first = population["rows"][0]["report"]
    lon, lat = db.session.execute(text("SELECT ST_X(location), ST_Y(location) FROM reports WHERE id = :id"),
                                  {"id": first.id}).one()
    as_of_before = db.session.execute(text("SELECT max(started_at) FROM indicator_refreshes")).scalar_one()
    import_territories({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "QRR-A", "name": "Quartier A"},
         "geometry": {"type": "Polygon", "coordinates": _square(lon, lat)}},
        {"type": "Feature", "properties": {"code": "QRR-B", "name": "Quartier B (chevauche A)"},
         "geometry": {"type": "Polygon", "coordinates": _square(lon, lat, 0.001)}}]}, kind="qrr")
    fast = _same_dashboard(f, from_store)
    assert [t["territory_name"] for t in fast["territories"]] == ["Quartier A", "Quartier B (chevauche A)"]
    assert fast["territories"][0]["reports"] == fast["territories"][1]["reports"] > 0
    assert fast["summary"]["as_of"] == as_of_before  # memberships changed, not the clocks
    _same_dashboard(IndicatorFilters(category_code="degradation"), from_store)
    # A new report inside the territories, then an incremental refresh: its membership follows.
    make_report(population["units"][0], [("acknowledged", 4)], received_at=population["rows"][0]["received"],
                point=(lon, lat))
    refresh_indicator_views()
    assert _same_dashboard(f, from_store)["territories"][0]["reports"] == fast["territories"][0]["reports"] + 1
    frame_store.reset()
