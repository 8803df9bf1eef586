"""indicators: each report's clocks packed for the dashboard (one bytea per row, generated)

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-26 20:25:00

The expression is repeated here on purpose (a migration must not follow later code changes); it must stay equal
to models.indicator.FRAME_SQL, whose layout service.statistics.indicator_frame reads.
"""
from alembic import op

revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None

_FRAME_SQL = """
float8send(coalesce(acknowledge_s, 'NaN'::float8)) || float8send(coalesce(dispatch_s, 'NaN'::float8))
|| float8send(coalesce(resolve_s, 'NaN'::float8)) || float8send(coalesce(inform_s, 'NaN'::float8))
|| float8send(extract(epoch FROM received_at - '2000-01-01 00:00:00+00'::timestamptz)::float8)
|| float8send(extract(epoch FROM acknowledge_due_at - '2000-01-01 00:00:00+00'::timestamptz)::float8)
|| float8send(extract(epoch FROM dispatch_due_at - '2000-01-01 00:00:00+00'::timestamptz)::float8)
|| float8send(extract(epoch FROM resolve_due_at - '2000-01-01 00:00:00+00'::timestamptz)::float8)
|| int4send(unit_id)
|| int4send(CASE WHEN commune_insee IS NULL THEN -1
                 WHEN substr(commune_insee, 2, 1) = 'A' THEN 120000 + substr(commune_insee, 3)::int
                 WHEN substr(commune_insee, 2, 1) = 'B' THEN 220000 + substr(commune_insee, 3)::int
                 ELSE commune_insee::int END)
|| int4send(is_open::int + reopened::int * 2 + from_app::int * 4 + (informed_at IS NOT NULL)::int * 8
            + coalesce((acknowledged_at <= acknowledge_due_at)::int, 0) * 16
            + coalesce((acknowledged_at > acknowledge_due_at)::int, 0) * 32
            + coalesce((dispatched_at <= dispatch_due_at)::int, 0) * 64
            + coalesce((dispatched_at > dispatch_due_at)::int, 0) * 128
            + coalesce((resolved_at <= resolve_due_at)::int, 0) * 256
            + coalesce((resolved_at > resolve_due_at)::int, 0) * 512
            + (feedback_reactivite IS NOT NULL)::int * 1024)
|| int2send((day - DATE '2000-01-03')::int2)
|| int2send((isodow * 24 + hour)::int2)
|| int2send(coalesce(feedback_reactivite * 100 + feedback_courtoisie * 10 + feedback_information, 0)::int2)
"""


def upgrade():
    op.execute(f"ALTER TABLE indicator_report_clocks ADD COLUMN frame bytea GENERATED ALWAYS AS ({_FRAME_SQL}) STORED")


def downgrade():
    op.execute("ALTER TABLE indicator_report_clocks DROP COLUMN frame")
