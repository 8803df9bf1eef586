"""The measures every dashboard figure shows for a group of reports, each declared once.

A figure (the summary, a unit, a category, a week…) shows the same measures of its reports:

* counters (`COUNTERS`): how many reports of the group meet a condition, written twice side by side: in SQL
  (service.statistics.reference_sql aggregates with it) and over the per-report arrays of a packed frame
  (service.statistics.packed_frame sums it per group; the tests hold both equal);
* durations (`CLOCKS`): median and 90th percentile of each response-time clock, where measured;
* feedback scores (`SCORES`): the mean of each score over the rated reports;
* derived figures (`RATIOS`, `MEANS`): computed from the above by `finish`.

Adding a measure is one declaration here. When it needs a report attribute the packed row does not carry yet,
that attribute is declared once too (models.indicator.FRAME_FLAGS or FRAME_FIELDS) and a migration adds it to the
generated column (a test compares the migrated column with the declarations).

Left outside the declarations, on purpose: a counter's SQL and NumPy forms are two expressions, not one generated
from the other (a generator for both would be a small query compiler; the tests comparing the two paths catch a
divergence instead); the open backlog's age and the commune map are figures of their own, not per-group measures;
what a page shows of a measure (service.dashboard.present) and the CSV columns (report_rows.EXPORT_COLUMNS) name
the measures they show.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

CLOCKS = ("acknowledge", "dispatch", "resolve", "inform")
SLA_CLOCKS = ("acknowledge", "dispatch", "resolve")
PERCENTILES = ((0.5, "p50"), (0.9, "p90"))
# Distribution buckets: BUCKET_EDGES (models.indicator), upper bounds in seconds: 5 min … 7 d, more.
BUCKET_LABELS = ("< 5 min", "5–15 min", "15–30 min", "30 min–1 h", "1–2 h", "2–4 h", "4–8 h", "8–24 h",
                 "1–2 j", "2–7 j", "> 7 j")
# The percentiles each light figure draws (every other figure computes them all): fewer sorts.
FIGURE_PERCENTILES = {"week": ("acknowledge", "resolve"), "hour_dow": ("acknowledge",), "outcome": ()}
# Rows of the tables and points of the map: those with most reports.
UNIT_ROWS = 30
TERRITORY_ROWS = 30
COMMUNE_POINTS_LIMIT = 3000

_STEP_AT = {"acknowledge": "acknowledged_at", "dispatch": "dispatched_at", "resolve": "resolved_at"}


def sla_met_sql(clock: str) -> str:
    """The step was done by its due time (condition on indicator_report_clocks, alias c)."""
    return f"(c.{_STEP_AT[clock]} <= c.{clock}_due_at)"


def sla_breached_sql(clock: str) -> str:
    """Late, or not done and already overdue at `:as_of`. A report closed without a patrol has no dispatch to be
    late for."""
    at, due = f"c.{_STEP_AT[clock]}", f"c.{clock}_due_at"
    pending = "c.is_open AND " if clock == "dispatch" else ""
    return f"({at} > {due} OR ({at} IS NULL AND {pending}{due} < :as_of))"


class ReportArrays:
    """What a counter reads of each report of a packed frame: `flag(name)` (0/1, models.indicator.FRAME_FLAGS),
    `measured(clock)`, `overdue(clock)` (not done, due before the "as of" time)."""

    def __init__(self, columns: dict, flags: dict, now: float):
        self._columns, self._flags, self._now = columns, flags, now

    def flag(self, name: str) -> np.ndarray:
        return self._flags[name]

    def measured(self, clock: str) -> np.ndarray:
        return ~np.isnan(self._columns[clock])

    def overdue(self, clock: str) -> np.ndarray:
        return np.isnan(self._columns[clock]) & (self._columns[f"{clock}_due"] < self._now)


@dataclass(frozen=True)
class Counter:
    """The number of reports of a group that meet a condition."""
    name: str
    sql: str  # the aggregate over indicator_report_clocks (alias c)
    per_report: Callable[[ReportArrays], np.ndarray]  # the condition, 0/1 (or bool) per report of a packed frame


def _sla_counters(clock: str) -> tuple[Counter, Counter]:
    def breached(r: ReportArrays) -> np.ndarray:
        pending = r.overdue(clock)
        if clock == "dispatch":
            pending &= r.flag("is_open") == 1
        return r.flag(f"{clock}_late") | pending

    return (Counter(f"{clock}_met", f"count(*) FILTER (WHERE {sla_met_sql(clock)})",
                    lambda r: r.flag(f"{clock}_met")),
            Counter(f"{clock}_breached", f"count(*) FILTER (WHERE {sla_breached_sql(clock)})", breached))


def _closed_app(r: ReportArrays) -> np.ndarray:
    return (1 - r.flag("is_open")) * r.flag("from_app")


# Every report counts in `reports` (count(*)); these follow it, in this order.
COUNTERS = (
    tuple(Counter(f"{clock}_n", f"count(c.{clock}_s)", lambda r, clock=clock: r.measured(clock)) for clock in CLOCKS)
    + tuple(counter for clock in SLA_CLOCKS for counter in _sla_counters(clock))
    + (Counter("closed_app", "count(*) FILTER (WHERE NOT c.is_open AND c.from_app)", _closed_app),
       Counter("informed", "count(*) FILTER (WHERE NOT c.is_open AND c.from_app AND c.informed_at IS NOT NULL)",
               lambda r: _closed_app(r) * r.flag("informed")),
       Counter("open_backlog", "count(*) FILTER (WHERE c.is_open)", lambda r: r.flag("is_open")),
       Counter("reopened", "count(*) FILTER (WHERE c.reopened)", lambda r: r.flag("reopened")),
       Counter("feedback_n", "count(c.feedback_reactivite)", lambda r: r.flag("has_feedback")))
)
# The feedback scores (0–5), in the order the packed `feedback` field holds them as decimal digits; each one's
# mean is over the `feedback_n` rated reports.
SCORES = ("reactivite", "courtoisie", "information")
SCORE_MAX = 5


@dataclass(frozen=True)
class Ratio:
    """numerator / (sum of denominators), None when that sum is 0."""
    name: str
    numerator: str
    denominators: tuple[str, ...]


@dataclass(frozen=True)
class MeanOf:
    """The mean of the given measures that have a value, None when none has."""
    name: str
    parts: tuple[str, ...]


RATIOS = (tuple(Ratio(f"{clock}_sla_rate", f"{clock}_met", (f"{clock}_met", f"{clock}_breached"))
                for clock in SLA_CLOCKS)
          + (Ratio("feedback_loop_rate", "informed", ("closed_app",)),
             Ratio("feedback_response_rate", "feedback_n", ("closed_app",))))
MEANS = (MeanOf("satisfaction_mean", tuple(f"{score}_mean" for score in SCORES)),)


def measures_sql(percentiles: tuple[str, ...] = CLOCKS) -> str:
    """Every measure as aggregate columns over indicator_report_clocks (alias c); percentiles (sorts) only of the
    clocks in `percentiles`, NULL for the others."""
    cols = ["count(*) AS reports"] + [f"{counter.sql} AS {counter.name}" for counter in COUNTERS]
    for clock in CLOCKS:
        for p, suffix in PERCENTILES:
            cols.append(f"percentile_cont({p}) WITHIN GROUP (ORDER BY c.{clock}_s) AS {clock}_{suffix}"
                        if clock in percentiles else f"NULL::float AS {clock}_{suffix}")
    cols += [f"avg(c.feedback_{score})::float AS {score}_mean" for score in SCORES]
    return ", ".join(cols)


def empty_measures() -> dict:
    """The measures of a group without reports (before `finish`)."""
    row = {"reports": 0} | {counter.name: 0 for counter in COUNTERS}
    row |= {f"{clock}_{suffix}": None for clock in CLOCKS for _, suffix in PERCENTILES}
    return row | {f"{score}_mean": None for score in SCORES}


def finish(row: dict) -> dict:
    """The measures with the derived figures added (None when there is nothing to divide by)."""
    out = dict(row)
    for ratio in RATIOS:
        total = sum(out[name] or 0 for name in ratio.denominators)
        out[ratio.name] = out[ratio.numerator] / total if total else None
    for mean in MEANS:
        values = [out[name] for name in mean.parts if out[name] is not None]
        out[mean.name] = sum(values) / len(values) if values else None
    return out
