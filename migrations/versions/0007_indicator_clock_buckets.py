"""indicators: fine log-spaced histogram bucket of each clock, stored with the clocks

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-26 20:25:00

The edges are repeated here on purpose (a migration must not depend on code that changes later); the test
`test_histogram_edges_match_the_database` checks that service.indicators.HIST_EDGES buckets values identically.
"""
import math

from alembic import op

revision = '0007'
down_revision = '0001'
branch_labels = None
depends_on = '0004'  # the clocks table it extends (another branch until the lead chains them)

_COARSE = (300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)
_EDGES = sorted(set(round(math.exp(k / 16), 3) for k in range(0, 296)) | set(float(e) for e in _COARSE))
_CLOCKS = ("acknowledge", "dispatch", "resolve", "inform")


def upgrade():
    edges = "{" + ",".join(repr(e) for e in _EDGES) + "}"
    # One ALTER TABLE: the table is rewritten once. Generated, so every insert path fills them.
    op.execute("ALTER TABLE indicator_report_clocks " + ", ".join(
        f"ADD COLUMN {c}_b smallint GENERATED ALWAYS AS (width_bucket({c}_s, '{edges}'::float8[])) STORED"
        for c in _CLOCKS))


def downgrade():
    op.execute("ALTER TABLE indicator_report_clocks " + ", ".join(f"DROP COLUMN {c}_b" for c in _CLOCKS))
