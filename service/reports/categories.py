"""The categories' rules as intake reads them: an in-process snapshot of the `categories` table.

Every intake needs its category (active? which forces, which questions, the SLA minutes, the duplicate radius);
reading it from PostgreSQL cost a round trip and an ORM load per report. The table has a few dozen rows and
changes with an import, so each process keeps them as plain frozen records and compares a digest of the table
at most every ROUTING_INDEX_TTL_S seconds (the same delay as the jurisdictions of the routing index): an edited
or deactivated category is seen by every process within that delay, without restart.
"""
import threading
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import text

from models import db

_DIGEST = text("SELECT md5(string_agg(CAST(c AS text), '|' ORDER BY c.code)) FROM categories c")
_ROWS = text("""
    SELECT code, label_fr, label_en, priority, sla_acknowledge_min, sla_dispatch_min, sla_resolve_min, forces,
           sensitive, emergency_hint, duplicate_radius_m, duplicate_window_min, attributes
    FROM categories WHERE active""")
_EXTENSION = "proxima.category_rules"


@dataclass(frozen=True)
class CategoryRules:
    """What intake needs of an active category (models.Category holds the meaning of each column)."""
    code: str
    label_fr: str
    label_en: str
    priority: int
    sla_acknowledge_min: int
    sla_dispatch_min: int
    sla_resolve_min: int
    forces: tuple[str, ...]
    sensitive: bool
    emergency_hint: bool
    duplicate_radius_m: int
    duplicate_window_min: int
    attributes: list

    def label(self, locale: str = "fr") -> str:
        return self.label_en if locale == "en" else self.label_fr


class _Snapshot:
    def __init__(self, ttl_seconds: float):
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._digest = None
        self._checked_at = 0.0
        self._rules: dict[str, CategoryRules] = {}

    def rules(self) -> dict[str, CategoryRules]:
        now = time.monotonic()
        if self._digest is not None and now - self._checked_at < self.ttl:
            return self._rules
        digest = db.session.execute(_DIGEST).scalar()
        with self._lock:
            if digest != self._digest:
                self._rules = {row.code: CategoryRules(**{**row._asdict(), "forces": tuple(row.forces)})
                               for row in db.session.execute(_ROWS)}
                self._digest = digest
            self._checked_at = now
        return self._rules


def active_category(code: str) -> CategoryRules | None:
    """The rules of the active category `code`, or None (unknown or deactivated)."""
    snapshot = current_app.extensions.get(_EXTENSION)
    if snapshot is None:
        snapshot = current_app.extensions[_EXTENSION] = _Snapshot(current_app.config["ROUTING_INDEX_TTL_S"])
    return snapshot.rules().get(code)
