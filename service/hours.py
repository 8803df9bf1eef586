"""Service hours of units, in Europe/Paris: is a unit open at a given instant?"""
from datetime import datetime, time
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse(hhmm: str) -> time:
    if hhmm == "24:00":
        return time.max
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def is_open(service_hours: dict | None, at: datetime) -> bool:
    """`service_hours` is {"mon": [["08:00", "19:00"], ...], ...}; None means always open.

    A range whose end is before its start runs past midnight ("22:00"–"06:00").
    """
    if service_hours is None:
        return True
    local = at.astimezone(PARIS)
    now = local.time()
    today = DAY_KEYS[local.weekday()]
    yesterday = DAY_KEYS[(local.weekday() - 1) % 7]
    for start, end in service_hours.get(today, []):
        start_t, end_t = _parse(start), _parse(end)
        if start_t <= end_t and start_t <= now < end_t:
            return True
        if start_t > end_t and now >= start_t:
            return True
    for start, end in service_hours.get(yesterday, []):
        start_t, end_t = _parse(start), _parse(end)
        if start_t > end_t and now < end_t:
            return True
    return False


def local_hhmm(at: datetime) -> str:
    return at.astimezone(PARIS).strftime("%H:%M")


def validate_service_hours(value) -> list[str]:
    """Messages describing what is wrong with a service-hours mapping (empty when valid)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return ["Les horaires doivent être un objet {jour: [[début, fin], ...]}."]
    errors = []
    for day, ranges in value.items():
        if day not in DAY_KEYS:
            errors.append(f"Jour inconnu : {day!r} (attendu : {', '.join(DAY_KEYS)}).")
            continue
        if not isinstance(ranges, list):
            errors.append(f"{day} : une liste de plages est attendue.")
            continue
        for item in ranges:
            try:
                start, end = item
                _parse(start), _parse(end)
            except (TypeError, ValueError):
                errors.append(f"{day} : plage invalide {item!r} (attendu [\"HH:MM\", \"HH:MM\"]).")
    return errors
