"""indicators: per-report clocks table and refresh log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'indicator_report_clocks',
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('week', sa.Date(), nullable=False),
        sa.Column('hour', sa.SmallInteger(), nullable=False),
        sa.Column('isodow', sa.SmallInteger(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('category_code', sa.Text(), nullable=False),
        sa.Column('commune_insee', sa.Text(), nullable=True),
        sa.Column('departement_code', sa.Text(), nullable=True),
        sa.Column('territory_ids', sa.ARRAY(sa.Integer()), server_default='{}', nullable=False),
        sa.Column('status', sa.Text(), nullable=False),
        sa.Column('is_open', sa.Boolean(), nullable=False),
        sa.Column('from_app', sa.Boolean(), nullable=False),
        sa.Column('outcome_code', sa.Text(), nullable=True),
        sa.Column('reopened', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('transferred', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('acknowledge_due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('dispatch_due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolve_due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('informed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('acknowledge_s', sa.Float(), nullable=True),
        sa.Column('dispatch_s', sa.Float(), nullable=True),
        sa.Column('resolve_s', sa.Float(), nullable=True),
        sa.Column('inform_s', sa.Float(), nullable=True),
        sa.Column('feedback_reactivite', sa.SmallInteger(), nullable=True),
        sa.Column('feedback_courtoisie', sa.SmallInteger(), nullable=True),
        sa.Column('feedback_information', sa.SmallInteger(), nullable=True),
        sa.PrimaryKeyConstraint('report_id', name=op.f('pk_indicator_report_clocks')),
    )
    op.create_index('ix_indicator_report_clocks_received_at', 'indicator_report_clocks', ['received_at'])
    op.create_index('ix_indicator_report_clocks_unit_received', 'indicator_report_clocks', ['unit_id', 'received_at'])
    op.create_index('ix_indicator_report_clocks_category_received', 'indicator_report_clocks',
                    ['category_code', 'received_at'])
    op.create_index('ix_indicator_report_clocks_commune', 'indicator_report_clocks', ['commune_insee'])
    op.create_index('ix_indicator_report_clocks_departement', 'indicator_report_clocks', ['departement_code'])
    op.create_index('ix_indicator_report_clocks_territories', 'indicator_report_clocks', ['territory_ids'],
                    postgresql_using='gin')
    op.create_index('ix_indicator_report_clocks_open', 'indicator_report_clocks', ['unit_id'],
                    postgresql_where=sa.text('is_open'))

    op.create_table(
        'indicator_refreshes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('last_event_id', sa.BigInteger(), nullable=False),
        sa.Column('full', sa.Boolean(), nullable=False),
        sa.Column('reports_refreshed', sa.Integer(), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator_refreshes')),
    )


def downgrade():
    op.drop_table('indicator_refreshes')
    op.drop_table('indicator_report_clocks')
