"""Administrative geography: communes (with Paris/Lyon/Marseille arrondissements), départements, overlay territories."""
from geoalchemy2 import Geometry
from sqlalchemy import Integer, Text, ForeignKey, Boolean, DateTime, func
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class Departement(db.Model):
    __tablename__ = "departements"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    # INSEE code of the préfecture (chef-lieu).
    prefecture_insee: Mapped[str | None] = mapped_column(Text)


class Commune(db.Model):
    """A commune, or an arrondissement municipal (type ARM) for Paris, Lyon and Marseille.

    Cities split into arrondissements are stored only as their arrondissements, so every point
    resolves to the most precise level.
    """

    __tablename__ = "communes"

    insee_code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    departement_code: Mapped[str] = mapped_column(ForeignKey("departements.code"), nullable=False, index=True)
    population: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # SIREN of the intercommunalité (EPCI), used to group rural communes into demo brigades.
    epci_code: Mapped[str | None] = mapped_column(Text)
    # For arrondissements, the INSEE code of the city (75056, 69123, 13055).
    parent_insee: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False, deferred=True)
    town_hall = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))


class Territory(db.Model):
    """Overlay territory for indicators (e.g. a quartier de reconquête républicaine), imported from GeoJSON."""

    __tablename__ = "territories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False, server_default="overlay")
    synthetic: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    created_at = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
