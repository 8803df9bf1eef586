"""Monthly partitions of report_events (by `at`) and notifications (by `created_at`), created ahead.

Migration 0013 partitions both tables by calendar month (UTC) and adds a DEFAULT partition, so a write never
fails for want of a partition. `ensure_partitions()` (daily job workers.maintenance.create_partitions) creates
this month's and the next MONTHS_AHEAD months' partitions through the database function
`create_month_partitions` (the application role has no DDL right; the function runs as the tables' owner);
rows that reached the DEFAULT partition for one of those months are moved into it in the same transaction.

Retention does not drop partitions: it anonymises reports and keeps their timeline and outbox rows, which the
indicators read (service.reports.retention). A month leaves only with `DETACH PARTITION` by an operator.
"""
import re
from datetime import date

from geoalchemy2 import alembic_helpers
from sqlalchemy import text

from models import db

PARTITIONED = (("report_events", "at"), ("notifications", "created_at"))
MONTHS_AHEAD = 3
_PARTITION = re.compile("(" + "|".join(table for table, _ in PARTITIONED) + r")_(\d{4}_\d{2}|default)")


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month:%Y_%m}"


def ensure_partitions(today: date, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the missing monthly partitions from `today`'s month to `months_ahead` months later; commits;
    returns the names created. The DDL runs in `create_month_partitions` (migration 0013), as the tables' owner."""
    created = list(db.session.scalars(text("SELECT create_month_partitions(:first, :months)"),
                                      {"first": today, "months": months_ahead}))
    db.session.commit()
    return created


def partitions(table: str) -> list[str]:
    """The partitions of `table`, by name."""
    return list(db.session.scalars(text("""
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = CAST(:t AS regclass) ORDER BY c.relname"""), {"t": table}))


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter (GeoAlchemy2's, plus): partitions and their indexes are not in the models, only their
    partitioned parent is."""
    table = obj.table.name if type_ == "index" else name if type_ == "table" else None
    if reflected and table is not None and _PARTITION.fullmatch(table):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
