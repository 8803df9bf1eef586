"""Append-only, hash-chained audit log: each row's hash covers its content and the previous row's hash.

Writers serialise on a transaction-scoped advisory lock, so concurrent transactions can never fork the chain;
the lock is released at commit or rollback. `verify()` recomputes the whole chain and names the first bad row.
A database trigger (migration 0003) refuses UPDATE and DELETE on the table.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, text

from models import AuditEntry, Officer, db
from service.platform import clock

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the advisory lock that guards the chain head.
_CHAIN_LOCK_KEY = 0x50524F58  # "PROX"


def _canonical_details(details: dict | None) -> dict:
    # What JSONB gives back must hash exactly like what we hashed: keep only JSON-native values.
    return json.loads(json.dumps(details or {}, default=str))


def compute_hash(prev_hash: str, at: datetime, officer_id, actor: str, action: str, target_type, target_id,
                 details: dict) -> str:
    payload = {
        "prev": prev_hash,
        "at": at.astimezone(timezone.utc).isoformat(),
        "officer_id": officer_id,
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "details": details,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def record(officer_or_actor, action: str, target_type: str | None = None, target_id=None,
           details: dict | None = None) -> AuditEntry:
    """Append one entry to the session (the caller commits, in the same transaction as what it audits).

    `officer_or_actor` is an Officer (or the console's current user) or a string such as "cli" or "system".
    """
    officer = getattr(officer_or_actor, "officer", officer_or_actor)
    if isinstance(officer, Officer):
        officer_id, actor = officer.id, officer.email
    else:
        officer_id, actor = None, str(officer_or_actor or "system")
    db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    prev = db.session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS_HASH
    at = clock.now()
    target_id = None if target_id is None else str(target_id)
    details = _canonical_details(details)
    entry = AuditEntry(at=at, officer_id=officer_id, actor=actor, action=action, target_type=target_type,
                       target_id=target_id, details=details, prev_hash=prev,
                       hash=compute_hash(prev, at, officer_id, actor, action, target_type, target_id, details))
    db.session.add(entry)
    db.session.flush()  # take the id now, while the lock is held, so id order is chain order
    return entry


@dataclass
class VerifyResult:
    checked: int
    broken_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(batch_size: int = 5000) -> VerifyResult:
    """Recompute every hash in id order; stop at the first row whose link or content does not match."""
    prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = db.session.execute(
            select(AuditEntry.id, AuditEntry.at, AuditEntry.officer_id, AuditEntry.actor, AuditEntry.action,
                   AuditEntry.target_type, AuditEntry.target_id, AuditEntry.details, AuditEntry.prev_hash,
                   AuditEntry.hash)
            .where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch_size)).all()
        if not rows:
            return VerifyResult(checked)
        for row in rows:
            if row.prev_hash != prev:
                return VerifyResult(checked, row.id, "chaînage rompu (prev_hash ne correspond pas à la ligne "
                                                     "précédente : ligne supprimée ou insérée)")
            expected = compute_hash(row.prev_hash, row.at, row.officer_id, row.actor, row.action, row.target_type,
                                    row.target_id, row.details)
            if row.hash != expected:
                return VerifyResult(checked, row.id, "contenu modifié (empreinte recalculée différente)")
            prev = row.hash
            checked += 1
            last_id = row.id
