"""Reading the dashboard's filters from the query string, within the officer's scope."""
from datetime import date

from werkzeug.datastructures import MultiDict

from models import Role
from service.statistics.filters import IndicatorFilters
from service.statistics.measures import BUCKET_LABELS, CLOCKS
from service.platform import clock


def _int(args: MultiDict, name: str, errors: list, low: int | None = None, high: int | None = None):
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        errors.append(f"« {name} » doit être un nombre entier.")
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        errors.append(f"« {name} » hors limites.")
        return None
    return value


def _date(args: MultiDict, name: str, errors: list) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"Date « {raw} » invalide (format AAAA-MM-JJ).")
        return None


def _text(args: MultiDict, name: str, max_len: int = 20) -> str | None:
    raw = (args.get(name) or "").strip()
    return raw[:max_len] if raw else None


def filters_from_args(args: MultiDict, officer, scope: frozenset[int] | None,
                      today: date | None = None) -> tuple[IndicatorFilters, list[str]]:
    """The filters asked for, with the default period when none is given; errors are reported, not fatal.

    `scope` is None for an admin (everything). A supervisor without a unit filter sees their own unit's tree.
    """
    errors: list[str] = []
    default = IndicatorFilters.default(today=today)
    start, end = _date(args, "start", errors), _date(args, "end", errors)
    if "start" not in args and "end" not in args:
        start, end = default.start, default.end
    if start and end and start > end:
        errors.append("La date de début est après la date de fin : période ignorée.")
        start, end = default.start, default.end
    unit_id = _int(args, "unit_id", errors, 1)
    if unit_id is not None and scope is not None and unit_id not in scope:
        errors.append("Unité hors de votre périmètre : filtre ignoré.")
        unit_id = None
    if unit_id is None and scope is not None and officer is not None and officer.role != Role.ADMIN.value:
        unit_id = officer.unit_id
    clock = _text(args, "clock")
    sla = _text(args, "sla")
    f = IndicatorFilters(
        start=start, end=end, unit_id=unit_id, category_code=_text(args, "category_code", 60),
        territory_id=_int(args, "territory_id", errors, 1), commune_insee=_text(args, "commune_insee", 5),
        departement_code=_text(args, "departement_code", 3), week=_date(args, "week", errors),
        hour=_int(args, "hour", errors, 0, 23), isodow=_int(args, "isodow", errors, 1, 7),
        outcome_code=_text(args, "outcome_code", 60), clock=clock if clock in CLOCKS else None,
        bucket=_int(args, "bucket", errors, 0, len(BUCKET_LABELS) - 1), sla=sla,
        open_only=args.get("open_only") in ("1", "on", "true"), scope_unit_ids=scope)
    return f, errors


def today_paris() -> date:
    return clock.today_in_paris()
