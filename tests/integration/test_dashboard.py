"""Supervisors' dashboard over HTTP: access by role and scope, figures, drill-down list, CSV export, audit log."""
import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from models import AuditEntry, Unit, db
from service.platform.clock import PARIS
from service.statistics.report_clocks import refresh_indicator_views
from service.statistics.report_rows import EXPORT_COLUMNS
from tests.integration.console_support import login, make_officer
from tests.integration.indicator_factory import make_report
from workers.indicators import PUSH_BACKLOG_JOBS, refresh_indicators
from workers.queues import PUSH, get_queue
from service.platform import clock as service_clock


@pytest.fixture
def two_units(db_session):
    """Two commissariats under one état-major, with reports received this week."""
    parent = db.session.execute(text(
        "SELECT parent_id FROM units WHERE kind = 'police_nationale' AND receives_reports AND parent_id IS NOT NULL "
        "GROUP BY parent_id HAVING count(*) >= 2 ORDER BY parent_id LIMIT 1")).scalar_one()
    a, b = db.session.scalars(select(Unit).where(Unit.parent_id == parent, Unit.receives_reports)
                              .order_by(Unit.id).limit(2)).all()
    now = service_clock.now().replace(microsecond=0)
    received = now - timedelta(days=2)
    reports = {
        "a_rodeo": make_report(a, [("acknowledged", 5), ("dispatched", 20), ("resolved", 60),
                                   ("citizen_notified", 61), ("closed", 62)], received_at=received,
                               outcome_code="interpellation"),
        "a_noise": make_report(a, [("acknowledged", 50)], category_code="nuisance_sonore",
                               received_at=received + timedelta(hours=1)),
        "b_rodeo": make_report(b, [("acknowledged", 30), ("resolved", 90), ("closed", 91)], received_at=received,
                               outcome_code="patrouille_engagee_rien_constate"),
        "old": make_report(a, [("acknowledged", 3)], received_at=now - timedelta(days=200)),
    }
    refresh_indicator_views(full=True)
    return {"parent": db.session.get(Unit, parent), "a": a, "b": b, "reports": reports}


def test_agents_are_refused_and_anonymous_sent_to_login(client, two_units):
    assert client.get("/console/tableau-de-bord/").status_code in (302, 401)
    make_officer("agent@example.fr", "agent", two_units["a"].code)
    login(client, "agent@example.fr")
    assert client.get("/console/tableau-de-bord/").status_code == 404
    assert client.get("/console/tableau-de-bord/export.csv").status_code == 404


def test_supervisor_sees_their_tree_with_every_figure(client, two_units):
    make_officer("chef@example.fr", "superviseur", two_units["parent"].code)
    login(client, "chef@example.fr")
    page = client.get("/console/tableau-de-bord/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for marker in ("chart-dist-acknowledge", "chart-units", "chart-weeks", "chart-sla", "heatmap", "commune-map",
                   "Définitions des indicateurs", "Données arrêtées au", "dashboard-data"):
        assert marker in html
    assert '<span class="kpi-value">3</span><span>signalements</span>' in html
    assert "Données arrêtées au <strong>jamais" not in html
    data = client.get("/console/tableau-de-bord/donnees.json").get_json()
    # Default period: the last 30 days; the 200-day-old report is out.
    assert data["summary"]["reports"] == 3
    units = {u["label"]: u["reports"] for u in data["charts"]["units"]}
    assert units == {two_units["a"].name: 2, two_units["b"].name: 1}
    assert all("/console/tableau-de-bord/signalements?" in u["href"] for u in data["charts"]["units"])
    assert data["summary"]["acknowledge_p50"] == 30 * 60


def test_supervisor_of_one_unit_cannot_see_the_other(client, two_units):
    make_officer("chefa@example.fr", "superviseur", two_units["a"].code)
    login(client, "chefa@example.fr")
    data = client.get(f"/console/tableau-de-bord/donnees.json?unit_id={two_units['b'].id}").get_json()
    assert data["summary"]["reports"] == 2  # the out-of-scope filter is ignored, the scope stays
    assert data["errors"]
    listing = client.get(f"/console/tableau-de-bord/signalements?unit_id={two_units['b'].id}").get_data(as_text=True)
    assert two_units["reports"]["b_rodeo"].reference not in listing


def test_drill_down_list_shows_exactly_the_reports_behind_a_figure(client, two_units):
    make_officer("admin@example.fr", "admin", None)
    login(client, "admin@example.fr")
    html = client.get("/console/tableau-de-bord/signalements?category_code=nuisance_sonore").get_data(as_text=True)
    r = two_units["reports"]
    assert r["a_noise"].reference in html
    assert r["a_rodeo"].reference not in html and r["b_rodeo"].reference not in html
    html = client.get("/console/tableau-de-bord/signalements?outcome_code=interpellation").get_data(as_text=True)
    assert r["a_rodeo"].reference in html and r["b_rodeo"].reference not in html


def _export(client, query: str) -> tuple[list[str], list[dict], bytes]:
    response = client.get("/console/tableau-de-bord/export.csv" + query)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv; charset=utf-8")
    body = response.get_data()
    text_body = body.decode("utf-8")
    lines = text_body.split("\r\n")
    assert lines[-1] == ""  # every record ends with CRLF
    rows = list(csv.DictReader(io.StringIO(text_body, newline="")))
    return lines[0].split(","), rows, body


def test_export_respects_the_filters_and_is_audited(client, two_units):
    make_officer("admin2@example.fr", "admin", None)
    login(client, "admin2@example.fr")
    header, rows, _ = _export(client, "")
    assert header == list(EXPORT_COLUMNS)
    r = two_units["reports"]
    assert {row["reference"] for row in rows} == {r["a_rodeo"].reference, r["a_noise"].reference,
                                                  r["b_rodeo"].reference}
    _, rows, _ = _export(client, f"?unit_id={two_units['b'].id}")
    assert [row["reference"] for row in rows] == [r["b_rodeo"].reference]
    assert rows[0]["acknowledge_min"] == "30.0" and rows[0]["resolve_min"] == "90.0"
    assert rows[0]["dispatch_min"] == "" and rows[0]["outcome_code"] == "patrouille_engagee_rien_constate"
    # Cells as on screen: local time to the second, oui/non, an unknown verdict left empty.
    received = r["b_rodeo"].received_at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S")
    assert rows[0]["received_at"] == received and rows[0]["reopened"] == "non"
    assert rows[0]["resolve_sla"] == "respecte" and rows[0]["dispatch_sla"] == ""
    assert rows[0]["unit_name"] == two_units["b"].name and rows[0]["feedback_reactivite"] == ""
    today = service_clock.today_in_paris()  # the suite's instant, not the machine's date
    start = (today - timedelta(days=400)).isoformat()
    _, rows, _ = _export(client, f"?start={start}&end={today.isoformat()}&category_code=rodeo_motorise")
    assert {row["reference"] for row in rows} == {r["a_rodeo"].reference, r["b_rodeo"].reference,
                                                  r["old"].reference}
    # The dashboard's list and the export agree for the same filters.
    listing = client.get(f"/console/tableau-de-bord/signalements?start={start}&end={today.isoformat()}"
                         "&category_code=rodeo_motorise").get_data(as_text=True)
    assert all(row["reference"] in listing for row in rows)
    exports = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "indicators.export_csv")
                                 .order_by(AuditEntry.id)).all()
    assert len(exports) == 3
    assert exports[1].details["filters"]["unit_id"] == two_units["b"].id
    assert exports[2].details["filters"]["category_code"] == "rodeo_motorise"
    assert exports[2].actor == "admin2@example.fr"


def test_export_quotes_fields_per_rfc4180(client, two_units):
    make_officer("admin3@example.fr", "admin", None)
    login(client, "admin3@example.fr")
    db.session.execute(text("UPDATE units SET name = 'Commissariat \"Centre\", secteur 1' WHERE id = :id"),
                       {"id": two_units["b"].id})
    _, rows, body = _export(client, f"?unit_id={two_units['b'].id}")
    assert b'"Commissariat ""Centre"", secteur 1"' in body
    assert rows[0]["unit_name"] == 'Commissariat "Centre", secteur 1'


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x.example\",\"Centre\")", "+33 1 23", "-2+3", "@SUM(A1)",
                                  "\tCentre"])
def test_export_neutralises_formulas(client, two_units, name):
    make_officer("admin4@example.fr", "admin", None)
    login(client, "admin4@example.fr")
    db.session.execute(text("UPDATE units SET name = :name WHERE id = :id"), {"name": name, "id": two_units["b"].id})
    _, rows, _ = _export(client, f"?unit_id={two_units['b'].id}")
    assert rows[0]["unit_name"] == "'" + name
    assert rows[0]["resolve_min"] == "90.0"  # numbers are left as numbers


def test_audit_page_shows_entries_and_detects_an_altered_row(client, two_units):
    from service.platform import audit
    make_officer("admin4@example.fr", "admin", None)
    login(client, "admin4@example.fr")
    client.get("/console/tableau-de-bord/export.csv")
    audit.record("cli", "test.entry", "report", "1", {"why": "test"})
    db.session.commit()
    page = client.get("/console/tableau-de-bord/journal").get_data(as_text=True)
    assert "Chaîne d&#39;empreintes intègre" in page or "Chaîne d'empreintes intègre" in page
    assert "indicators.export_csv" in page
    # Tampering shown on this page: tests/integration/test_console_audit.py (it needs the owner's rights).


def test_cached_figures_follow_each_refresh(client, two_units, redis_conn):
    make_officer("admin5@example.fr", "admin", None)
    login(client, "admin5@example.fr")
    first = client.get("/console/tableau-de-bord/donnees.json").get_json()
    assert first["summary"]["reports"] == 3
    assert any(k.startswith(b"indicators:dashboard:") for k in redis_conn.keys("*"))
    make_report(two_units["b"], [("acknowledged", 12)], received_at=service_clock.now() - timedelta(hours=3))
    db.session.commit()
    # Not refreshed yet: the figures are those of the "as of" time shown.
    assert client.get("/console/tableau-de-bord/donnees.json").get_json()["summary"]["reports"] == 3
    refresh_indicator_views()
    assert client.get("/console/tableau-de-bord/donnees.json").get_json()["summary"]["reports"] == 4


def test_refresh_job_steps_aside_while_pushes_are_queued_unless_the_indicators_are_late(two_units, redis_conn):
    refresh_indicator_views()
    for _ in range(PUSH_BACKLOG_JOBS + 1):
        get_queue(PUSH, redis_conn).enqueue("workers.push.send_push", 0)
    assert refresh_indicators() == {"deferred": True}
    db.session.execute(text("UPDATE indicator_refreshes SET started_at = started_at - interval '6 minutes'"))
    db.session.commit()
    assert refresh_indicators()["skipped"] is False  # six minutes behind: it runs despite the queued pushes
    redis_conn.delete(get_queue(PUSH, redis_conn).key)
    assert refresh_indicators()["skipped"] is False


def test_refresh_job_warms_the_default_views(client, two_units, redis_conn):
    make_officer("chefw@example.fr", "superviseur", two_units["parent"].code)
    result = refresh_indicators()
    assert result["warmed_views"] == 2 and not result["skipped"]
    warmed = set(redis_conn.keys("indicators:dashboard:*"))
    assert len(warmed) == 2
    login(client, "chefw@example.fr")
    assert client.get("/console/tableau-de-bord/").status_code == 200
    # The supervisor's default view was served from the cache: no new key.
    assert set(redis_conn.keys("indicators:dashboard:*")) == warmed
