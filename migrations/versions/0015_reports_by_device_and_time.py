"""reports: one index on (device_id, received_at) instead of (device_id)

Every intake counts the device's reports of the last day (daily cap) and of the storm window
(service.reports.intake_sql). With an index on device_id alone the planner combined it with the
received_at index in a bitmap AND that reads every report of the period nationwide; the composite index
reaches the device's recent reports directly and still serves every lookup by device alone (its first column),
such as the foreign key's ON DELETE SET NULL.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 12:10:00
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_reports_device_id_received_at', 'reports', ['device_id', 'received_at'])
    op.drop_index('ix_reports_device_id', table_name='reports')


def downgrade():
    op.create_index('ix_reports_device_id', 'reports', ['device_id'])
    op.drop_index('ix_reports_device_id_received_at', table_name='reports')
