"""API keys of Open311 partners (mairies, police municipale CRMs…), stored hashed."""
from sqlalchemy import DateTime, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class PartnerKey(db.Model):
    __tablename__ = "partner_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    # First characters of the key, to recognise it in listings without revealing it.
    prefix: Mapped[str] = mapped_column(Text, nullable=False)
    key_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    revoked_at = mapped_column(DateTime(timezone=True))
    last_used_at = mapped_column(DateTime(timezone=True))
