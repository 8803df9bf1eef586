"""Text PostgreSQL cannot store, control characters and deep JSON: a 422 naming the field (Open311: its own 400),
never a 500, and nothing written — on every channel."""
import io
import json

import pytest
from sqlalchemy import func, select

from models import Device, Report, db
from service.accounts import partners
from tests.integration.test_citizen_api import register, report_body

HOSTILE = ["nul \x00 byte", "bell \x07", "escape \x1b[2J", "c1 \x85", "lone surrogate \ud800"]
MESSAGE = "Caractère non autorisé"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("text", HOSTILE)
def test_device_registration_refuses_hostile_text(client, text):
    response = client.post("/api/v1/devices", data=json.dumps({"platform": "android", "fcm_token": text}),
                           content_type="application/json")
    assert response.status_code == 422
    assert MESSAGE in response.json["errors"]["json"]["fcm_token"][0]
    assert count(Device) == 0


def test_device_update_refuses_nul(client):
    headers, _ = register(client)
    response = client.patch("/api/v1/devices/me", json={"fcm_token": "tok\x00en"}, headers=headers)
    assert response.status_code == 422 and "fcm_token" in response.json["errors"]["json"]


def test_coverage_refuses_nul_in_the_category(client):
    response = client.get("/api/v1/coverage", query_string={"lat": 48.853, "lon": 2.35, "category": "a\x00b"})
    assert response.status_code == 422 and "category" in response.json["errors"]["query"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_report_with_hostile_text_is_refused_and_nothing_written(client, text):
    headers, _ = register(client)
    body = report_body(description=f"Motos {text}", contact={"name": "Jean", "email": "jean@example.fr"})
    response = client.post("/api/v1/reports", data=json.dumps(body), content_type="application/json",
                           headers=headers)
    assert response.status_code == 422
    assert MESSAGE in response.json["errors"]["json"]["description"][0]
    nested = report_body(contact={"name": f"Jean {text}"})
    response = client.post("/api/v1/reports", data=json.dumps(nested), content_type="application/json",
                           headers=headers)
    assert response.status_code == 422
    assert MESSAGE in response.json["errors"]["json"]["contact"]["name"][0]
    assert count(Report) == 0


def test_the_multipart_report_field_is_checked_after_parsing(client):
    headers, _ = register(client)
    raw = json.dumps(report_body(description="Motos \x00"))  # NUL written as the JSON escape \u0000
    assert "\x00" not in raw
    response = client.post("/api/v1/reports", headers=headers, content_type="multipart/form-data",
                           data={"report": raw, "photos": [(io.BytesIO(b""), "empty.jpg")]})
    assert response.status_code == 422
    assert MESSAGE in response.json["errors"]["form"]["report"]["description"][0]
    assert count(Report) == 0


@pytest.mark.parametrize("depth", [17, 5000])
def test_deeply_nested_json_is_refused_before_registration(client, depth):
    body = '{"platform": "android", "preferences": ' + "[" * depth + "]" * depth + "}"
    response = client.post("/api/v1/devices", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "trop imbriqué" in response.json["errors"]["json"]["_schema"][0]
    assert count(Device) == 0


def test_a_nul_in_a_path_parameter_is_refused(client):
    headers, _ = register(client)
    response = client.get("/api/v1/reports/PX-%00ABC", headers=headers)
    assert response.status_code == 422 and "path" in response.json["errors"]


def test_idempotency_key_with_control_characters_is_refused(client):
    headers, _ = register(client)
    response = client.post("/api/v1/reports", json=report_body(), headers={**headers, "Idempotency-Key": "k\x01"})
    assert response.status_code == 422 and "Idempotency-Key" in response.json["errors"]["headers"]
    assert count(Report) == 0


def test_open311_answers_in_its_own_format(client, db_session):
    key = partners.create_key("Mairie — CRM")
    response = client.post("/open311/v2/requests.json", data={
        "api_key": key.secret, "service_code": "degradation", "lat": "48.8566", "long": "2.3522",
        "description": "Tags \x00 sur la façade"})
    assert response.status_code == 400
    assert response.json == [{"code": 400, "description": f"description: {MESSAGE} (caractère de contrôle ou nul)."}]
    response = client.get("/open311/v2/requests/PX-%00.xml")
    assert response.status_code == 400 and b"<errors>" in response.data and b"service_request_id" in response.data
    assert count(Report) == 0


def test_console_login_refuses_nul_without_a_server_error(client):
    response = client.post("/console/login", data={"email": "agent\x00@example.fr", "password": "x"})
    assert response.status_code == 422


def test_ordinary_text_with_newlines_and_accents_passes(client):
    headers, _ = register(client)
    body = report_body(description="Rodéo\tmotos\r\nsur le parvis — « encore » ✓ 🙂")
    response = client.post("/api/v1/reports", json=body, headers=headers)
    assert response.status_code == 201, response.json


def test_database_errors_never_carry_their_parameters(db_session):
    """A failing statement's exception names no bound value (a description, a point)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DataError
    with pytest.raises(DataError) as failure:
        with db.session.begin_nested():
            db.session.execute(text("SELECT CAST(:description AS text), 1 / 0"),
                               {"description": "Jean Dupont 06 12 34 56 78"})
    assert "Jean Dupont" not in str(failure.value) and "parameters hidden" in str(failure.value)


def test_an_unexpected_database_error_is_logged_without_the_values_postgresql_echoes(committed, caplog):
    """PostgreSQL's own message may quote the value it refused: the log keeps the error's kind, not its text."""
    from sqlalchemy import text
    from service import create_app
    from tests.conftest import _test_config
    app = create_app(_test_config())

    @app.get("/test-only/failing-statement")
    def failing_statement():
        db.session.execute(text("SELECT CAST(:description AS integer)"), {"description": "Jean Dupont 0612345678"})

    caplog.set_level("ERROR")
    response = app.test_client().get("/test-only/failing-statement")
    assert response.status_code == 500
    assert "Jean Dupont" not in caplog.text and "0612345678" not in caplog.text
    assert "InvalidTextRepresentation" in caplog.text and "22P02" in caplog.text
