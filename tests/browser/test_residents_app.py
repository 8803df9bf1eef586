"""The residents' app on a phone (headless Chromium, mobile emulation, geolocation): installable shell, the whole
loop with the officer console, offline sending, a place outside France, accessibility (axe-core)."""
import base64
import io
import json
import re

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from models import Feedback, Report, ReportPhoto, db
from service.reports.intake import OUTSIDE_TERRITORY
from tests.browser.conftest import PHONE, console_login
from tests.instants import WEEKDAY_DAYTIME
from tests.integration.console_support import make_officer

# Routing, hence « qui s'en occupe ici », depends on the hour: every test here runs on a weekday morning.
pytestmark = [pytest.mark.browser, pytest.mark.instant(WEEKDAY_DAYTIME)]

HOTEL_DE_VILLE = {"latitude": 48.8566, "longitude": 2.3522, "accuracy": 25}
LONDON = {"latitude": 51.5072, "longitude": -0.1276, "accuracy": 30}
SERIOUS = ("serious", "critical")


@pytest.fixture(autouse=True)
def fast_timeline_refresh(app, monkeypatch):
    """An open report refreshes its timeline every second instead of every thirty (no push in tests)."""
    monkeypatch.setitem(app.config, "RESIDENTS_POLL_S", 1)


@pytest.fixture
def phone(new_page):
    """A resident's phone, at the Hôtel de Ville of Paris unless told otherwise, geolocation allowed."""
    def make(where=HOTEL_DE_VILLE, **options):
        return new_page(**{**PHONE, "geolocation": where, "permissions": ["geolocation"], **options})
    return make


def open_app(page, base_url):
    """Open the app and wait until it has registered its service worker; returns the list of CSP violations."""
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base_url}/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return violations


def serious_accessibility_violations(page) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on the page as it stands (the vendored file)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    return page.evaluate("""async (levels) => {
        const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a",
                                                                                 "wcag21aa"]}});
        return result.violations.filter(v => levels.includes(v.impact))
            .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "));
    }""", list(SERIOUS))


def photo_with_metadata() -> bytes:
    """A 3000×2000 JPEG carrying the camera's make and model in EXIF, as phones write them."""
    image = Image.new("RGB", (3000, 2000), (180, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "TestCamMaker"  # Make
    exif[0x0110] = "TestCamModel"  # Model
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    assert b"TestCamMaker" in out.getvalue()
    return out.getvalue()


def fill_report(page, category="Rodéo motorisé", description="Motos cross sur le parvis"):
    page.get_by_label("Nature du signalement").select_option(label=category)
    page.get_by_role("button", name="Me localiser").click()
    expect(page.locator("#accuracy")).to_contain_text("± 25 m")
    page.get_by_label("Description").fill(description)


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_shell_is_installable_and_controlled_by_its_service_worker(live_server, phone):
    page = phone()
    violations = open_app(page, live_server)
    manifest = page.evaluate("""async () => {
        const link = document.querySelector("link[rel=manifest]");
        return (await fetch(link.href)).json();
    }""")
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["icons"]}
    for icon in manifest["icons"]:
        assert page.request.get(live_server + icon["src"]).ok
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)") == f"{live_server}/"
    expect(page.get_by_role("link", name="Mes signalements")).to_be_visible()
    for number, href in (("17", "tel:17"), ("112", "tel:112"), ("SMS 114", "sms:114")):
        expect(page.get_by_role("link", name=re.compile(rf"^{number}\b"))).to_have_attribute("href", href)
    # The commune outlines stand in for tiles (MAP_TILE_URL is empty in tests) once the map is zoomed in.
    page.get_by_role("button", name="Me localiser").click()
    expect(page.locator("#map path.leaflet-interactive").first).to_be_attached()
    assert serious_accessibility_violations(page) == []
    assert violations == []


def test_report_with_a_photo_followed_through_the_console_to_feedback(live_server, phone, new_page):
    make_officer("paris@test.fr", unit_code="PN-75104")
    page = phone()
    violations = open_app(page, live_server)

    fill_report(page)
    expect(page.locator("#category-description")).to_contain_text("Motos, quads")
    page.get_by_role("group", name="Type d'engins").get_by_label("Moto / motocross").check()
    expect(page.locator("#coverage")).to_contain_text("Qui s'en occupe ici")
    # The first routing of a fresh server builds its index: allow it a few seconds.
    expect(page.locator("#coverage")).to_contain_text("Commissariat de Paris 4e", timeout=15000)
    photo = photo_with_metadata()
    page.get_by_label("Ajouter une photo").set_input_files(
        files=[{"name": "parvis.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    expect(page.get_by_role("img", name="Photo 1")).to_be_visible()
    assert serious_accessibility_violations(page) == []
    page.get_by_role("button", name="Envoyer le signalement").click()

    expect(page.get_by_role("heading", name="Signalement envoyé")).to_be_visible()
    reference = re.search(r"Référence : (\S+)", page.locator("#sent-body").inner_text()).group(1)
    expect(page.locator("#sent-ack")).to_contain_text("Prise en compte attendue avant")
    db.session.expire_all()
    report = db.session.scalar(select(Report).where(Report.reference == reference))
    assert report.category_code == "rodeo_motorise" and report.answers == {"vehicle_type": ["moto"]}
    assert report.accuracy_m == 25
    stored = db.session.scalar(select(ReportPhoto).where(ReportPhoto.report_id == report.id))
    assert (stored.width, stored.height) == (1600, 1067)  # reduced in the browser (the server keeps up to 2560)
    # What the app uploads is the photo's pixels only: its EXIF never leaves the phone.
    prepared = base64.b64decode(page.evaluate("""async (encoded) => {
        const { preparePhoto } = await import("/static/residents/photos.js");
        const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
        const blob = await preparePhoto(new Blob([bytes], {type: "image/jpeg"}));
        const out = new Uint8Array(await blob.arrayBuffer());
        return btoa(Array.from(out, (b) => String.fromCharCode(b)).join(""));
    }""", base64.b64encode(photo).decode()))
    assert prepared[:2] == b"\xff\xd8" and b"TestCamMaker" not in prepared and b"Exif\x00\x00" not in prepared

    # « Mes signalements », then the report's page, left open while the officer works.
    page.get_by_role("link", name="Mes signalements").click()
    expect(page.get_by_role("heading", name="Mes signalements")).to_be_visible()
    expect(page.locator("#report-list")).to_contain_text("Rodéo motorisé")
    assert serious_accessibility_violations(page) == []
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", name=f"Signalement {reference}")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Signalement reçu")
    assert serious_accessibility_violations(page) == []

    officer = new_page()
    console_login(officer, live_server, "paris@test.fr")
    officer.get_by_role("link", name=reference).click()
    expect(officer.locator("#report-photos img, img[src*='/photos/']").first).to_be_attached()
    officer.get_by_role("button", name="Prendre en compte").click()
    expect(officer.locator("#report-status")).to_have_text("Pris en compte")
    officer.get_by_label("Issue").select_option(label="Saisie d'engin")
    officer.get_by_role("button", name="Résoudre").click()
    expect(officer.locator("#report-status")).to_have_text("Résolu")
    officer.get_by_role("button", name="Clôturer").click()
    expect(officer.locator("#report-status")).to_have_text("Clôturé")

    # The resident's open page catches up by itself (no push configured: it refreshes).
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Pris en compte par")
    expect(timeline).to_contain_text("Signalement clôturé.")
    expect(page.locator("#detail-status")).to_have_text("Statut : Clôturé")
    expect(page.get_by_role("button", name="Rouvrir le signalement")).to_be_visible()
    for question, score in (("Réactivité", 5), ("Courtoisie", 4), ("Information reçue", 3)):
        page.get_by_role("group", name=question).get_by_role("radio", name=f"{score} sur 5").check()
    page.get_by_label("Commentaire (facultatif)").fill("Rapide, merci")
    assert serious_accessibility_violations(page) == []
    page.get_by_role("button", name="Envoyer mon avis").click()
    expect(page.locator("#feedback-thanks")).to_contain_text("Merci")
    db.session.expire_all()
    feedback = db.session.scalar(select(Feedback).where(Feedback.report_id == report.id))
    assert (feedback.reactivite, feedback.courtoisie, feedback.information) == (5, 4, 3)
    assert feedback.comment == "Rapide, merci"

    # Within the window the resident may reopen it, once.
    page.get_by_label("Pourquoi le rouvrir ? (facultatif)").fill("Les motos sont revenues")
    page.get_by_role("button", name="Rouvrir le signalement").click()
    expect(timeline).to_contain_text("Signalement rouvert.")
    expect(page.get_by_role("button", name="Rouvrir le signalement")).to_have_count(0)
    db.session.expire_all()
    reopened = db.session.get(Report, report.id)
    assert reopened.reopen_count == 1 and reopened.status not in ("closed", "resolved")
    assert violations == []


def test_report_written_offline_is_kept_and_created_once_when_the_network_returns(live_server, phone):
    page = phone()
    open_app(page, live_server)
    page.evaluate("""() => navigator.serviceWorker.controller || new Promise((resolve) =>
        navigator.serviceWorker.addEventListener("controllerchange", resolve))""")
    fill_report(page, category="Dépôt sauvage", description="Gravats devant le 12")
    expect(page.locator("#coverage")).to_contain_text("Qui s'en occupe ici")

    page.context.set_offline(True)
    page.get_by_role("button", name="Envoyer le signalement").click()
    expect(page.get_by_role("heading", name="Signalement gardé sur l'appareil")).to_be_visible()
    expect(page.locator("#network")).to_contain_text("Hors ligne")
    # Even a restart without network keeps it: the shell comes from the service worker, the report from IndexedDB.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_role("link", name="Mes signalements").click()
    expect(page.locator("#pending-list")).to_contain_text("En attente d'envoi")
    expect(page.locator("#pending-list")).to_contain_text("Dépôt sauvage")
    assert count(Report) == 0

    page.context.set_offline(False)
    expect(page.locator("#network")).to_contain_text("Signalement en attente envoyé")
    expect(page.locator("#pending-list li")).to_have_count(0)
    expect(page.locator("#report-list li")).to_have_count(1)
    # Another start, another flush attempt: still exactly one report (the outbox is empty, the key was used once).
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#report-list li")).to_have_count(1)
    assert count(Report) == 1
    db.session.expire_all()
    assert db.session.scalar(select(Report.description)) == "Gravats devant le 12"


def test_a_place_outside_france_is_refused_with_the_api_message(live_server, phone):
    page = phone(where=LONDON)
    open_app(page, live_server)
    page.get_by_label("Nature du signalement").select_option(label="Stationnement gênant")
    page.get_by_role("button", name="Me localiser").click()
    expect(page.locator("#coverage")).to_contain_text(OUTSIDE_TERRITORY)
    page.get_by_label("Description").fill("Voiture sur le trottoir")
    page.get_by_role("button", name="Envoyer le signalement").click()
    expect(page.get_by_role("alert")).to_contain_text(OUTSIDE_TERRITORY)
    expect(page.get_by_role("heading", name="Signaler un fait")).to_be_visible()
    assert page.evaluate("indexedDB.databases().then(() => 0)") == 0
    page.get_by_role("link", name="Mes signalements").click()
    expect(page.locator("#list-empty")).to_be_visible()
    assert count(Report) == 0


def test_sensitive_category_says_who_sees_the_report(live_server, phone):
    page = phone()
    open_app(page, live_server)
    notice = page.locator("#sensitive-notice")
    expect(notice).to_be_hidden()
    page.get_by_label("Nature du signalement").select_option(label="Point de deal")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("seule l'unité de police ou de gendarmerie compétente le voit")
    expect(notice).to_contain_text("pas identifié en dehors de cette unité")


def test_english_phone_gets_english_labels(live_server, phone):
    page = phone(locale="en-GB")
    open_app(page, live_server)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Type of report").select_option(label="Motorised rodeo")
    expect(page.get_by_role("button", name="Send the report")).to_be_visible()
    expect(page.get_by_role("link", name="My reports")).to_be_visible()


def test_push_messages_become_notifications_and_a_sensitive_one_says_nothing(live_server, phone):
    page = phone(permissions=["geolocation", "notifications"])
    open_app(page, live_server)
    page.evaluate("""() => navigator.serviceWorker.controller || new Promise((resolve) =>
        navigator.serviceWorker.addEventListener("controllerchange", resolve))""")
    cdp = page.context.new_cdp_session(page)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.wait_for_timeout(200)
    registration = next(r for r in registrations if r["scopeURL"] == f"{live_server}/")
    # What FCM delivers to a web token for service.followup.push_texts.render(): a displayed one, a data-only one.
    for payload in ({"notification": {"title": "Signalement pris en compte", "body": "PX-1 : pris en compte."},
                     "data": {"kind": "report_acknowledged", "reference": "PX-1", "locale": "fr"}},
                    {"data": {"kind": "report_acknowledged", "reference": "PX-2", "locale": "fr", "sensitive": "true",
                              "text": "Votre signalement a évolué."}}):
        cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server, "registrationId":
                                                      registration["registrationId"], "data": json.dumps(payload)})
    notifications = page.evaluate("""async () => {
        const registration = await navigator.serviceWorker.ready;
        for (let i = 0; i < 200; i++) {  // up to 20 s: a loaded machine delays the service worker's events
            const shown = await registration.getNotifications();
            if (shown.length >= 2) {
                return shown.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url}));
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return [];
    }""")
    assert sorted(notifications, key=lambda n: n["tag"]) == [
        {"title": "Signalement pris en compte", "body": "PX-1 : pris en compte.", "tag": "PX-1",
         "url": "/#/signalement/PX-1"},
        {"title": "Proxima", "body": "Votre signalement a évolué.", "tag": "PX-2", "url": "/#/signalement/PX-2"}]


def test_desktop_layout_is_usable_and_accessible(live_server, new_page):
    page = new_page(viewport={"width": 1280, "height": 900})
    violations = open_app(page, live_server)
    expect(page.get_by_role("heading", name="Signaler un fait")).to_be_visible()
    form = page.locator("#report-form").bounding_box()
    assert form["width"] < 800  # one readable column, centred
    page.get_by_label("Nature du signalement").select_option(label="Nuisances sonores")
    expect(page.get_by_label("Origine du bruit")).to_be_visible()
    assert serious_accessibility_violations(page) == []
    assert violations == []
