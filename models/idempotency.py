"""Idempotency keys of intake requests: a retried request returns the first report and writes nothing."""

from sqlalchemy import DateTime, ForeignKey, Text, func, PrimaryKeyConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class IdempotencyRecord(db.Model):
    __tablename__ = "idempotency_keys"

    # Scoped per caller: a device id, or "partner:<key id>" for Open311.
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    key: Mapped[str] = mapped_column(Text, nullable=False)
    # Hash of the request body: the same key with another body is a client error (422).
    request_hash: Mapped[str] = mapped_column(Text, nullable=False)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), nullable=False)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (PrimaryKeyConstraint("scope", "key"),)
