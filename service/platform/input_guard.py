"""Input no person types and PostgreSQL cannot store, refused at the door: 422 with the field, never a 500.

PostgreSQL refuses NUL in text and psycopg cannot encode lone surrogates (both reach Python from JSON `\\u0000`
and `\\ud800` escapes or from URL `%00`); control characters have no place in a report, a name or an e-mail and
hide text from whoever reads it. Deeply nested JSON makes the parser recurse until it fails. Every request's path
parameters, query string, form fields, JSON body and Idempotency-Key pass through `guard_request` before any view
runs; views that parse JSON themselves (a multipart field) use `load_json` and `json_problems`.
"""
import json
import re

from flask import Flask, request
from werkzeug.exceptions import UnprocessableEntity

# C0 controls except tab, line feed and carriage return; DEL; C1 controls; UTF-16 surrogates.
UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Deepest JSON accepted: the API's deepest document (a report's answers) is three levels deep.
MAX_JSON_DEPTH = 16
UNSAFE_TEXT = "Caractère non autorisé (caractère de contrôle ou nul)."
TOO_DEEP = f"Document JSON trop imbriqué (au plus {MAX_JSON_DEPTH} niveaux)."
CHECKED_HEADERS = ("Idempotency-Key",)


class UnsafeInput(UnprocessableEntity):
    """Refused input, with the field messages in the shape the error renderers expect."""

    def __init__(self, errors: dict):
        super().__init__(description="Requête refusée : caractère non autorisé ou document JSON trop imbriqué.")
        self.data = {"message": self.description, "errors": errors}


def is_unsafe(text: str) -> bool:
    return UNSAFE_CHARACTERS.search(text) is not None


def json_problems(data) -> dict:
    """Field messages for the unsafe strings (keys included) and excessive depth in a parsed JSON document."""
    problems: dict = {}
    stack = [(data, problems, None, 1)]
    while stack:
        value, parent, key, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            problems.setdefault("_schema", [TOO_DEEP])
            continue
        if isinstance(value, str):
            if is_unsafe(value):
                parent[key if key is not None else "_schema"] = [UNSAFE_TEXT]
        elif isinstance(value, dict):
            errors = _child(parent, key)
            for child_key, child in value.items():
                if is_unsafe(child_key):
                    errors.setdefault("_schema", [UNSAFE_TEXT])
                    continue
                stack.append((child, errors, child_key, depth + 1))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                stack.append((child, _child(parent, key), index, depth + 1))
    return _prune(problems)


def _child(parent: dict, key) -> dict:
    return parent if key is None else parent.setdefault(key, {})


def _prune(tree: dict) -> dict:
    """Drop the empty branches left by containers that held nothing wrong."""
    pruned = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            value = _prune(value)
            if value:
                pruned[key] = value
        else:
            pruned[key] = value
    return pruned


def load_json(raw: str | bytes):
    """json.loads where nesting deep enough to exhaust the parser's recursion is a ValueError like any bad JSON."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError(TOO_DEEP)


def _pairs_problems(pairs) -> dict:
    problems = {}
    for key, value in pairs:
        if is_unsafe(key) or (isinstance(value, str) and is_unsafe(value)):
            problems[key if not is_unsafe(key) else "_schema"] = [UNSAFE_TEXT]
    return problems


def request_problems() -> dict:
    """Field messages for every unsafe piece of the current request, by location (path, query, form, json…)."""
    problems = {}
    checks = {
        "path": lambda: _pairs_problems((request.view_args or {}).items()),
        "query": lambda: _pairs_problems(request.args.items(multi=True)),
        "headers": lambda: _pairs_problems((name, request.headers.get(name, "")) for name in CHECKED_HEADERS),
        "form": lambda: _pairs_problems(request.form.items(multi=True)) if request.form else {},
        "json": _json_body_problems,
    }
    for location, check in checks.items():
        found = check()
        if found:
            problems[location] = found
    return problems


def _json_body_problems() -> dict:
    if not request.is_json or not request.content_length:
        return {}
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        return {"_schema": [TOO_DEEP]}
    return json_problems(data) if data is not None else {}


def guard_request() -> None:
    problems = request_problems()
    if problems:
        raise UnsafeInput(problems)


def init_app(app: Flask) -> None:
    app.before_request(guard_request)
