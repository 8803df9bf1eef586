"""Who may see what in the console: login-required decorator by role, and the units in an officer's scope.

Scope rules: an `agent` sees their own unit; a `superviseur` their unit and every unit below it (Unit.parent_id
tree); an `admin` sees every unit. Anything outside scope answers 404, never 403, so that a report's existence
does not leak across units.
"""
from functools import wraps

from flask import abort, current_app, g, has_app_context
from flask_login import current_user
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


def current_officer() -> Officer | None:
    """The logged-in Officer model instance (Flask-Login's `current_user` wraps it)."""
    if not current_user or not current_user.is_authenticated:
        return None
    return current_user.officer


def _unwrap(officer) -> Officer:
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
    officer = _unwrap(officer)
    if unit_id is None or officer is None or not officer.active:
        return False
    if officer.role == Role.ADMIN.value:
        return True
    return unit_id in unit_ids_in_scope(officer)


def officer_required(*roles: str):
    """View decorator: a logged-in, active officer with one of `roles` (any role when none are given).

    Not logged in → the login page (or 401 for JSON); logged in with another role → 404 (no leak).
    """
    if len(roles) == 1 and callable(roles[0]) and not isinstance(roles[0], (str, Role)):
        return officer_required()(roles[0])  # used bare: @officer_required
    allowed = {r.value if isinstance(r, Role) else r for r in roles}

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            officer = current_officer()
            if officer is None or not officer.active:
                return current_app.login_manager.unauthorized()
            if allowed and officer.role not in allowed:
                abort(404)
            return view(*args, **kwargs)
        return wrapped
    return decorator
