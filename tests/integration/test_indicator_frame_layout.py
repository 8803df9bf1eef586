"""The packed row of each report: the migrated column is what the declarations generate, and reads back as declared."""
from datetime import timedelta

import numpy as np
from sqlalchemy import text

from models import db
from models.indicator import FRAME_FIELDS, FRAME_FLAGS, FRAME_SQL
from service.statistics import packed_frame
from service.statistics.measures import COUNTERS, ReportArrays
from service.statistics.report_clocks import refresh_indicator_views
from tests.integration.indicator_factory import any_unit, make_report


def _generated_expression(table: str, column: str) -> str:
    """The expression of a generated column, as PostgreSQL prints it back (its own spacing and parentheses)."""
    return db.session.execute(text("""
        SELECT pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        WHERE d.adrelid = CAST(:table AS regclass) AND a.attname = :column
    """), {"table": table, "column": column}).scalar_one()


def test_migrated_frame_column_is_what_the_declarations_generate(db_session):
    """A field or flag declared in models.indicator needs a migration that rewrites the generated column; without
    it (or with a migration that writes something else) the packed rows would not be read as declared."""
    db.session.execute(text("CREATE TEMP TABLE declared_frame (LIKE indicator_report_clocks) ON COMMIT DROP"))
    db.session.execute(text(f"ALTER TABLE declared_frame DROP COLUMN frame, "
                            f"ADD COLUMN frame bytea GENERATED ALWAYS AS ({FRAME_SQL}) STORED"))
    assert _generated_expression("indicator_report_clocks", "frame") == _generated_expression("declared_frame", "frame")


def test_counters_read_only_declared_fields_and_flags():
    """Every counter evaluates over arrays holding exactly the declared fields and flags (KeyError otherwise)."""
    columns = {field.name: np.array([np.nan, 1.0]) for field in FRAME_FIELDS}
    flags = {flag.name: np.array([0, 1], dtype=np.int32) for flag in FRAME_FLAGS}
    reports = ReportArrays(columns, flags, now=0.0)
    names = ["reports"] + [counter.name for counter in COUNTERS]
    assert len(names) == len(set(names))
    for counter in COUNTERS:
        assert counter.per_report(reports).shape == (2,), counter.name


def test_packed_row_reads_back_as_declared(db_session):
    unit = any_unit()
    report = make_report(unit, [("acknowledged", 4), ("dispatched", 9), ("resolved", 30), ("citizen_notified", 31),
                                ("closed", 32)], feedback=(5, 3, 1))
    refresh_indicator_views(full=True)
    row = db.session.execute(text("SELECT * FROM indicator_report_clocks WHERE report_id = :id"),
                             {"id": report.id}).mappings().one()
    (blob,) = db.session.execute(text("SELECT frame FROM indicator_report_clocks WHERE report_id = :id"),
                                 {"id": report.id}).one()
    columns, _, _ = packed_frame.unpack([(row["category_code"], row["outcome_code"], bytes(blob))], [], [])
    assert list(columns) == [field.name for field in FRAME_FIELDS]
    assert [columns[clock][0] for clock in ("acknowledge", "dispatch", "resolve", "inform")] == \
        [row["acknowledge_s"], row["dispatch_s"], row["resolve_s"], row["inform_s"]]
    assert columns["unit"][0] == unit.id
    assert packed_frame.day_of(columns["day"][0]) == row["day"]
    assert columns["how"][0] == row["isodow"] * 24 + row["hour"]
    assert columns["feedback"][0] == 531
    assert packed_frame._EPOCH + timedelta(seconds=float(columns["received"][0])) == row["received_at"]
    flags = int(columns["flags"][0])
    bits = {flag.name: (flags >> i) & 1 for i, flag in enumerate(FRAME_FLAGS)}
    assert bits["is_open"] == 0 and bits["from_app"] == int(row["from_app"]) and bits["informed"] == 1
    assert bits["has_feedback"] == 1
    assert not np.isnan(columns["acknowledge_due"][0])
