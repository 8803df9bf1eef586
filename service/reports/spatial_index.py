"""In-memory spatial index of unit jurisdictions and communes, kept in step with the database.

Routing a point costs two GiST lookups in PostGIS (a round trip each); the same answer from prepared
GEOS geometries in the process is faster and spares the database. Lookups go through a grid of
0.05° cells listing the geometries whose bounding box touches each cell, then one vectorised
`shapely.intersects_xy` over those few candidates: no Point object and no tree walk per lookup
(faster than an STRtree query with a Point; the comparison is bench B2, figures in bench/README.md). The index
compares a cheap fingerprint of the tables (row counts, last update) at most every `ttl` seconds
and reloads when they changed, so an import or a rebuild of the units is picked up without restart.
Points outside every polygon (gaps, just off the coast) fall back to PostGIS nearest-neighbour SQL.
"""
import math
import threading
import time
from typing import NamedTuple

import numpy as np
import shapely
from sqlalchemy import text

from models import db

_FINGERPRINT = text("""
    SELECT (SELECT count(*) FROM units WHERE receives_reports AND active),
           (SELECT max(updated_at) FROM units),
           (SELECT count(*) FROM communes)
""")


class IndexedUnit(NamedTuple):
    """A unit whose jurisdiction holds the point (same names as the routing SQL's columns)."""
    id: int
    name: str
    kind: str
    categories: list[str] | None
    service_hours: dict | None
    area: float
    synthetic: bool
    distance_m: float = 0.0


class IndexedCommune(NamedTuple):
    """The commune holding the point (same names as the routing SQL's columns)."""
    insee_code: str
    name: str
    departement_code: str
    distance_m: float = 0.0


class SpatialIndex:
    def __init__(self, ttl_seconds: float):
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._fingerprint = None
        self._checked_at = 0.0
        self._units = None
        self._communes = None

    def units_at(self, lon: float, lat: float) -> list[IndexedUnit]:
        """The units whose jurisdiction holds the point."""
        units = self._fresh()[0]
        rows = units["rows"]
        return [rows[i] for i in _hits(units, lon, lat)]

    def commune_at(self, lon: float, lat: float) -> IndexedCommune | None:
        """The commune holding the point, or None."""
        communes = self._fresh()[1]
        hits = _hits(communes, lon, lat)
        return communes["rows"][min(hits)] if hits else None

    def _fresh(self):
        now = time.monotonic()
        if self._units is not None and now - self._checked_at < self.ttl:
            return self._units, self._communes
        fingerprint = tuple(db.session.execute(_FINGERPRINT).one())
        with self._lock:
            if fingerprint != self._fingerprint or self._units is None:
                self._units, self._communes = self._load()
                self._fingerprint = fingerprint
            self._checked_at = now
        return self._units, self._communes

    @staticmethod
    def _load():
        unit_rows = db.session.execute(text(
            "SELECT id, name, kind, categories, service_hours, ST_Area(jurisdiction) AS area, synthetic, "
            "ST_AsBinary(jurisdiction) AS wkb FROM units WHERE receives_reports AND active ORDER BY id")).all()
        commune_rows = db.session.execute(text(
            "SELECT insee_code, name, departement_code, ST_AsBinary(geom) AS wkb FROM communes ORDER BY insee_code"
        )).all()
        units = [IndexedUnit(r.id, r.name, r.kind, r.categories, r.service_hours, r.area, r.synthetic)
                 for r in unit_rows]
        communes = [IndexedCommune(r.insee_code, r.name, r.departement_code) for r in commune_rows]
        return _grid(units, [r.wkb for r in unit_rows]), _grid(communes, [r.wkb for r in commune_rows])


# Grid cell size in degrees (about 5.5 km × 3.7 km in metropolitan France): about five commune candidates per cell.
CELL_DEG = 0.05


def _grid(rows, wkbs):
    geometries = shapely.from_wkb([bytes(w) for w in wkbs]) if wkbs else np.array([], dtype=object)
    shapely.prepare(geometries)
    cells: dict[tuple[int, int], list[int]] = {}
    for i, (x0, y0, x1, y1) in enumerate(shapely.bounds(geometries).tolist() if len(geometries) else []):
        # Same floor(x / CELL_DEG) as the lookup (division and floor are monotonic): no cell can be missed.
        for cx in range(math.floor(x0 / CELL_DEG), math.floor(x1 / CELL_DEG) + 1):
            for cy in range(math.floor(y0 / CELL_DEG), math.floor(y1 / CELL_DEG) + 1):
                cells.setdefault((cx, cy), []).append(i)
    grid = {cell: (np.array(ids, dtype=np.intp), geometries[ids]) for cell, ids in cells.items()}
    return {"rows": rows, "grid": grid}


def _hits(index: dict, lon: float, lat: float) -> list[int]:
    """Positions (in `rows`) of the geometries that intersect the point, in ascending order."""
    entry = index["grid"].get((math.floor(lon / CELL_DEG), math.floor(lat / CELL_DEG)))
    if entry is None:
        return []
    ids, geometries = entry
    return ids[shapely.intersects_xy(geometries, lon, lat)].tolist()
