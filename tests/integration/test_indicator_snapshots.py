"""Long national dashboard views computed ahead (service.statistics.indicator_snapshots): what is stored, when it is
served."""
import json
from datetime import timedelta

import pytest
from rq.job import Job
from sqlalchemy import func, select, update

from models import Category, IndicatorSnapshot, Unit, db
from service.statistics import dashboard_figures
from service.statistics.indicator_snapshots import (LONG_PERIOD_DAYS, SNAPSHOT_MAX_AGE, long_views, refresh_snapshots,
                                                    served_dashboard_data, snapshot_key)
from service.statistics.dashboard_figures import dashboard_data
from service.statistics.filters import IndicatorFilters
from service.statistics.report_clocks import refresh_indicator_views
from tests.integration.console_support import login, make_officer
from tests.integration.indicator_factory import any_unit, make_report
from service.platform import clock as service_clock
from service.platform.clock import PARIS
from tests.conftest import TEST_INSTANT
from workers.indicators import MAX_DEFERRAL, PUSH_BACKLOG_JOBS, SNAPSHOT_RETRY, store_indicator_snapshot
from workers.queues import MAINTENANCE, PUSH, get_queue

TODAY = TEST_INSTANT.astimezone(PARIS).date()


def _year(**kwargs) -> IndicatorFilters:
    return IndicatorFilters(start=TODAY - timedelta(days=364), end=TODAY, **kwargs)


def _plain(data: dict) -> dict:
    """The figures as JSON sees them (the stored view adds when it was computed)."""
    data = {k: v for k, v in data.items() if k != "snapshot"}
    return json.loads(json.dumps(data, default=dashboard_figures.json_default))


@pytest.fixture
def history(db_session):
    now = service_clock.now().replace(microsecond=0)
    a, b = any_unit(), any_unit("gendarmerie")
    make_report(a, [("acknowledged", 5), ("dispatched", 20), ("resolved", 60), ("citizen_notified", 61),
                    ("closed", 62)], received_at=now - timedelta(days=3), outcome_code="interpellation")
    make_report(a, [("acknowledged", 40)], category_code="nuisance_sonore", received_at=now - timedelta(days=100))
    make_report(b, [("acknowledged", 12), ("resolved", 300), ("closed", 301)], received_at=now - timedelta(days=200),
                outcome_code="patrouille_engagee_rien_constate")
    make_report(b, [("routed", 0)], received_at=now - timedelta(days=2))
    refresh_indicator_views(full=True)
    return {"a": a, "b": b}


def test_the_long_views_are_national_over_each_long_period_for_all_and_each_category(db_session):
    active = set(db.session.scalars(select(Category.code).where(Category.active)))
    views = long_views(TODAY)
    assert len(views) == len(LONG_PERIOD_DAYS) * (1 + len(active))
    assert {(v.end - v.start).days + 1 for v in views} == set(LONG_PERIOD_DAYS)
    assert {v.category_code for v in views} == active | {None}
    assert all(v.end == TODAY and v.unit_id is None and v.scope_unit_ids is None for v in views)


def test_only_national_views_over_a_period_and_a_category_have_a_key():
    assert snapshot_key(_year()) is not None
    assert snapshot_key(_year(category_code="rodeo_motorise")) != snapshot_key(_year())
    assert snapshot_key(_year(unit_id=3)) is None
    assert snapshot_key(_year(scope_unit_ids=frozenset({3}))) is None
    assert snapshot_key(_year(departement_code="59")) is None
    assert snapshot_key(_year(hour=3)) is None
    assert snapshot_key(_year(open_only=True)) is None


def test_a_stored_view_has_the_figures_of_the_live_computation(history):
    result = refresh_snapshots(TODAY)
    assert result["views"] == len(long_views(TODAY))
    for f in (_year(), _year(category_code="rodeo_motorise"),
              IndicatorFilters(start=TODAY - timedelta(days=89), end=TODAY)):
        served = served_dashboard_data(f)
        assert "snapshot" in served
        assert _plain(served) == _plain(dashboard_data(f))
    assert served_dashboard_data(_year())["summary"]["reports"] == 4
    assert served_dashboard_data(IndicatorFilters(start=TODAY - timedelta(days=89), end=TODAY))["summary"][
        "reports"] == 2


def test_stored_views_keep_their_figures_until_recomputed(history):
    refresh_snapshots(TODAY)
    make_report(history["a"], [("acknowledged", 7)], received_at=service_clock.now() - timedelta(days=1))
    refresh_indicator_views()
    # The stored view shows its own "as of" time: the new report comes with the next computation.
    assert served_dashboard_data(_year())["summary"]["reports"] == 4
    refresh_snapshots(TODAY)
    assert served_dashboard_data(_year())["summary"]["reports"] == 5


def test_views_other_than_the_stored_ones_are_computed_live(history):
    refresh_snapshots(TODAY)
    for f in (_year(unit_id=history["a"].id), _year(departement_code=history["b"].departement_code),
              IndicatorFilters(start=TODAY - timedelta(days=363), end=TODAY),
              IndicatorFilters(start=TODAY - timedelta(days=29), end=TODAY)):
        served = served_dashboard_data(f)
        assert "snapshot" not in served
        assert _plain(served) == _plain(dashboard_data(f))


def test_a_stale_view_is_not_served(history):
    refresh_snapshots(TODAY)
    db.session.execute(update(IndicatorSnapshot).values(
        computed_at=service_clock.now() - SNAPSHOT_MAX_AGE - timedelta(minutes=1)))
    assert "snapshot" not in served_dashboard_data(_year())


def test_views_of_earlier_days_are_removed(history):
    refresh_snapshots(TODAY - timedelta(days=1))
    yesterday = set(db.session.scalars(select(IndicatorSnapshot.key)))
    refresh_snapshots(TODAY)
    today = set(db.session.scalars(select(IndicatorSnapshot.key)))
    assert len(today) == len(yesterday) == len(long_views(TODAY))
    assert not today & yesterday
    assert "snapshot" not in served_dashboard_data(
        IndicatorFilters(start=TODAY - timedelta(days=365), end=TODAY - timedelta(days=1)))


def test_the_twelve_month_preset_of_the_page_is_the_stored_view(client, history):
    refresh_snapshots(TODAY)
    make_officer("admin-long@example.fr", "admin", None)
    login(client, "admin-long@example.fr")
    default = client.get("/console/tableau-de-bord/").get_data(as_text=True)
    start = (TODAY - timedelta(days=364)).isoformat()
    preset = f'href="/console/tableau-de-bord/?start={start}&amp;end={TODAY.isoformat()}"'
    assert preset in default and "12 mois" in default
    page = client.get(f"/console/tableau-de-bord/?start={start}&end={TODAY.isoformat()}").get_data(as_text=True)
    assert "vue longue calculée à l'avance" in page
    assert '<span class="kpi-value">4</span><span>signalements</span>' in page
    assert "vue longue calculée à l'avance" not in default


def test_a_supervisors_twelve_months_are_their_own_tree_computed_live(client, history):
    refresh_snapshots(TODAY)
    parent = db.session.get(Unit, history["a"].parent_id)
    make_officer("chef-long@example.fr", "superviseur", parent.code)
    login(client, "chef-long@example.fr")
    start = (TODAY - timedelta(days=364)).isoformat()
    page = client.get(f"/console/tableau-de-bord/?start={start}&end={TODAY.isoformat()}").get_data(as_text=True)
    assert "vue longue calculée à l'avance" not in page
    assert '<span class="kpi-value">2</span><span>signalements</span>' in page


def test_a_long_view_steps_aside_while_pushes_are_queued_unless_it_waited_long_enough(history, redis_conn):
    view = long_views(TODAY)[0]
    args = (view.start.isoformat(), view.end.isoformat(), view.category_code)
    for _ in range(PUSH_BACKLOG_JOBS + 1):
        get_queue(PUSH, redis_conn).enqueue("workers.push.send_push", 0)
    assert store_indicator_snapshot(*args) == -1
    scheduled = get_queue(MAINTENANCE, redis_conn).scheduled_job_registry.get_job_ids()
    assert len(scheduled) == 1 and Job.fetch(scheduled[0], connection=redis_conn).args == (*args, 1)
    assert db.session.scalar(select(func.count()).select_from(IndicatorSnapshot)) == 0
    assert store_indicator_snapshot(*args, int(MAX_DEFERRAL / SNAPSHOT_RETRY)) >= 0  # waited enough: computed
    assert db.session.scalar(select(func.count()).select_from(IndicatorSnapshot)) == 1


def test_the_worker_computes_each_long_view_in_a_job_of_its_own(app, history, redis_conn):
    from workers.indicators import refresh_indicator_snapshots, store_indicator_snapshot
    from workers.queues import MAINTENANCE, get_queue
    from workers.worker import periodic_jobs, run_worker
    assert refresh_indicator_snapshots in [job for job, _ in periodic_jobs(app)]
    refresh_snapshots(TODAY - timedelta(days=1))  # yesterday's views: removed by the next run

    assert refresh_indicator_snapshots() == len(long_views(TODAY))
    queue = get_queue(MAINTENANCE, redis_conn)
    jobs = queue.get_jobs()
    assert len(jobs) == len(long_views(TODAY))
    assert {job.func_name for job in jobs} == {"workers.indicators.store_indicator_snapshot"}
    assert db.session.scalar(select(func.count()).select_from(IndicatorSnapshot)) == 0

    run_worker(app, queues=(MAINTENANCE,), burst=True)
    assert db.session.scalar(select(func.count()).select_from(IndicatorSnapshot)) == len(long_views(TODAY))
    assert served_dashboard_data(_year())["summary"]["reports"] == 4
    assert "snapshot" in served_dashboard_data(_year(category_code="nuisance_sonore"))
    assert store_indicator_snapshot.spec.queue == MAINTENANCE
