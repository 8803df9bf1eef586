"""Issue 19's "done when", black-box: an officer asks in the console, the resident's device gets a push whose visible
text is the fixed template, the resident answers through the API with a photo, the answer shows in the console with
its badge, another device gets 404 on the thread and Open311 shows nothing of it. Real PostgreSQL, Redis and RQ,
pyfcm against the local FCM test server."""
import io
import json

from PIL import Image
from sqlalchemy import select

from models import Notification, Report, db
from service.accounts import partners
from tests.fcm_server import Answer
from tests.integration.console_support import make_officer, new_client, login, token_from
from tests.integration.push_fixtures import fcm_credentials, fcm_server, push_app, push_db, work  # noqa: F401

FIXED = "Nouveau message de l'unité sur votre signalement"
QUESTION = "Pouvez-vous photographier la plaque du scooter ?"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (30, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def test_an_exchange_from_the_console_to_the_lock_screen_and_back(push_app, push_db, fcm_server):  # noqa: F811
    api = push_app.test_client()
    registered = api.post("/api/v1/devices", json={"platform": "android", "fcm_token": "tok-resident"})
    resident = {"Authorization": f"Bearer {registered.json['token']}"}
    created = api.post("/api/v1/reports", headers=resident, json={
        "category": "degradation", "description": "Scooter qui raye les voitures",
        "location": {"lat": 48.8566, "lon": 2.3522}, "ongoing": False})
    assert created.status_code == 201, created.json
    reference = created.json["reference"]
    work(push_app)
    fcm_server.wait_for(1)  # "Signalement reçu"
    key = partners.create_key("Mairie de Paris — CRM")
    open311_before = api.get(f"/open311/v2/requests/{reference}.json?extensions=true").data

    # The officer asks in the console.
    report = db.session.scalar(select(Report).where(Report.reference == reference))
    report_id = report.id
    make_officer("agent@test.fr", unit_code=report.unit.code)
    console = new_client(push_app)
    login(console, "agent@test.fr")
    token = token_from(console, f"/console/reports/{report_id}")
    sent = console.post(f"/console/reports/{report_id}/messages",
                        data={"message-csrf_token": token, "message-text": QUESTION})
    assert sent.status_code == 302

    # The device's lock screen shows the fixed template, never the question.
    work(push_app)
    push = fcm_server.wait_for(2)[-1]
    assert push.token == "tok-resident"
    assert push.message["notification"]["body"] == FIXED
    assert push.message["data"]["kind"] == "unit_message" and push.message["data"]["reference"] == reference
    assert "plaque" not in json.dumps(push.message, ensure_ascii=False)

    # The resident reads the question and answers with a photo.
    thread = api.get(f"/api/v1/reports/{reference}/messages", headers=resident).json
    assert [(m["author"], m["text"]) for m in thread["items"]] == [("unit", QUESTION)]
    answer = api.post(f"/api/v1/reports/{reference}/messages", content_type="multipart/form-data",
                      headers={**resident, "Idempotency-Key": "answer-1"},
                      data={"message": json.dumps({"text": "Voici la plaque"}),
                            "photos": [(io.BytesIO(jpeg()), "plaque.jpg")]})
    assert answer.status_code == 201 and answer.json["photos"] == 1

    # The answer shows in the console with its badge, in the queue and on the report.
    assert "1 message(s) non lu(s)" in console.get("/console/?messages=non-lus").get_data(as_text=True)
    page = console.get(f"/console/reports/{report_id}").get_data(as_text=True)
    assert "Voici la plaque" in page and "message-unread" in page and "/message-photos/" in page

    # Another device: 404 on the thread, as for any report not its own.
    stranger = api.post("/api/v1/devices", json={"platform": "ios"}).json["token"]
    for method in (api.get, api.post):
        assert method(f"/api/v1/reports/{reference}/messages", headers={"Authorization": f"Bearer {stranger}"},
                      json={"text": "?"}).status_code == 404

    # Open311: not a byte more.
    assert api.get(f"/open311/v2/requests/{reference}.json?extensions=true").data == open311_before
    assert b"plaque" not in api.get(f"/open311/v2/servicerequestupdates.json?api_key={key.secret}").data

    # A dead token retires, and the exchange goes on.
    fcm_server.script("tok-resident", Answer.error(404))
    token = token_from(console, f"/console/reports/{report_id}")
    assert console.post(f"/console/reports/{report_id}/messages",
                        data={"message-csrf_token": token, "message-text": "Merci."}).status_code == 302
    work(push_app)
    db.session.rollback()
    states = db.session.scalars(select(Notification.state).where(Notification.kind == "unit_message")
                                .order_by(Notification.id)).all()
    assert states == ["sent", "token_retired"]
    assert api.post(f"/api/v1/reports/{reference}/messages", headers=resident,
                    json={"text": "Ils sont repartis"}).status_code == 201
