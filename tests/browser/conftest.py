"""Browser fixtures shared by the console and residents' tests: one headless Chromium per module, pages in contexts
of their own (an officer's desktop, a resident's phone), and any script error failing the test."""
import pytest
from playwright.sync_api import expect

from tests.integration.console_support import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]

# A mid-range phone in portrait, with touch (Playwright's own descriptors assume its bundled browsers).
PHONE = {"viewport": {"width": 393, "height": 851}, "device_scale_factor": 2.75, "is_mobile": True,
         "has_touch": True, "user_agent": ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 "
                                           "(KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36")}


@pytest.fixture(scope="module")
def browser():
    """One Chromium for this module, closed before any other module starts its own Playwright."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """Factory of pages, each in its own context (its own cookies and storage): `new_page(**context_options)`.

    Defaults to a French desktop browser in Paris time; a script error in any page fails the test.
    """
    contexts, script_errors = [], []

    def make(**options):
        context = browser.new_context(**{"locale": "fr-FR", "timezone_id": "Europe/Paris", **options})
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: script_errors.append(str(exc)))
        return page
    yield make
    for context in contexts:
        context.close()
    assert not script_errors, script_errors


def console_login(page, base_url, email, password=PASSWORD):
    page.goto(f"{base_url}/console/login")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="File des signalements")).to_be_visible()
