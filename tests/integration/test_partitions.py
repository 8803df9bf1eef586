"""Monthly partitions of report_events and notifications (migration 0013) and of reports by blocks of ids (0014),
service.platform.partitions."""
from datetime import date, datetime, timezone

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from models import Notification, Report, ReportEvent, db
from service.platform import partitions
from tests.conftest import owner_engine
from tests.factories import make_device, make_report

TEST_MONTH = date(2026, 11, 1)  # tests.instants.WEEKDAY_DAYTIME and the night run are in November 2026


def _partition_of(table: str, row_id: int) -> str:
    return db.session.execute(text(f"SELECT tableoid::regclass::text FROM {table} WHERE id = :id"),
                              {"id": row_id}).scalar_one()


def _next_report_id() -> int:
    return db.session.execute(text(
        "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM reports_id_seq")).scalar_one()


def _blocks() -> dict[str, tuple[int, int]]:
    return {f"{month:%Y_%m}": (first, end) for month, first, end in db.session.execute(text(
        "SELECT month, first_id, end_id FROM report_id_blocks ORDER BY month"))}


@pytest.fixture
def report_ids_restored(app):
    """The reports' id sequence as it was before the test, once the test's transaction is rolled back (and the
    blocks it created with it): a sequence is not transactional, and ids beyond every block fit no partition.
    Request it before db_session, so that it is put back after the rollback."""
    with owner_engine().connect() as conn:
        last_value, is_called = conn.execute(text("SELECT last_value, is_called FROM reports_id_seq")).one()
    yield
    with owner_engine().begin() as conn:
        conn.execute(text("SELECT setval('reports_id_seq', :v, :c)"), {"v": last_value, "c": is_called})


def _notification(report: Report, created_at: datetime) -> Notification:
    row = Notification(report_id=report.id, kind="report_routed", payload={}, created_at=created_at)
    db.session.add(row)
    db.session.flush()
    return row


def test_both_tables_are_partitioned_by_month_with_a_default(db_session):
    for table, column in partitions.PARTITIONED:
        strategy, key = db.session.execute(text("""
            SELECT p.partstrat, a.attname FROM pg_partitioned_table p
            JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
            WHERE p.partrelid = CAST(:t AS regclass)"""), {"t": table}).one()
        assert (strategy, key) == ("r", column)
        names = partitions.partitions(table)
        assert f"{table}_default" in names
        assert partitions.partition_name(table, TEST_MONTH) in names


@pytest.mark.instant("2026-11-24T10:00:00+01:00")
def test_a_report_s_events_and_outbox_rows_land_in_the_partition_of_their_month(db_session):
    report = make_report(device=make_device(tokens=("tok-partition",)))
    event = db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id)).first()
    outbox = _notification(report, datetime(2026, 11, 24, 9, tzinfo=timezone.utc))
    assert _partition_of("report_events", event.id) == "report_events_2026_11"
    assert _partition_of("notifications", outbox.id) == "notifications_2026_11"
    # The ORM still finds them by id alone, and the report still reaches its events.
    db.session.expire_all()
    assert db.session.get(Notification, outbox.id).report_id == report.id
    assert [e.id for e in db.session.get(Report, report.id).events if e.id == event.id] == [event.id]


def test_ensure_partitions_creates_the_coming_months_and_moves_rows_out_of_default(report_ids_restored, db_session):
    report = make_report()
    later = date(2031, 2, 1)  # far beyond what the migration created: lands in DEFAULT
    stray = _notification(report, datetime(2031, 3, 15, tzinfo=timezone.utc))
    assert _partition_of("notifications", stray.id) == "notifications_default"

    created = partitions.ensure_partitions(later, months_ahead=2)

    assert created == [f"{table}_{month}" for table in [t for t, _ in partitions.PARTITIONED] + ["reports"]
                       for month in ("2031_02", "2031_03", "2031_04")]
    assert _partition_of("notifications", stray.id) == "notifications_2031_03"
    assert partitions.ensure_partitions(later, months_ahead=2) == []  # idempotent


def test_the_migration_keeps_existing_rows_both_ways(app, committed):
    """Down to the plain tables of 0012 and up again, with rows in them: same rows, same ids, keys and links."""
    report = make_report(device=make_device(tokens=("tok-migration",)))
    _notification(report, datetime(2026, 11, 24, 9, tzinfo=timezone.utc))
    db.session.commit()

    def snapshot():
        return (sorted(db.session.execute(text("SELECT id, report_id, type, at FROM report_events")).all()),
                sorted(db.session.execute(text("SELECT id, report_id, event_id, created_at FROM notifications")).all()))

    before = snapshot()
    db.session.remove()
    downgrade(revision="0012")
    assert db.session.execute(text("SELECT count(*) FROM pg_partitioned_table")).scalar() == 0
    assert snapshot() == before
    db.session.remove()
    upgrade(revision="heads")
    assert snapshot() == before
    # The sequences still own the ids: new rows get the next ones.
    make_report()
    assert db.session.scalar(select(func.max(ReportEvent.id))) > max(row.id for row in before[0])
    db.session.rollback()


def test_reports_are_partitioned_by_id_a_block_of_ids_per_month(db_session):
    strategy, key = db.session.execute(text("""
        SELECT p.partstrat, a.attname FROM pg_partitioned_table p
        JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
        WHERE p.partrelid = CAST('reports' AS regclass)""")).one()
    assert (strategy, key) == ("r", "id")
    blocks = _blocks()
    bounds = dict(db.session.execute(text("""
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = CAST('reports' AS regclass)""")).all())
    assert set(bounds) == {"reports_legacy"} | {f"reports_{month}" for month in blocks}
    assert bounds["reports_legacy"].startswith("FOR VALUES FROM (MINVALUE) TO (")
    ranges = list(blocks.values())
    assert ranges[0][0] == int(bounds["reports_legacy"].split("TO (")[1].rstrip(")"))
    assert all(previous[1] == following[0] for previous, following in zip(ranges, ranges[1:]))  # no gap, no overlap
    for month, (first, end) in blocks.items():
        assert bounds[f"reports_{month}"] == f"FOR VALUES FROM ({first}) TO ({end})"


def test_a_month_s_reports_land_in_its_partition_once_the_daily_job_has_run(report_ids_restored, db_session):
    before = _blocks()
    created = partitions.ensure_partitions(date(2031, 2, 1), months_ahead=2)

    assert [name for name in created if name.startswith("reports_")] == [
        "reports_2031_02", "reports_2031_03", "reports_2031_04"]
    blocks = _blocks()
    last_end = list(before.values())[-1][1]
    assert blocks["2031_02"] == (last_end, last_end + 4_194_304)  # right after the last block, 2^22 ids
    assert blocks["2031_03"][0] == blocks["2031_02"][1] and blocks["2031_04"][0] == blocks["2031_03"][1]
    assert _next_report_id() == blocks["2031_02"][0]
    report = make_report()
    assert (report.id, _partition_of("reports", report.id)) == (blocks["2031_02"][0], "reports_2031_02")
    db.session.expire_all()
    assert db.session.get(Report, report.id).events  # found by id alone, its events with it

    # Run again in the same month: the sequence stays where it is (never back to the block's start).
    partitions.ensure_partitions(date(2031, 2, 20), months_ahead=2)
    assert _next_report_id() == report.id + 1

    # A month past its block goes on into the next block's ids (its partition): the job never moves it back.
    db.session.execute(text("SELECT setval('reports_id_seq', :v)"), {"v": blocks["2031_03"][0] + 10})
    overflow = make_report()
    assert _partition_of("reports", overflow.id) == "reports_2031_03"
    partitions.ensure_partitions(date(2031, 2, 25), months_ahead=2)
    assert _next_report_id() == overflow.id + 1

    # The next month's start: forward into its block.
    partitions.ensure_partitions(date(2031, 4, 1), months_ahead=0)
    assert _next_report_id() == blocks["2031_04"][0]
    assert _partition_of("reports", make_report().id) == "reports_2031_04"


def test_a_reference_is_unique_across_the_partitions_of_reports(report_ids_restored, db_session):
    first = make_report()
    partitions.ensure_partitions(date(2031, 2, 1), months_ahead=0)
    second = make_report()
    assert _partition_of("reports", first.id) != _partition_of("reports", second.id)
    assert db.session.execute(text("SELECT report_id FROM report_references WHERE reference = :r"),
                              {"r": second.reference}).scalar_one() == second.id

    with pytest.raises(IntegrityError, match="pk_report_references"):
        with db.session.begin_nested():
            second.reference = first.reference
            db.session.flush()
    db.session.expire_all()
    with pytest.raises(IntegrityError, match="pk_report_references"):
        with db.session.begin_nested():
            db.session.execute(text("""
                INSERT INTO reports
                SELECT (jsonb_populate_record(r, jsonb_build_object('id', nextval('reports_id_seq')))).*
                FROM reports r WHERE id = :id"""), {"id": first.id})
    # Deleting a report frees its reference.
    db.session.execute(text("DELETE FROM reports WHERE id = :id"), {"id": first.id})
    assert db.session.execute(text("SELECT count(*) FROM report_references WHERE reference = :r"),
                              {"r": first.reference}).scalar_one() == 0


REFERENCING = ("report_events", "notifications", "report_photos", "report_contacts", "feedback", "idempotency_keys",
               "report_messages", "report_references")


def _add_referencing_rows(report: Report) -> None:
    """A row in each table that references a report, besides its events (make_report writes them)."""
    params = {"id": report.id, "unit": report.unit_id}
    for statement in (
            "INSERT INTO notifications (report_id, kind, payload) VALUES (:id, 'report_routed', '{}')",
            "INSERT INTO report_photos (report_id, content_type, width, height, content) "
            "VALUES (:id, 'image/jpeg', 1, 1, '\\x00')",
            "INSERT INTO report_contacts (report_id, name) VALUES (:id, 'Contact')",
            "INSERT INTO feedback (report_id, reactivite, courtoisie, information) VALUES (:id, 4, 5, 3)",
            "INSERT INTO idempotency_keys (scope, key, request_hash, report_id) VALUES ('d', 'k' || :id, 'h', :id)",
            "INSERT INTO report_messages (report_id, author, unit_id, text) VALUES (:id, 'unit', :unit, 'Bonjour')"):
        db.session.execute(text(statement), params)


def test_the_migration_to_reports_by_id_blocks_keeps_every_row_and_key(app, committed):
    """From 0013 (reports one table) to head on a database holding reports and what references them: no row lost,
    the old rows in reports_legacy, ids going on from the last one, every foreign key there and cascading."""
    db.session.remove()
    downgrade(revision="0013")
    reports = [make_report(device=make_device(tokens=(f"tok-legacy-{n}",))) for n in range(3)]
    for report in reports:
        _add_referencing_rows(report)
    db.session.commit()
    ids = [report.id for report in reports]

    def counts():
        return {table: db.session.execute(text(f"SELECT count(*) FROM {table} WHERE report_id = ANY(:ids)"),
                                          {"ids": ids}).scalar_one() for table in REFERENCING[:-1]}

    before = counts()
    assert all(before.values())
    db.session.remove()
    upgrade(revision="heads")

    assert counts() == before
    assert {_partition_of("reports", report_id) for report_id in ids} == {"reports_legacy"}
    assert db.session.execute(text("SELECT count(*) FROM report_references WHERE report_id = ANY(:ids)"),
                              {"ids": ids}).scalar_one() == len(ids)
    keys = db.session.execute(text("""
        SELECT conrelid::regclass::text, convalidated, confdeltype FROM pg_constraint
        WHERE confrelid = CAST('reports' AS regclass) AND contype = 'f' AND conparentid = 0""")).all()
    assert sorted(keys) == sorted((table, True, "c") for table in REFERENCING)
    # The current month's block starts right after the old ids: the next report takes the next id.
    month = db.session.execute(text("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')")).scalar_one()
    assert _blocks()[month][0] == max(ids) + 1
    newcomer = make_report()
    assert (newcomer.id, _partition_of("reports", newcomer.id)) == (max(ids) + 1, f"reports_{month}")
    db.session.rollback()

    db.session.execute(text("DELETE FROM reports WHERE id = ANY(:ids)"), {"ids": ids})
    assert set(counts().values()) == {0}
    assert db.session.execute(text("SELECT count(*) FROM report_references WHERE report_id = ANY(:ids)"),
                              {"ids": ids}).scalar_one() == 0
    db.session.commit()
