"""Incidents: clusters of reports of the same category close in space and time (duplicates)."""
from geoalchemy2 import Geometry
from sqlalchemy import DateTime, ForeignKey, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class Incident(db.Model):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), nullable=False)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Location of the first report; duplicates are searched around it.
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    first_report_at = mapped_column(DateTime(timezone=True), nullable=False)
    last_report_at = mapped_column(DateTime(timezone=True), nullable=False)
    report_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    # open while any of its reports is open.
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="open", index=True)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
