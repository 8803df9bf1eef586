"""API keys of Open311 partners: create (shown once), verify, revoke, list. Only a SHA-256 hash is stored."""
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from models import PartnerKey, db
from service.platform import clock

# Keys carry a recognisable prefix so a leaked one is easy to spot in logs or repositories.
KEY_PREFIX = "pxk_"


@dataclass(frozen=True)
class CreatedKey:
    partner_key: PartnerKey
    secret: str  # the clear key: printed once, never stored


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(name: str) -> CreatedKey:
    """Create a key for a partner and commit; the clear secret is returned once and never kept."""
    name = (name or "").strip()
    if not name:
        raise ValueError("Le nom du partenaire est obligatoire.")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = PartnerKey(name=name, prefix=secret[:len(KEY_PREFIX) + 6], key_hash=hash_key(secret))
    db.session.add(key)
    db.session.commit()
    return CreatedKey(key, secret)


def active_key(secret: str | None) -> PartnerKey | None:
    """The active key matching `secret`, or None (missing, unknown or revoked). Reads only."""
    if not secret:
        return None
    # Lookup by hash: the hash is unique and indexed, so no timing-sensitive comparison of secrets happens here.
    key = db.session.execute(
        select(PartnerKey).where(PartnerKey.key_hash == hash_key(secret.strip()))).scalar_one_or_none()
    return key if key is not None and key.revoked_at is None else None


def verify_key(secret: str | None) -> PartnerKey | None:
    """The active key matching `secret`, or None (missing, unknown or revoked). Records the last use."""
    key = active_key(secret)
    if key is None:
        return None
    # Written by the caller's commit (the intake transaction); not worth a transaction of its own.
    key.last_used_at = clock.now()
    return key


def revoke_key(key_id: int) -> PartnerKey | None:
    """Revoke a key (idempotent) and commit; None if no such key."""
    key = db.session.get(PartnerKey, key_id)
    if key is None:
        return None
    if key.revoked_at is None:
        db.session.execute(update(PartnerKey).where(PartnerKey.id == key_id).values(revoked_at=clock.now()))
        db.session.commit()
        db.session.refresh(key)
    return key


def list_keys() -> list[PartnerKey]:
    return list(db.session.execute(select(PartnerKey).order_by(PartnerKey.id)).scalars())
