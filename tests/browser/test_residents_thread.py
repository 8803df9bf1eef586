"""The report's thread in the residents' app, on a phone: the unit's question (the unit by its name, never the
officer), an answer with a photo re-encoded in the browser, the question marked read."""
import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from models import Device, ReportMessage, ReportMessagePhoto, db
from service.reports import messages
from tests.browser.conftest import PHONE
from tests.browser.test_residents_app import open_app, photo_with_metadata, serious_accessibility_violations
from tests.factories import make_officer, make_report
from tests.instants import WEEKDAY_DAYTIME

pytestmark = [pytest.mark.browser, pytest.mark.instant(WEEKDAY_DAYTIME)]

QUESTION = "Vers quelle heure les motos arrivent-elles ?"


def test_the_resident_reads_the_question_and_answers_with_a_photo(live_server, new_page):
    device = requests.post(f"{live_server}/api/v1/devices", json={"platform": "web"}, timeout=10).json()
    report = make_report("rodeo_motorise", device=db.session.get(Device, device["device_id"]))
    officer = make_officer(report.unit)
    officer.display_name = "Brigadier Dupont"
    db.session.commit()
    messages.post_unit_message(report, officer, QUESTION)

    page = new_page(**PHONE)
    page.goto(f"{live_server}/")
    page.evaluate("token => localStorage.setItem('proxima.device-token', token)", device["token"])
    violations = open_app(page, live_server)
    page.goto(f"{live_server}/#/signalement/{report.reference}")
    thread = page.locator("#thread-messages")
    expect(thread.locator(".message-unit")).to_contain_text(QUESTION)
    expect(thread.locator(".message-unit")).to_contain_text(report.unit.name)
    expect(thread).not_to_contain_text("Dupont")

    page.get_by_label("Votre message").fill("Vers 22 h, tous les soirs")
    page.get_by_label("Joindre une photo").set_input_files(
        files=[{"name": "motos.jpg", "mimeType": "image/jpeg", "buffer": photo_with_metadata()}])
    expect(page.locator("#message-photo-list img")).to_have_count(1)
    assert serious_accessibility_violations(page) == []
    page.get_by_role("button", name="Envoyer le message").click()
    answer = thread.locator(".message-resident")
    expect(answer).to_contain_text("Vers 22 h, tous les soirs")
    expect(answer).to_contain_text("1 photo(s) jointe(s)")
    expect(page.locator("#message-photo-list img")).to_have_count(0)

    db.session.expire_all()
    written = db.session.scalars(select(ReportMessage).where(ReportMessage.report_id == report.id)
                                 .order_by(ReportMessage.id)).all()
    assert [(m.author, m.text) for m in written] == [("unit", QUESTION), ("resident", "Vers 22 h, tous les soirs")]
    assert written[0].read_at is not None  # the app marked the question read
    photo = db.session.scalar(select(ReportMessagePhoto))
    assert max(photo.width, photo.height) == 1600 and b"TestCamMaker" not in photo.content
    assert violations == []
