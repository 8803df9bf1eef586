"""Service hours of units, in Europe/Paris: is a unit open at a given instant?"""
import re
from datetime import datetime, time
from service.platform.clock import PARIS

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


DAY_LABELS_FR = {"mon": "lun", "tue": "mar", "wed": "mer", "thu": "jeu", "fri": "ven", "sat": "sam", "sun": "dim"}


def describe_fr(service_hours: dict | None) -> str:
    """Opening hours in a few words for a list: "24 h/24", or "lun 07:00-20:00, …, dim fermé"."""
    if service_hours is None:
        return "24 h/24"
    parts = []
    for day in DAY_KEYS:
        ranges = service_hours.get(day) or []
        hours = " et ".join(f"{start}-{end}" for start, end in ranges) or "fermé"
        parts.append(f"{DAY_LABELS_FR[day]} {hours}")
    return ", ".join(parts)


def local_hhmm(at: datetime) -> str:
    return at.astimezone(PARIS).strftime("%H:%M")


HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


def service_hours_problems(value) -> list[str]:
    """What is wrong with a service-hours mapping, one message per problem (empty when valid)."""
    if not isinstance(value, dict):
        return ['Expected an object like {"mon": [["08:00", "19:00"]], ...}.']
    problems = []
    for day, ranges in value.items():
        if day not in DAY_KEYS:
            problems.append(f"unknown day {day!r} (expected one of {', '.join(DAY_KEYS)})")
            continue
        if not isinstance(ranges, list):
            problems.append(f"{day}: expected a list of [start, end] ranges")
            continue
        for item in ranges:
            if (not isinstance(item, list) or len(item) != 2 or not all(isinstance(t, str) for t in item)
                    or not all(HHMM.match(t) for t in item)):
                problems.append(f'{day}: invalid range {item!r} (expected ["HH:MM", "HH:MM"])')
            elif item[0] == item[1] or item[0] == "24:00":
                problems.append(f"{day}: empty range {item!r}")
    return problems
