"""Exact per-report clocks on hand-built timelines: transfers, reopenings, missing steps, incremental refresh."""
from datetime import timedelta

import pytest
from sqlalchemy import text

from models import ReportEvent, db
from service.statistics.report_clocks import as_of, refresh_indicator_views
from tests.integration.indicator_factory import T0, any_unit, make_report


def clocks(report) -> dict:
    return dict(db.session.execute(text(
        "SELECT acknowledge_s, dispatch_s, resolve_s, inform_s, reopened, transferred, is_open, hour, isodow, "
        "day, week FROM indicator_report_clocks WHERE report_id = :id"), {"id": report.id}).mappings().one())


def test_straight_timeline(db_session):
    unit = any_unit()
    report = make_report(unit, [("routed", 0), ("acknowledged", 4), ("dispatched", 12.5), ("resolved", 95),
                                ("citizen_notified", 96), ("closed", 100)], outcome_code="interpellation")
    refresh_indicator_views(full=True)
    c = clocks(report)
    assert (c["acknowledge_s"], c["dispatch_s"], c["resolve_s"], c["inform_s"]) == (240, 750, 5700, 5760)
    assert not c["reopened"] and not c["transferred"] and not c["is_open"]
    # 08:00 UTC on Monday 2 March 2026 is 09:00 in Paris.
    assert (c["hour"], c["isodow"], str(c["day"]), str(c["week"])) == (9, 1, "2026-03-02", "2026-03-02")


def test_transfer_keeps_the_clock_running(db_session):
    first, second = any_unit(offset=0), any_unit(offset=1)
    report = make_report(second, [("transferred", 3), ("transfer_accepted", 20), ("acknowledged", 25),
                                  ("dispatched", 40), ("resolved", 70)])
    refresh_indicator_views(full=True)
    c = clocks(report)
    # Measured from the creation, not from the transfer: 25 min, 40 min, 70 min.
    assert (c["acknowledge_s"], c["dispatch_s"], c["resolve_s"]) == (1500, 2400, 4200)
    assert c["transferred"] and c["inform_s"] is None


def test_reopened_report_counts_once_up_to_its_first_answer(db_session):
    unit = any_unit()
    report = make_report(unit, [("acknowledged", 10), ("resolved", 60), ("closed", 61), ("reopened", 300),
                                ("acknowledged", 310), ("resolved", 400), ("citizen_notified", 401)],
                         status="resolved")
    refresh_indicator_views(full=True)
    rows = db.session.execute(text("SELECT count(*) FROM indicator_report_clocks WHERE report_id = :id"),
                              {"id": report.id}).scalar()
    assert rows == 1
    c = clocks(report)
    assert (c["acknowledge_s"], c["resolve_s"]) == (600, 3600)
    # The resident was told after the second answer only; the first notification after the first answer counts.
    assert c["inform_s"] == 401 * 60
    assert c["reopened"]


def test_missing_steps(db_session):
    unit = any_unit()
    # Resolved straight away, without acknowledgement nor patrol: resolution is the acknowledgement.
    direct = make_report(unit, [("resolved", 30)], outcome_code="hors_competence")
    # Nothing done yet.
    untouched = make_report(unit, [("routed", 0)])
    # Rejected: the rejection is the answer.
    rejected = make_report(unit, [("rejected", 15), ("citizen_notified", 16)])
    # Notified before the answer only: the resident has not been told the outcome.
    early = make_report(unit, [("acknowledged", 5), ("citizen_notified", 6), ("resolved", 50)])
    refresh_indicator_views(full=True)
    assert [clocks(direct)[k] for k in ("acknowledge_s", "dispatch_s", "resolve_s", "inform_s")] == \
        [1800, None, 1800, None]
    assert [clocks(untouched)[k] for k in ("acknowledge_s", "dispatch_s", "resolve_s", "inform_s")] == \
        [None, None, None, None]
    assert clocks(untouched)["is_open"]
    assert [clocks(rejected)[k] for k in ("acknowledge_s", "resolve_s", "inform_s")] == [900, 900, 960]
    assert [clocks(early)[k] for k in ("acknowledge_s", "resolve_s", "inform_s")] == [300, 3000, None]


def test_incremental_refresh_picks_up_new_events(db_session):
    unit = any_unit()
    report = make_report(unit, [("acknowledged", 2)])
    first = refresh_indicator_views()
    assert first["full"] and clocks(report)["resolve_s"] is None
    db.session.add(ReportEvent(report_id=report.id, type="resolved", at=T0 + timedelta(minutes=45)))
    report.status = "resolved"
    db.session.flush()
    second = refresh_indicator_views()
    assert not second["full"] and second["reports"] == 1
    assert clocks(report)["resolve_s"] == 2700
    assert as_of() is not None


@pytest.mark.parametrize("kind", ["police_nationale", "gendarmerie"])
def test_clock_row_copies_report_attributes(db_session, kind):
    unit = any_unit(kind)
    report = make_report(unit, [("acknowledged", 1)], category_code="nuisance_sonore")
    refresh_indicator_views(full=True)
    row = db.session.execute(text(
        "SELECT unit_id, category_code, commune_insee, departement_code FROM indicator_report_clocks "
        "WHERE report_id = :id"), {"id": report.id}).one()
    assert tuple(row) == (unit.id, "nuisance_sonore", report.commune_insee, unit.departement_code)
