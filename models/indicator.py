"""Pre-aggregated proximity indicators: one row of clocks per report, rebuilt from report_events by a job."""
import math

from sqlalchemy import (ARRAY, BigInteger, Boolean, Computed, Date, DateTime, Float, Index, Integer, SmallInteger, Text,
                        func)
from sqlalchemy.orm import Mapped, mapped_column

from models import db


# Distribution buckets of the dashboard (upper bounds in seconds): 5 min … 7 d, then more.
BUCKET_EDGES = (300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)
# Fine histogram edges (seconds): e^(k/16) from 1 s to about 3 years, plus BUCKET_EDGES so that every fine bucket lies
# in one distribution bucket. Consecutive edges differ by at most 6.5 %: the error bound of binned percentiles.
HIST_EDGES = tuple(sorted(set(round(math.exp(k / 16), 3) for k in range(0, 296)) | set(float(e) for e in BUCKET_EDGES)))
_HIST_LITERAL = "'{" + ",".join(repr(e) for e in HIST_EDGES) + "}'::float8[]"


def _bucket(clock: str) -> Computed:
    """width_bucket of the clock over HIST_EDGES (0 below 1 s, NULL when the step has not happened)."""
    return Computed(f"width_bucket({clock}_s, {_HIST_LITERAL})", persisted=True)


class ReportClock(db.Model):
    """Per-report response times derived from the event timeline (never typed in), as of the last refresh.

    Clocks are seconds from the `created` event; NULL when the step has not happened (yet).
    Denormalised report attributes (unit, category, commune, hour…) keep every dashboard filter on one table.
    """

    __tablename__ = "indicator_report_clocks"

    report_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(Text, nullable=False)
    received_at = mapped_column(DateTime(timezone=True), nullable=False)
    # Local (Europe/Paris) calendar of reception, for the heat map and weekly trend.
    day = mapped_column(Date, nullable=False)
    week = mapped_column(Date, nullable=False)
    hour: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    isodow: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    unit_id: Mapped[int] = mapped_column(Integer, nullable=False)
    category_code: Mapped[str] = mapped_column(Text, nullable=False)
    commune_insee: Mapped[str | None] = mapped_column(Text)
    departement_code: Mapped[str | None] = mapped_column(Text)
    # Overlay territories (Territory.id) containing the report's location.
    territory_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), nullable=False, server_default="{}")
    status: Mapped[str] = mapped_column(Text, nullable=False)
    is_open: Mapped[bool] = mapped_column(Boolean, nullable=False)
    from_app: Mapped[bool] = mapped_column(Boolean, nullable=False)
    outcome_code: Mapped[str | None] = mapped_column(Text)
    reopened: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    transferred: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    acknowledge_due_at = mapped_column(DateTime(timezone=True), nullable=False)
    dispatch_due_at = mapped_column(DateTime(timezone=True), nullable=False)
    resolve_due_at = mapped_column(DateTime(timezone=True), nullable=False)
    acknowledged_at = mapped_column(DateTime(timezone=True))
    dispatched_at = mapped_column(DateTime(timezone=True))
    resolved_at = mapped_column(DateTime(timezone=True))
    informed_at = mapped_column(DateTime(timezone=True))
    acknowledge_s: Mapped[float | None] = mapped_column(Float)
    dispatch_s: Mapped[float | None] = mapped_column(Float)
    resolve_s: Mapped[float | None] = mapped_column(Float)
    inform_s: Mapped[float | None] = mapped_column(Float)
    # Fine histogram bucket of each clock (migration 0007), for percentiles of large sets without sorting.
    acknowledge_b: Mapped[int | None] = mapped_column(SmallInteger, _bucket("acknowledge"))
    dispatch_b: Mapped[int | None] = mapped_column(SmallInteger, _bucket("dispatch"))
    resolve_b: Mapped[int | None] = mapped_column(SmallInteger, _bucket("resolve"))
    inform_b: Mapped[int | None] = mapped_column(SmallInteger, _bucket("inform"))
    feedback_reactivite: Mapped[int | None] = mapped_column(SmallInteger)
    feedback_courtoisie: Mapped[int | None] = mapped_column(SmallInteger)
    feedback_information: Mapped[int | None] = mapped_column(SmallInteger)

    __table_args__ = (
        Index("ix_indicator_report_clocks_received_at", "received_at"),
        Index("ix_indicator_report_clocks_unit_received", "unit_id", "received_at"),
        Index("ix_indicator_report_clocks_category_received", "category_code", "received_at"),
        Index("ix_indicator_report_clocks_commune", "commune_insee"),
        Index("ix_indicator_report_clocks_departement", "departement_code"),
        Index("ix_indicator_report_clocks_territories", "territory_ids", postgresql_using="gin"),
        Index("ix_indicator_report_clocks_open", "unit_id", postgresql_where="is_open"),
    )


class IndicatorRefresh(db.Model):
    """When the clocks table was last rebuilt, and up to which event: the dashboard's "as of" time."""

    __tablename__ = "indicator_refreshes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    finished_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    # Highest report_events.id seen; the next incremental refresh recomputes reports touched after it.
    last_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    full: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reports_refreshed: Mapped[int] = mapped_column(Integer, nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
