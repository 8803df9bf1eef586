"""A resident's report (signalement), its photos, and the contact details kept apart from it."""
import enum
import uuid

from geoalchemy2 import Geometry
from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, Float, ForeignKey, Index, Integer, LargeBinary,
                        Text, func)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db


class ReportStatus(str, enum.Enum):
    RECEIVED = "received"          # routed to a unit, nobody has looked yet
    ACKNOWLEDGED = "acknowledged"  # an officer took it (pris en compte)
    DISPATCHED = "dispatched"      # a patrol was sent
    RESOLVED = "resolved"          # outcome known
    CLOSED = "closed"              # no further action; resident may reopen once within 7 days
    REJECTED = "rejected"          # not a matter for the police, with a reason


# The statuses of a report still in the unit's hands: the one definition, for Python and for SQL written as text.
OPEN_STATUSES = (ReportStatus.RECEIVED.value, ReportStatus.ACKNOWLEDGED.value, ReportStatus.DISPATCHED.value)


def sql_list(values) -> str:
    """`('a', 'b')`: a list of fixed values for SQL written as text (constants only, never user input)."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


OPEN_STATUSES_SQL = sql_list(OPEN_STATUSES)


class Report(db.Model):
    """Partitioned by RANGE (id), a partition per month's block of ids (ReportIdBlock, migration 0014)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unguessable public reference, e.g. "PX-7K3M9QW2TD"; the only identifier that leaves the system. Unique
    # through ReportReference (a unique constraint on a partitioned table must contain the partition key).
    reference: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), nullable=False, index=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    # Set by the retention job: the location has been coarsened to ~100 m and photos/contact purged.
    anonymised_at = mapped_column(DateTime(timezone=True))
    commune_insee: Mapped[str | None] = mapped_column(ForeignKey("communes.insee_code"), index=True)
    commune_name: Mapped[str | None] = mapped_column(Text)
    departement_code: Mapped[str | None] = mapped_column(Text, index=True)
    observed_at = mapped_column(DateTime(timezone=True), nullable=False)
    received_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(), index=True)
    ongoing: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="received")
    priority: Mapped[int] = mapped_column(Integer, nullable=False)
    emergency: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # Routed unit and why (French, shown to officers and residents).
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), nullable=False, index=True)
    routing_reason: Mapped[str] = mapped_column(Text, nullable=False)
    # Transfer awaiting the receiving unit's decision.
    pending_transfer_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    assigned_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    # Indexed with received_at (ix_reports_device_id_received_at): intake counts a device's recent reports.
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    # Which channel and, for Open311, which partner key.
    source: Mapped[str] = mapped_column(Text, nullable=False, server_default="app")
    partner_key_id: Mapped[int | None] = mapped_column(ForeignKey("partner_keys.id"))
    answers: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    # Storm from one device on one address: held for supervisor review.
    flagged_for_review: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    reopen_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    outcome_code: Mapped[str | None] = mapped_column(ForeignKey("outcome_codes.code"))
    # SLA targets fixed at reception from the category (transfers keep the clock running).
    acknowledge_due_at = mapped_column(DateTime(timezone=True), nullable=False)
    dispatch_due_at = mapped_column(DateTime(timezone=True), nullable=False)
    resolve_due_at = mapped_column(DateTime(timezone=True), nullable=False)
    closed_at = mapped_column(DateTime(timezone=True))
    updated_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(), index=True)

    # Plain lazy loads: joined eager loads would break SELECT … FOR UPDATE (outer joins) and cost every query.
    category = relationship("Category")
    unit = relationship("Unit", foreign_keys=[unit_id])
    pending_transfer_unit = relationship("Unit", foreign_keys=[pending_transfer_unit_id])
    device = relationship("Device")
    photos = relationship("ReportPhoto", back_populates="report", order_by="ReportPhoto.id",
                          cascade="all, delete-orphan")
    events = relationship("ReportEvent", back_populates="report", order_by="ReportEvent.id")

    __table_args__ = (
        CheckConstraint(
            f"status IN {sql_list(status.value for status in ReportStatus)}", name="status"),
        CheckConstraint("char_length(description) <= 4000", name="description_length"),
        Index("ix_reports_open_queue", "unit_id", "priority", "acknowledge_due_at",
              postgresql_where=f"status IN {OPEN_STATUSES_SQL}"),
        Index("ix_reports_device_id_received_at", "device_id", "received_at"),
        {"postgresql_partition_by": "RANGE (id)"},
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ReportIdBlock(db.Model):
    """The block of report ids a calendar month (UTC) owns, [first_id, end_id), and its partition reports_YYYY_MM.

    Blocks follow one another without gap; the database function create_report_partitions appends them and moves
    the ids sequence into the current month's block (service.platform.partitions)."""

    __tablename__ = "report_id_blocks"

    month = mapped_column(Date, primary_key=True)
    first_id: Mapped[int] = mapped_column(Integer, nullable=False)
    end_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (CheckConstraint("first_id < end_id", name="ids"),)


class ReportReference(db.Model):
    """Every report's reference, unique across the partitions of reports; written by a trigger on reports."""

    __tablename__ = "report_references"

    reference: Mapped[str] = mapped_column(Text, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), nullable=False,
                                           unique=True)


class ReportPhoto(db.Model):
    """A re-encoded photo (EXIF stripped). Stored in the database so an intake stays one transaction."""

    __tablename__ = "report_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True)
    content_type: Mapped[str] = mapped_column(Text, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    report = relationship("Report", back_populates="photos")


class ReportContact(db.Model):
    """Optional contact details of the reporter: apart from the report, read only with an audit entry."""

    __tablename__ = "report_contacts"

    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
