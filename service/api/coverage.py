"""Who would handle a report here, now: the routing decision without writing anything."""

from flask_smorest import abort

from service.api.blueprint import ApiBlueprint
from service.api.presenters import unit_dict
from service.api.schemas import CoverageQuerySchema, CoverageSchema
from service.reports.categories import active_category
from service.reports.intake import OUTSIDE_TERRITORY
from service.reports.routing import NoCompetentUnit, OutsideTerritory, route
from service.platform import clock

blp = ApiBlueprint("coverage", __name__, description="Couverture : quelle unité est compétente ici et maintenant")


@blp.get("/coverage")
@blp.arguments(CoverageQuerySchema, location="query")
@blp.response(200, CoverageSchema)
def coverage(query):
    # The intake's in-process snapshot of the categories: the answer needs no database round trip at all.
    category = active_category(query["category"])
    if category is None:
        abort(422, message="Catégorie inconnue.", errors={"query": {"category": ["Catégorie inconnue."]}})
    # Nothing is written: the process clock is good enough, and spares a database round trip.
    try:
        placement = route(query["lon"], query["lat"], category.code, list(category.forces), clock.now())
    except OutsideTerritory:
        abort(422, message=OUTSIDE_TERRITORY, errors={"query": {"lat": [OUTSIDE_TERRITORY]}})
    except NoCompetentUnit:
        abort(422, message="Aucune unité compétente ici pour cette catégorie.",
              errors={"query": {"category": ["Aucune unité compétente ici pour cette catégorie."]}})
    commune = placement.commune
    return {"commune": {"insee_code": commune.insee_code, "name": commune.name,
                        "departement_code": commune.departement_code},
            "unit": unit_dict(placement.decision.unit), "reason": placement.decision.reason}
