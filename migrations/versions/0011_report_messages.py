"""messages: the unit and the resident write to each other on a report, with photos; canned questions per category

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_messages',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('author', sa.Text(), nullable=False),
        sa.Column('officer_id', sa.Integer(), nullable=True),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), server_default='', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('idempotency_key', sa.Text(), nullable=True),
        sa.Column('request_hash', sa.Text(), nullable=True),
        sa.CheckConstraint("author IN ('unit', 'resident')", name=op.f('ck_report_messages_author')),
        sa.CheckConstraint('char_length(text) <= 2000', name=op.f('ck_report_messages_text_length')),
        sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_report_messages_officer_id_officers')),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_messages_report_id_reports'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_report_messages_unit_id_units')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_messages')),
    )
    op.create_index('ix_report_messages_report_id_created_at', 'report_messages', ['report_id', 'created_at'])
    op.create_index('uq_report_messages_idempotency', 'report_messages', ['report_id', 'idempotency_key'],
                    unique=True, postgresql_where=sa.text('idempotency_key IS NOT NULL'))
    op.create_index('ix_report_messages_unread', 'report_messages', ['report_id'],
                    postgresql_where=sa.text("author = 'resident' AND read_at IS NULL"))
    op.create_table(
        'report_message_photos',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.BigInteger(), nullable=False),
        sa.Column('content_type', sa.Text(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['report_messages.id'],
                                name=op.f('fk_report_message_photos_message_id_report_messages'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_message_photos')),
    )
    op.create_index(op.f('ix_report_message_photos_message_id'), 'report_message_photos', ['message_id'])
    op.create_table(
        'canned_questions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('category_code', sa.Text(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('position', sa.Integer(), server_default='0', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('char_length(text) BETWEEN 1 AND 500', name=op.f('ck_canned_questions_text_length')),
        sa.ForeignKeyConstraint(['category_code'], ['categories.code'],
                                name=op.f('fk_canned_questions_category_code_categories'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_questions')),
    )
    op.create_index(op.f('ix_canned_questions_category_code'), 'canned_questions', ['category_code'])


def downgrade():
    op.drop_table('canned_questions')
    op.drop_table('report_message_photos')
    op.drop_table('report_messages')
