"""Error rendering: one JSON shape for the API, Open311's own format and HTML pages where they apply.

JSON shape: {"code": 422, "status": "Unprocessable Entity", "message": "...", "errors": {...}}.
"""
import logging
from typing import Callable

from flask import Flask, request, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from models import db
from service.platform import limits

log = logging.getLogger(__name__)

# URL prefix → renderer(code, message, errors) for parts of the app with their own error format.
_prefix_renderers: dict[str, Callable] = {}


def register_renderer(prefix: str, renderer: Callable) -> None:
    _prefix_renderers[prefix] = renderer


def json_error(code: int, message: str | None = None, errors=None, headers=None):
    from http import HTTPStatus
    body = {"code": code, "status": HTTPStatus(code).phrase}
    if message:
        body["message"] = message
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = code
    if headers:
        response.headers.update(headers)
    return response


def _render(code: int, message: str | None, errors, headers=None):
    for prefix, renderer in _prefix_renderers.items():
        if request.path.startswith(prefix):
            response = renderer(code, message, errors)
            if headers:
                response.headers.update(headers)
            return response
    return json_error(code, message, errors, headers)


def handle_http_exception(exc: HTTPException):
    data = getattr(exc, "data", None) or {}
    message = data.get("message") or exc.description
    errors = data.get("errors") or data.get("messages")
    headers = data.get("headers") or {}
    if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        headers = {**headers, "Allow": ", ".join(exc.valid_methods)}
    if exc.code == 429 and "Retry-After" not in headers:
        retry_after = limits.retry_after_s()
        if retry_after is not None:
            headers = {**headers, "Retry-After": str(retry_after)}
    return _render(exc.code or 500, message, errors, headers)


def handle_database_unavailable(exc: Exception):
    """The database is down or saturated: fail fast with 503 and Retry-After instead of hanging."""
    db.session.rollback()
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return _render(503, "Service momentanément indisponible, réessayez dans quelques secondes.", None,
                   {"Retry-After": "5"})


def handle_unexpected(exc: Exception):
    db.session.rollback()
    if isinstance(exc, DBAPIError):
        # PostgreSQL's message may quote the value it refused (a description, a name): log the kind of error and
        # its SQLSTATE, never the message (the engine already hides bound parameters: hide_parameters).
        log.error("unhandled database error on %s %s: %s (SQLSTATE %s)", request.method, request.path,
                  type(exc.orig).__name__, getattr(exc.orig, "sqlstate", None))
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)
    return _render(500, InternalServerError.description, None)


def release_session(exc: BaseException | None) -> None:
    """End the request's session; a connection that died meanwhile is dropped, not turned into a 500.

    Runs before Flask-SQLAlchemy's own teardown, whose rollback on a dead connection would raise after the
    answer (a 201 already committed, or the 503 above) was built.
    """
    try:
        db.session.remove()
    except (OperationalError, InterfaceError):
        log.warning("connexion à la base perdue en fin de requête, abandonnée")
        db.session().invalidate()  # the request's Session itself: the scoped_session proxy has no invalidate()
        db.session.remove()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(release_session)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(InterfaceError, handle_database_unavailable)
    app.register_error_handler(PoolTimeoutError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
