"""Report categories (nature du signalement) and resolution outcome codes: routing and SLA rules as data."""
from sqlalchemy import ARRAY, Boolean, CheckConstraint, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class Category(db.Model):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    label_fr: Mapped[str] = mapped_column(Text, nullable=False)
    label_en: Mapped[str] = mapped_column(Text, nullable=False)
    description_fr: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    group: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    keywords: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    # 1 = most urgent. Drives queue order and escalation.
    priority: Mapped[int] = mapped_column(Integer, nullable=False)
    # SLA targets in minutes from reception.
    sla_acknowledge_min: Mapped[int] = mapped_column(Integer, nullable=False)
    sla_dispatch_min: Mapped[int] = mapped_column(Integer, nullable=False)
    sla_resolve_min: Mapped[int] = mapped_column(Integer, nullable=False)
    # Competent forces in order of precedence, e.g. {police_municipale, police_nationale, gendarmerie}.
    forces: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    # Sensitive: never public (Open311), no lock-screen text in pushes.
    sensitive: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # Emergencies get an explicit "call 17 / 112 / SMS 114" answer.
    emergency_hint: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # How long a report stays "live" (a rodéo is stale after ~2 h); NULL = does not go stale.
    live_minutes: Mapped[int | None] = mapped_column(Integer)
    duplicate_radius_m: Mapped[int] = mapped_column(Integer, nullable=False, server_default="150")
    duplicate_window_min: Mapped[int] = mapped_column(Integer, nullable=False, server_default="120")
    # Retention (service/reports/retention.py): a report resolved, closed or rejected this many days ago, or never
    # ended and without activity for `inactive_retention_days`, loses its personal data and precise location.
    retention_days: Mapped[int] = mapped_column(Integer, nullable=False, server_default="365")
    inactive_retention_days: Mapped[int] = mapped_column(Integer, nullable=False, server_default="730")
    # Extra questions, Open311 attribute shape:
    # [{code, datatype, required, description_fr, description_en, order, values: [{key, name_fr, name_en}]}]
    attributes: Mapped[list] = mapped_column(JSONB, nullable=False, server_default="[]")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")

    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
        CheckConstraint("cardinality(forces) > 0", name="has_force"),
    )

    def label(self, locale: str = "fr") -> str:
        return self.label_en if locale == "en" else self.label_fr


class OutcomeCode(db.Model):
    """How a report was resolved (patrouille engagée, interpellation…), with the text told to the resident."""

    __tablename__ = "outcome_codes"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    label_fr: Mapped[str] = mapped_column(Text, nullable=False)
    label_en: Mapped[str] = mapped_column(Text, nullable=False)
    citizen_text_fr: Mapped[str] = mapped_column(Text, nullable=False)
    citizen_text_en: Mapped[str] = mapped_column(Text, nullable=False)
    # Open311 / mySociety extended status this outcome maps to (fixed, no_further_action, not_councils_responsibility…).
    open311_status: Mapped[str] = mapped_column(Text, nullable=False, server_default="closed")
