"""GET /api/v1/communes: commune outlines around a place, the map's background when no tile server is set."""
import pytest

PARIS_CENTRE = {"west": 2.33, "south": 48.85, "east": 2.36, "north": 48.86}


def test_outlines_of_the_communes_in_the_box(client):
    response = client.get("/api/v1/communes", query_string=PARIS_CENTRE)
    assert response.status_code == 200
    body = response.json
    assert body["type"] == "FeatureCollection" and body["truncated"] is False
    names = {f["properties"]["insee_code"]: f["properties"]["name"] for f in body["features"]}
    assert "75104" in names and "75101" in names  # Paris 4e and 1er arrondissements
    assert "69382" not in names
    geometry = body["features"][0]["geometry"]
    assert geometry["type"] in ("Polygon", "MultiPolygon") and geometry["coordinates"]


def test_a_box_with_too_many_communes_is_truncated(client):
    response = client.get("/api/v1/communes", query_string={"west": 2.0, "south": 48.5, "east": 3.0, "north": 49.5})
    assert response.status_code == 200
    assert response.json == {"type": "FeatureCollection", "features": [], "truncated": True}


def test_nothing_outside_the_territories(client):
    response = client.get("/api/v1/communes", query_string={"west": -5.5, "south": 45.5, "east": -5.0, "north": 46.0})
    assert response.status_code == 200 and response.json["features"] == []


@pytest.mark.parametrize("query", [
    {"west": 2.36, "south": 48.85, "east": 2.33, "north": 48.86},   # west after east
    {"west": 0.0, "south": 45.0, "east": 3.0, "north": 46.0},       # wider than two degrees
    {"west": 2.33, "south": 48.85, "east": 2.36},                    # north missing
    {"west": 2.33, "south": 98, "east": 2.36, "north": 99},          # not a latitude
])
def test_bad_boxes_are_422(client, query):
    response = client.get("/api/v1/communes", query_string=query)
    assert response.status_code == 422
    assert response.json["code"] == 422 and response.json["errors"]
