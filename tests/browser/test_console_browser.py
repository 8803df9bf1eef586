"""The officer console in a real browser: login, live queue and map, triage, transfer, scope."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Report, db
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, console_login as _login  # noqa: F401 (constants)
from tests.instants import WEEKDAY_NIGHT
from tests.integration.console_support import LYON_2E, make_officer, make_report, unit

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def fast_queue_polling(app, monkeypatch):
    """The queue polls every second instead of fifteen, so new arrivals show up quickly."""
    monkeypatch.setitem(app.config, "CONSOLE_POLL_MS", 1000)


def test_triage_from_queue_to_resolution(live_server, new_page):
    make_officer("paris@test.fr", unit_code="PN-75104")
    page = new_page()
    _login(page, live_server, "paris@test.fr")
    expect(page.locator("#queue-rows")).to_contain_text("Aucun signalement")
    # The jurisdiction is drawn even without tiles (MAP_TILE_URL empty in tests).
    expect(page.locator("#map path.leaflet-interactive").first).to_be_attached()

    report = make_report("rodeo_motorise", description="Motos sur le parvis", ongoing=True)
    # New arrival without reloading the page: in the table, announced, and on the map.
    row = page.locator(f'#queue-rows tr[data-report-id="{report.id}"]')
    expect(row).to_contain_text(report.reference)
    expect(row).to_contain_text("Rodéo")
    expect(row).to_contain_text("en cours")
    expect(page.locator("#queue-status")).to_contain_text("nouveau signalement")
    expect(page.locator("#map")).to_have_attribute("data-marker-ids", re.compile(rf"\b{report.id}\b"))

    row.get_by_role("link", name=report.reference).click()
    expect(page.get_by_role("heading", name=re.compile(report.reference))).to_be_visible()
    expect(page.locator("#report-map .leaflet-interactive").first).to_be_attached()

    page.get_by_role("button", name="Prendre en compte").click()
    expect(page.locator("#report-status")).to_have_text("Pris en compte")
    page.locator(".action-dispatch").get_by_label("Commentaire (facultatif)").fill("Patrouille PS 12")
    page.get_by_role("button", name="Engager une patrouille").click()
    expect(page.locator("#report-status")).to_have_text("Patrouille engagée")
    page.get_by_label("Issue").select_option(label="Saisie d'engin")
    page.get_by_role("button", name="Résoudre").click()
    expect(page.locator("#report-status")).to_have_text("Résolu")

    timeline = page.locator("#timeline")
    for label in ("Signalement reçu", "Attribué à l'unité compétente", "Pris en compte", "Patrouille engagée",
                  "Résolu"):
        expect(timeline).to_contain_text(label)
    expect(timeline).to_contain_text("Patrouille PS 12")
    expect(timeline).to_contain_text("Saisie d'engin")
    db.session.expire_all()
    assert db.session.get(Report, report.id).status == "resolved"


@pytest.mark.instant(WEEKDAY_NIGHT)  # the police municipale is closed: parking goes to the commissariat
def test_transfer_accepted_by_the_other_unit_and_scope(live_server, new_page):
    make_officer("paris@test.fr", unit_code="PN-75104")
    make_officer("pm@test.fr", unit_code="PM-75056")
    make_officer("lyon@test.fr", unit_code="PN-69382")
    report = make_report("stationnement_genant", description="Voiture sur le passage piéton")
    make_report("point_de_deal", at=LYON_2E, description="Deal à Lyon")

    paris = new_page()
    _login(paris, live_server, "paris@test.fr")
    paris.get_by_role("link", name=report.reference).click()
    transfer = paris.locator(".action-transfer")
    # Each unit offered is listed with its opening hours; it is chosen here by its id.
    transfer.get_by_label("Unité destinataire").select_option(value=str(unit("PM-75056").id))
    transfer.get_by_label("Motif du transfert").fill("Compétence de la police municipale")
    transfer.get_by_role("button", name="Transférer").click()
    expect(paris.locator(".flash-success")).to_contain_text("Transfert demandé")

    pm = new_page()
    _login(pm, live_server, "pm@test.fr")
    row = pm.locator(f'#queue-rows tr[data-report-id="{report.id}"]')
    expect(row).to_contain_text("transfert à accepter")
    row.get_by_role("link", name=report.reference).click()
    pm.get_by_role("button", name="Accepter le transfert").click()
    expect(pm.locator("#report-unit")).to_have_text("Police municipale de Paris")
    expect(pm.locator("#report-status")).to_have_text("Pris en compte")
    expect(pm.locator("#timeline")).to_contain_text("Transfert accepté")

    # An officer of another unit cannot open it: 404, and nothing of the report shows.
    lyon = new_page()
    _login(lyon, live_server, "lyon@test.fr")
    expect(lyon.locator("#queue-rows tr[data-report-id]")).to_have_count(1)
    expect(lyon.locator("#queue-rows")).not_to_contain_text(report.reference)
    response = lyon.goto(f"{live_server}/console/reports/{report.id}")
    assert response.status == 404
    expect(lyon.get_by_role("heading", name="Erreur 404")).to_be_visible()
    assert report.reference not in lyon.content()
    db.session.expire_all()
    moved = db.session.scalar(select(Report).where(Report.id == report.id))
    assert moved.unit_id == unit("PM-75056").id
