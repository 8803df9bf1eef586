"""Pure parts of the indicators: filters, buckets, SLA conditions, formatting, CSV cells, demo mixes."""
from datetime import date
from types import SimpleNamespace

import pytest
from werkzeug.datastructures import MultiDict

from service.dashboard.export import _cell, export_filename
from service.dashboard.filters import filters_from_args
from service.dashboard.present import duration, percent, score
from service.devtools.demo_data import DemoProfile, _cumulative
from models.indicator import BUCKET_EDGES
from service.statistics.filters import DEFAULT_PERIOD_DAYS, IndicatorFilters, where_clause
from service.statistics.measures import BUCKET_LABELS, sla_breached_sql, sla_met_sql

ADMIN = SimpleNamespace(role="admin", unit_id=None)
CHEF = SimpleNamespace(role="superviseur", unit_id=7)


def test_buckets_are_increasing_and_labelled():
    assert list(BUCKET_EDGES) == sorted(BUCKET_EDGES)
    assert len(BUCKET_LABELS) == len(BUCKET_EDGES) + 1


def test_default_period_is_the_last_30_days_inclusive():
    f = IndicatorFilters.default(today=date(2026, 3, 31))
    assert (f.start, f.end) == (date(2026, 3, 2), date(2026, 3, 31))
    assert (f.end - f.start).days + 1 == DEFAULT_PERIOD_DAYS


def test_filters_round_trip_through_the_query_string():
    f, errors = filters_from_args(MultiDict({"start": "2026-01-01", "end": "2026-01-31", "category_code": "autre",
                                             "hour": "22", "isodow": "6", "sla": "resolve:breached"}), ADMIN, None)
    assert errors == []
    again, _ = filters_from_args(MultiDict({k: str(v) for k, v in f.query_args().items()}), ADMIN, None)
    assert again == f
    assert f.drill(hour=None, category_code="degradation")["category_code"] == "degradation"
    assert "hour" not in f.drill(hour=None)


@pytest.mark.parametrize("args, message", [
    ({"start": "2026-13-01"}, "invalide"),
    ({"hour": "25"}, "hors limites"),
    ({"unit_id": "abc"}, "nombre entier"),
    ({"start": "2026-02-01", "end": "2026-01-01"}, "après"),
])
def test_bad_filters_are_reported_and_ignored(args, message):
    f, errors = filters_from_args(MultiDict(args), ADMIN, None, today=date(2026, 3, 31))
    assert any(message in e for e in errors)
    assert f.hour is None and f.unit_id is None


def test_supervisor_is_kept_in_scope():
    f, errors = filters_from_args(MultiDict({"unit_id": "99"}), CHEF, frozenset({7, 8}))
    assert f.unit_id == 7 and errors  # out-of-scope unit ignored, back to their own tree
    f, errors = filters_from_args(MultiDict({"unit_id": "8"}), CHEF, frozenset({7, 8}))
    assert f.unit_id == 8 and not errors
    assert f.scope_unit_ids == frozenset({7, 8})


def test_where_clause_uses_parameters_never_values():
    f = IndicatorFilters(start=date(2026, 1, 1), end=date(2026, 1, 31), category_code="x'; DROP TABLE reports; --",
                         hour=3, bucket=2, clock="acknowledge", scope_unit_ids=frozenset({4, 5}))
    sql, params = where_clause(f)
    assert "DROP" not in sql
    assert params["category_code"].startswith("x'")
    assert params["end_excl"] == date(2026, 2, 1)  # the end day is included
    assert params["unit_ids"] == [4, 5]
    assert (params["bucket_low"], params["bucket_high"]) == (900, 1800)


def test_last_bucket_is_open_ended():
    _, params = where_clause(IndicatorFilters(clock="resolve", bucket=len(BUCKET_LABELS) - 1))
    assert params["bucket_low"] == BUCKET_EDGES[-1] and "bucket_high" not in params


def test_sla_conditions():
    assert sla_met_sql("acknowledge") == "(c.acknowledged_at <= c.acknowledge_due_at)"
    # Not dispatched is a breach only while the report is still open.
    assert "c.is_open" in sla_breached_sql("dispatch")
    assert "c.is_open" not in sla_breached_sql("resolve")


@pytest.mark.parametrize("seconds, text", [(None, "—"), (42, "42 s"), (300, "5 min"), (3900, "1 h 05"),
                                           (90000, "1 j 1 h")])
def test_french_durations(seconds, text):
    assert duration(seconds) == text


def test_percent_and_score():
    assert percent(None) == "—" and percent(0.8775) == "87,8 %"
    assert score(4.25) == "4,25 / 5"


def test_csv_cells_are_formatted_in_sql():
    assert _cell("received_at") == "to_char(r.received_at, 'YYYY-MM-DD HH24:MI:SS') AS received_at"
    assert _cell("reopened") == "CASE WHEN r.reopened THEN 'oui' ELSE 'non' END AS reopened"
    assert "translate(r.unit_name, E'\\r\\n', '  ')" in _cell("unit_name")  # no line break inside a cell
    assert _cell("acknowledge_sla") == "NULLIF(r.acknowledge_sla, '') AS acknowledge_sla"
    # Text cells are neutralised against spreadsheet formulas; numbers are not.
    assert _cell("reference").startswith("CASE WHEN left(r.reference, 1) IN ('=', '+', '-', '@'")
    assert _cell("resolve_min") == "r.resolve_min"
    assert export_filename(IndicatorFilters(start=date(2026, 1, 1), end=date(2026, 1, 31))) == \
        "proxima-signalements-2026-01-01-2026-01-31.csv"


def test_demo_mixes_are_probability_ranges():
    profile = DemoProfile()
    ranges = _cumulative({k: v[0] for k, v in profile.categories.items()})
    assert ranges[0][1] == 0 and ranges[-1][2] > 1
    assert all(a[2] == pytest.approx(b[1]) for a, b in zip(ranges, ranges[1:]))
    for mix in profile.outcomes.values():
        assert sum(mix.values()) == pytest.approx(1)
