"""Open311 query parameters: an empty value is an absent one; bad values raise Open311 400s in French."""
from datetime import datetime, time

from flask import current_app
from werkzeug.datastructures import MultiDict

from service.open311.errors import bad_request, not_found
from service.platform.clock import PARIS


def value(args: MultiDict, name: str) -> str | None:
    raw = args.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    return raw or None


def comma_list(args: MultiDict, name: str) -> list[str] | None:
    """`a,b` (or the parameter repeated): the distinct non-empty items, in order; None when absent."""
    items: list[str] = []
    for raw in args.getlist(name):
        for item in raw.split(","):
            item = item.strip()
            if item and item not in items:
                items.append(item)
    return items or None


def moment(args: MultiDict, name: str) -> datetime | None:
    """ISO 8601 (W3C) datetime; a date alone means midnight in Paris, a time without offset is Paris time."""
    raw = value(args, name)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace(" ", "+") if "T" in raw else raw)
    except ValueError:
        raise bad_request(f"{name} : date ISO 8601 attendue (par exemple 2026-11-26T17:40:00+01:00).")
    if len(raw) == 10:  # a date alone
        parsed = datetime.combine(parsed.date(), time.min)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=PARIS)
    return parsed


def boolean(args: MultiDict, name: str) -> bool:
    raw = value(args, name)
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise bad_request(f"{name} : true ou false attendu.")
    return lowered == "true"


def integer(args: MultiDict, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = value(args, name)
    if raw is None:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise bad_request(f"{name} : nombre entier attendu.")
    if not minimum <= number <= maximum:
        raise bad_request(f"{name} : valeur attendue entre {minimum} et {maximum}.")
    return number


def check_jurisdiction(args: MultiDict) -> None:
    """One endpoint, one jurisdiction: `jurisdiction_id` is optional, but an unknown one is a 404."""
    jurisdiction = value(args, "jurisdiction_id")
    if jurisdiction is not None and jurisdiction != current_app.config["OPEN311_JURISDICTION_ID"]:
        raise not_found(f"jurisdiction_id inconnu : {jurisdiction}.")
