"""Turning indicator rows into what the page and the charts show: French durations, percentages, drill-down links."""
from datetime import date, datetime, timedelta

from flask import url_for

from service.platform.clock import PARIS
from service.statistics.filters import IndicatorFilters
from service.statistics.measures import BUCKET_LABELS, CLOCKS, SLA_CLOCKS

CLOCK_LABELS = {"acknowledge": "Prise en compte", "dispatch": "Envoi d'une patrouille", "resolve": "Résolution",
                "inform": "Information de l'habitant"}
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def duration(seconds: float | None) -> str:
    """"2 j 4 h", "3 h 12", "7 min", "45 s"; "—" when unknown."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} j {hours} h"
    if hours:
        return f"{hours} h {minutes:02d}"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f} %".replace(".", ",")


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}".replace(".", ",") + " / 5"


# The period presets offered above the charts (days ending today). The 90-day and 12-month national views are
# computed ahead (service.statistics.indicator_snapshots.LONG_PERIOD_DAYS), so these links answer at once.
PERIOD_PRESETS = ((7, "7 jours"), (30, "30 jours"), (90, "90 jours"), (365, "12 mois"))


def period_presets(f: IndicatorFilters, today: date) -> list[dict]:
    """Links to the same view over each preset period ending today; `current` marks the one on screen."""
    presets = []
    for days, label in PERIOD_PRESETS:
        start = today - timedelta(days=days - 1)
        presets.append({"label": label, "url": dashboard_url(f, start=start, end=today),
                        "current": f.start == start and f.end == today})
    return presets


def list_url(f: IndicatorFilters, **changes) -> str:
    return url_for("dashboard.reports", **f.drill(**changes))


def dashboard_url(f: IndicatorFilters, **changes) -> str:
    return url_for("dashboard.index", **f.drill(**changes))


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def chart_payload(data: dict, f: IndicatorFilters) -> dict:
    """JSON for dashboard.js: every plotted value with the link to the reports behind it."""
    def measures(row: dict) -> dict:
        out = {"reports": row["reports"]}
        for clock in CLOCKS:
            out[f"{clock}_p50_min"] = _minutes(row[f"{clock}_p50"])
            out[f"{clock}_p90_min"] = _minutes(row[f"{clock}_p90"])
        for clock in SLA_CLOCKS:
            rate = row[f"{clock}_sla_rate"]
            out[f"{clock}_sla_pct"] = None if rate is None else round(rate * 100, 1)
        return out

    return {
        "clock_labels": CLOCK_LABELS,
        "bucket_labels": list(BUCKET_LABELS),
        "distributions": {clock: [{"n": n, "href": list_url(f, clock=clock, bucket=i)}
                                  for i, n in enumerate(counts)]
                          for clock, counts in data["distributions"].items()},
        "units": [measures(r) | {"label": r["unit_name"], "href": list_url(f, unit_id=r["unit_id"]),
                                 "drill": dashboard_url(f, unit_id=r["unit_id"])} for r in data["units"]],
        "weeks": [measures(r) | {"label": r["key"].strftime("%d/%m/%Y"),
                                 "href": list_url(f, week=r["key"])} for r in data["weeks"]],
        "categories": [measures(r) | {"label": r["label"], "href": list_url(f, category_code=r["key"]),
                                      "breached": {c: list_url(f, category_code=r["key"], sla=f"{c}:breached")
                                                   for c in SLA_CLOCKS}}
                       for r in data["categories"]],
        "heatmap": [{"isodow": r["isodow"], "hour": r["hour"], "reports": r["reports"],
                     "acknowledge_p50_min": _minutes(r["acknowledge_p50"]),
                     "href": list_url(f, isodow=r["isodow"], hour=r["hour"])} for r in data["heatmap"]],
        "outcomes": [{"label": r["label"], "reports": r["reports"], "href": list_url(f, outcome_code=r["key"])}
                     for r in data["outcomes"]],
        "communes": [{"insee": r["commune_insee"], "name": r["name"], "lat": r["lat"], "lon": r["lon"],
                      "reports": r["reports"], "acknowledge_p50_min": _minutes(r["acknowledge_p50"]),
                      "href": list_url(f, commune_insee=r["commune_insee"])} for r in data["communes"]],
    }


def local_time(value: datetime | None) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if value else "jamais"


def period_label(f: IndicatorFilters) -> str:
    def d(x: date | None) -> str:
        return x.strftime("%d/%m/%Y") if x else "…"
    return f"du {d(f.start)} au {d(f.end)}"
