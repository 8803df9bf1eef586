"""The report's thread in a real browser: a canned question picked and sent, the resident's answer (through the API)
with its photo and badge, in the queue and on the report page, under the console's strict CSP."""
import io
import json

import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

from models import CannedQuestion, db
from tests.browser.conftest import console_login
from tests.integration.console_support import make_officer, make_report

pytestmark = pytest.mark.browser

QUESTION = "Par quelle entrée sont-ils passés ?"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 0)).save(out, "PNG")
    return out.getvalue()


def test_the_officer_asks_a_canned_question_and_sees_the_answer_with_its_badge(live_server, new_page):
    make_officer("paris@test.fr", unit_code="PN-75104")
    device = requests.post(f"{live_server}/api/v1/devices", json={"platform": "android"}, timeout=10).json()
    resident = {"Authorization": f"Bearer {device['token']}"}
    from models import Device
    report = make_report("point_de_deal", device=db.session.get(Device, device["device_id"]))
    db.session.add(CannedQuestion(category_code="point_de_deal", text=QUESTION, position=1))
    db.session.commit()

    page = new_page()
    console_login(page, live_server, "paris@test.fr")
    page.goto(f"{live_server}/console/reports/{report.id}")
    thread = page.locator("#thread")
    expect(thread).to_contain_text("Aucun message")
    page.get_by_label("Question type").select_option(label=QUESTION)
    expect(page.locator("#message-text")).to_have_value(QUESTION)  # console.js, no inline script
    page.get_by_role("button", name="Envoyer").click()
    expect(thread.locator(".message-unit")).to_contain_text(QUESTION)

    listed = requests.get(f"{live_server}/api/v1/reports/{report.reference}/messages", headers=resident, timeout=10)
    assert [m["text"] for m in listed.json()["items"]] == [QUESTION]
    answered = requests.post(f"{live_server}/api/v1/reports/{report.reference}/messages", headers=resident,
                             data={"message": json.dumps({"text": "Par le porche, côté rue"})},
                             files=[("photos", ("porche.png", png(), "image/png"))], timeout=10)
    assert answered.status_code == 201, answered.text

    page.goto(f"{live_server}/console/?messages=non-lus")
    row = page.locator(f'#queue-rows tr[data-report-id="{report.id}"]')
    expect(row.locator(".unread-messages")).to_contain_text("1 message(s) non lu(s)")
    row.get_by_role("link", name=report.reference).click()
    answer = page.locator("#thread .message-resident")
    expect(answer).to_contain_text("Par le porche, côté rue")
    expect(answer.locator(".message-unread")).to_be_visible()
    image = answer.locator("img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 40
    page.reload()
    expect(page.locator("#thread .message-resident .message-unread")).to_have_count(0)
