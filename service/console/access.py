"""Who is logged in to the console and the login-required decorator by role.

The units an officer may see are the domain's scope rules (service/accounts/scope.py); anything outside them
answers 404, never 403, so that a report's existence does not leak across units.
"""
from functools import wraps

from flask import abort, current_app
from flask_login import current_user

from models import Officer, Role


def current_officer() -> Officer | None:
    """The logged-in Officer model instance (Flask-Login's `current_user` wraps it)."""
    if not current_user or not current_user.is_authenticated:
        return None
    return current_user.officer


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
