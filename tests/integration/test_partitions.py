"""Monthly partitions of report_events and notifications (migration 0013, service.platform.partitions)."""
from datetime import date, datetime, timezone

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text

from models import Notification, Report, ReportEvent, db
from service.platform import partitions
from tests.factories import make_device, make_report

TEST_MONTH = date(2026, 11, 1)  # tests.instants.WEEKDAY_DAYTIME and the night run are in November 2026


def _partition_of(table: str, row_id: int) -> str:
    return db.session.execute(text(f"SELECT tableoid::regclass::text FROM {table} WHERE id = :id"),
                              {"id": row_id}).scalar_one()


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


def test_ensure_partitions_creates_the_coming_months_and_moves_rows_out_of_default(db_session):
    report = make_report()
    later = date(2031, 2, 1)  # far beyond what the migration created: lands in DEFAULT
    stray = _notification(report, datetime(2031, 3, 15, tzinfo=timezone.utc))
    assert _partition_of("notifications", stray.id) == "notifications_default"

    created = partitions.ensure_partitions(later, months_ahead=2)

    assert created == [f"{table}_{month}" for table, _ in partitions.PARTITIONED
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
