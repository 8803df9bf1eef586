"""Round trip against a live Proxima server through georeport, an independent Open311 client from PyPI.

georeport (requests + xmltodict) only reads (services, definitions, requests); the POST goes through plain
`requests`, form-encoded as FixMyStreet and city CRMs send it.
"""

import pytest
import requests
from georeport import GeoReport
from lxml import etree

from service.accounts import partners

JURISDICTION = "proxima.interieur.gouv.fr"


@pytest.fixture
def open311_url(live_server):
    return f"{live_server}/open311/v2"


@pytest.mark.slow
def test_round_trip_through_an_independent_client(open311_url, committed):
    secret = partners.create_key("Portail citoyen de Lyon").secret
    response = requests.post(f"{open311_url}/requests.xml", timeout=10, data={
        "api_key": secret, "jurisdiction_id": JURISDICTION, "service_code": "rodeo_motorise",
        "lat": "45.7640", "long": "4.8357", "description": "Trois motos sur le quai",
        "attribute[vehicle_count]": "3", "attribute[vehicle_type][]": ["moto", "quad"]})
    assert response.status_code == 201, response.text
    reference = etree.fromstring(response.content).findtext("request/service_request_id")
    assert reference

    for output_format in ("json", "xml"):
        client = GeoReport(open311_url, jurisdiction=JURISDICTION, output_format=output_format)
        services = client.get_service_list()
        assert "rodeo_motorise" in {s["service_code"] for s in services}
        definition = client.get_service_definition("rodeo_motorise")
        attributes = definition["attributes"] if output_format == "json" else definition["attributes"]["attribute"]
        assert [a["code"] for a in attributes] == ["vehicle_count", "vehicle_type"]

        found = client.get_service_requests(service_code="rodeo_motorise", status="open")
        # xmltodict turns a single child into a dict, the JSON format keeps the array.
        found = found if isinstance(found, list) else [found]
        assert [r["service_request_id"] for r in found] == [reference]

        one = client.get_service_request(reference)
        assert one["service_request_id"] == reference and one["status"] == "open"
        assert one["service_code"] == "rodeo_motorise" and one["agency_responsible"]
        assert str(one["lat"]) == "45.764" and str(one["long"]) == "4.836"

    # An empty list is an empty array in JSON (georeport's XML path cannot read an empty container at all).
    assert GeoReport(open311_url).get_service_requests(service_code="degradation") == []

    with pytest.raises(requests.HTTPError) as unknown:
        GeoReport(open311_url, jurisdiction="paris.fr").get_service_list()
    assert unknown.value.response.status_code == 404
