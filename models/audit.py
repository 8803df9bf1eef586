"""Append-only, hash-chained audit log of staff actions and sensitive reads."""
from sqlalchemy import BigInteger, DateTime, ForeignKey, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    actor: Mapped[str] = mapped_column(Text, nullable=False)  # e-mail, "system", "cli", partner key name
    action: Mapped[str] = mapped_column(Text, nullable=False)
    target_type: Mapped[str | None] = mapped_column(Text)
    target_id: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    prev_hash: Mapped[str] = mapped_column(Text, nullable=False)
    hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)


class AuditCheckpoint(db.Model):
    """A signed statement that the chain was verified up to an entry: what `audit verify` resumes from, and what
    reveals a deleted tail or a truncation (the entry it names must still be there, with the same hash)."""
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at = mapped_column(DateTime(timezone=True), nullable=False)
    entry_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    entry_hash: Mapped[str] = mapped_column(Text, nullable=False)
    entries: Mapped[int] = mapped_column(BigInteger, nullable=False)  # entries in the chain up to entry_id
    mac: Mapped[str] = mapped_column(Text, nullable=False)  # HMAC of the above with AUDIT_HMAC_KEY
