"""Which units' reports an officer may see and act on: the scope rules every channel and the workflow share.

An `agent` sees their own unit; a `superviseur` their unit and every unit below it (Unit.parent_id tree); an `admin`
sees every unit; an inactive officer sees nothing. Channels answer 404 outside scope, never 403, so that a report's
existence does not leak across units.
"""
from flask import g, has_app_context
from sqlalchemy import literal, select, text, true
from sqlalchemy.sql.elements import ColumnElement

from models import Officer, Role, Unit, db

_DESCENDANTS = text("""
    WITH RECURSIVE tree(id) AS (
        SELECT id FROM units WHERE id = :root
        UNION
        SELECT u.id FROM units u JOIN tree t ON u.parent_id = t.id
    )
    SELECT id FROM tree
""")


def _unwrap(officer) -> Officer:
    """The Officer row, whether given the row itself or Flask-Login's user wrapper around it."""
    return getattr(officer, "officer", officer)


def unit_ids_in_scope(officer) -> frozenset[int]:
    """Ids of the units whose reports `officer` may see (admin: every unit; prefer `in_scope` for SQL filters).

    Computed once per request and officer (the unit tree does not change under a request).
    """
    officer = _unwrap(officer)
    if officer is None or not officer.active:
        return frozenset()
    if not has_app_context():
        return _compute_scope(officer)
    cache = g.setdefault("_unit_scope_cache", {})
    key = (officer.id, officer.role, officer.unit_id)
    if key not in cache:
        cache[key] = _compute_scope(officer)
    return cache[key]


def _compute_scope(officer: Officer) -> frozenset[int]:
    if officer.role == Role.ADMIN.value:
        return frozenset(db.session.scalars(select(Unit.id)))
    if officer.unit_id is None:
        return frozenset()
    if officer.role == Role.SUPERVISEUR.value:
        return frozenset(db.session.scalars(_DESCENDANTS, {"root": officer.unit_id}))
    return frozenset({officer.unit_id})


def in_scope(column, officer) -> ColumnElement:
    """SQL condition "column is a unit id in the officer's scope" (no id list for admins)."""
    officer = _unwrap(officer)
    if officer is not None and officer.active and officer.role == Role.ADMIN.value:
        return true()
    ids = sorted(unit_ids_in_scope(officer))
    if not ids:
        return literal(False)
    return column.in_(ids)


def unit_in_scope(officer, unit_id: int | None) -> bool:
    """Whether reports of unit `unit_id` are in `officer`'s scope."""
    officer = _unwrap(officer)
    if unit_id is None or officer is None or not officer.active:
        return False
    if officer.role == Role.ADMIN.value:
        return True
    return unit_id in unit_ids_in_scope(officer)
