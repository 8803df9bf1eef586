"""Routing: which unit is competent for a report at this point, for this category, at this time.

`decide` is a pure function over candidate units; `route` feeds it from PostGIS. Precedence:

1. Units whose jurisdiction contains the point; if none (a gap between simplified polygons, just off
   the coast), the nearest jurisdictions within ROUTING_FALLBACK_DISTANCE_M (default 2 km).
2. Among them, only units competent for the category (`Unit.categories`, NULL = all) whose force is
   listed in `Category.forces`.
3. Forces are tried in the category's order; the first force with a unit open now (Europe/Paris service
   hours) wins; closed units are named in the reason. Within a force, the smallest jurisdiction wins
   (the most local unit).
4. If every competent unit is closed, the first competent one in precedence order is chosen anyway,
   and the reason says so: a report is never left without a unit.

The decision carries its reason in French; it is stored on the report and in the `routed` event.
"""
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import text

from models import db
from service.reports.hours import is_open, local_hhmm
from service.reports.spatial_index import SpatialIndex

KIND_LABELS = {"police_nationale": "police nationale", "gendarmerie": "gendarmerie",
               "police_municipale": "police municipale"}


@dataclass(frozen=True)
class UnitCandidate:
    id: int
    name: str
    kind: str
    categories: tuple | None
    service_hours: dict | None
    area: float
    distance_m: float = 0.0
    synthetic: bool = False  # a demo unit (the API and the console say so)


@dataclass(frozen=True)
class CommuneRef:
    insee_code: str
    name: str
    departement_code: str
    distance_m: float = 0.0


@dataclass(frozen=True)
class RoutingDecision:
    unit: UnitCandidate
    reason: str
    fallback_distance_m: float | None = None
    closed_units: tuple = field(default=())


class OutsideTerritory(Exception):
    """The point is not within (or near enough to) any territory served."""


class NoCompetentUnit(Exception):
    """Units cover the point but none is competent for the category."""


def is_competent(kind: str, categories, category_code: str, forces) -> bool:
    """A unit of this force and category list may handle reports of this category (routing and transfers)."""
    return kind in forces and (categories is None or category_code in categories)


def decide(candidates: list[UnitCandidate], category_code: str, forces: list[str], at: datetime) -> RoutingDecision:
    competent = [u for u in candidates if is_competent(u.kind, u.categories, category_code, forces)]
    if not competent:
        raise NoCompetentUnit(category_code)
    closed: list[UnitCandidate] = []
    for force in forces:
        units = sorted((u for u in competent if u.kind == force), key=lambda u: (u.distance_m, u.area, u.id))
        for unit in units:
            if is_open(unit.service_hours, at):
                return RoutingDecision(unit, _reason(unit, closed, at), _fallback(unit), tuple(closed))
            closed.append(unit)
    chosen = sorted(competent, key=lambda u: (forces.index(u.kind), u.distance_m, u.area, u.id))[0]
    reason = _reason(chosen, [u for u in closed if u.id != chosen.id], at) + " ; aucune unité ouverte à cette heure"
    return RoutingDecision(chosen, reason, _fallback(chosen), tuple(closed))


def _fallback(unit: UnitCandidate) -> float | None:
    return unit.distance_m if unit.distance_m > 0 else None


def _reason(unit: UnitCandidate, closed: list[UnitCandidate], at: datetime) -> str:
    if unit.distance_m > 0:
        parts = [f"Hors des limites cartographiées : zone {KIND_LABELS[unit.kind]} la plus proche "
                 f"({unit.name}, à {unit.distance_m:.0f} m)"]
    else:
        parts = [f"Zone {KIND_LABELS[unit.kind]}, {unit.name}"]
    for other in closed:
        parts.append(f"{other.name} ({KIND_LABELS[other.kind]}) fermée à {local_hhmm(at)}")
    return " ; ".join(parts)


# --- Feeding the decision from PostGIS -------------------------------------------------------------

_UNITS_AT = text("""
    SELECT id, name, kind, categories, service_hours, ST_Area(jurisdiction) AS area, 0.0 AS distance_m, synthetic
    FROM units
    WHERE receives_reports AND active AND ST_Intersects(jurisdiction, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
""")

# Nearest jurisdictions by bounding box (KNN on the GiST index), then exact geodesic distance.
_UNITS_NEAR = text("""
    SELECT id, name, kind, categories, service_hours, area, distance_m, synthetic FROM (
        SELECT id, name, kind, categories, service_hours, synthetic, ST_Area(jurisdiction) AS area,
               ST_Distance(jurisdiction::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS distance_m
        FROM units WHERE receives_reports AND active
        ORDER BY jurisdiction <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 12
    ) nearest WHERE distance_m <= :max_m
""")

_COMMUNE_AT = text("""
    SELECT insee_code, name, departement_code, 0.0 AS distance_m FROM communes
    WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) LIMIT 1
""")

_COMMUNE_NEAR = text("""
    SELECT insee_code, name, departement_code, distance_m FROM (
        SELECT insee_code, name, departement_code,
               ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS distance_m
        FROM communes ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 4
    ) nearest WHERE distance_m <= :max_m ORDER BY distance_m LIMIT 1
""")


def _candidate(row) -> UnitCandidate:
    return UnitCandidate(row.id, row.name, row.kind, tuple(row.categories) if row.categories is not None else None,
                         row.service_hours, row.area, float(row.distance_m), row.synthetic)


def _index():
    """The process's in-memory index when ROUTING_INDEX is "memory" (default), else None (PostGIS only)."""
    if current_app.config["ROUTING_INDEX"] != "memory":
        return None
    index = current_app.extensions.get("spatial_index")
    if index is None:
        index = current_app.extensions["spatial_index"] = SpatialIndex(current_app.config["ROUTING_INDEX_TTL_S"])
    return index


def units_at(lon: float, lat: float, max_fallback_m: float) -> list[UnitCandidate]:
    index = _index()
    if index is not None:
        hits = index.units_at(lon, lat)
        if hits:
            return [_candidate(r) for r in hits]
    else:
        rows = db.session.execute(_UNITS_AT, {"lon": lon, "lat": lat}).all()
        if rows:
            return [_candidate(r) for r in rows]
    rows = db.session.execute(_UNITS_NEAR, {"lon": lon, "lat": lat, "max_m": max_fallback_m}).all()
    return [_candidate(r) for r in rows]


def commune_at(lon: float, lat: float, max_fallback_m: float) -> CommuneRef | None:
    index = _index()
    if index is not None:
        row = index.commune_at(lon, lat)
    else:
        row = db.session.execute(_COMMUNE_AT, {"lon": lon, "lat": lat}).first()
    if row is None:
        row = db.session.execute(_COMMUNE_NEAR, {"lon": lon, "lat": lat, "max_m": max_fallback_m}).first()
    return CommuneRef(row.insee_code, row.name, row.departement_code, float(row.distance_m)) if row else None


@dataclass(frozen=True)
class Placement:
    """Where a point is (commune) and who answers there (routing decision)."""
    commune: CommuneRef
    decision: RoutingDecision


def route(lon: float, lat: float, category_code: str, forces: list[str], at: datetime) -> Placement:
    max_m = current_app.config["ROUTING_FALLBACK_DISTANCE_M"]
    commune = commune_at(lon, lat, max_m)
    candidates = units_at(lon, lat, max_m)
    if commune is None or not candidates:
        raise OutsideTerritory()
    return Placement(commune, decide(candidates, category_code, forces, at))
