"""Open311 GeoReport v2 conformance: every wire, filter, error and privacy rule, in XML (parsed with lxml) and JSON."""
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree
from PIL import Image
from sqlalchemy import event, select, text

from models import EventType, PartnerKey, Report, ReportContact, ReportEvent, db
from service.accounts import partners
from service.platform import clock as service_clock
from tests.instants import WEEKDAY_NIGHT

BASE = "/open311/v2"
PARIS_4E = {"lat": "48.8566", "long": "2.3522"}
LYON_2E = {"lat": "45.7485", "long": "4.8270"}
ISO_WITH_TZ = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]


# --- helpers -------------------------------------------------------------------------------------------------

def xml_of(response):
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = etree.fromstring(response.data)
    assert root.nsmap == {}  # no namespace
    return root


def json_of(response):
    assert response.content_type == "application/json; charset=utf-8"
    return json.loads(response.data)


def xml_errors(response, status):
    assert response.status_code == status
    root = xml_of(response)
    assert root.tag == "errors"
    errors = root.findall("error")
    assert errors and all(e.findtext("code") == str(status) and e.findtext("description") for e in errors)
    return [e.findtext("description") for e in errors]


def json_errors(response, status):
    assert response.status_code == status
    body = json_of(response)
    assert isinstance(body, list) and body
    assert all(e["code"] == status and e["description"] for e in body)
    return [e["description"] for e in body]


def request_as_dict(element):
    return {child.tag: child.text or "" for child in element if len(child) == 0}


@pytest.fixture
def key(db_session):
    return partners.create_key("Mairie de Paris — CRM")


def post(client, key, fmt="json", headers=None, **form):
    data = {"api_key": key.secret, "service_code": "degradation", **PARIS_4E, **form}
    return client.post(f"{BASE}/requests.{fmt}", data=data, headers=headers or {})


def created_reference(response):
    assert response.status_code == 201, response.data
    body = json_of(response)
    assert len(body) == 1 and "token" not in body[0]
    return body[0]["service_request_id"]


def report_of(reference) -> Report:
    return db.session.execute(select(Report).where(Report.reference == reference)).scalar_one()


def finish(report: Report, status: str, outcome: str | None, at: datetime):
    """What the triage workflow writes when a unit handles a report: events, status, outcome, timestamps."""
    step = (at - report.received_at) / 3
    events = [(EventType.ACKNOWLEDGED, report.received_at + step, None),
              (EventType.DISPATCHED, report.received_at + 2 * step, None),
              (EventType(status) if status != "closed" else EventType.RESOLVED, at, outcome)]
    for kind, when, code in events:
        db.session.add(ReportEvent(report_id=report.id, type=kind.value, at=when, actor_kind="officer",
                                   unit_id=report.unit_id, outcome_code=code, citizen_visible=True,
                                   text="Note interne : voisin M. Dupont, 06 12 34 56 78"))
    report.status, report.outcome_code, report.closed_at, report.updated_at = status, outcome, at, at
    db.session.commit()


# --- discovery and services ----------------------------------------------------------------------------------

def test_discovery_in_both_formats(client):
    root = xml_of(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert ISO_WITH_TZ.match(root.findtext("changeset"))
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.findtext("url").endswith("/open311/v2")
    assert endpoint.findtext("type") in ("production", "test")
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]
    body = json_of(client.get(f"{BASE}/discovery.json"))
    assert isinstance(body["endpoints"], list) and body["endpoints"][0]["formats"] == ["text/xml", "application/json"]
    assert body["contact"] and body["key_service"]


def test_services_are_the_categories(client):
    root = xml_of(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    services = {s.findtext("service_code"): s for s in root.findall("service")}
    rodeo = services["rodeo_motorise"]
    assert [c.tag for c in rodeo] == ["service_code", "service_name", "description", "metadata", "type", "keywords",
                                      "group"]
    assert rodeo.findtext("service_name") == "Rodéo motorisé"
    assert rodeo.findtext("metadata") == "true" and services["degradation"].findtext("metadata") == "false"
    assert rodeo.findtext("type") == "realtime" and "moto" in rodeo.findtext("keywords").split(",")
    assert rodeo.findtext("group") == "Tranquillité publique"
    response = client.get(f"{BASE}/services.json")
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # public data, readable from any page
    body = json_of(response)
    assert isinstance(body, list) and {s["service_code"] for s in body} == set(services)
    assert all(isinstance(s["service_code"], str) and isinstance(s["metadata"], bool) for s in body)
    # Sensitive categories are listed (partners may forward such reports) but their requests never appear.
    assert "point_de_deal" in services


def test_service_definition_serves_attributes(client):
    root = xml_of(client.get(f"{BASE}/services/rodeo_motorise.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "rodeo_motorise"
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["vehicle_count", "vehicle_type"]
    vehicle_type = attributes[1]
    assert vehicle_type.findtext("variable") == "true" and vehicle_type.findtext("required") == "false"
    assert vehicle_type.findtext("datatype") == "multivaluelist" and vehicle_type.findtext("order") == "2"
    assert vehicle_type.findtext("description") == "Type d'engins" and vehicle_type.findtext("datatype_description")
    assert [(v.findtext("key"), v.findtext("name")) for v in vehicle_type.findall("values/value")][0] == \
        ("moto", "Moto / motocross")
    body = json_of(client.get(f"{BASE}/services/nuisance_sonore.json"))
    assert isinstance(body, dict) and body["service_code"] == "nuisance_sonore"
    (source,) = body["attributes"]
    assert source["datatype"] == "singlevaluelist" and source["required"] is True
    assert {"key": "logement", "name": "Logement"} in source["values"]
    # A category without questions has an empty attribute list (still an array).
    assert json_of(client.get(f"{BASE}/services/degradation.json"))["attributes"] == []


# --- errors and routing --------------------------------------------------------------------------------------

def test_unknown_resources_and_methods_answer_in_open311_format(client):
    assert "rien" in xml_errors(client.get(f"{BASE}/services/rien.xml"), 404)[0]
    json_errors(client.get(f"{BASE}/services/rien.json"), 404)
    json_errors(client.get(f"{BASE}/nowhere.json"), 404)
    xml_errors(client.get(f"{BASE}/services.csv"), 404)
    xml_errors(client.get("/open311"), 404)
    xml_errors(client.get(f"{BASE}/requests/PX-0000000000.xml"), 404)
    # A wrong method is "anything else": 400, not 405.
    assert "DELETE" in json_errors(client.delete(f"{BASE}/requests.json"), 400)[0]
    xml_errors(client.put(f"{BASE}/services.xml"), 400)


def test_oversized_body_is_an_open311_400(app, client, key):
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 2000
    try:
        response = post(client, key, "xml", description="x" * 3000)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    xml_errors(response, 400)
    assert db.session.execute(select(Report)).first() is None


def test_jurisdiction_id(client):
    assert client.get(f"{BASE}/services.xml?jurisdiction_id=proxima.interieur.gouv.fr").status_code == 200
    assert client.get(f"{BASE}/services.xml?jurisdiction_id=").status_code == 200  # empty = absent
    xml_errors(client.get(f"{BASE}/services.xml?jurisdiction_id=sf.gov"), 404)
    json_errors(client.get(f"{BASE}/requests.json?jurisdiction_id=sf.gov"), 404)


# --- POST /requests ------------------------------------------------------------------------------------------

def test_post_requires_a_valid_active_api_key(client, key):
    form = {"service_code": "degradation", **PARIS_4E}
    xml_errors(client.post(f"{BASE}/requests.xml", data=form), 403)
    json_errors(client.post(f"{BASE}/requests.json", data={**form, "api_key": ""}), 403)
    json_errors(client.post(f"{BASE}/requests.json", data={**form, "api_key": "pxk_forged"}), 403)
    partners.revoke_key(key.partner_key.id)
    xml_errors(post(client, key, "xml"), 403)
    assert db.session.execute(select(Report)).first() is None


# At night: the notice names the commissariat (the police municipale is closed).
@pytest.mark.instant(WEEKDAY_NIGHT)
def test_post_goes_through_intake_and_answers_a_list_of_one(client, key):
    response = post(client, key, "xml", description="Tags sur la façade de l'école.", email="r@example.fr",
                    first_name="Jeanne", last_name="Martin", phone="0612345678", device_id="dev-1",
                    account_id="acc-9")
    assert response.status_code == 201
    root = xml_of(response)
    assert root.tag == "service_requests"
    (item,) = root.findall("request")
    assert item.find("token") is None  # never both
    reference = item.findtext("service_request_id")
    assert "Commissariat de Paris 4e" in item.findtext("service_notice")
    report = report_of(reference)
    assert (report.source, report.category_code) == ("open311", "degradation")
    assert report.partner_key_id == key.partner_key.id
    assert report.commune_name == "Paris 4e Arrondissement" and report.unit.name.startswith("Commissariat")
    assert [e.type for e in report.events] == ["created", "routed"]
    assert report.events[0].actor_kind == "partner"
    assert "Access-Control-Allow-Origin" not in response.headers
    contact = db.session.get(ReportContact, report.id)
    assert (contact.name, contact.email, contact.phone) == ("Jeanne Martin", "r@example.fr", "0612345678")
    assert db.session.get(PartnerKey, key.partner_key.id).last_used_at is not None


def test_post_and_the_mobile_app_share_one_intake(client, key):
    """Same routing and duplicate grouping across channels; app reports are served to partners too."""
    device = client.post("/api/v1/devices", json={"platform": "android"})
    assert device.status_code == 201, device.data
    app_report = client.post("/api/v1/reports", headers={"Authorization": f"Bearer {device.json['token']}"}, json={
        "category": "degradation", "description": "Abribus brisé", "location": {"lat": 48.8566, "lon": 2.3522}})
    assert app_report.status_code == 201, app_report.data
    app_reference = app_report.json["reference"]
    partner_reference = created_reference(post(client, key, lat="48.85661", long="2.35221"))
    from_app, from_partner = report_of(app_reference), report_of(partner_reference)
    assert from_partner.unit_id == from_app.unit_id and from_partner.routing_reason == from_app.routing_reason
    assert from_partner.incident_id == from_app.incident_id is not None
    (served,) = json_of(client.get(f"{BASE}/requests/{partner_reference}.json?extensions=true"))
    assert served["extended_attributes"] == {"duplicate": True, "parent_request_id": app_reference,
                                             "detailed_status": "received"}


def test_post_attributes_single_and_multi_values(client, key):
    reference = created_reference(post(client, key, service_code="rodeo_motorise", **{
        "attribute[vehicle_count]": "3", "attribute[vehicle_type][]": ["moto", "quad"]}))
    assert report_of(reference).answers == {"vehicle_count": 3, "vehicle_type": ["moto", "quad"]}
    reference = created_reference(post(client, key, service_code="nuisance_sonore", **LYON_2E,
                                       **{"attribute[source]": "voie_publique"}))
    assert report_of(reference).answers == {"source": "voie_publique"}


def test_post_enforces_required_and_valid_attributes(client, key):
    assert any("source" in d for d in json_errors(post(client, key, service_code="nuisance_sonore"), 400))
    assert any("source" in d for d in xml_errors(
        post(client, key, "xml", service_code="nuisance_sonore", **{"attribute[source]": ""}), 400))
    json_errors(post(client, key, service_code="nuisance_sonore", **{"attribute[source]": "fusée"}), 400)
    json_errors(post(client, key, service_code="rodeo_motorise", **{"attribute[vehicle_type][]": ["moto", "char"]}),
                400)
    json_errors(post(client, key, service_code="rodeo_motorise", **{"attribute[vehicle_count]": "beaucoup"}), 400)
    json_errors(post(client, key, **{"attribute[inconnu]": "x"}), 400)
    assert db.session.execute(select(Report)).first() is None


def test_post_description_is_plain_text_of_at_most_4000_characters(client, key):
    assert "4000" in json_errors(post(client, key, description="x" * 4001), 400)[0]
    assert "HTML" in xml_errors(post(client, key, "xml", description="<b>urgent</b>"), 400)[0]
    json_errors(post(client, key, description="voir &nbsp; ici"), 400)
    reference = created_reference(post(client, key, description="a < b, et 3 > 2 : " + "y" * 3970))
    assert report_of(reference).description.startswith("a < b")


def test_post_location_and_service_code_errors(client, key):
    assert "géocode" in json_errors(post(client, key, lat="", long="", address_string="1 rue de Rivoli"), 400)[0]
    json_errors(post(client, key, lat="91", long="2"), 400)
    json_errors(post(client, key, lat="nord", long="2"), 400)
    assert "service_code" in xml_errors(post(client, key, "xml", service_code="licorne"), 400)[0]
    json_errors(post(client, key, service_code=""), 400)
    # Outside every served territory: the intake's refusal, as an Open311 400.
    assert any("territoires" in d for d in json_errors(post(client, key, lat="0.5", long="-30"), 400))


def test_post_empty_optional_parameters_are_absent(client, key):
    reference = created_reference(post(client, key, service_code="rodeo_motorise", description="", email="",
                                       phone="", first_name="", media_url="", **{"attribute[vehicle_count]": ""}))
    report = report_of(reference)
    assert report.answers == {} and report.description == ""
    assert db.session.get(ReportContact, report.id) is None


def test_post_media_url_is_checked_not_fetched_and_media_files_are_photos(client, key):
    json_errors(post(client, key, media_url="file:///etc/passwd"), 400)
    reference = created_reference(post(client, key, media_url="https://crm.example.fr/photo/1.jpg"))
    assert report_of(reference).photos == []
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(image, "PNG")
    response = client.post(f"{BASE}/requests.json", content_type="multipart/form-data", data={
        "api_key": key.secret, "service_code": "degradation", **LYON_2E,
        "media[]": (io.BytesIO(image.getvalue()), "tag.png", "image/png")})
    photos = report_of(created_reference(response)).photos
    assert len(photos) == 1 and photos[0].width == 64
    bad = client.post(f"{BASE}/requests.xml", content_type="multipart/form-data", data={
        "api_key": key.secret, "service_code": "degradation", **LYON_2E,
        "media[]": (io.BytesIO(b"not an image"), "x.png", "image/png")})
    assert any("media" in d for d in xml_errors(bad, 400))


def test_post_is_idempotent_and_tokens_resolve(client, key):
    headers = {"Idempotency-Key": "crm-4711"}
    first = post(client, key, headers=headers, description="Abribus cassé")
    reference = created_reference(first)
    again = post(client, key, headers=headers, description="Abribus cassé")
    assert again.status_code == 200 and json_of(again)[0]["service_request_id"] == reference
    assert db.session.execute(text("SELECT count(*) FROM reports")).scalar() == 1
    json_errors(post(client, key, headers=headers, description="Autre chose"), 400)
    # The partner's own token, with its key; a reference resolves to itself.
    body = json_of(client.get(f"{BASE}/tokens/crm-4711.json?api_key={key.secret}"))
    assert body == [{"service_request_id": reference, "token": "crm-4711"}]
    root = xml_of(client.get(f"{BASE}/tokens/{reference}.xml"))
    assert root.findtext("request/service_request_id") == reference and root.findtext("request/token") == reference
    json_errors(client.get(f"{BASE}/tokens/crm-4711.json"), 404)  # another partner cannot probe it
    other = partners.create_key("Autre partenaire")
    json_errors(client.get(f"{BASE}/tokens/crm-4711.json?api_key={other.secret}"), 404)


# --- GET /requests: fields and privacy -----------------------------------------------------------------------

def test_request_fields_formats_and_privacy(client, key):
    reference = created_reference(post(client, key, description="Mon voisin Paul Durand casse les vitres",
                                       email="secret@example.fr", phone="0699999999", first_name="Zoé"))
    report = report_of(reference)
    root = xml_of(client.get(f"{BASE}/requests/{reference}.xml"))
    assert root.tag == "service_requests"
    (item,) = root.findall("request")
    assert [c.tag for c in item] == REQUEST_FIELDS
    fields = request_as_dict(item)
    assert fields["status"] == "open" and fields["status_notes"].startswith("Reçu")
    assert fields["service_code"] == "degradation" and fields["service_name"] == "Dégradation"
    assert fields["agency_responsible"] == report.unit.name
    assert fields["address"] == "Paris 4e Arrondissement" and fields["zipcode"] == ""
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert ISO_WITH_TZ.match(fields[name]), fields[name]
    assert datetime.fromisoformat(fields["expected_datetime"]) == report.resolve_due_at.replace(microsecond=0)
    assert datetime.fromisoformat(fields["requested_datetime"]) == report.received_at.replace(microsecond=0)
    assert (fields["lat"], fields["long"]) == ("48.857", "2.352")  # ≈ 100 m, 3 decimals
    assert fields["description"] == "" and fields["media_url"] == ""
    (document,) = json_of(client.get(f"{BASE}/requests/{reference}.json"))
    assert list(document) == REQUEST_FIELDS
    assert document["lat"] == 48.857 and isinstance(document["service_request_id"], str)
    for body in (client.get(f"{BASE}/requests.xml?extensions=true").data,
                 client.get(f"{BASE}/requests.json?extensions=true").data,
                 client.get(f"{BASE}/servicerequestupdates.xml").data):
        for secret in (b"Durand", b"secret@example.fr", b"0699999999", "Zoé".encode(), b"48.8566", b"2.3522"):
            assert secret not in body


def test_sensitive_categories_never_appear(client, key):
    deal = created_reference(post(client, key, service_code="point_de_deal", **LYON_2E))
    tag = created_reference(post(client, key))
    listed = [r["service_request_id"] for r in json_of(client.get(f"{BASE}/requests.json"))]
    assert listed == [tag]
    json_errors(client.get(f"{BASE}/requests/{deal}.json"), 404)
    by_ids = json_of(client.get(f"{BASE}/requests.json?service_request_id={deal},{tag}"))
    assert [r["service_request_id"] for r in by_ids] == [tag]
    assert json_of(client.get(f"{BASE}/requests.json?service_code=point_de_deal")) == []
    assert deal.encode() not in client.get(f"{BASE}/servicerequestupdates.json").data
    json_errors(client.get(f"{BASE}/tokens/{deal}.json"), 404)
    # Its own partner may still resolve it.
    assert json_of(client.get(f"{BASE}/tokens/{deal}.json?api_key={key.secret}"))[0]["service_request_id"] == deal


def test_closed_request_status_notes_and_updated_datetime(client, key):
    reference = created_reference(post(client, key))
    report = report_of(reference)
    closed_at = report.received_at + timedelta(hours=2)
    finish(report, "resolved", "verbalisation", closed_at)
    root = xml_of(client.get(f"{BASE}/requests/{reference}.xml"))
    fields = request_as_dict(root.find("request"))
    assert fields["status"] == "closed"
    assert "verbalisations" in fields["status_notes"]
    assert datetime.fromisoformat(fields["updated_datetime"]) == closed_at.replace(microsecond=0)
    assert "Dupont" not in root.findtext("request/status_notes")


# --- GET /requests: filters ----------------------------------------------------------------------------------

@pytest.fixture
def three_requests(client, key):
    """A recent open dégradation, a recent closed rodéo, and a dégradation received 120 days ago."""
    recent = created_reference(post(client, key))
    rodeo = created_reference(post(client, key, service_code="rodeo_motorise", **LYON_2E))
    finish(report_of(rodeo), "closed", "saisie_engin", service_clock.now())
    old = created_reference(post(client, key, lat="43.2965", long="5.3698"))
    long_ago = service_clock.now() - timedelta(days=120)
    db.session.execute(text("UPDATE reports SET received_at = :t, updated_at = :t WHERE reference = :r"),
                       {"t": long_ago, "r": old})
    db.session.commit()
    return {"recent": recent, "rodeo": rodeo, "old": old, "long_ago": long_ago}


def ids(client, query, fmt="json"):
    response = client.get(f"{BASE}/requests.{fmt}?{query}")
    assert response.status_code == 200, response.data
    if fmt == "xml":
        return [r.findtext("service_request_id") for r in xml_of(response).findall("request")]
    return [r["service_request_id"] for r in json_of(response)]


def test_default_window_is_the_last_90_days_newest_first(client, three_requests):
    t = three_requests
    assert ids(client, "") == [t["rodeo"], t["recent"]]
    assert ids(client, "", "xml") == [t["rodeo"], t["recent"]]


def test_service_request_id_list_overrides_every_other_filter(client, three_requests):
    t = three_requests
    query = f"service_request_id={t['old']},{t['recent']}&status=closed&service_code=rodeo_motorise"
    assert sorted(ids(client, query)) == sorted([t["old"], t["recent"]])
    assert ids(client, f"service_request_id={t['rodeo']}", "xml") == [t["rodeo"]]


def test_service_code_and_status_filters(client, three_requests):
    t = three_requests
    assert ids(client, "service_code=rodeo_motorise") == [t["rodeo"]]
    assert ids(client, "service_code=rodeo_motorise,degradation") == [t["rodeo"], t["recent"]]
    assert ids(client, "status=open") == [t["recent"]]
    assert ids(client, "status=closed", "xml") == [t["rodeo"]]
    assert ids(client, "status=open,closed") == [t["rodeo"], t["recent"]]
    assert ids(client, "status=&service_code=") == [t["rodeo"], t["recent"]]  # empty = absent
    json_errors(client.get(f"{BASE}/requests.json?status=pending"), 400)


def test_start_and_end_dates(client, three_requests):
    t = three_requests
    start = (t["long_ago"] - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (t["long_ago"] + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(client, f"start_date={start}&end_date={end}") == [t["old"]]
    assert ids(client, f"start_date={start}") == [t["old"]]  # one bound: 90 days from it
    far = (t["long_ago"] + timedelta(days=91)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "90" in xml_errors(client.get(f"{BASE}/requests.xml?start_date={start}&end_date={far}"), 400)[0]
    json_errors(client.get(f"{BASE}/requests.json?start_date={end}&end_date={start}"), 400)
    json_errors(client.get(f"{BASE}/requests.json?start_date=hier"), 400)
    # Offsets are honoured (an unencoded "+" arrives as a space and still parses).
    paris = (t["long_ago"] - timedelta(hours=1)).astimezone(timezone(timedelta(hours=1)))
    assert ids(client, f"start_date={paris.isoformat(timespec='seconds')}&end_date={end}") == [t["old"]]


def test_updated_after_and_before(client, three_requests):
    t = three_requests
    since = (service_clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sorted(ids(client, f"updated_after={since}")) == sorted([t["rodeo"], t["recent"]])
    before = (t["long_ago"] + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(client, f"updated_before={before}") == [t["old"]]


def test_page_and_page_size(client, three_requests):
    t = three_requests
    assert ids(client, "page_size=1") == [t["rodeo"]]
    assert ids(client, "page_size=1&page=2") == [t["recent"]]
    assert ids(client, "page_size=1&page=3") == []
    json_errors(client.get(f"{BASE}/requests.json?page_size=1001"), 400)
    json_errors(client.get(f"{BASE}/requests.json?page=0"), 400)


def test_extensions_duplicates_and_notes_history(client, key):
    first = created_reference(post(client, key))
    second = created_reference(post(client, key, lat="48.85662", long="2.35225"))
    assert report_of(second).incident_id == report_of(first).incident_id is not None
    root = xml_of(client.get(f"{BASE}/requests.xml?extensions=true"))
    by_id = {r.findtext("service_request_id"): r for r in root.findall("request")}
    dup = by_id[second].find("extended_attributes")
    assert dup.findtext("duplicate") == "true" and dup.findtext("parent_request_id") == first
    assert by_id[first].findtext("extended_attributes/duplicate") == "false"
    notes = by_id[second].findall("notes/note")
    assert [n.findtext("type") for n in notes] == ["created", "routed", "merged"]
    assert all(ISO_WITH_TZ.match(n.findtext("datetime")) and n.findtext("description") for n in notes)
    (one,) = json_of(client.get(f"{BASE}/requests/{first}.json?extensions=true"))
    assert isinstance(one["notes"], list) and one["extended_attributes"]["duplicate"] is False
    assert "notes" not in json_of(client.get(f"{BASE}/requests/{first}.json"))[0]


# --- mySociety servicerequestupdates -------------------------------------------------------------------------

def test_service_request_updates(client, key):
    reference = created_reference(post(client, key))
    report = report_of(reference)
    finish(report, "resolved", "interpellation", service_clock.now())
    root = xml_of(client.get(f"{BASE}/servicerequestupdates.xml"))
    assert root.tag == "service_requests_updates"
    updates = root.findall("request_update")
    assert [u.findtext("status") for u in updates] == ["open", "open", "investigating", "in_progress", "fixed"]
    last = updates[-1]
    assert [c.tag for c in last] == ["update_id", "service_request_id", "status", "updated_datetime", "description",
                                     "media_url", "external_status_code"]
    assert last.findtext("service_request_id") == reference and last.findtext("external_status_code") == \
        "interpellation"
    assert "interpellations" in last.findtext("description") and "Dupont" not in root.xpath("string()")
    body = json_of(client.get(f"{BASE}/servicerequestupdates.json"))
    assert isinstance(body, list) and [u["update_id"] for u in body] == [u.findtext("update_id") for u in updates]
    old = (service_clock.now() - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    json_errors(client.get(f"{BASE}/servicerequestupdates.json?start_date={old}&end_date=2099-01-01"), 400)
    assert json_of(client.get(f"{BASE}/servicerequestupdates.json?start_date={old}")) == []


# --- volume: cap, one query, speed ---------------------------------------------------------------------------

def test_a_full_page_is_capped_at_1000_and_built_with_one_query(app, client, key):
    reference = created_reference(post(client, key))
    db.session.execute(text("""
        INSERT INTO reports (reference, category_code, description, location, commune_insee, commune_name,
            observed_at, received_at, status, priority, unit_id, routing_reason, source, acknowledge_due_at,
            dispatch_due_at, resolve_due_at, updated_at)
        SELECT 'PX-BULK' || lpad(i::text, 6, '0'), category_code, '', location, commune_insee, commune_name,
            observed_at, received_at - make_interval(secs => i), status, priority, unit_id, routing_reason, source,
            acknowledge_due_at, dispatch_due_at, resolve_due_at, updated_at
        FROM reports, generate_series(1, 1100) AS i WHERE reference = :r"""), {"r": reference})
    db.session.commit()
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):  # the test's own transaction
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(f"{BASE}/requests.xml")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(xml_of(response).findall("request")) == 1000
    # One query for the whole page (no N+1); its speed is measured by `make bench` (B6), not here.
    assert len(statements) == 1, statements
    assert len(json_of(client.get(f"{BASE}/requests.json?page=2"))) == 101


# --- partner keys --------------------------------------------------------------------------------------------

def test_keys_are_stored_hashed_and_cli_manages_them(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["open311", "key", "create", "Police municipale de Lyon"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    key = partners.verify_key(secret)
    assert key is not None and key.name == "Police municipale de Lyon"
    assert key.key_hash == partners.hash_key(secret) and secret not in (key.key_hash, key.prefix)
    assert secret.startswith(key.prefix)
    listing = runner.invoke(args=["open311", "key", "list"]).output
    assert "Police municipale de Lyon" in listing and "active" in listing and secret not in listing
    result = runner.invoke(args=["open311", "key", "revoke", str(key.id)])
    assert result.exit_code == 0 and "révoquée" in result.output
    assert partners.verify_key(secret) is None
    assert runner.invoke(args=["open311", "key", "revoke", "999999"]).exit_code != 0


def test_concurrent_creates_with_one_key_do_not_wait_for_each_other(app, committed):
    """The "last used" bookkeeping never makes a partner's request wait for another one's commit."""
    from service.accounts.partners import _NOTE_USE
    created = partners.create_key("Import en masse")
    params = {"id": created.partner_key.id, "now": service_clock.now(), "resolution_s": 60}
    with db.engine.connect() as first, db.engine.connect() as second:
        with first.begin():
            assert first.execute(_NOTE_USE, params).rowcount == 1  # holds the row until its commit
            with second.begin():
                second.execute(text("SET LOCAL lock_timeout = '300ms'"))
                assert second.execute(_NOTE_USE, params).rowcount == 0  # skipped, not waited for
                # A report referencing the key (its foreign-key check) does not wait either.
                second.execute(text("SELECT 1 FROM partner_keys WHERE id = :id FOR KEY SHARE"), params)
