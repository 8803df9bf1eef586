"""retention: a category also says how long a report never closed is kept after its last activity

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('categories', sa.Column('inactive_retention_days', sa.Integer(), server_default='730',
                                          nullable=False))


def downgrade():
    op.drop_column('categories', 'inactive_retention_days')
