"""Monthly partitions of report_events (by `at`), notifications (by `created_at`) and reports (by id), created ahead.

Migration 0013 partitions report_events and notifications by calendar month (UTC) and adds a DEFAULT partition, so
a write never fails for want of a partition. Migration 0014 partitions reports by RANGE (id), each month owning a
block of ids (report_id_blocks); the partition `reports_legacy` holds the ids handed out before it.
`ensure_partitions()` (daily job workers.maintenance.create_partitions) creates this month's and the next
MONTHS_AHEAD months' partitions through the database functions `create_month_partitions` and
`create_report_partitions` (the application role has no DDL right; they run as the tables' owner): rows that
reached a DEFAULT partition for one of those months are moved into it, and the reports' id sequence is moved
forward to this month's block, in the same transaction.

Retention does not drop partitions: it anonymises reports and keeps their timeline and outbox rows, which the
indicators read (service.reports.retention). A month leaves only with `DETACH PARTITION` by an operator; a
month of reports can be detached as a unit too (its ids are its block in report_id_blocks), once the rows that
reference those reports are gone (their foreign keys point at reports).
"""
import re
from datetime import date

from geoalchemy2 import alembic_helpers
from sqlalchemy import text

from models import db

PARTITIONED = (("report_events", "at"), ("notifications", "created_at"))
# reports: by id, a partition per month's block of ids, plus reports_legacy (the ids before migration 0014).
REPORTS = "reports"
MONTHS_AHEAD = 3
_PARTITION = re.compile("(" + "|".join([table for table, _ in PARTITIONED] + [REPORTS])
                        + r")_(\d{4}_\d{2}|default|legacy)")


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month:%Y_%m}"


def ensure_partitions(today: date, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the missing monthly partitions from `today`'s month to `months_ahead` months later and move the
    reports' id sequence into `today`'s block if still below it (never backwards); commits; returns the names
    created. The DDL runs in `create_month_partitions` (migration 0013) and `create_report_partitions` (0014), as
    the tables' owner."""
    params = {"first": today, "months": months_ahead}
    created = list(db.session.scalars(text("SELECT create_month_partitions(:first, :months)"), params))
    created += db.session.scalars(text("SELECT create_report_partitions(:first, :months)"), params)
    db.session.commit()
    return created


def partitions(table: str) -> list[str]:
    """The partitions of `table`, by name."""
    return list(db.session.scalars(text("""
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = CAST(:t AS regclass) ORDER BY c.relname"""), {"t": table}))


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter (GeoAlchemy2's, plus): partitions and their indexes are not in the models, only their
    partitioned parent is; nor are the copies, one per partition of reports, that PostgreSQL keeps of a foreign key
    to reports."""
    table = (obj.table.name if type_ == "index" else name if type_ == "table"
             else obj.referred_table.name if type_ == "foreign_key_constraint" else None)
    if reflected and table is not None and _PARTITION.fullmatch(table):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
