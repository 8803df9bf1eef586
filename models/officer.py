"""Officer accounts of the console."""
import enum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db


class Role(str, enum.Enum):
    AGENT = "agent"            # own unit
    SUPERVISEUR = "superviseur"  # own unit and the units below it
    ADMIN = "admin"            # everything, plus accounts


class Officer(db.Model):
    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    locked_until = mapped_column(DateTime(timezone=True))
    last_login_at = mapped_column(DateTime(timezone=True))
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    unit = relationship("Unit", lazy="joined")

    __table_args__ = (CheckConstraint("role IN ('agent', 'superviseur', 'admin')", name="role"),)


class OfficerSession(db.Model):
    """A console session held server-side: the cookie carries only its random token, so ending the row (logout,
    password change, deactivation, expiry) ends every copy of the cookie."""
    __tablename__ = "officer_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)  # SHA-256 of the cookie's token
    created_at = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at = mapped_column(DateTime(timezone=True))
