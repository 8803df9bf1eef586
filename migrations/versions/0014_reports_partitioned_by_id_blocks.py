"""reports partitioned by month through blocks of ids (native range partitioning on id)

A partitioned table's primary key must contain its partition key. Partitioning `reports` by `received_at` would
make the key (id, received_at) and put a `report_received_at` column in each of the seven tables that reference a
report by id alone. So `reports` is partitioned by RANGE (id), and each calendar month (UTC) owns a block of ids:
`report_id_blocks(month, first_id, end_id)` (end exclusive), the partition `reports_YYYY_MM` holding exactly
that block. The key stays `id`, every foreign key stays `report_id → reports(id)`, ids stay `integer`.

Block size: 4,194,304 ids (2^22) a month by default, a parameter of `create_report_partitions`. A national
deployment receives about 700,000 reports a month: six times headroom, and int4 lasts 512 months (42 years).

Months and the sequence. `create_report_partitions(first_month, months_ahead)` (SECURITY DEFINER, like
`create_month_partitions` of 0013; called by the daily job through service.platform.partitions) appends the
missing months' blocks after the last one (first_id = previous end_id, so blocks are contiguous and never
overlap), creates their partitions, and moves `reports_id_seq` forward to the start of `first_month`'s block when
it is still below (under `LOCK TABLE reports IN SHARE ROW EXCLUSIVE MODE`, which holds inserts back for that
instant). It never moves the sequence backwards. Consequences, all harmless:
* between midnight UTC on the 1st and the daily job, new reports still take ids of the previous month's block
  and land in its partition (a partition is "the month the id was handed out in", give or take that slip);
* a month that receives more reports than its block continues into the next block's ids, hence the next
  partition: never a collision, since the sequence only moves forward;
* rows written with ids from the sequence for a past date (the demo history) land in the current block.
No DEFAULT partition: an insert fails only if ids run past the last block created ahead (the job stopped while
more than the blocks ahead, about 16 million ids, were handed out).

This migration, on a database holding data, copies no report: the existing table becomes the partition
`reports_legacy` of ids below N = max(id) + 1 (FROM (MINVALUE) TO (N): it holds every month up to the
migration, hence not a month's name); the current month's block starts at N, so ids go on without a jump.
ATTACH reads the table once to check the bound (a CHECK (id < N) added first would take the same read, in the
same transaction). The primary key, the indexes and the outgoing foreign keys declared on the partitioned parent
adopt the legacy table's own (no build, no validation). What is rebuilt: the seven incoming foreign keys (they
pointed at the old table; re-adding them validates every referencing row against the new parent), one index on
`reference`, and `report_references`.

Reference uniqueness. A unique constraint on a partitioned table must contain the partition key, so UNIQUE
(reference) cannot stay on `reports`; a unique index per partition would only make a reference unique within a
month. References are 10 random Crockford characters (50 bits, service.reports.references): over 100 million
reports about four pairs would collide, and nothing retries on a collision. So uniqueness moves to a side table,
`report_references(reference PK, report_id UNIQUE → reports ON DELETE CASCADE)`, filled by a trigger on
`reports` after each insert (and update of `reference`). A duplicate reference still fails the intake's INSERT
with a unique violation, as before; lookups by reference still read `reports` through its (non-unique) index.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 11:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

BLOCK_SIZE = 4_194_304  # 2^22 ids a month, the function's default
MONTHS_AHEAD = 3
LEGACY = 'reports_legacy'

CREATE_REPORT_PARTITIONS = f"""
CREATE FUNCTION create_report_partitions(first_month date, months_ahead int, block_size int DEFAULT {BLOCK_SIZE})
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k int;
    month_start date;
    last_month date;
    next_id bigint;
    block_start int;
    next_report_id bigint;
    part text;
BEGIN
    -- Serialises two concurrent calls (each appends after the last block).
    LOCK TABLE report_id_blocks IN EXCLUSIVE MODE;
    SELECT max(month), max(end_id) INTO last_month, next_id FROM report_id_blocks;
    IF last_month IS NULL THEN
        RAISE EXCEPTION 'report_id_blocks is empty: migration 0014 records the first block';
    END IF;
    FOR k IN 0..months_ahead LOOP
        month_start := CAST(date_trunc('month', first_month) + make_interval(months => k) AS date);
        -- Blocks follow the months: never one for a month before the last block's.
        CONTINUE WHEN month_start <= last_month;
        IF next_id + block_size > 2147483647 THEN
            RAISE EXCEPTION 'report ids: no room left in integer for the block of %', month_start;
        END IF;
        part := 'reports_' || to_char(month_start, 'YYYY_MM');
        INSERT INTO report_id_blocks (month, first_id, end_id) VALUES (month_start, next_id, next_id + block_size);
        EXECUTE format('CREATE TABLE %I PARTITION OF reports FOR VALUES FROM (%s) TO (%s)', part, next_id,
                       next_id + block_size);
        last_month := month_start;
        next_id := next_id + block_size;
        RETURN NEXT part;
    END LOOP;
    -- Into this month's block, forward only; the lock holds inserts back between reading and moving.
    SELECT first_id INTO block_start FROM report_id_blocks
    WHERE month = CAST(date_trunc('month', first_month) AS date);
    SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END INTO next_report_id FROM reports_id_seq;
    IF next_report_id < block_start THEN
        LOCK TABLE reports IN SHARE ROW EXCLUSIVE MODE;
        -- Read again under the lock: never backwards.
        PERFORM setval('reports_id_seq', GREATEST(block_start, (
            SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM reports_id_seq)), false);
    END IF;
END
$$"""
RECORD_REFERENCE = """
CREATE FUNCTION record_report_reference() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO report_references (reference, report_id) VALUES (NEW.reference, NEW.id);
    ELSIF NEW.reference IS DISTINCT FROM OLD.reference THEN
        UPDATE report_references SET reference = NEW.reference WHERE report_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$"""
REFERENCE_TRIGGER = ('CREATE TRIGGER reports_reference_unique AFTER INSERT OR UPDATE OF reference ON reports '
                     'FOR EACH ROW EXECUTE FUNCTION record_report_reference()')


def _scalar(sql: str, **params):
    return op.get_bind().execute(sa.text(sql), params).scalar()


def _rows(sql: str, **params) -> list[tuple]:
    return [tuple(row) for row in op.get_bind().execute(sa.text(sql), params).all()]


def _indexes(table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX …) of the table's indexes that back no constraint (the key, the unique reference)."""
    return _rows("""
        SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = CAST(:t AS regclass)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.conrelid = x.indrelid)
        ORDER BY i.relname""", t=table)


def _outgoing_keys(table: str) -> list[tuple[str, str]]:
    return _rows("""
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' AND conparentid = 0 ORDER BY conname""", t=table)


def _incoming_keys() -> list[tuple[str, str, str, bool]]:
    """(table, name, definition, whether the table is partitioned) of the foreign keys to `reports`, as declared
    (a partitioned table's own, not their copies on its partitions)."""
    return _rows("""
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), t.relkind = 'p'
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        WHERE c.confrelid = CAST('reports' AS regclass) AND c.contype = 'f' AND c.conparentid = 0
        ORDER BY 1, 2""")


def _drop_keys(keys) -> None:
    for table, name, _, _ in keys:
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT {name}')


def _add_keys(keys) -> None:
    """Each key to the new `reports`. NOT VALID then VALIDATE where PostgreSQL 15 allows it (not on a partitioned
    table); in one transaction that is one check of the rows either way, done after every key exists."""
    for table, name, definition, partitioned in keys:
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT {name} {definition}{"" if partitioned else " NOT VALID"}')
    for table, name, _, partitioned in keys:
        if not partitioned:
            op.execute(f'ALTER TABLE {table} VALIDATE CONSTRAINT {name}')


def upgrade():
    # Inserts, updates and reads of reports wait for the end of the migration.
    op.execute('LOCK TABLE reports IN ACCESS EXCLUSIVE MODE')
    indexes, outgoing, incoming = _indexes('reports'), _outgoing_keys('reports'), _incoming_keys()
    _drop_keys(incoming)

    # The table as it is becomes the partition of the ids handed out so far.
    op.execute(f'ALTER TABLE reports RENAME TO {LEGACY}')
    for name, _ in indexes:
        op.execute(f'ALTER INDEX {name} RENAME TO {name.replace("reports", LEGACY, 1)}')
    op.execute(f'ALTER TABLE {LEGACY} RENAME CONSTRAINT pk_reports TO pk_{LEGACY}')
    op.execute(f'ALTER TABLE {LEGACY} RENAME CONSTRAINT uq_reports_reference TO uq_{LEGACY}_reference')
    op.execute('ALTER SEQUENCE reports_id_seq OWNED BY NONE')
    op.execute(f'CREATE TABLE reports (LIKE {LEGACY} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE) '
               'PARTITION BY RANGE (id)')
    first_id = _scalar(f'SELECT coalesce(max(id), 0) + 1 FROM {LEGACY}')
    op.execute(f'ALTER TABLE reports ATTACH PARTITION {LEGACY} FOR VALUES FROM (MINVALUE) TO ({first_id})')

    # Declared on the parent, the key, the indexes and the foreign keys adopt the legacy table's equal ones.
    op.execute('ALTER TABLE reports ADD CONSTRAINT pk_reports PRIMARY KEY (id)')
    for _, definition in indexes:
        op.execute(definition)
    for name, definition in outgoing:
        op.execute(f'ALTER TABLE reports ADD CONSTRAINT {name} {definition}')
    op.execute('CREATE INDEX ix_reports_reference ON reports (reference)')

    # Reference uniqueness across partitions: a side table, filled by a trigger.
    op.execute("""CREATE TABLE report_references (
        reference text NOT NULL CONSTRAINT pk_report_references PRIMARY KEY,
        report_id integer NOT NULL CONSTRAINT uq_report_references_report_id UNIQUE)""")
    op.execute(f'INSERT INTO report_references (reference, report_id) SELECT reference, id FROM {LEGACY}')
    op.execute('ALTER TABLE report_references ADD CONSTRAINT fk_report_references_report_id_reports '
               'FOREIGN KEY (report_id) REFERENCES reports(id) ON DELETE CASCADE')
    op.execute(f'ALTER TABLE {LEGACY} DROP CONSTRAINT uq_{LEGACY}_reference')
    op.execute(RECORD_REFERENCE)
    op.execute(REFERENCE_TRIGGER)

    # This month's block starts where the ids are; the function adds the coming months.
    op.execute("""CREATE TABLE report_id_blocks (
        month date NOT NULL CONSTRAINT pk_report_id_blocks PRIMARY KEY,
        first_id integer NOT NULL,
        end_id integer NOT NULL,
        CONSTRAINT ck_report_id_blocks_ids CHECK (first_id < end_id))""")
    month = _scalar("SELECT CAST(date_trunc('month', now() AT TIME ZONE 'UTC') AS date)")
    op.execute(f"INSERT INTO report_id_blocks VALUES ('{month}', {first_id}, {first_id + BLOCK_SIZE})")
    op.execute(f'CREATE TABLE reports_{month:%Y_%m} PARTITION OF reports '
               f'FOR VALUES FROM ({first_id}) TO ({first_id + BLOCK_SIZE})')
    op.execute(CREATE_REPORT_PARTITIONS)
    op.execute(f"SELECT create_report_partitions('{month}', {MONTHS_AHEAD})")

    _add_keys(incoming)
    op.execute('ALTER SEQUENCE reports_id_seq OWNED BY reports.id')
    op.execute('ANALYZE reports')


def downgrade():
    """Back to one plain table, rows copied (like 0013's downgrade); reference unique on it again."""
    op.execute('LOCK TABLE reports IN ACCESS EXCLUSIVE MODE')
    op.execute('DROP FUNCTION create_report_partitions(date, int, int)')
    op.execute('DROP TABLE report_id_blocks')
    op.execute('DROP TRIGGER reports_reference_unique ON reports')
    op.execute('DROP FUNCTION record_report_reference()')
    op.execute('DROP TABLE report_references')
    indexes = [(name, definition) for name, definition in _indexes('reports') if name != 'ix_reports_reference']
    outgoing, incoming = _outgoing_keys('reports'), _incoming_keys()
    _drop_keys(incoming)

    old = 'reports_partitioned'
    op.execute(f'ALTER TABLE reports RENAME TO {old}')
    for name, _ in indexes + [('ix_reports_reference', '')]:
        op.execute(f'ALTER INDEX {name} RENAME TO {name}_partitioned')
    op.execute(f'ALTER TABLE {old} RENAME CONSTRAINT pk_reports TO pk_{old}')
    op.execute('ALTER SEQUENCE reports_id_seq OWNED BY NONE')
    op.execute(f'CREATE TABLE reports (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)')
    op.execute(f'INSERT INTO reports SELECT * FROM {old}')
    op.execute('ALTER TABLE reports ADD CONSTRAINT pk_reports PRIMARY KEY (id)')
    op.execute('ALTER TABLE reports ADD CONSTRAINT uq_reports_reference UNIQUE (reference)')
    for _, definition in indexes:
        op.execute(definition.replace(' ON ONLY public.reports ', ' ON public.reports '))
    for name, definition in outgoing:
        op.execute(f'ALTER TABLE reports ADD CONSTRAINT {name} {definition}')
    op.execute('ALTER SEQUENCE reports_id_seq OWNED BY reports.id')
    op.execute(f'DROP TABLE {old}')
    _add_keys(incoming)
    op.execute('ANALYZE reports')
