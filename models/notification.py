"""Outbox rows: what must be pushed to which token for which event, with delivery state."""
import enum
import uuid

from sqlalchemy import (BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text, func)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db


class NotificationState(str, enum.Enum):
    PENDING = "pending"      # written with its event, not yet handed to RQ
    QUEUED = "queued"        # handed to RQ
    SENDING = "sending"      # a worker holds it (one HTTP attempt in flight)
    RETRYING = "retrying"    # transient failure, will be retried at not_before
    SENT = "sent"            # FCM accepted it (fcm_message_name set)
    LOGGED = "logged"        # no FCM credentials: recorded as delivered to the log backend
    FAILED = "failed"        # permanent failure (400, retries exhausted)
    TOKEN_RETIRED = "token_retired"  # FCM said the token is dead
    SKIPPED = "skipped"      # nothing to send (no active token, notifications off)


class Notification(db.Model):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True)
    # No foreign key: report_events is partitioned by month, so its key is (id, at) (migration 0013). The row
    # still goes with its report (report_id above), and events are never deleted on their own.
    event_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    push_token_id: Mapped[int | None] = mapped_column(ForeignKey("push_tokens.id", ondelete="SET NULL"))
    # Message kind: report_routed, report_acknowledged, …, feedback_request.
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    locale: Mapped[str] = mapped_column(Text, nullable=False, server_default="fr")
    # The FCM v1 message body (without the token), rendered when the row is written.
    payload: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    urgent: Mapped[bool] = mapped_column(nullable=False, server_default="false")
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    # Not to be sent before (quiet hours, retry back-off).
    not_before = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    fcm_message_name: Mapped[str | None] = mapped_column(Text)
    claimed_at = mapped_column(DateTime(timezone=True))
    sent_at = mapped_column(DateTime(timezone=True))
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now())

    report = relationship("Report")

    # Not a column: set when the row is written already `queued` for dispatch_after_commit
    # (service/followup/notifications.py)
    # to enqueue its job once the transaction has committed.
    handed_to_queue = False

    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'queued', 'sending', 'retrying', 'sent', 'logged', 'failed', "
            "'token_retired', 'skipped')", name="state"),
        Index("ix_notifications_due", "not_before",
              postgresql_where="state IN ('pending', 'retrying', 'queued', 'sending')"),
    )
