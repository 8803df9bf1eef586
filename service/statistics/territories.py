"""Overlay territories for indicators (quartiers de reconquête républicaine, QPV…) imported from GeoJSON."""
import json

from sqlalchemy import text

from models import db
from service.statistics.report_clocks import refresh_territories


class TerritoryImportError(ValueError):
    """The file is not a usable GeoJSON FeatureCollection; nothing was imported."""


def _feature_fields(feature: dict, index: int, code_property: str, name_property: str) -> tuple[str, str, str]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise TerritoryImportError(f"Objet n° {index + 1} : un « Feature » GeoJSON est attendu.")
    props = feature.get("properties") or {}
    geometry = feature.get("geometry")
    if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise TerritoryImportError(f"Objet n° {index + 1} : géométrie Polygon ou MultiPolygon attendue.")
    code = str(props.get(code_property) or feature.get("id") or "").strip()
    name = str(props.get(name_property) or code).strip()
    if not code:
        raise TerritoryImportError(f"Objet n° {index + 1} : propriété « {code_property} » (code) absente.")
    return code, name, json.dumps(geometry)


def import_territories(geojson: dict, kind: str = "overlay", code_property: str = "code",
                       name_property: str = "name") -> dict:
    """Insert or replace (by code) every feature, in one transaction; returns {"created", "updated"}.

    Coordinates are WGS 84 longitude/latitude (RFC 7946). Invalid polygons are repaired with ST_MakeValid.
    Commits, then recomputes which materialised reports fall in which territory.
    """
    if not isinstance(geojson, dict) or geojson.get("type") != "FeatureCollection":
        raise TerritoryImportError("Une « FeatureCollection » GeoJSON est attendue.")
    features = geojson.get("features") or []
    if not features:
        raise TerritoryImportError("Le fichier ne contient aucun territoire.")
    rows = [_feature_fields(f, i, code_property, name_property) for i, f in enumerate(features)]
    codes = [r[0] for r in rows]
    if len(set(codes)) != len(codes):
        raise TerritoryImportError("Codes de territoire en double dans le fichier.")
    existing = set(db.session.scalars(text("SELECT code FROM territories WHERE code = ANY(:c)"), {"c": codes}))
    for code, name, geometry in rows:
        try:
            with db.session.begin_nested():
                db.session.execute(text("""
                    INSERT INTO territories (code, name, kind, geom)
                    VALUES (:code, :name, :kind, ST_Multi(ST_CollectionExtract(ST_MakeValid(
                            ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326)), 3)))
                    ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, geom = excluded.geom
                """), {"code": code, "name": name, "kind": kind, "geometry": geometry})
        except Exception as exc:  # PostGIS rejects the geometry: say which feature, import nothing
            db.session.rollback()
            raise TerritoryImportError(
                f"Territoire « {code} » : géométrie invalide ({exc.__class__.__name__}).") from exc
    db.session.commit()
    refresh_territories()
    return {"created": len(set(codes) - existing), "updated": len(existing)}
