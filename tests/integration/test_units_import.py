"""`flask units import FILE.geojson`: validated whole, all-or-nothing, upsert by code, never synthetic."""
import json

import pytest
from sqlalchemy import func, select, text

from models import Unit
from service.reference_data.units_import import UnitsImportError, import_units_file

# Two squares in Lorient (Morbihan, 56) and one around Vannes, lon/lat.
LORIENT = [[[-3.40, 47.73], [-3.34, 47.73], [-3.34, 47.77], [-3.40, 47.77], [-3.40, 47.73]]]
LORIENT_PORT = [[[-3.37, 47.72], [-3.35, 47.72], [-3.35, 47.735], [-3.37, 47.735], [-3.37, 47.72]]]
VANNES = [[[-2.80, 47.63], [-2.72, 47.63], [-2.72, 47.68], [-2.80, 47.68], [-2.80, 47.63]]]
BOWTIE = [[[0.0, 45.0], [1.0, 46.0], [1.0, 45.0], [0.0, 46.0], [0.0, 45.0]]]


def feature(properties: dict, coordinates=LORIENT, geometry_type="Polygon") -> dict:
    return {"type": "Feature", "properties": properties,
            "geometry": {"type": geometry_type, "coordinates": coordinates}}


def write(tmp_path, features, name="units.geojson") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return str(path)


def imported_units(session) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.synthetic.is_(False)).order_by(Unit.code)))


def valid_features() -> list[dict]:
    return [
        feature({"name": "DDSP du Morbihan", "kind": "police_nationale", "code": "DDSP-56"},
                [VANNES, LORIENT], "MultiPolygon"),
        feature({"name": "Commissariat de Lorient", "kind": "police_nationale", "code": "CSP-LORIENT",
                 "parent_code": "DDSP-56", "categories": ["rodeo_motorise", "point_de_deal"],
                 "contact": {"phone": "02 97 00 00 00"}}),
        feature({"name": "Police municipale de Lorient", "kind": "police_municipale",
                 "hours": {"mon": [["08:00", "19:00"]], "sat": [["22:00", "02:00"]]}}, LORIENT_PORT),
    ]


def test_valid_file_creates_real_units_with_jurisdiction_hours_and_parent(db_session, tmp_path):
    result = import_units_file(write(tmp_path, valid_features()))

    assert sorted(result.created) == ["CSP-LORIENT", "DDSP-56", "PM-POLICE-MUNICIPALE-DE-LORIENT"]
    assert result.updated == []
    units = {u.code: u for u in imported_units(db_session)}
    assert set(units) == set(result.created)
    csp, pm = units["CSP-LORIENT"], units["PM-POLICE-MUNICIPALE-DE-LORIENT"]
    assert csp.parent_id == units["DDSP-56"].id
    assert csp.categories == ["rodeo_motorise", "point_de_deal"]
    assert csp.contact == {"phone": "02 97 00 00 00"}
    assert csp.departement_code == "56"  # derived from the commune under the jurisdiction
    assert csp.service_hours is None  # no hours given: always open
    assert pm.service_hours["mon"] == [["08:00", "19:00"]]
    assert pm.service_hours["sat"] == [["22:00", "02:00"]]
    assert pm.service_hours["sun"] == []  # a day left out is closed
    assert all(u.receives_reports and not u.synthetic for u in units.values())
    # Stored as a MULTIPOLYGON in WGS 84 that contains the middle of the square.
    row = db_session.execute(text(
        "SELECT GeometryType(jurisdiction), ST_SRID(jurisdiction), "
        "ST_Contains(jurisdiction, ST_SetSRID(ST_MakePoint(-3.37, 47.75), 4326)) FROM units WHERE code = :c"),
        {"c": "CSP-LORIENT"}).one()
    assert tuple(row) == ("MULTIPOLYGON", 4326, True)
    assert db_session.execute(text(
        "SELECT ST_NumGeometries(jurisdiction) FROM units WHERE code = 'DDSP-56'")).scalar() == 2


def test_invalid_file_writes_nothing_and_names_each_bad_feature(db_session, tmp_path):
    units_before = db_session.scalar(select(func.count()).select_from(Unit))
    features = valid_features() + [
        feature({"name": "Brigade fantôme", "kind": "douane"}),                       # 3: unknown kind
        feature({"name": "Brigade en huit", "kind": "gendarmerie"}, BOWTIE),          # 4: self-intersecting
        feature({"name": "PM horaires", "kind": "police_municipale",
                 "hours": {"lundi": [["8h", "19h"]]}}),                               # 5: bad hours
        feature({"kind": "gendarmerie", "colour": "blue"}),                           # 6: no name, unknown property
        feature({"name": "Point", "kind": "gendarmerie"}, [-3.36, 47.75], "Point"),  # 7: not a polygon
        feature({"name": "Inversé", "kind": "gendarmerie"},
                [[[47.73, -3.40], [47.77, -3.40], [47.77, 95.0], [47.73, -3.40]]]),   # 8: lat/lon swapped, out of range
    ]
    with pytest.raises(UnitsImportError) as caught:
        import_units_file(write(tmp_path, features))

    errors = caught.value.errors
    text_of = "\n".join(errors)
    assert any(e.startswith("feature 3 ") and "kind" in e for e in errors), text_of
    assert any(e.startswith("feature 4 ") and "Self-intersection" in e for e in errors), text_of
    assert any(e.startswith("feature 5 ") and "unknown day 'lundi'" in e for e in errors), text_of
    assert any(e.startswith("feature 6") and "name" in e for e in errors), text_of
    assert any(e.startswith("feature 6") and "colour" in e for e in errors), text_of
    assert any(e.startswith("feature 7 ") and "Polygon or a MultiPolygon" in e for e in errors), text_of
    assert any(e.startswith("feature 8 ") and "out of range" in e for e in errors), text_of
    assert not any(e.startswith(("feature 0 ", "feature 1 ", "feature 2 ")) for e in errors), text_of
    # All or nothing: the three valid features were not written either.
    assert db_session.scalar(select(func.count()).select_from(Unit)) == units_before
    assert imported_units(db_session) == []


def test_database_checks_reject_unknown_category_parent_and_synthetic_code(db_session, tmp_path):
    synthetic_code = db_session.scalar(select(Unit.code).where(Unit.synthetic.is_(True)).limit(1))
    features = [
        feature({"name": "A", "kind": "gendarmerie", "code": "GN-A", "categories": ["licorne"]}),
        feature({"name": "B", "kind": "gendarmerie", "code": "GN-B", "parent_code": "NOWHERE"}),
        feature({"name": "C", "kind": "gendarmerie", "code": synthetic_code}),
    ]
    with pytest.raises(UnitsImportError) as caught:
        import_units_file(write(tmp_path, features))
    errors = caught.value.errors
    assert any(e.startswith("feature 0 ") and "licorne" in e for e in errors), errors
    assert any(e.startswith("feature 1 ") and "'NOWHERE'" in e for e in errors), errors
    assert any(e.startswith("feature 2 ") and "synthetic demo unit" in e for e in errors), errors
    assert imported_units(db_session) == []


def test_parent_cycle_and_duplicate_codes_are_refused(db_session, tmp_path):
    features = [
        feature({"name": "A", "kind": "gendarmerie", "code": "GN-A", "parent_code": "GN-B"}),
        feature({"name": "B", "kind": "gendarmerie", "code": "GN-B", "parent_code": "GN-A"}),
        feature({"name": "A bis", "kind": "gendarmerie", "code": "GN-A"}),
    ]
    with pytest.raises(UnitsImportError) as caught:
        import_units_file(write(tmp_path, features))
    assert any("feature 2 " in e and "already used by feature 0" in e for e in caught.value.errors)

    with pytest.raises(UnitsImportError) as caught:
        import_units_file(write(tmp_path, features[:2]))
    assert any("cycle" in e for e in caught.value.errors), caught.value.errors
    assert imported_units(db_session) == []


def test_reimport_updates_by_code_without_duplicates(db_session, tmp_path):
    first = import_units_file(write(tmp_path, valid_features()))
    ids = {u.code: u.id for u in imported_units(db_session)}

    changed = valid_features()
    changed[1]["properties"]["name"] = "Commissariat de police de Lorient"
    changed[1]["properties"]["categories"] = None
    changed[1]["geometry"]["coordinates"] = LORIENT_PORT
    second = import_units_file(write(tmp_path, changed, "units-v2.geojson"))

    assert sorted(second.updated) == sorted(first.created) and second.created == []
    units = {u.code: u for u in imported_units(db_session)}
    assert {code: u.id for code, u in units.items()} == ids
    csp = units["CSP-LORIENT"]
    db_session.refresh(csp)
    assert csp.name == "Commissariat de police de Lorient"
    assert csp.categories is None
    assert db_session.execute(text(
        "SELECT ST_Contains(jurisdiction, ST_SetSRID(ST_MakePoint(-3.37, 47.75), 4326)) FROM units "
        "WHERE code = 'CSP-LORIENT'")).scalar() is False


def test_cli_imports_and_reports_errors(app, db_session, tmp_path):
    runner = app.test_cli_runner()
    bad = write(tmp_path, [feature({"name": "X", "kind": "douane"})], "bad.geojson")
    result = runner.invoke(args=["units", "import", bad])
    assert result.exit_code == 1
    assert "nothing was written" in result.output and "feature 0 ('X')" in result.output

    not_json = tmp_path / "broken.geojson"
    not_json.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    result = runner.invoke(args=["units", "import", str(not_json)])
    assert result.exit_code == 1 and "not valid JSON" in result.output

    good = write(tmp_path, valid_features(), "good.geojson")
    result = runner.invoke(args=["units", "import", "--dry-run", good])
    assert result.exit_code == 0, result.output
    assert imported_units(db_session) == []
    result = runner.invoke(args=["units", "import", good])
    assert result.exit_code == 0, result.output
    assert "3 units imported (3 created, 0 updated)" in result.output
    assert len(imported_units(db_session)) == 3
