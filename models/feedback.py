"""The resident's rating of the answer, once per report, after closure."""
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, SmallInteger, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class Feedback(db.Model):
    __tablename__ = "feedback"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    reactivite: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    courtoisie: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    information: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (
        CheckConstraint("reactivite BETWEEN 1 AND 5 AND courtoisie BETWEEN 1 AND 5 AND information BETWEEN 1 AND 5",
                        name="scores"),
        CheckConstraint("char_length(comment) <= 1000", name="comment_length"),
    )
