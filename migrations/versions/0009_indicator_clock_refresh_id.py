"""indicators: each clocks row names the refresh that wrote it; refreshes count the reports they removed

Lets a process that keeps every report's clocks in memory (service.statistics.indicator_store) read only what changed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 00:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # A constant default: no table rewrite, existing rows read as written before any tracked refresh.
    op.add_column('indicator_report_clocks',
                  sa.Column('refresh_id', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_indicator_report_clocks_refresh', 'indicator_report_clocks', ['refresh_id'])
    op.add_column('indicator_refreshes',
                  sa.Column('reports_removed', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    op.drop_column('indicator_refreshes', 'reports_removed')
    op.drop_index('ix_indicator_report_clocks_refresh', table_name='indicator_report_clocks')
    op.drop_column('indicator_report_clocks', 'refresh_id')
