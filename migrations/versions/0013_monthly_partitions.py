"""report_events and notifications partitioned by month (native range partitioning)

report_events by `at`, notifications by `created_at`: one partition per calendar month (UTC) from the oldest
row (or a year back, whichever is earlier) to three months ahead, and a DEFAULT partition so that a write never
fails for want of a partition. The coming months are created daily by the function `create_month_partitions`
(SECURITY DEFINER: the application role may not create tables; service.platform.partitions calls it), which
also moves into a new partition the rows that reached DEFAULT meanwhile.

Works on a database with data: each table is rebuilt as a partitioned table and its rows copied in one
transaction (the tables are locked meanwhile: run it in a maintenance window on a large database). The primary
key becomes (id, partition column), as PostgreSQL requires; ids still come from the same sequence. The foreign
key notifications.event_id → report_events.id cannot exist any more (it would need the event's `at`): the row
still goes with its report (notifications.report_id → reports ON DELETE CASCADE), and events are never deleted
on their own. `reports` stays one table: six tables reference it by id alone (docs/scaling.md).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:40:00
"""
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

TABLES = (('report_events', 'at'), ('notifications', 'created_at'))
MONTHS_AHEAD = 3
MONTHS_BACK = 12  # an empty database still gets the recent past (imports, a clock set back in tests)
# Runs as its owner (the migrations' role): the application role calls it without any DDL right of its own.
CREATE_MONTH_PARTITIONS = """
CREATE FUNCTION create_month_partitions(first_month date, months_ahead int) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    parent text;
    key text;
    k int;
    month_start date;
    month_end date;
    part text;
BEGIN
    FOR parent, key IN VALUES ('report_events', 'at'), ('notifications', 'created_at') LOOP
        FOR k IN 0..months_ahead LOOP
            month_start := CAST(date_trunc('month', first_month) + make_interval(months => k) AS date);
            month_end := CAST(month_start + interval '1 month' AS date);
            part := parent || '_' || to_char(month_start, 'YYYY_MM');
            CONTINUE WHEN to_regclass(part) IS NOT NULL;
            -- Built apart then attached, so that rows already in DEFAULT for that month move in first.
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
            EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) '
                           'INSERT INTO %I SELECT * FROM moved', parent || '_default',
                           key, month_start || ' 00:00:00+00', key, month_end || ' 00:00:00+00', part);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part,
                           month_start || ' 00:00:00+00', month_end || ' 00:00:00+00');
            RETURN NEXT part;
        END LOOP;
    END LOOP;
END
$$"""
EVENT_FK = ('fk_notifications_event_id_report_events', 'notifications', 'report_events',
            'FOREIGN KEY (event_id) REFERENCES report_events(id) ON DELETE CASCADE')


def _month(day: date, add: int = 0) -> date:
    months = day.year * 12 + day.month - 1 + add
    return date(months // 12, months % 12 + 1, 1)


def _definitions(table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(name, CREATE INDEX …) of the table's indexes other than its primary key; (name, definition) of its
    outgoing foreign keys."""
    bind = op.get_bind()
    indexes = bind.execute(sa.text("""
        SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = CAST(:t AS regclass) AND NOT x.indisprimary ORDER BY i.relname"""), {"t": table}).all()
    foreign_keys = bind.execute(sa.text("""
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' ORDER BY conname"""), {"t": table}).all()
    return [tuple(row) for row in indexes], [tuple(row) for row in foreign_keys]


def _rebuild(table: str, column: str | None) -> None:
    """Rebuild `table` as partitioned by month on `column` (None: back to a plain table), keeping its rows,
    columns, defaults, checks, indexes, foreign keys and id sequence."""
    bind = op.get_bind()
    indexes, foreign_keys = _definitions(table)
    old = f'{table}_before_0013'
    op.execute(f'ALTER TABLE {table} RENAME TO {old}')
    for name, _ in indexes:
        op.execute(f'ALTER INDEX {name} RENAME TO {name}_before_0013')
    op.execute(f'ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{table}_before_0013')
    op.execute(f'ALTER SEQUENCE {table}_id_seq OWNED BY NONE')
    partitioning = f' PARTITION BY RANGE ({column})' if column else ''
    op.execute(f'CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)'
               f'{partitioning}')
    if column:
        oldest = bind.execute(sa.text(f'SELECT min({column}) FROM {old}')).scalar()
        today = bind.execute(sa.text('SELECT CAST(now() AT TIME ZONE \'UTC\' AS date)')).scalar()
        start = min(_month(oldest.date()) if oldest else today, _month(today, -MONTHS_BACK))
        while start < _month(today, MONTHS_AHEAD + 1):
            end = _month(start, 1)
            op.execute(f"CREATE TABLE {table}_{start:%Y_%m} PARTITION OF {table} "
                       f"FOR VALUES FROM ('{start}T00:00:00+00:00') TO ('{end}T00:00:00+00:00')")
            start = end
        op.execute(f'CREATE TABLE {table}_default PARTITION OF {table} DEFAULT')
    op.execute(f'INSERT INTO {table} SELECT * FROM {old}')
    key = f'id, {column}' if column else 'id'
    op.execute(f'ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})')
    for _, definition in indexes:
        op.execute(definition.replace(f' ON public.{old} ', f' ON public.{table} ')
                   .replace(f' ON {old} ', f' ON {table} ').replace('_before_0013', ''))
    for name, definition in foreign_keys:
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT {name} {definition}')
    op.execute(f'ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id')
    op.execute(f'DROP TABLE {old}')
    op.execute(f'ANALYZE {table}')


def upgrade():
    op.execute('ALTER TABLE notifications DROP CONSTRAINT fk_notifications_event_id_report_events')
    # One transaction for both tables: nothing writes in between (intake writes events and outbox rows together).
    op.execute('LOCK TABLE report_events, notifications IN ACCESS EXCLUSIVE MODE')
    for table, column in TABLES:
        _rebuild(table, column)
    op.execute(CREATE_MONTH_PARTITIONS)


def downgrade():
    op.execute('DROP FUNCTION create_month_partitions(date, int)')
    op.execute('LOCK TABLE report_events, notifications IN ACCESS EXCLUSIVE MODE')
    for table, _ in TABLES:
        _rebuild(table, None)
    name, table, _, definition = EVENT_FK
    op.execute(f'ALTER TABLE {table} ADD CONSTRAINT {name} {definition}')
