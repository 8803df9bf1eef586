"""The dashboard in headless Chromium: a supervisor logs in, the charts, heat map and map render, a bar drills down."""
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from models import Unit, db
from service.accounts import officers
from service.statistics.report_clocks import refresh_indicator_views
from tests.integration.indicator_factory import make_report
from service.platform import clock as service_clock

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


@pytest.fixture
def history(committed):
    parent = db.session.execute(text(
        "SELECT parent_id FROM units WHERE kind = 'police_nationale' AND receives_reports AND parent_id IS NOT NULL "
        "GROUP BY parent_id HAVING count(*) >= 2 ORDER BY parent_id LIMIT 1")).scalar_one()
    units = db.session.scalars(select(Unit).where(Unit.parent_id == parent, Unit.receives_reports)
                               .order_by(Unit.id).limit(2)).all()
    now = service_clock.now()
    for i in range(24):
        make_report(units[i % 2], [("acknowledged", 3 + i), ("dispatched", 20 + i), ("resolved", 60 + 5 * i),
                                   ("citizen_notified", 61 + 5 * i), ("closed", 62 + 5 * i)],
                    category_code=("rodeo_motorise", "nuisance_sonore", "degradation")[i % 3],
                    received_at=now - timedelta(days=i % 20, hours=i), outcome_code="mediation",
                    feedback=(4, 5, 3) if i % 4 == 0 else None)
    officers.create_officer("chef.navigateur@example.fr", "superviseur", PASSWORD, unit=db.session.get(Unit, parent))
    db.session.commit()
    refresh_indicator_views(full=True)
    return units


def test_dashboard_renders_charts_and_drills_down(live_server, history):
    from playwright.sync_api import sync_playwright
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server}/console/login?next=/console/tableau-de-bord/")
            page.fill("input[name=email]", "chef.navigateur@example.fr")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/console/tableau-de-bord/**")
            page.wait_for_selector("body[data-charts-rendered]")
            assert int(page.get_attribute("body", "data-charts-rendered")) >= 8
            for canvas in ("#chart-dist-acknowledge", "#chart-units", "#chart-weeks", "#chart-sla", "#chart-outcomes"):
                assert page.get_attribute(canvas, "data-rendered") == "true"
                box = page.locator(canvas).bounding_box()
                assert box["width"] > 100 and box["height"] > 100
            # Chart.js really drew something: the canvas is not blank.
            drawn = page.evaluate("""() => {
                const c = document.getElementById('chart-units');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; }
                return false; }""")
            assert drawn
            assert page.get_attribute("#heatmap", "data-rendered") == "true"
            assert page.get_attribute("#commune-map", "data-rendered") == "true"
            assert int(page.get_attribute("#commune-map", "data-markers")) >= 1
            assert page.locator("text=Définitions des indicateurs").count() == 1
            # Clicking the first unit's median bar (located through Chart.js) opens the list of its reports.
            page.locator("#chart-units").scroll_into_view_if_needed()
            bar = page.evaluate("""() => {
                const canvas = document.getElementById('chart-units');
                const bar = Chart.getChart(canvas).getDatasetMeta(0).data[0];
                const rect = canvas.getBoundingClientRect();
                return {x: rect.left + (bar.base + bar.x) / 2, y: rect.top + bar.y}; }""")
            page.mouse.click(bar["x"], bar["y"])
            page.wait_for_url("**/console/tableau-de-bord/signalements?**")
            page.wait_for_selector("#report-list")
            assert page.locator("#report-list tbody tr").count() == 12
        finally:
            browser.close()
    assert not errors, errors
