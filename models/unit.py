"""Units (commissariat, brigade, police municipale) with their jurisdiction and service hours."""
import enum

from geoalchemy2 import Geometry
from sqlalchemy import ARRAY, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db


class UnitKind(str, enum.Enum):
    POLICE_NATIONALE = "police_nationale"
    GENDARMERIE = "gendarmerie"
    POLICE_MUNICIPALE = "police_municipale"


class Unit(db.Model):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stable external code (e.g. "PN-75-CSP-PARIS-04", or the identifier of an imported jurisdiction).
    code: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    departement_code: Mapped[str | None] = mapped_column(Text, index=True)
    # NULL only for supervision units (état-major, groupement) that never receive reports directly.
    # Deferred: a jurisdiction weighs up to megabytes and is only needed by maps and spatial SQL.
    jurisdiction = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), deferred=True)
    receives_reports: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    # Category codes this unit handles; NULL = every category whose `forces` include this unit's kind.
    categories: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    # Weekly opening hours in Europe/Paris: {"mon": [["08:30", "19:00"]], ...}; NULL = always open (24/7).
    service_hours: Mapped[dict | None] = mapped_column(JSONB)
    contact: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    # Demo units built from communes are synthetic, and say so in the data and the UI.
    synthetic: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now())

    parent = relationship("Unit", remote_side=[id], lazy="joined", join_depth=1)

    __table_args__ = (
        CheckConstraint("kind IN ('police_nationale', 'gendarmerie', 'police_municipale')", name="kind"),
        CheckConstraint("NOT receives_reports OR jurisdiction IS NOT NULL", name="routable_has_jurisdiction"),
    )

    KIND_LABELS_FR = {
        "police_nationale": "police nationale",
        "gendarmerie": "gendarmerie",
        "police_municipale": "police municipale",
    }

    @property
    def kind_label(self) -> str:
        return self.KIND_LABELS_FR.get(self.kind, self.kind)
