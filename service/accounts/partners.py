"""API keys of Open311 partners: create (shown once), verify, revoke, list. Only a SHA-256 hash is stored."""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, text, update
from sqlalchemy.orm.attributes import set_committed_value

from models import PartnerKey, db
from service.platform import audit, clock

# Keys carry a recognisable prefix so a leaked one is easy to spot in logs or repositories.
KEY_PREFIX = "pxk_"


@dataclass(frozen=True)
class CreatedKey:
    partner_key: PartnerKey
    secret: str  # the clear key: printed once, never stored


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(name: str, actor="cli") -> CreatedKey:
    """Create a key for a partner and commit, audited; the clear secret is returned once and never kept."""
    name = (name or "").strip()
    if not name:
        raise ValueError("Le nom du partenaire est obligatoire.")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = PartnerKey(name=name, prefix=secret[:len(KEY_PREFIX) + 6], key_hash=hash_key(secret))
    db.session.add(key)
    db.session.flush()
    audit.record(actor, "partner_key.create", "partner_key", key.id, {"name": name, "prefix": key.prefix})
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
    """The active key matching `secret`, or None (missing, unknown or revoked). Records the last use (to the
    minute, never waiting for another request)."""
    key = active_key(secret)
    if key is None:
        return None
    _note_use(key)
    return key


# "Last used" is bookkeeping for administrators, kept to the minute: at most one write per key and minute, and a
# request never waits for it. Written by every create, the row lock made concurrent creates with one key wait for
# each other's commit; now a request whose key row is being written by another skips the bookkeeping (SKIP LOCKED),
# and NO KEY UPDATE leaves the foreign-key checks of concurrent reports (KEY SHARE) free.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_NOTE_USE = text("""
    UPDATE partner_keys SET last_used_at = :now
    WHERE id = (SELECT id FROM partner_keys
                WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :now - make_interval(secs => :resolution_s))
                FOR NO KEY UPDATE SKIP LOCKED)""")


def _note_use(key: PartnerKey) -> None:
    now = clock.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    written = db.session.execute(_NOTE_USE, {"id": key.id, "now": now,
                                             "resolution_s": LAST_USED_RESOLUTION.total_seconds()}).rowcount
    if written:
        set_committed_value(key, "last_used_at", now)  # the loaded row says what was written, with no second UPDATE


def revoke_key(key_id: int, actor="cli") -> PartnerKey | None:
    """Revoke a key (idempotent) and commit, audited; None if no such key."""
    key = db.session.get(PartnerKey, key_id)
    if key is None:
        return None
    if key.revoked_at is None:
        db.session.execute(update(PartnerKey).where(PartnerKey.id == key_id).values(revoked_at=clock.now()))
        audit.record(actor, "partner_key.revoke", "partner_key", key_id, {"name": key.name, "prefix": key.prefix})
        db.session.commit()
        db.session.refresh(key)
    return key


def list_keys() -> list[PartnerKey]:
    return list(db.session.execute(select(PartnerKey).order_by(PartnerKey.id)).scalars())
