"""The residents' app on a phone (headless Chromium, mobile emulation): installable shell, accessibility, offline."""
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser

HOTEL_DE_VILLE = {"latitude": 48.8566, "longitude": 2.3522, "accuracy": 25}


@pytest.fixture
def phone(new_page):
    """A resident's phone, located at the Hôtel de Ville of Paris, geolocation allowed."""
    def make(**options):
        return new_page(**{**PHONE, "geolocation": HOTEL_DE_VILLE, "permissions": ["geolocation"], **options})
    return make


def open_app(page, base_url):
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base_url}/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return violations


def test_shell_is_installable_and_controlled_by_its_service_worker(live_server, phone):
    page = phone()
    violations = open_app(page, live_server)
    manifest = page.evaluate("""async () => {
        const link = document.querySelector('link[rel=manifest]');
        return (await fetch(link.href)).json();
    }""")
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["icons"]}
    for icon in manifest["icons"]:
        assert page.request.get(live_server + icon["src"]).ok
    page.wait_for_function("navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready")
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{live_server}/"
    expect(page.get_by_role("link", name="Mes signalements")).to_be_visible()
    expect(page.get_by_role("link", name="17")).to_have_attribute("href", "tel:17")
    assert violations == []
