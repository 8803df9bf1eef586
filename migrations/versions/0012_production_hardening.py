"""production hardening: keyed audit chain with signed checkpoints, TRUNCATE refused, server-side console sessions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-14 10:00:00

The audit chain becomes an HMAC chain keyed by AUDIT_HMAC_KEY, which the database never holds: the existing
entries are verified under the old (unkeyed SHA-256) chain and, only if intact, re-chained with the key; a broken
old chain stops the upgrade rather than being laundered.
"""
import hashlib
import hmac
import json
from datetime import timezone

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64


def _blob(prev, row) -> bytes:
    payload = {"prev": prev, "at": row.at.astimezone(timezone.utc).isoformat(), "officer_id": row.officer_id,
               "actor": row.actor, "action": row.action, "target_type": row.target_type,
               "target_id": row.target_id, "details": row.details}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _rechain_with_key(connection) -> None:
    rows = connection.execute(sa.text("SELECT id, at, officer_id, actor, action, target_type, target_id, details, "
                                      "prev_hash, hash FROM audit_log ORDER BY id")).all()
    if not rows:
        return
    prev = GENESIS_HASH
    for row in rows:
        if row.prev_hash != prev or hashlib.sha256(_blob(prev, row)).hexdigest() != row.hash:
            raise RuntimeError(f"audit_log entry {row.id} does not verify under the unkeyed chain: not re-chaining "
                               "a tampered log (run `flask audit verify` on the previous release)")
        prev = row.hash
    key = current_app.config["AUDIT_HMAC_KEY"].encode("utf-8")
    connection.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    prev = GENESIS_HASH
    for row in rows:
        new_hash = hmac.new(key, _blob(prev, row), hashlib.sha256).hexdigest()
        connection.execute(sa.text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :id"),
                           {"p": prev, "h": "rechain-" + new_hash, "id": row.id})
        prev = new_hash
    # Two passes: the unique hashes never collide with an old value midway.
    connection.execute(sa.text("UPDATE audit_log SET hash = substr(hash, 9) WHERE hash LIKE 'rechain-%'"))
    connection.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def upgrade():
    op.create_table(
        'audit_checkpoints',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('entry_id', sa.BigInteger(), nullable=False),
        sa.Column('entry_hash', sa.Text(), nullable=False),
        sa.Column('entries', sa.BigInteger(), nullable=False),
        sa.Column('mac', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    )
    op.create_table(
        'officer_sessions',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('officer_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_officer_sessions_officer_id_officers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_officer_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_officer_sessions_token_hash')),
    )
    op.create_index(op.f('ix_officer_sessions_officer_id'), 'officer_sessions', ['officer_id'], unique=False)
    # Append-only both, TRUNCATE included (a statement-level trigger; the row-level one never sees a TRUNCATE).
    op.execute("""
        CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """)
    for table in ("audit_log", "audit_checkpoints"):
        op.execute(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
        """)
    _rechain_with_key(op.get_bind())


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.drop_index(op.f('ix_officer_sessions_officer_id'), table_name='officer_sessions')
    op.drop_table('officer_sessions')
    op.drop_table('audit_checkpoints')
