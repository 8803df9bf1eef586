"""Append-only audit log, chained with a keyed HMAC and anchored by signed checkpoints.

Each row's hash is an HMAC (key AUDIT_HMAC_KEY, which the database never holds) of its content and the previous
row's hash: whoever can write to the database but lacks the key cannot rewrite a row, or a consistent tail, that
verifies. A checkpoint is a signed (entry id, hash, count) written after each successful verification, to the
database (`audit_checkpoints`), to the logs and, when AUDIT_CHECKPOINT_FILE is set, to a file outside the
database: the entry it names must still be there with the same hash, so a deleted tail or a truncation is seen.
`verify()` resumes from the last checkpoint (the journal page); `verify(full=True)` checks the whole chain and
every checkpoint (`flask audit verify --full`).

Writers serialise on a transaction-scoped advisory lock, so concurrent transactions can never fork the chain;
the lock is released at commit or rollback. Database triggers (migrations 0003, 0012) refuse UPDATE, DELETE and
TRUNCATE, and the application role may only INSERT and SELECT (service.platform.database_roles).
"""
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import func, select, text

from models import AuditCheckpoint, AuditEntry, Officer, db
from service.platform import clock

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the advisory lock that guards the chain head.
_CHAIN_LOCK_KEY = 0x50524F58  # "PROX"


def _key() -> bytes:
    return current_app.config["AUDIT_HMAC_KEY"].encode("utf-8")


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
    return hmac.new(_key(), blob.encode("utf-8"), hashlib.sha256).hexdigest()


def checkpoint_mac(entry_id: int, entry_hash: str, entries: int, at: datetime) -> str:
    message = f"checkpoint:{entry_id}:{entry_hash}:{entries}:{at.astimezone(timezone.utc).isoformat()}"
    return hmac.new(_key(), message.encode("utf-8"), hashlib.sha256).hexdigest()


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
    head_id: int | None = None
    head_hash: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Anchor:
    """A checkpoint, from the database or the checkpoint file."""
    entry_id: int
    entry_hash: str
    entries: int
    at: datetime
    mac: str
    source: str

    @property
    def authentic(self) -> bool:
        return hmac.compare_digest(self.mac, checkpoint_mac(self.entry_id, self.entry_hash, self.entries, self.at))


def _database_anchors(latest_only: bool) -> list[Anchor]:
    query = select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())
    rows = db.session.scalars(query.limit(1) if latest_only else query).all()
    return [Anchor(r.entry_id, r.entry_hash, r.entries, r.at, r.mac, f"point de contrôle n° {r.id}") for r in rows]


def _file_anchors(latest_only: bool) -> list[Anchor]:
    path = current_app.config.get("AUDIT_CHECKPOINT_FILE")
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        records = []
    if latest_only:
        records = records[-1:]
    return [Anchor(r["entry_id"], r["entry_hash"], r["entries"], datetime.fromisoformat(r["at"]), r["mac"],
                   f"point de contrôle du fichier ({r['at']})") for r in reversed(records)]


def _check_anchor(anchor: Anchor) -> str | None:
    """What is wrong with the chain as this anchor saw it, or None."""
    if not anchor.authentic:
        return f"{anchor.source} falsifié (signature invalide)"
    stored = db.session.scalar(select(AuditEntry.hash).where(AuditEntry.id == anchor.entry_id))
    if stored is None:
        return (f"entrée n° {anchor.entry_id} absente alors que le {anchor.source} l'a vue : journal tronqué ou "
                "entrées supprimées")
    if stored != anchor.entry_hash:
        return f"entrée n° {anchor.entry_id} différente de celle qu'a vue le {anchor.source} : journal réécrit"
    earlier = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.id <= anchor.entry_id))
    if earlier != anchor.entries:
        return (f"{earlier} entrées jusqu'à la n° {anchor.entry_id}, le {anchor.source} en a compté "
                f"{anchor.entries} : entrées supprimées ou insérées")
    return None


def verify(full: bool = False, batch_size: int = 5000) -> VerifyResult:
    """Check the checkpoints, then recompute the chain from the last checkpoint (from the start when `full`);
    stop at the first problem. `full` also checks every earlier checkpoint, not only the latest ones."""
    anchors = _database_anchors(latest_only=not full) + _file_anchors(latest_only=not full)
    for anchor in anchors:
        problem = _check_anchor(anchor)
        if problem:
            return VerifyResult(0, anchor.entry_id, problem)
    start = None if full else max((a for a in anchors if a.source.startswith("point de contrôle n°")),
                                  key=lambda a: a.entry_id, default=None)
    # From the checkpointed entry itself (its content is recomputed too), or from the start.
    prev, checked, last_id = GENESIS_HASH, 0, 0
    if start is not None:
        before = db.session.execute(select(AuditEntry.id, AuditEntry.prev_hash).where(AuditEntry.id == start.entry_id)
                                    ).one()
        prev, checked = before.prev_hash, start.entries - 1
        last_id = db.session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.id < before.id)) or 0
    while True:
        rows = db.session.execute(
            select(AuditEntry.id, AuditEntry.at, AuditEntry.officer_id, AuditEntry.actor, AuditEntry.action,
                   AuditEntry.target_type, AuditEntry.target_id, AuditEntry.details, AuditEntry.prev_hash,
                   AuditEntry.hash)
            .where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch_size)).all()
        if not rows:
            return VerifyResult(checked, head_id=last_id or None, head_hash=None if last_id == 0 else prev)
        for row in rows:
            if row.prev_hash != prev:
                return VerifyResult(checked, row.id, "chaînage rompu (prev_hash ne correspond pas à la ligne "
                                                     "précédente : ligne supprimée ou insérée)")
            expected = compute_hash(row.prev_hash, row.at, row.officer_id, row.actor, row.action, row.target_type,
                                    row.target_id, row.details)
            if not hmac.compare_digest(row.hash, expected):
                return VerifyResult(checked, row.id, "contenu modifié (empreinte recalculée différente)")
            prev = row.hash
            checked += 1
            last_id = row.id


def checkpoint(result: VerifyResult) -> AuditCheckpoint | None:
    """Sign the head a successful verification reached, if the chain grew since the last checkpoint: to the
    session (the caller commits), the logs and the checkpoint file."""
    if not result.ok or result.head_id is None:
        return None
    latest = db.session.scalar(select(AuditCheckpoint.entry_id).order_by(AuditCheckpoint.id.desc()).limit(1))
    if latest is not None and latest >= result.head_id:
        return None
    at = clock.now()
    mac = checkpoint_mac(result.head_id, result.head_hash, result.checked, at)
    row = AuditCheckpoint(at=at, entry_id=result.head_id, entry_hash=result.head_hash, entries=result.checked,
                          mac=mac)
    db.session.add(row)
    record = {"entry_id": result.head_id, "entry_hash": result.head_hash, "entries": result.checked,
              "at": at.astimezone(timezone.utc).isoformat(), "mac": mac}
    logger.info("audit checkpoint %s", json.dumps(record, sort_keys=True), extra={"audit_checkpoint": record})
    path = current_app.config.get("AUDIT_CHECKPOINT_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
    return row


def verify_and_checkpoint(full: bool = False) -> VerifyResult:
    """`verify`, then a checkpoint at the head it reached when the chain holds. Commits."""
    result = verify(full=full)
    checkpoint(result)
    db.session.commit()
    return result
