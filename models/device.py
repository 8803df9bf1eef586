"""A resident's app installation: pseudonymous, authenticated by a hashed bearer secret."""
import uuid

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, Text, func, Uuid, CheckConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db


class Device(db.Model):
    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # SHA-256 of the bearer secret; the secret itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    platform: Mapped[str] = mapped_column(Text, nullable=False)
    locale: Mapped[str] = mapped_column(Text, nullable=False, server_default="fr")
    # {"quiet_hours": {"start": "22:00", "end": "07:00"}, "notify": true}
    preferences: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    # Set when a supervisor must review this device's reports before routing (abuse storms).
    blocked_at = mapped_column(DateTime(timezone=True))
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_seen_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    # Loaded when used (intake's outbox, device settings), not with every authenticated request.
    push_tokens = relationship("PushToken", back_populates="device", lazy="select", order_by="PushToken.id")

    __table_args__ = (
        CheckConstraint("platform IN ('android', 'ios', 'web')", name="platform"),
        CheckConstraint("locale IN ('fr', 'en')", name="locale"),
    )

    @property
    def active_push_tokens(self):
        return [t for t in self.push_tokens if t.active]


class PushToken(db.Model):
    """An FCM registration token of a device; retired when FCM says it is dead or the app replaces it."""

    __tablename__ = "push_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), nullable=False,
                                                 index=True)
    token: Mapped[str] = mapped_column(Text, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    retired_at = mapped_column(DateTime(timezone=True))
    retired_reason: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    device = relationship("Device", back_populates="push_tokens")
