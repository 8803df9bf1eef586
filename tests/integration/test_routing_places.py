"""Routing at known places over the real communes and the demo units."""
from datetime import datetime

import pytest

from service.reports.routing import OutsideTerritory, route
from service.platform.clock import PARIS

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=PARIS)
NIGHT = datetime(2026, 11, 26, 23, 40, tzinfo=PARIS)
ALL_FORCES = ["police_nationale", "gendarmerie", "police_municipale"]


def test_notre_dame_de_paris_is_paris_4e_and_its_commissariat(db_session):
    placement = route(2.3499, 48.8530, "rodeo_motorise", ALL_FORCES, NOON)
    assert (placement.commune.insee_code, placement.commune.name) == ("75104", "Paris 4e Arrondissement")
    assert placement.decision.unit.kind == "police_nationale"
    assert placement.decision.unit.name == "Commissariat de Paris 4e Arrondissement"
    assert placement.decision.reason == "Zone police nationale, Commissariat de Paris 4e Arrondissement"


def test_place_bellecour_is_lyon(db_session):
    placement = route(4.8320, 45.7578, "rodeo_motorise", ALL_FORCES, NOON)
    assert placement.commune.insee_code == "69382"
    assert placement.commune.departement_code == "69"
    assert placement.decision.unit.name == "Commissariat de Lyon 2e Arrondissement"


def test_a_village_is_gendarmerie(db_session):
    placement = route(4.92007, 46.15168, "degradation", ["police_municipale", "police_nationale", "gendarmerie"],
                      NOON)
    assert placement.commune.name == "Abergement-Clémenciat"
    assert placement.decision.unit.kind == "gendarmerie"
    assert placement.decision.reason.startswith("Zone gendarmerie, Brigade de gendarmerie de ")


def test_mont_saint_michel_just_off_the_simplified_coast_goes_to_the_nearest_jurisdiction(db_session):
    placement = route(-1.5115, 48.6361, "autre", ALL_FORCES, NOON)
    assert placement.commune.name == "Mont-Saint-Michel"
    assert 0 < placement.commune.distance_m < 2000
    assert placement.decision.fallback_distance_m is not None and placement.decision.fallback_distance_m < 2000
    assert "la plus proche" in placement.decision.reason


def test_the_open_sea_is_outside_every_territory(db_session):
    with pytest.raises(OutsideTerritory):
        route(-5.0, 46.0, "autre", ALL_FORCES, NOON)


def test_fallback_distance_is_configurable(app, db_session):
    app.config["ROUTING_FALLBACK_DISTANCE_M"] = 500
    try:
        with pytest.raises(OutsideTerritory):
            route(-1.5115, 48.6361, "autre", ALL_FORCES, NOON)
    finally:
        app.config["ROUTING_FALLBACK_DISTANCE_M"] = 2000


def test_police_municipale_closed_at_night_hands_over_to_the_commissariat(db_session):
    forces = ["police_municipale", "police_nationale", "gendarmerie"]
    day = route(2.3499, 48.8530, "nuisance_sonore", forces, NOON)
    assert day.decision.unit.name == "Police municipale de Paris"
    night = route(2.3499, 48.8530, "nuisance_sonore", forces, NIGHT)
    assert night.decision.unit.name == "Commissariat de Paris 4e Arrondissement"
    assert night.decision.reason == ("Zone police nationale, Commissariat de Paris 4e Arrondissement ; "
                                     "Police municipale de Paris (police municipale) fermée à 23:40")


def test_in_memory_index_agrees_with_postgis_on_realistic_points(app, db_session):
    """Points drawn in communes weighted by population, plus jitter that lands some in gaps and at sea."""
    from sqlalchemy import text
    from service.reports.routing import commune_at, units_at
    points = db_session.execute(text("""
        SELECT ST_X(p) + (random() - 0.5) * 0.02, ST_Y(p) + (random() - 0.5) * 0.02 FROM (
            SELECT ST_PointOnSurface(geom) AS p FROM communes
            ORDER BY random() * -ln(random()) / (population + 1) LIMIT 1000) s""")).all()
    disagreements = []
    for lon, lat in points:
        app.config["ROUTING_INDEX"] = "memory"
        memory = ({(u.id, u.kind, u.synthetic) for u in units_at(lon, lat, 2000)}, commune_at(lon, lat, 2000))
        app.config["ROUTING_INDEX"] = "sql"
        sql = ({(u.id, u.kind, u.synthetic) for u in units_at(lon, lat, 2000)}, commune_at(lon, lat, 2000))
        if memory != sql:
            disagreements.append((lon, lat, memory, sql))
    app.config["ROUTING_INDEX"] = "memory"
    assert disagreements == []
