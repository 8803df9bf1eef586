"""indicators: long-period dashboard views computed ahead by a job

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 22:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'indicator_snapshots',
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_indicator_snapshots')),
    )


def downgrade():
    op.drop_table('indicator_snapshots')
