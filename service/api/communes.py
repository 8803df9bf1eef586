"""Commune outlines around a place, for maps drawn without a tile server (the residents' app)."""
import json

from models import Commune, db
from service.api.blueprint import ApiBlueprint
from service.api.schemas import CommuneOutlinesQuerySchema, CommuneOutlinesSchema

blp = ApiBlueprint("communes", __name__, description="Contours des communes (fond de carte sans tuiles)")

MAX_COMMUNES = 150


@blp.get("/communes")
@blp.arguments(CommuneOutlinesQuerySchema, location="query")
@blp.response(200, CommuneOutlinesSchema)
def commune_outlines(query):
    return outlines(query["west"], query["south"], query["east"], query["north"])


def outlines(west: float, south: float, east: float, north: float) -> dict:
    """The communes meeting the box, simplified to about a thousandth of its width; none beyond MAX_COMMUNES
    (`truncated`: the client zooms in rather than downloading a département's worth of polygons)."""
    tolerance = (east - west) / 1000
    box = db.func.ST_MakeEnvelope(west, south, east, north, 4326)
    rows = db.session.execute(
        db.select(Commune.insee_code, Commune.name,
                  db.func.ST_AsGeoJSON(db.func.ST_SimplifyPreserveTopology(Commune.geom, tolerance), 5)
                  .label("geometry"))
        .where(db.func.ST_Intersects(Commune.geom, box)).order_by(Commune.insee_code).limit(MAX_COMMUNES + 1)
    ).mappings().all()
    if len(rows) > MAX_COMMUNES:
        return {"type": "FeatureCollection", "features": [], "truncated": True}
    return {"type": "FeatureCollection", "truncated": False, "features": [
        {"type": "Feature", "geometry": json.loads(row["geometry"]),
         "properties": {"insee_code": row["insee_code"], "name": row["name"]}} for row in rows]}
