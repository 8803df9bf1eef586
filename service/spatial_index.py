"""In-memory spatial index of unit jurisdictions and communes, kept in step with the database.

Routing a point costs two GiST lookups in PostGIS (a round trip each); the same answer from an
STRtree of prepared GEOS geometries in the process is faster and spares the database. The index
compares a cheap fingerprint of the tables (row counts, last update) at most every `ttl` seconds
and reloads when they changed, so an import or a rebuild of the units is picked up without restart.
Points outside every polygon (gaps, just off the coast) fall back to PostGIS nearest-neighbour SQL.
"""
import threading
import time

import numpy as np
import shapely
from sqlalchemy import text

from models import db

_FINGERPRINT = text("""
    SELECT (SELECT count(*) FROM units WHERE receives_reports AND active),
           (SELECT max(updated_at) FROM units),
           (SELECT count(*) FROM communes)
""")


class SpatialIndex:
    def __init__(self, ttl_seconds: float):
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._fingerprint = None
        self._checked_at = 0.0
        self._units = None
        self._communes = None

    def units_at(self, lon: float, lat: float) -> list[tuple]:
        """Rows (id, name, kind, categories, service_hours, area) of units whose jurisdiction holds the point."""
        units = self._fresh()[0]
        point = shapely.Point(lon, lat)
        return [units["rows"][i] for i in units["tree"].query(point, predicate="intersects")]

    def commune_at(self, lon: float, lat: float) -> tuple | None:
        """(insee_code, name, departement_code) of the commune holding the point, or None."""
        communes = self._fresh()[1]
        hits = communes["tree"].query(shapely.Point(lon, lat), predicate="intersects")
        return communes["rows"][int(np.min(hits))] if len(hits) else None

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
            "SELECT id, name, kind, categories, service_hours, ST_Area(jurisdiction), ST_AsBinary(jurisdiction) "
            "FROM units WHERE receives_reports AND active ORDER BY id")).all()
        commune_rows = db.session.execute(text(
            "SELECT insee_code, name, departement_code, ST_AsBinary(geom) FROM communes ORDER BY insee_code")).all()
        return _tree([r[:6] for r in unit_rows], [r[6] for r in unit_rows]), \
            _tree([r[:3] for r in commune_rows], [r[3] for r in commune_rows])


def _tree(rows, wkbs):
    geometries = shapely.from_wkb([bytes(w) for w in wkbs]) if wkbs else np.array([], dtype=object)
    shapely.prepare(geometries)
    return {"rows": rows, "tree": shapely.STRtree(geometries)}
