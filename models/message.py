"""Messages on a report: the unit in charge and the resident write to each other in the report's own thread."""
import enum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, LargeBinary, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db


class MessageAuthor(str, enum.Enum):
    UNIT = "unit"          # an officer of the unit in charge; the resident sees the unit, never the officer
    RESIDENT = "resident"  # the reporting device


class ReportMessage(db.Model):
    __tablename__ = "report_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), nullable=False)
    author: Mapped[str] = mapped_column(Text, nullable=False)
    # The officer who wrote it (console and audit only) and the unit in charge when it was written.
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False)
    # Personal data when the resident writes it: cleared by the retention purge, never logged.
    text: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    # When the other side read it: the unit for a resident's message, the resident for the unit's.
    read_at = mapped_column(DateTime(timezone=True))
    # A resident's retried post returns the first message (scoped by the report, which belongs to one device).
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    request_hash: Mapped[str | None] = mapped_column(Text)

    photos = relationship("ReportMessagePhoto", back_populates="message", order_by="ReportMessagePhoto.id",
                          cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("author IN ('unit', 'resident')", name="author"),
        CheckConstraint("char_length(text) <= 2000", name="text_length"),
        Index("ix_report_messages_report_id_created_at", "report_id", "created_at"),
        Index("uq_report_messages_idempotency", "report_id", "idempotency_key", unique=True,
              postgresql_where="idempotency_key IS NOT NULL"),
        # The console's badge and queue filter: the unit's unread resident messages.
        Index("ix_report_messages_unread", "report_id",
              postgresql_where="author = 'resident' AND read_at IS NULL"),
    )


class ReportMessagePhoto(db.Model):
    """A photo attached to a message, re-encoded without metadata exactly like an intake photo."""

    __tablename__ = "report_message_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("report_messages.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    content_type: Mapped[str] = mapped_column(Text, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    message = relationship("ReportMessage", back_populates="photos")


class CannedQuestion(db.Model):
    """A question officers often ask about a category (which entrance? a photo of the plate?): data, edited by
    administrators in the console."""

    __tablename__ = "canned_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code", ondelete="CASCADE"), nullable=False,
                                               index=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (CheckConstraint("char_length(text) BETWEEN 1 AND 500", name="text_length"),)
