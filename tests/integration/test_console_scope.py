"""Scope: an officer never sees nor acts on a report of a unit outside their scope (404), for every route."""
import pytest
from sqlalchemy import func, select

from models import AuditEntry, Report, ReportEvent, db
from service.accounts.scope import unit_ids_in_scope
from service.platform import clock as service_clock
from tests.integration.console_support import (LYON_2E, act, login, make_officer,
                                               make_report, new_client, token_from, unit)

ACTIONS = {
    "acknowledge": {}, "dispatch": {"text": "x"}, "resolve": {"outcome_code": "interpellation"}, "close": {},
    "reject": {"text": "x"}, "transfer": {"target_unit": "1", "text": "x"}, "accept_transfer": {},
    "decline_transfer": {"text": "x"}, "reopen": {}, "note": {"text": "intrusion"},
}


@pytest.fixture
def paris_report_and_lyon_officer(app, db_session):
    make_officer("lyon@test.fr", unit_code="PN-69382")
    report = make_report()
    client = new_client(app)
    login(client, "lyon@test.fr")
    return report, client


def _event_count(report_id):
    return db.session.scalar(select(func.count()).select_from(ReportEvent).where(ReportEvent.report_id == report_id))


def test_report_page_is_404_outside_scope(paris_report_and_lyon_officer):
    report, lyon = paris_report_and_lyon_officer
    response = lyon.get(f"/console/reports/{report.id}")
    assert response.status_code == 404
    assert report.reference not in response.get_data(as_text=True)
    assert lyon.get("/console/reports/999999").status_code == 404


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_is_404_outside_scope(paris_report_and_lyon_officer, action):
    report, lyon = paris_report_and_lyon_officer
    before = _event_count(report.id)
    assert act(lyon, report.id, action, **ACTIONS[action]).status_code == 404
    db.session.refresh(report)
    assert report.status == "received" and report.pending_transfer_unit_id is None
    assert _event_count(report.id) == before


def test_queue_and_map_exclude_other_units(paris_report_and_lyon_officer):
    report, lyon = paris_report_and_lyon_officer
    data = lyon.get("/console/queue.json").get_json()
    assert report.id not in data["ids"]
    assert report.reference not in lyon.get("/console/").get_data(as_text=True)
    features = lyon.get("/console/jurisdictions.geojson").get_json()["features"]
    assert [f["properties"]["code"] for f in features] == ["PN-69382"]


def test_photo_is_404_outside_scope(paris_report_and_lyon_officer):
    from io import BytesIO

    from PIL import Image
    report, lyon = paris_report_and_lyon_officer
    buffer = BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "PNG")
    with_photo = make_report(photos=[buffer.getvalue()])
    photo_id = with_photo.photos[0].id
    assert lyon.get(f"/console/reports/{with_photo.id}/photos/{photo_id}").status_code == 404
    # Nor through a report of one's own scope with another report's photo id.
    own = make_report("point_de_deal", at=LYON_2E)
    assert lyon.get(f"/console/reports/{own.id}/photos/{photo_id}").status_code == 404


def test_contact_read_is_404_outside_scope_and_not_audited(paris_report_and_lyon_officer):
    report, lyon = paris_report_and_lyon_officer
    token = token_from(lyon)
    response = lyon.post(f"/console/reports/{report.id}/contact", data={"contact-csrf_token": token})
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "report.contact.read")) == 0


def test_merge_split_and_incident_are_404_outside_scope(paris_report_and_lyon_officer):
    report, lyon = paris_report_and_lyon_officer
    duplicate = make_report()
    assert duplicate.incident_id is not None
    own = make_report("point_de_deal", at=LYON_2E)
    token = token_from(lyon)
    # Merge one's own report with a report of another unit: 404 (the other report is not visible).
    assert lyon.post(f"/console/reports/{own.id}/merge",
                     data={"merge-csrf_token": token, "merge-other_report": str(report.id)}).status_code in (404, 422)
    assert lyon.post(f"/console/reports/{report.id}/merge",
                     data={"merge-csrf_token": token, "merge-other_report": str(own.id)}).status_code == 404
    assert lyon.post(f"/console/reports/{duplicate.id}/split", data={"split-csrf_token": token}).status_code == 404
    assert lyon.get(f"/console/incidents/{duplicate.incident_id}").status_code == 404
    assert lyon.post(f"/console/incidents/{duplicate.incident_id}/actions",
                     data={"incident-csrf_token": token, "incident-action": "acknowledge"}).status_code == 404
    db.session.refresh(report)
    db.session.refresh(own)
    assert report.status == "received" and own.incident_id is None


def test_supervisor_sees_units_below_not_others(app, db_session):
    supervisor = make_officer("ddpn@test.fr", role="superviseur", unit_code="DDPN-75")
    scope = unit_ids_in_scope(supervisor)
    assert unit("PN-75104").id in scope and unit("DDPN-75").id in scope
    assert unit("PN-69382").id not in scope and unit("PM-75056").id not in scope
    paris = make_report()
    lyon = make_report("point_de_deal", at=LYON_2E)
    client = new_client(app)
    login(client, "ddpn@test.fr")
    ids = client.get("/console/queue.json").get_json()["ids"]
    assert paris.id in ids and lyon.id not in ids
    assert act(client, paris.id, "acknowledge").status_code == 302
    assert act(client, lyon.id, "acknowledge").status_code == 404


def test_admin_sees_everything_and_manages_accounts(app, db_session):
    make_officer("admin@test.fr", role="admin", unit_code=None)
    make_officer("agent@test.fr")
    paris = make_report()
    lyon = make_report("point_de_deal", at=LYON_2E)
    admin, agent = new_client(app), new_client(app)
    login(admin, "admin@test.fr")
    login(agent, "agent@test.fr")
    ids = admin.get("/console/queue.json").get_json()["ids"]
    assert {paris.id, lyon.id} <= set(ids)
    assert admin.get("/console/accounts").status_code == 200
    assert agent.get("/console/accounts").status_code == 404
    token = token_from(admin, "/console/accounts")
    response = admin.post("/console/accounts", data={
        "csrf_token": token, "email": "nouveau@test.fr", "role": "agent", "unit_code": "PN-69382",
        "password": "un mot de passe assez long", "display_name": "Nouvel agent"})
    assert response.status_code == 302
    assert login(new_client(app), "nouveau@test.fr", "un mot de passe assez long").status_code == 302


def test_agent_without_unit_sees_nothing(db_session):
    from models import Officer
    orphan = Officer(email="orphan@test.fr", role="agent", password_hash="x", unit_id=None)
    assert unit_ids_in_scope(orphan) == frozenset()
    assert db.session.scalar(select(Report).where(Report.id < 0)) is None


def test_admin_unlocks_and_deactivates_accounts(app, db_session):
    from datetime import timedelta

    from models import Officer
    admin_officer = make_officer("admin@test.fr", role="admin", unit_code=None)
    agent_officer = make_officer("agent@test.fr")
    agent_officer.locked_until = service_clock.now() + timedelta(minutes=10)
    db.session.commit()
    admin, agent = new_client(app), new_client(app)
    login(admin, "admin@test.fr")
    assert login(agent, "agent@test.fr").status_code == 401  # locked
    token = token_from(admin, "/console/accounts")
    assert admin.post(f"/console/accounts/{agent_officer.id}/unlock",
                      data={"account-csrf_token": token}).status_code == 302
    assert login(agent, "agent@test.fr").status_code == 302
    assert admin.post(f"/console/accounts/{agent_officer.id}/deactivate",
                      data={"account-csrf_token": token}).status_code == 302
    assert agent.get("/console/").status_code == 302  # the session ends with the account
    assert db.session.get(Officer, agent_officer.id).active is False
    # Nobody but an admin may do that.
    other = new_client(app)
    make_officer("agent2@test.fr")
    login(other, "agent2@test.fr")
    assert other.post(f"/console/accounts/{admin_officer.id}/deactivate",
                      data={"account-csrf_token": token_from(other)}).status_code == 404
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "officer")).all()
    assert "officer.unlock" in actions and "officer.deactivate" in actions
