"""Messages on a report through the citizen API and the domain: who may write, when, photos, idempotency, limits."""
import io
import json
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from models import Notification, ReportMessage, ReportMessagePhoto, db
from service.platform import clock as service_clock
from service.reports import messages
from tests.factories import make_device, make_officer, make_report, unit_at
from tests.integration.test_citizen_api import register


def own_report(client, **report_kwargs):
    """A device registered through the API and a report of it (written through the models)."""
    headers, device_id = register(client, fcm_token="fcm-thread")
    from models import Device
    report = make_report(device=db.session.get(Device, device_id), **report_kwargs)
    return headers, report


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x010E] = "48.8530 N 2.3499 E"  # ImageDescription, standing for any identifying tag
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_the_unit_asks_and_the_resident_reads_the_unit_never_an_officer(client):
    headers, report = own_report(client)
    officer = make_officer(report.unit)
    officer.display_name, officer.email = "Brigadier Dupont", "dupont@interieur.gouv.fr"
    messages.post_unit_message(report, officer, "Par quelle entrée sont-ils passés ?")
    response = client.get(f"/api/v1/reports/{report.reference}/messages", headers=headers)
    assert response.status_code == 200
    [item] = response.json["items"]
    assert item["author"] == "unit" and item["unit"] == report.unit.name
    assert item["text"] == "Par quelle entrée sont-ils passés ?" and item["created_at"] and item["read_at"] is None
    assert response.json["unread"] == 1 and response.json["open"] is True
    assert "Dupont" not in response.get_data(as_text=True) and "dupont@" not in response.get_data(as_text=True)
    timeline = client.get(f"/api/v1/reports/{report.reference}", headers=headers).json["timeline"]
    assert timeline[-1]["type"] == "unit_message" and "Par quelle entrée" in timeline[-1]["text"]
    read = client.post(f"/api/v1/reports/{report.reference}/messages/read", headers=headers, json={})
    assert read.status_code == 200 and read.json["unread"] == 0 and read.json["items"][0]["read_at"]


def test_the_resident_answers_in_json_and_in_multipart_with_photos_stripped_of_metadata(client):
    headers, report = own_report(client)
    response = client.post(f"/api/v1/reports/{report.reference}/messages", headers=headers,
                           json={"text": "Par le porche de la rue Saint-Antoine"})
    assert response.status_code == 201, response.json
    assert response.json["author"] == "resident" and response.json["unit"] is None
    photo = jpeg_with_exif()
    response = client.post(f"/api/v1/reports/{report.reference}/messages", headers=headers,
                           content_type="multipart/form-data",
                           data={"message": json.dumps({"text": "La plaque"}),
                                 "photos": [(io.BytesIO(photo), "p.jpg")]})
    assert response.status_code == 201, response.json
    assert response.json["photos"] == 1
    stored = db.session.scalars(select(ReportMessagePhoto)).one()
    with Image.open(io.BytesIO(stored.content)) as image:
        assert not image.getexif() and "exif" not in image.info
    listed = client.get(f"/api/v1/reports/{report.reference}/messages", headers=headers).json["items"]
    assert [m["author"] for m in listed] == ["resident", "resident"] and listed[1]["photos"] == 1


@pytest.mark.parametrize("body, field", [({"text": ""}, "text"), ({"text": "x" * 2001}, "text"),
                                         ({"texte": "typo"}, "texte")])
def test_an_empty_or_invalid_message_is_422_with_field_messages(client, body, field):
    headers, report = own_report(client)
    response = client.post(f"/api/v1/reports/{report.reference}/messages", headers=headers, json=body)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_a_photo_that_is_not_an_image_is_refused(client):
    headers, report = own_report(client)
    response = client.post(f"/api/v1/reports/{report.reference}/messages", headers=headers,
                           content_type="multipart/form-data",
                           data={"message": "{}", "photos": [(io.BytesIO(b"not an image"), "x.jpg")]})
    assert response.status_code == 422 and "photos" in response.json["errors"]["form"]
    assert db.session.scalar(select(func.count()).select_from(ReportMessage)) == 0


def test_a_retried_post_returns_the_first_message_and_another_body_with_the_key_is_422(client):
    headers, report = own_report(client)
    url = f"/api/v1/reports/{report.reference}/messages"
    first = client.post(url, headers={**headers, "Idempotency-Key": "k-1"}, json={"text": "Ils reviennent"})
    again = client.post(url, headers={**headers, "Idempotency-Key": "k-1"}, json={"text": "Ils reviennent"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = client.post(url, headers={**headers, "Idempotency-Key": "k-1"}, json={"text": "Autre chose"})
    assert other.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(ReportMessage)) == 1


def test_another_device_gets_404_on_the_thread(client):
    _, report = own_report(client)
    stranger, _ = register(client)
    url = f"/api/v1/reports/{report.reference}/messages"
    assert client.get(url, headers=stranger).status_code == 404
    assert client.post(url, headers=stranger, json={"text": "Je m'incruste"}).status_code == 404
    assert client.post(url + "/read", headers=stranger, json={}).status_code == 404
    assert client.get(url).status_code == 401


def test_the_thread_closes_seven_days_after_the_end_of_the_report(client, clock):
    now = service_clock.now()
    headers, recent = own_report(client, status="closed", closed_at=now - timedelta(days=6))
    url = f"/api/v1/reports/{recent.reference}/messages"
    assert client.post(url, headers=headers, json={"text": "Ils sont revenus"}).status_code == 201
    headers, old = own_report(client, status="rejected", closed_at=now - timedelta(days=8))
    url = f"/api/v1/reports/{old.reference}/messages"
    refused = client.post(url, headers=headers, json={"text": "Trop tard ?"})
    assert refused.status_code == 409
    assert client.get(url, headers=headers).json["open"] is False
    with pytest.raises(messages.MessageRefused) as refused:
        messages.post_unit_message(old, make_officer(old.unit), "Une question")
    assert refused.value.status == 409


def test_only_the_unit_in_charge_writes_not_a_unit_a_transfer_is_offered_to(client):
    _, report = own_report(client)
    other_unit = unit_at(4.8320, 45.7578)
    report.pending_transfer_unit_id = other_unit.id
    db.session.flush()
    with pytest.raises(messages.MessageRefused) as refused:
        messages.post_unit_message(report, make_officer(other_unit), "Une question")
    assert refused.value.status == 404
    with pytest.raises(messages.MessageRefused):
        messages.read_thread_for_unit(report, make_officer(other_unit))


def test_messages_per_report_are_limited_in_the_database(client, app):
    headers, report = own_report(client)
    url = f"/api/v1/reports/{report.reference}/messages"
    saved = app.config["MESSAGES_PER_REPORT_PER_DAY"]
    app.config["MESSAGES_PER_REPORT_PER_DAY"] = 2
    try:
        statuses = [client.post(url, headers=headers, json={"text": f"Message {n}"}).status_code for n in range(3)]
    finally:
        app.config["MESSAGES_PER_REPORT_PER_DAY"] = saved
    assert statuses == [201, 201, 429]


def test_messages_per_device_are_rate_limited(client, app):
    headers, report = own_report(client)
    url = f"/api/v1/reports/{report.reference}/messages"
    saved = app.config["RATELIMIT_MESSAGES_PER_DEVICE"]
    app.config["RATELIMIT_MESSAGES_PER_DEVICE"] = "2 per minute"
    try:
        statuses = [client.post(url, headers=headers, json={"text": f"Message {n}"}).status_code for n in range(3)]
    finally:
        app.config["RATELIMIT_MESSAGES_PER_DEVICE"] = saved
    assert statuses == [201, 201, 429]


def test_an_officer_message_queues_a_push_with_the_fixed_template_never_the_text(client):
    device = make_device(tokens=("tok-a",))
    report = make_report(device=device)
    messages.post_unit_message(report, make_officer(report.unit), "Le numéro de la plaque AB-123-CD ?")
    row = db.session.scalars(select(Notification).where(Notification.report_id == report.id)).one()
    assert row.kind == "unit_message"
    assert row.payload["notification"]["body"] == "Nouveau message de l'unité sur votre signalement"
    assert "AB-123-CD" not in json.dumps(row.payload)


def test_a_sensitive_category_gets_a_data_only_push(client):
    report = make_report("point_de_deal", device=make_device(tokens=("tok-b",)))
    messages.post_unit_message(report, make_officer(report.unit), "Combien de personnes ?")
    row = db.session.scalars(select(Notification).where(Notification.report_id == report.id)).one()
    assert "notification" not in row.payload and row.payload["data"]["sensitive"] == "true"
    assert "Combien" not in json.dumps(row.payload)


def test_the_unit_reading_resident_messages_is_audited_and_marks_them_read(client):
    from models import AuditEntry
    headers, report = own_report(client)
    client.post(f"/api/v1/reports/{report.reference}/messages", headers=headers, json={"text": "Devant le 12"})
    assert messages.unread_resident_messages(report.id) == 1
    officer = make_officer(report.unit)
    thread = messages.read_thread_for_unit(report, officer)
    assert [(e.message.text, e.unread) for e in thread] == [("Devant le 12", True)]
    assert messages.unread_resident_messages(report.id) == 0
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.messages.read")).one()
    assert entry.officer_id == officer.id and entry.details["unread"] == 1
