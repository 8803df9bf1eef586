"""The Content-Security-Policy in a real browser: the console, its dashboard and the API docs load and run
with no policy violation (no inline script, no unexpected origin)."""
import pytest

from tests.browser.test_console_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.console_support import PASSWORD, make_officer, make_report

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_console_dashboard_and_docs_run_under_the_policy(browser, live_server):
    make_officer("chef.csp.browser@interieur.gouv.fr", role="superviseur", unit_code="PN-75104")
    report = make_report()
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    violations, errors = [], []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server}/console/login")
        page.get_by_label("Adresse électronique").fill("chef.csp.browser@interieur.gouv.fr")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{live_server}/console/")
        page.wait_for_selector(".leaflet-container")
        page.goto(f"{live_server}/console/reports/{report.id}")
        page.wait_for_selector(".leaflet-container")
        page.goto(f"{live_server}/console/tableau-de-bord/")
        page.wait_for_selector("canvas")
        page.goto(f"{live_server}/api/v1/docs")
        page.wait_for_selector("text=Proxima", timeout=20000)
        page.wait_for_timeout(500)
    finally:
        context.close()
    # ReDoc's "API docs by Redocly" badge is an image on its CDN: blocked on purpose (no third-party request).
    assert [v for v in violations if "cdn.redoc.ly" not in v] == []
    assert errors == []
