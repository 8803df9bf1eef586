"""Abuse limits on real Redis: per device and per IP, the daily cap, Open311 keys, report storms."""
import io
import json
import time

import pytest
from PIL import Image
from sqlalchemy import select

from models import Report, ReportEvent, db
from service.accounts import partners
from tests.integration.console_support import login

NOTRE_DAME = {"lat": 48.8530, "lon": 2.3499}
# About 1 km away, still Paris 4e/5e: not the same place for storm detection.
PANTHEON = {"lat": 48.8462, "lon": 2.3464}


@pytest.fixture
def limited(app):
    """Tight limits for the test, restored after it."""
    saved = dict(app.config)
    app.config.update({
        "RATELIMIT_REGISTRATION_PER_IP": "3 per minute",
        "RATELIMIT_INTAKE_ATTEMPTS_PER_DEVICE": "5 per minute",
        "RATELIMIT_INTAKE_PER_IP": "8 per minute",
        "REPORTS_PER_DEVICE_PER_MINUTE": 100,
        "RATELIMIT_PHOTOS_PER_DEVICE": "2 per hour",
        "RATELIMIT_OPEN311_READ_PER_KEY": "3 per minute",
        "RATELIMIT_OPEN311_READ_PER_IP": "2 per minute",
        "RATELIMIT_OPEN311_WRITE_PER_KEY": "2 per minute",
        "RATELIMIT_OPEN311_WRITE_PER_IP": "100 per minute",
        "REPORTS_PER_DEVICE_PER_DAY": 100,
        "STORM_REPORTS": 1000,
    })
    yield app.config
    app.config.clear()
    app.config.update(saved)


def register(client, **environ):
    response = client.post("/api/v1/devices", json={"platform": "android"}, **environ)
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def report_body(where=NOTRE_DAME, **overrides):
    return {"category": "degradation", "description": "Abribus cassé", "location": dict(where), **overrides}


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def assert_429(response):
    assert response.status_code == 429, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json["code"] == 429 and response.json["status"] == "Too Many Requests"
    assert response.json["message"]


def test_registration_is_limited_per_ip_with_retry_after(client, limited):
    for _ in range(3):
        register(client)
    assert_429(client.post("/api/v1/devices", json={"platform": "android"}))
    # Another address is counted apart.
    register(client, environ_base={"REMOTE_ADDR": "192.0.2.7"})


def test_intake_attempts_are_limited_per_device_even_when_invalid(client, limited):
    headers = register(client)
    for _ in range(5):
        assert client.post("/api/v1/reports", json={"category": "nope"}, headers=headers).status_code == 422
    assert_429(client.post("/api/v1/reports", json=report_body(), headers=headers))
    # The next device from the same address still gets through (per-IP budget 8 > 6 used).
    assert client.post("/api/v1/reports", json=report_body(), headers=register(client)).status_code == 201


def test_intake_is_limited_per_ip_across_devices(client, limited):
    limited["RATELIMIT_REGISTRATION_PER_IP"] = "100 per minute"
    statuses = [client.post("/api/v1/reports", json=report_body(), headers=register(client)).status_code
                for _ in range(9)]
    assert statuses[:8] == [201] * 8 and statuses[8] == 429


def test_daily_cap_counts_created_reports_only(client, limited):
    limited["REPORTS_PER_DEVICE_PER_DAY"] = 2
    headers = register(client)
    first = client.post("/api/v1/reports", json=report_body(), headers={**headers, "Idempotency-Key": "k1"})
    assert first.status_code == 201
    # A replay of the same request and a rejected one cost nothing.
    replay = client.post("/api/v1/reports", json=report_body(), headers={**headers, "Idempotency-Key": "k1"})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert client.post("/api/v1/reports", json={"category": "nope"}, headers=headers).status_code == 422
    assert client.post("/api/v1/reports", json=report_body(PANTHEON), headers=headers).status_code == 201
    capped = client.post("/api/v1/reports", json=report_body(), headers=headers)
    assert_429(capped)
    assert "par jour" in capped.json["message"]
    assert int(capped.headers["Retry-After"]) > 3600  # a daily window, not a minute
    assert len(db.session.execute(select(Report.id)).all()) == 2


def test_reports_per_minute_count_created_reports_only(client, limited):
    limited["REPORTS_PER_DEVICE_PER_MINUTE"] = 2
    headers = register(client)
    for key in ("m1", "m1"):  # the replay creates nothing
        assert client.post("/api/v1/reports", json=report_body(),
                           headers={**headers, "Idempotency-Key": key}).status_code == 201
    assert client.post("/api/v1/reports", json={"category": "nope"}, headers=headers).status_code == 422
    assert client.post("/api/v1/reports", json=report_body(PANTHEON), headers=headers).status_code == 201
    capped = client.post("/api/v1/reports", json=report_body(), headers=headers)
    assert_429(capped)
    assert "une minute" in capped.json["message"]
    assert int(capped.headers["Retry-After"]) <= 61  # the minute's window, not the day's
    # Another device is counted apart.
    assert client.post("/api/v1/reports", json=report_body(), headers=register(client)).status_code == 201


def test_photos_are_counted_per_device(client, limited):
    headers = register(client)

    def send(n):
        return client.post("/api/v1/reports", headers=headers, content_type="multipart/form-data", data={
            "report": json.dumps(report_body()), "photos": [(io.BytesIO(jpeg()), f"p{i}.jpg") for i in range(n)]})
    assert send(2).status_code == 201
    assert_429(send(1))
    # A report without photos is not concerned by the photo budget.
    assert client.post("/api/v1/reports", json=report_body(), headers=headers).status_code == 201


def test_open311_reads_are_limited_per_key_and_anonymous_per_ip_in_open311_format(client, limited):
    key = partners.create_key("Mairie de test").secret
    assert client.get("/open311/v2/services.json").status_code == 200
    assert client.get("/open311/v2/services.xml").status_code == 200
    anonymous = client.get("/open311/v2/services.json")
    assert anonymous.status_code == 429 and int(anonymous.headers["Retry-After"]) >= 1
    assert anonymous.json[0]["code"] == 429 and anonymous.json[0]["description"]
    # A partner key has its own budget, shared by every read endpoint.
    assert client.get(f"/open311/v2/services.json?api_key={key}").status_code == 200
    assert client.get(f"/open311/v2/discovery.json?api_key={key}").status_code == 200
    assert client.get(f"/open311/v2/requests.json?api_key={key}").status_code == 200
    xml = client.get(f"/open311/v2/services.xml?api_key={key}")
    assert xml.status_code == 429 and b"<errors>" in xml.data and xml.headers["Retry-After"]


def test_open311_writes_are_limited_per_key(client, limited):
    key = partners.create_key("Police municipale de test").secret
    form = {"api_key": key, "service_code": "degradation", "lat": NOTRE_DAME["lat"], "long": NOTRE_DAME["lon"],
            "description": "Vitrine brisée"}
    assert client.post("/open311/v2/requests.json", data=form).status_code == 201
    assert client.post("/open311/v2/requests.json", data=form).status_code == 201
    refused = client.post("/open311/v2/requests.json", data=form)
    assert refused.status_code == 429 and refused.json[0]["code"] == 429


def test_limits_hold_nothing_back_when_their_redis_is_unreachable(committed, limited):
    """An outage of the limiter's storage must not refuse residents (errors swallowed, short timeouts)."""
    from tests.conftest import _test_config
    from service import create_app
    # Same database, a limiter pointed at a closed port.
    app = create_app({**_test_config(), **limited, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"})
    client = app.test_client()
    headers = register(client)
    started = time.monotonic()
    statuses = [client.post("/api/v1/reports", json=report_body(PANTHEON if i % 2 else NOTRE_DAME),
                            headers=headers).status_code for i in range(7)]
    # Above the per-device budget of 5: not enforced while the limiter's Redis is away, and no hang.
    assert statuses == [201] * 7
    assert time.monotonic() - started < 20


def test_a_storm_from_one_device_at_one_place_is_flagged_for_review(client, limited):
    limited["STORM_REPORTS"] = 3
    headers = register(client)
    references = []
    for _ in range(3):
        response = client.post("/api/v1/reports", json=report_body(), headers=headers)
        assert response.status_code == 201
        references.append(response.json["reference"])
    elsewhere = client.post("/api/v1/reports", json=report_body(PANTHEON), headers=headers)
    other_device = client.post("/api/v1/reports", json=report_body(), headers=register(client))
    flagged = dict(db.session.execute(select(Report.reference, Report.flagged_for_review)).all())
    assert [flagged[r] for r in references] == [False, False, True]
    assert flagged[elsewhere.json["reference"]] is False and flagged[other_device.json["reference"]] is False
    report = db.session.execute(select(Report).where(Report.reference == references[2])).scalar_one()
    event = db.session.execute(select(ReportEvent).where(ReportEvent.report_id == report.id,
                                                         ReportEvent.type == "flagged")).scalar_one()
    assert not event.citizen_visible and event.data["reports_nearby"] == 2 and "superviseur" in event.text
    # Still routed to the competent unit: held for review, not dropped.
    assert report.unit_id is not None and report.status == "received"
    # The resident's own timeline does not show the flag.
    timeline = client.get(f"/api/v1/reports/{references[2]}", headers=headers).json["timeline"]
    assert "flagged" not in [entry["type"] for entry in timeline]


def test_random_api_keys_do_not_open_buckets_of_their_own(client, limited):
    """Only a known, active key chooses a partner bucket: random values are counted with their address."""
    assert client.get("/open311/v2/services.json?api_key=random-1").status_code == 200
    assert client.get("/open311/v2/services.json?api_key=random-2").status_code == 200
    refused = client.get("/open311/v2/services.json?api_key=random-3")
    assert refused.status_code == 429 and refused.json[0]["code"] == 429
    revoked = partners.create_key("Ancien partenaire")
    partners.revoke_key(revoked.partner_key.id)
    assert client.get(f"/open311/v2/services.json?api_key={revoked.secret}").status_code == 429


def test_unauthenticated_lookups_and_console_sign_in_are_limited_per_address(client, limited):
    limited.update({"RATELIMIT_SPATIAL_READ_PER_IP": "2 per minute", "RATELIMIT_CONSOLE_LOGIN_PER_IP": "2 per minute",
                    "RATELIMIT_PUBLIC_READ_PER_IP": "2 per minute"})
    url = f"/api/v1/coverage?lat={NOTRE_DAME['lat']}&lon={NOTRE_DAME['lon']}&category=degradation"
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    assert_429(client.get(url))
    assert [client.get("/api/v1/categories").status_code for _ in range(2)] == [200, 200]
    assert_429(client.get("/api/v1/categories"))
    logins = [login(client, "x@example.fr", "wrong").status_code for _ in range(3)]
    assert 429 not in logins[:2] and logins[2] == 429
    assert client.get("/console/login").status_code == 200  # the page itself stays reachable


def test_an_ipv6_subscriber_is_counted_by_its_prefix(client, limited):
    first = {"REMOTE_ADDR": "2a01:e0a:1:2:aaaa::1"}
    same_prefix = {"REMOTE_ADDR": "2a01:e0a:1:2:bbbb::2"}
    other_prefix = {"REMOTE_ADDR": "2a01:e0a:1:3::1"}
    for environ in (first, same_prefix, first):
        register(client, environ_base=environ)
    assert_429(client.post("/api/v1/devices", json={"platform": "android"}, environ_base=same_prefix))
    register(client, environ_base=other_prefix)


def test_the_daily_cap_holds_while_the_limiters_redis_is_away(committed, limited):
    from tests.conftest import _test_config
    from service import create_app
    app = create_app({**_test_config(), **limited, "REPORTS_PER_DEVICE_PER_DAY": 2,
                      "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"})
    client = app.test_client()
    headers = register(client)
    statuses = [client.post("/api/v1/reports", json=report_body(PANTHEON if i % 2 else NOTRE_DAME),
                            headers=headers).status_code for i in range(3)]
    assert statuses == [201, 201, 429]


def test_with_limits_turned_off_every_limited_endpoint_still_answers(committed):
    """RATELIMIT_ENABLED=0 is a supported setting: the limited views must keep working, unlimited."""
    import gc
    from tests.conftest import _test_config
    from service import create_app
    app = create_app({**_test_config(), "RATELIMIT_ENABLED": False})
    gc.collect()
    client = app.test_client()
    assert client.post("/api/v1/devices", json={"platform": "android"}).status_code == 201
    assert client.get("/api/v1/categories").status_code == 200
