"""Authorization matrix: every role × every console and API action × own/other unit or device.

Each cell states the expected HTTP status; a refusal must also leave nothing changed. The whole matrix of a
role is compared at once, so a failure shows every cell that differs. Out of scope answers 404 (never 403),
so that a report's existence does not leak across units or devices.
"""
import io
import warnings

import pytest
from PIL import Image
from sqlalchemy import func, select

from models import AuditEntry, Incident, Report, ReportEvent, Unit, db
from service.reports import workflow
from service.console import queries
from tests.instants import WEEKDAY_NIGHT
from tests.integration.console_support import (LYON_2E, PARIS_4E, csrf_token, login, make_officer, make_report,
                                               new_client, unit)

# --- console ------------------------------------------------------------------------------------------------

ROLES = ("anonyme", "agent", "superviseur", "admin")
# The agent works at the Paris 4e commissariat; the superviseur heads its parent (DDPN-75), so "own" is in
# both scopes; "other" is a Lyon report. The admin has no unit and sees every unit.
OFFICERS = {"agent": ("agent.matrix@interieur.gouv.fr", "agent", "PN-75104"),
            "superviseur": ("chef.matrix@interieur.gouv.fr", "superviseur", "DDPN-75"),
            "admin": ("admin.matrix@interieur.gouv.fr", "admin", None)}
LOGIN = 302   # anonymous: sent to the login page
HIDDEN = 404  # out of scope or above one's role: as if it did not exist
DONE = 302    # a console action succeeded and redirected back to the report

# The "own" report in Paris 4e is the commissariat's: at night, when the police municipale is closed.
pytestmark = pytest.mark.instant(WEEKDAY_NIGHT)


def _console_expected(reachable: int) -> dict:
    """For report-level actions: own report reachable by everyone logged in; other unit's only by the admin."""
    return {
        ("anonyme", "own"): LOGIN, ("anonyme", "other"): LOGIN,
        ("agent", "own"): reachable, ("agent", "other"): HIDDEN,
        ("superviseur", "own"): reachable, ("superviseur", "other"): HIDDEN,
        ("admin", "own"): reachable, ("admin", "other"): reachable,
    }


def _everyone(logged_in: int, anonymous: int = LOGIN) -> dict:
    return {(role, target): anonymous if role == "anonyme" else logged_in
            for role in ROLES for target in ("own", "other")}


def _supervision(ok: int = 200) -> dict:
    return {(role, target): {"anonyme": LOGIN, "agent": HIDDEN}.get(role, ok)
            for role in ROLES for target in ("own", "other")}


CONSOLE_EXPECTED = {
    "queue": _everyone(200),
    "queue_json": _everyone(200, anonymous=401),
    "jurisdictions": _everyone(200),
    "report_page": _console_expected(200),
    "photo": _console_expected(200),
    "acknowledge": _console_expected(DONE),
    "note": _console_expected(DONE),
    "reject": _console_expected(DONE),
    "transfer": _console_expected(DONE),
    "reveal_contact": _console_expected(200),
    "merge": _console_expected(DONE),
    "incident_page": _console_expected(200),
    "split": _console_expected(DONE),
    "accounts": {(role, target): {"anonyme": LOGIN, "admin": 200}.get(role, HIDDEN)
                 for role in ROLES for target in ("own", "other")},
    "dashboard": _supervision(),
    "dashboard_export": _supervision(),
    "audit_log": _supervision(),
}


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def _token(client) -> str:
    # Anonymous visitors get a CSRF token too (login page): refusals must come from authorization, not CSRF.
    page = client.get("/console/login")
    if page.status_code != 200:  # logged in: the login page redirects to the queue
        page = client.get("/console/")
    return csrf_token(page.get_data(as_text=True))


def _post(client, url: str, prefix: str | None, **fields):
    key = f"{prefix}-csrf_token" if prefix else "csrf_token"
    data = {key: _token(client), **{(f"{prefix}-{k}" if prefix else k): v for k, v in fields.items()}}
    return client.post(url, data=data)


def _state(report_id: int) -> tuple:
    db.session.expire_all()
    report = db.session.get(Report, report_id)
    events = db.session.scalar(select(func.count()).select_from(ReportEvent).where(ReportEvent.report_id == report_id))
    audits = db.session.scalar(select(func.count()).select_from(AuditEntry))
    return report.status, report.unit_id, report.pending_transfer_unit_id, report.incident_id, events, audits


def _console_action(client, action: str, target, sibling) -> int:
    rid = target.id
    base = f"/console/reports/{rid}"
    if action == "queue":
        return client.get("/console/").status_code
    if action == "queue_json":
        return client.get("/console/queue.json").status_code
    if action == "jurisdictions":
        return client.get("/console/jurisdictions.geojson").status_code
    if action == "report_page":
        return client.get(base).status_code
    if action == "photo":
        return client.get(f"{base}/photos/{target.photos[0].id}").status_code
    if action in ("acknowledge", "note", "reject"):
        fields = {} if action == "acknowledge" else {"text": "Vérifié sur place."}
        return _post(client, f"{base}/actions/{action}", action, **fields).status_code
    if action == "transfer":
        destination = queries.transfer_targets(target)[0]
        return _post(client, f"{base}/actions/transfer", "transfer", target_unit=str(destination.id),
                     text="Hors secteur.").status_code
    if action == "reveal_contact":
        return _post(client, f"{base}/contact", "contact", reason="Rappel du requérant").status_code
    if action == "merge":
        # Earlier cells left reports at the same spot: merge with the first candidate the console offers.
        candidate = queries.merge_candidates(target, _helper_admin())[0]
        return _post(client, f"{base}/merge", "merge", other_report=str(candidate.id)).status_code
    if action == "incident_page":
        return client.get(f"/console/incidents/{target.incident_id}").status_code
    if action == "split":
        return _post(client, f"{base}/split", "split").status_code
    if action == "accounts":
        return client.get("/console/accounts").status_code
    if action == "dashboard":
        return client.get("/console/tableau-de-bord/").status_code
    if action == "dashboard_export":
        return client.get("/console/tableau-de-bord/export.csv").status_code
    if action == "audit_log":
        return client.get("/console/tableau-de-bord/journal").status_code
    raise AssertionError(action)


def _helper_admin():
    """An admin used to set cells up (never the one whose rights are checked)."""
    from models import Officer
    existing = db.session.scalar(select(Officer).where(Officer.email == "setup.matrix@interieur.gouv.fr"))
    return existing or make_officer("setup.matrix@interieur.gouv.fr", "admin", None)


def _reports(where, with_incident: bool):
    """A report with a photo and a contact at `where`, and a sibling nearby (same unit) to merge with."""
    report = make_report("degradation", at=where, photos=[_png()],
                         contact={"name": "Jeanne Martin", "email": "jeanne@example.fr", "phone": None})
    sibling = make_report("degradation", at=(where[0] + 0.004, where[1]))
    # Earlier cells left reports at the same places, so intake may already have grouped these two.
    if with_incident and (report.incident_id is None or report.incident_id != sibling.incident_id):
        from service.reports.incidents import merge_reports
        merge_reports(report, sibling, _helper_admin())
        db.session.commit()
    return report, sibling


@pytest.mark.parametrize("role", ROLES)
def test_console_authorization_matrix(app, db_session, role):
    _helper_admin()  # created (and audited) before any cell is measured
    client = new_client(app)
    if role != "anonyme":
        email, officer_role, unit_code = OFFICERS[role]
        make_officer(email, officer_role, unit_code)
        assert login(client, email).status_code == 302
    actual, expected, unchanged = {}, {}, []
    for action, cells in CONSOLE_EXPECTED.items():
        for target_name, where in (("own", PARIS_4E), ("other", LYON_2E)):
            target, sibling = _reports(where, with_incident=action in ("incident_page", "split"))
            before = _state(target.id)
            status = _console_action(client, action, target, sibling)
            actual[(action, target_name)] = status
            expected[(action, target_name)] = cells[(role, target_name)]
            if status >= 300 and status != DONE or (role == "anonyme" and status == LOGIN):
                if _state(target.id) != before:
                    unchanged.append((action, target_name))
    assert {k: v for k, v in actual.items() if v != expected[k]} == {}, (
        "cells differing from the matrix (actual): "
        + str({k: (actual[k], expected[k]) for k in actual if actual[k] != expected[k]}))
    assert unchanged == [], f"refused yet something changed: {unchanged}"


def _close(report: Report) -> None:
    """Take a report to `closed` through the workflow, as its unit would."""
    officer = make_officer(f"closer-{report.id}@interieur.gouv.fr", "agent", "PN-75104")
    workflow.acknowledge(report, officer)
    workflow.resolve(report, officer, "patrouille_engagee_rien_constate", "Rien constaté.")
    workflow.close(report, officer)
    db.session.commit()


# --- citizen API ------------------------------------------------------------------------------------------------

API_ROLES = ("anonyme", "appareil", "autre_appareil", "session_agent")
# Only the device that sent a report sees it or acts on it; an officer's console session is no API credential.
API_EXPECTED = {
    "show_report": {"anonyme": 401, "appareil": 200, "autre_appareil": 404, "session_agent": 401},
    "list_reports": {"anonyme": 401, "appareil": 200, "autre_appareil": 200, "session_agent": 401},
    "reopen": {"anonyme": 401, "appareil": 200, "autre_appareil": 404, "session_agent": 401},
    "feedback": {"anonyme": 401, "appareil": 201, "autre_appareil": 404, "session_agent": 401},
    "show_device": {"anonyme": 401, "appareil": 200, "autre_appareil": 200, "session_agent": 401},
    "update_device": {"anonyme": 401, "appareil": 200, "autre_appareil": 200, "session_agent": 401},
}


@pytest.mark.parametrize("role", API_ROLES)
def test_api_authorization_matrix(app, db_session, role):
    owner = new_client(app)
    registered = owner.post("/api/v1/devices", json={"platform": "android"}).json
    owner_headers = {"Authorization": f"Bearer {registered['token']}"}
    client, headers = new_client(app), {}
    if role == "appareil":
        client, headers = owner, owner_headers
    elif role == "autre_appareil":
        headers = {"Authorization": f"Bearer {client.post('/api/v1/devices', json={'platform': 'ios'}).json['token']}"}
    elif role == "session_agent":
        make_officer("agent.api@interieur.gouv.fr", "agent", "PN-75104")
        assert login(client, "agent.api@interieur.gouv.fr").status_code == 302

    actual = {}
    for action in API_EXPECTED:
        created = owner.post("/api/v1/reports", headers=owner_headers, json={
            "category": "degradation", "description": "Tags", "location": {"lat": PARIS_4E[0], "lon": PARIS_4E[1]}})
        assert created.status_code == 201
        reference = created.json["reference"]
        report = db.session.scalar(select(Report).where(Report.reference == reference))
        if action in ("reopen", "feedback"):
            _close(report)
        before = _state(report.id)
        if action == "show_report":
            response = client.get(f"/api/v1/reports/{reference}", headers=headers)
        elif action == "list_reports":
            response = client.get("/api/v1/reports", headers=headers)
            if response.status_code == 200:
                listed = {r["reference"] for r in response.json}
                assert (reference in listed) is (role == "appareil"), "a device sees only its own reports"
        elif action == "reopen":
            response = client.post(f"/api/v1/reports/{reference}/reopen", headers=headers, json={})
        elif action == "feedback":
            if "feedback.create_feedback" not in app.view_functions:
                warnings.warn("POST /api/v1/reports/{reference}/feedback is not registered: cell not checked")
                continue
            response = client.post(f"/api/v1/reports/{reference}/feedback", headers=headers,
                                   json={"reactivite": 4, "courtoisie": 5, "information": 4})
        elif action == "show_device":
            response = client.get("/api/v1/devices/me", headers=headers)
        else:
            response = client.patch("/api/v1/devices/me", headers=headers, json={"locale": "en"})
        actual[action] = response.status_code
        if response.status_code >= 400:
            assert _state(report.id) == before, f"{action}: refused yet the report changed"
    expected = {action: cells[role] for action, cells in API_EXPECTED.items() if action in actual}
    assert actual == expected


# --- across units: transfers offered, incidents ------------------------------------------------------------------

# The Paris 4e agent's unit is offered a transfer of a Lyon report. Until it accepts, it may read the report to
# decide and write internal notes, nothing more: not the reporter's contact, not the unit in charge's actions.
OFFERED = 409  # a workflow action that belongs to the unit in charge: refused, the report unchanged
TRANSFER_OFFERED_EXPECTED = {
    "report_page": 200, "photo": 200, "reveal_contact": HIDDEN, "acknowledge": OFFERED, "reject": OFFERED,
    "note": DONE,
}
AFTER_ACCEPT_EXPECTED = {"report_page": 200, "reveal_contact": 200, "acknowledge": OFFERED, "note": DONE}
AFTER_DECLINE_EXPECTED = {"report_page": HIDDEN, "photo": HIDDEN, "reveal_contact": HIDDEN, "note": HIDDEN}


def _offered_to_paris(where=LYON_2E) -> Report:
    """A Lyon report (with photo and contact) whose unit offers a transfer to the Paris 4e commissariat."""
    report, _ = _reports(where, with_incident=False)
    workflow.transfer(report, _helper_admin(), unit("PN-75104"), "Le requérant parle d'un fait parisien.")
    db.session.commit()
    return report


def _cells(client, report, expected: dict) -> dict:
    actual = {}
    for action in expected:
        before = _state(report.id)
        status = _console_action(client, action, report, None)
        actual[action] = status
        if status >= 300 and status != DONE:
            assert _state(report.id)[:4] == before[:4], f"{action}: refused yet the report changed"
    return actual


def test_a_unit_offered_a_transfer_sees_the_report_but_not_the_reporter(app, db_session):
    _helper_admin()
    client = new_client(app)
    make_officer("agent.offered@interieur.gouv.fr", "agent", "PN-75104")
    assert login(client, "agent.offered@interieur.gouv.fr").status_code == 302
    report = _offered_to_paris()
    assert _cells(client, report, TRANSFER_OFFERED_EXPECTED) == TRANSFER_OFFERED_EXPECTED
    refused = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                .where(AuditEntry.action == "report.contact.refused"))
    assert refused == 1  # the attempt is in the audit log

    assert _post(client, f"/console/reports/{report.id}/actions/accept_transfer", "accept_transfer").status_code \
        == DONE
    assert _cells(client, report, AFTER_ACCEPT_EXPECTED) == AFTER_ACCEPT_EXPECTED

    declined = _offered_to_paris((LYON_2E[0] + 0.01, LYON_2E[1]))
    assert _post(client, f"/console/reports/{declined.id}/actions/decline_transfer", "decline_transfer",
                 text="Pas chez nous.").status_code == 302
    assert _cells(client, declined, AFTER_DECLINE_EXPECTED) == AFTER_DECLINE_EXPECTED


def test_transfers_are_offered_only_to_competent_units(db_session):
    report = make_report("point_de_deal", at=PARIS_4E)
    offered = queries.transfer_targets(report)
    assert offered and all(u.kind != "police_municipale" for u in offered)
    municipale = db.session.scalar(select(Unit).where(Unit.kind == "police_municipale", Unit.active.is_(True)))
    with pytest.raises(workflow.InvalidInput, match="pas compétente"):
        workflow.transfer(report, _helper_admin(), municipale, "Essai")
    assert db.session.get(Report, report.id).pending_transfer_unit_id is None


def test_an_accepted_transfer_takes_the_report_out_of_its_incident(db_session):
    first, second = _reports(PARIS_4E, with_incident=True)
    incident_id = first.incident_id
    assert incident_id is not None and second.incident_id == incident_id
    lyon = db.session.get(Report, make_report("degradation", at=LYON_2E).id).unit_id
    workflow.transfer(first, _helper_admin(), db.session.get(Unit, lyon), "Hors secteur")
    workflow.accept_transfer(first, _helper_admin())
    db.session.expire_all()
    assert db.session.get(Report, first.id).incident_id is None
    assert db.session.get(Incident, incident_id).report_count == db.session.scalar(
        select(func.count()).select_from(Report).where(Report.incident_id == incident_id))
    accepted = db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == first.id,
                                                            ReportEvent.type == "transfer_accepted")).one()
    assert accepted.data["left_incident_id"] == incident_id


def test_officers_cannot_merge_reports_of_two_units(db_session):
    from service.reports import incidents
    paris, _ = _reports(PARIS_4E, with_incident=False)
    lyon = make_report("degradation", at=LYON_2E)
    with pytest.raises(incidents.IncidentError, match="même unité"):
        incidents.merge_reports(paris, lyon, _helper_admin())
    assert db.session.get(Report, paris.id).incident_id != db.session.get(Report, lyon.id).incident_id or \
        db.session.get(Report, lyon.id).incident_id is None


def test_an_incident_spanning_two_units_shows_each_unit_only_its_own_reports(app, db_session):
    """Incidents written before grouping kept to one unit may span two: each unit sees its reports and acts on
    them, never the other unit's reference, and its own incident page never answers 404."""
    paris, _ = _reports(PARIS_4E, with_incident=False)
    lyon = make_report("degradation", at=LYON_2E)
    incident = Incident(category_code="degradation", unit_id=lyon.unit_id, location=lyon.location,
                        first_report_at=lyon.received_at, last_report_at=paris.received_at, report_count=2)
    db.session.add(incident)
    db.session.flush()
    paris.incident_id = lyon.incident_id = incident.id
    db.session.commit()
    client = new_client(app)
    make_officer("agent.mixed@interieur.gouv.fr", "agent", "PN-75104")
    assert login(client, "agent.mixed@interieur.gouv.fr").status_code == 302
    page = client.get(f"/console/incidents/{incident.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert paris.reference in html and lyon.reference not in html
    assert lyon.reference not in client.get(f"/console/reports/{paris.id}").get_data(as_text=True)
    response = _post(client, f"/console/incidents/{incident.id}/actions", "incident", action="acknowledge")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Report, paris.id).status == "acknowledged"
    assert db.session.get(Report, lyon.id).status == "received"  # another unit's report: untouched, unnamed
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert lyon.reference not in followed
