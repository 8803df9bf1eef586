"""Open311 errors: 404 unknown resource, 403 API key, 400 anything else; body `<errors><error>` / JSON array.

Registered as the error renderer for every URL under /open311, so unknown routes, wrong methods and
oversized bodies answer in Open311's format too. Server-side failures keep their 5xx (and 429 keeps its
Retry-After): the spec's codes describe client mistakes, and a client must be able to tell "retry later".
"""
from flask import request
from werkzeug.exceptions import HTTPException

from service.open311.wire import render


class Open311Error(HTTPException):
    """An Open311 client error with one or more descriptions (French)."""

    def __init__(self, code: int, *descriptions: str):
        super().__init__(description=descriptions[0] if descriptions else None)
        self.code = code
        self.data = {"errors": list(descriptions)}


def bad_request(*descriptions: str) -> Open311Error:
    return Open311Error(400, *descriptions)


def not_found(description: str) -> Open311Error:
    return Open311Error(404, description)


def forbidden(description: str) -> Open311Error:
    return Open311Error(403, description)


def open311_status(code: int) -> int:
    """HTTP status the Open311 way: 403 and 404 as they are, 5xx and 429 kept, every other 4xx → 400."""
    if code in (403, 404, 429) or code >= 500:
        return code
    return 400


def _descriptions(message: str | None, errors) -> list[str]:
    if isinstance(errors, list) and errors:
        return [str(e) for e in errors]
    if isinstance(errors, dict) and errors:
        # Field-level messages (intake rejections, smorest, the input guard): "field: message".
        return [f"{field}: {msg}" if field else msg for field, msg in _flatten(errors)]
    return [message or "Requête invalide."]


# Where a message was found (query string, form…): Open311 clients know the field by its own name.
_LOCATIONS = {"json", "form", "query", "path", "headers", "files"}


def _flatten(errors: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted field, message) pairs from nested field messages, without the location level."""
    pairs = []
    for field, value in errors.items():
        name = prefix if field in ("_schema", "") or (not prefix and field in _LOCATIONS) else \
            f"{prefix}.{field}" if prefix else str(field)
        if isinstance(value, dict):
            pairs.extend(_flatten(value, name))
        else:
            pairs.extend((name, str(msg)) for msg in (value if isinstance(value, list) else [value]))
    return pairs


def _format_of_path(path: str) -> str:
    return "json" if path.rsplit("/", 1)[-1].endswith(".json") else "xml"


def render_error(code: int, message: str | None, errors):
    status = open311_status(code)
    if code == 404 and not errors:
        message = "Ressource inconnue : " + request.path
    elif code == 405:
        message = f"Méthode {request.method} non acceptée pour {request.path}."
    document = [{"code": status, "description": d} for d in _descriptions(message, errors)]
    return render(_format_of_path(request.path), "errors", document, status)
