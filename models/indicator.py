"""Pre-aggregated proximity indicators: one row of clocks per report, rebuilt from report_events by a job."""
from dataclasses import dataclass

from sqlalchemy import (ARRAY, BigInteger, Boolean, Computed, Date, DateTime, Float, Index, Integer, LargeBinary,
                        SmallInteger, Text, func)
from sqlalchemy.orm import Mapped, mapped_column

from models import db


# Distribution buckets of the dashboard (upper bounds in seconds): 5 min … 7 d, then more.
BUCKET_EDGES = (300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)


@dataclass(frozen=True)
class PackedField:
    """One field of a report's packed dashboard row: its name, PostgreSQL type (sent big-endian by `{type}send`)
    and its value as SQL over the columns of indicator_report_clocks."""
    name: str
    type: str  # "float8", "int4" or "int2"
    sql: str


@dataclass(frozen=True)
class PackedFlag:
    """One bit of the packed `flags` field: its name and its 0/1 value as SQL (bit i is worth 2**i)."""
    name: str
    sql: str


_SINCE_2000 = "extract(epoch FROM {} - '2000-01-01 00:00:00+00'::timestamptz)::float8"
# SLA bits are the as_of-independent ones (met / late); pending-and-overdue is decided at read time.
FRAME_FLAGS = (
    PackedFlag("is_open", "is_open::int"),
    PackedFlag("reopened", "reopened::int"),
    PackedFlag("from_app", "from_app::int"),
    PackedFlag("informed", "(informed_at IS NOT NULL)::int"),
    PackedFlag("acknowledge_met", "coalesce((acknowledged_at <= acknowledge_due_at)::int, 0)"),
    PackedFlag("acknowledge_late", "coalesce((acknowledged_at > acknowledge_due_at)::int, 0)"),
    PackedFlag("dispatch_met", "coalesce((dispatched_at <= dispatch_due_at)::int, 0)"),
    PackedFlag("dispatch_late", "coalesce((dispatched_at > dispatch_due_at)::int, 0)"),
    PackedFlag("resolve_met", "coalesce((resolved_at <= resolve_due_at)::int, 0)"),
    PackedFlag("resolve_late", "coalesce((resolved_at > resolve_due_at)::int, 0)"),
    PackedFlag("has_feedback", "(feedback_reactivite IS NOT NULL)::int"),
)
# One report's dashboard attributes packed big-endian, in this order (service.statistics.packed_frame reads them).
# Times are seconds since 2000-01-01 UTC; clocks are NaN when the step has not happened.
FRAME_FIELDS = (
    PackedField("acknowledge", "float8", "coalesce(acknowledge_s, 'NaN'::float8)"),
    PackedField("dispatch", "float8", "coalesce(dispatch_s, 'NaN'::float8)"),
    PackedField("resolve", "float8", "coalesce(resolve_s, 'NaN'::float8)"),
    PackedField("inform", "float8", "coalesce(inform_s, 'NaN'::float8)"),
    PackedField("received", "float8", _SINCE_2000.format("received_at")),
    PackedField("acknowledge_due", "float8", _SINCE_2000.format("acknowledge_due_at")),
    PackedField("dispatch_due", "float8", _SINCE_2000.format("dispatch_due_at")),
    PackedField("resolve_due", "float8", _SINCE_2000.format("resolve_due_at")),
    PackedField("unit", "int4", "unit_id"),
    # Digits as is, Corsica 2A/2B as 120000/220000 + the last three digits.
    PackedField("commune", "int4", "CASE WHEN commune_insee IS NULL THEN -1 "
                                   "WHEN substr(commune_insee, 2, 1) = 'A' THEN 120000 + substr(commune_insee, 3)::int "
                                   "WHEN substr(commune_insee, 2, 1) = 'B' THEN 220000 + substr(commune_insee, 3)::int "
                                   "ELSE commune_insee::int END"),
    PackedField("flags", "int4", " + ".join(flag.sql if i == 0 else f"{flag.sql} * {1 << i}"
                                            for i, flag in enumerate(FRAME_FLAGS))),
    PackedField("day", "int2", "(day - DATE '2000-01-03')::int2"),  # 2000-01-03: a Monday
    PackedField("how", "int2", "(isodow * 24 + hour)::int2"),  # hour of the week
    # The three scores (0–5 each) as decimal digits.
    PackedField("feedback", "int2",
                "coalesce(feedback_reactivite * 100 + feedback_courtoisie * 10 + feedback_information, 0)::int2"),
)
# The generated column's expression. Migration 0007 holds the same expression as text (a migration must not follow
# code); tests/integration/test_indicator_frame_layout.py fails when the migrated column differs from this.
FRAME_SQL = "\n|| ".join(f"{field.type}send({field.sql})" for field in FRAME_FIELDS)


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
    # The attributes the dashboard reads, packed (migration 0007; layout: FRAME_FIELDS): one
    # bytea per report is much cheaper for PostgreSQL to hand over than a dozen columns.
    frame = mapped_column(LargeBinary, Computed(FRAME_SQL, persisted=True))
    feedback_reactivite: Mapped[int | None] = mapped_column(SmallInteger)
    feedback_courtoisie: Mapped[int | None] = mapped_column(SmallInteger)
    feedback_information: Mapped[int | None] = mapped_column(SmallInteger)
    # The refresh (IndicatorRefresh.id) that wrote this row: what changed since a refresh is read by this alone.
    refresh_id: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")

    __table_args__ = (
        Index("ix_indicator_report_clocks_received_at", "received_at"),
        Index("ix_indicator_report_clocks_unit_received", "unit_id", "received_at"),
        Index("ix_indicator_report_clocks_category_received", "category_code", "received_at"),
        Index("ix_indicator_report_clocks_commune", "commune_insee"),
        Index("ix_indicator_report_clocks_departement", "departement_code"),
        Index("ix_indicator_report_clocks_territories", "territory_ids", postgresql_using="gin"),
        Index("ix_indicator_report_clocks_open", "unit_id", postgresql_where="is_open"),
        Index("ix_indicator_report_clocks_refresh", "refresh_id"),
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
    # Rows dropped because their report is gone: readers that keep rows (service.statistics.frame_store) start over.
    reports_removed: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)


class IndicatorSnapshot(db.Model):
    """A long-period dashboard view computed ahead by a job (service.statistics.indicator_snapshots), served as is.

    The views whose live computation is too slow (long national periods) are materialised here, each with its own
    "as of" time, and recomputed on a schedule.
    """

    __tablename__ = "indicator_snapshots"

    # The view's filters (IndicatorFilters.query_args), canonical JSON: what a request is matched on.
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    # Everything the dashboard draws (service.statistics.dashboard_figures.dashboard_data), as JSON.
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    # The clocks' "as of" time the figures were computed from.
    as_of = mapped_column(DateTime(timezone=True), nullable=False)
    computed_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
