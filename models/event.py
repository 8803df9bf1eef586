"""Append-only timeline of a report. Response times are derived from these rows, never typed in."""
import enum

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db


class EventType(str, enum.Enum):
    CREATED = "created"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    NOTE = "note"
    TRANSFERRED = "transferred"            # transfer requested to another unit
    TRANSFER_ACCEPTED = "transfer_accepted"
    TRANSFER_DECLINED = "transfer_declined"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"
    MERGED = "merged"                      # joined an incident
    SPLIT = "split"                        # left an incident
    CITIZEN_NOTIFIED = "citizen_notified"  # a push was delivered
    SLA_REMINDER = "sla_reminder"
    ESCALATED = "escalated"                # sent up to the unit's supervisors
    FEEDBACK = "feedback"
    FLAGGED = "flagged"                    # held for supervisor review (abuse)


# Events the resident sees in the app timeline and is notified about.
CITIZEN_VISIBLE = frozenset({
    EventType.CREATED, EventType.ROUTED, EventType.ACKNOWLEDGED, EventType.DISPATCHED,
    EventType.TRANSFER_ACCEPTED, EventType.RESOLVED, EventType.CLOSED, EventType.REJECTED,
    EventType.REOPENED, EventType.MERGED,
})


class ReportEvent(db.Model):
    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    # Who: an officer, or the system / resident / partner (actor_kind).
    actor_kind: Mapped[str] = mapped_column(Text, nullable=False, server_default="system")
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    # Unit in charge when the event happened; for transfers, the target unit too.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    target_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    outcome_code: Mapped[str | None] = mapped_column(ForeignKey("outcome_codes.code"))
    # French text: routing explanation, rejection or transfer reason, internal note…
    text: Mapped[str | None] = mapped_column(Text)
    citizen_visible: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    data: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")

    report = relationship("Report", back_populates="events")
    officer = relationship("Officer")

    __table_args__ = (
        Index("ix_report_events_report_id_type", "report_id", "type"),
        Index("ix_report_events_at", "at"),
    )
