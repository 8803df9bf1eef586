"""Console triage through HTTP: the workflow actions, their events and authors, transfers, queue and contact reads."""
import pytest
from sqlalchemy import select

from models import AuditEntry, Report, ReportContact, ReportEvent, db
from service.platform import audit
from tests.instants import WEEKDAY_NIGHT
from tests.integration.console_support import (LYON_2E, act, login, make_officer,
                                               make_report, new_client, token_from, unit)


def _events(report_id):
    return db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == report_id)
                              .order_by(ReportEvent.id)).all()


def test_full_triage_writes_one_event_per_action_with_its_author(app, db_session):
    console_client = new_client(app)
    officer = make_officer("agent@test.fr")
    report = make_report()
    login(console_client, "agent@test.fr")

    assert act(console_client, report.id, "acknowledge").status_code == 302
    assert act(console_client, report.id, "dispatch", text="Patrouille PS 12 engagée").status_code == 302
    assert act(console_client, report.id, "note", text="Deux individus, scooter noir").status_code == 302
    assert act(console_client, report.id, "resolve", outcome_code="interpellation").status_code == 302
    assert act(console_client, report.id, "close").status_code == 302

    db.session.refresh(report)
    assert report.status == "closed" and report.outcome_code == "interpellation" and report.closed_at
    assert report.assigned_officer_id == officer.id
    events = _events(report.id)
    assert [e.type for e in events] == ["created", "routed", "acknowledged", "dispatched", "note", "resolved",
                                        "closed"]
    for e in events[2:]:
        assert e.officer_id == officer.id and e.actor_kind == "officer" and e.unit_id == report.unit_id
    note = events[4]
    assert not note.citizen_visible and note.text == "Deux individus, scooter noir"
    assert events[3].citizen_visible and events[5].outcome_code == "interpellation"

    page = console_client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    for label in ("Pris en compte", "Patrouille engagée", "Note interne", "Interpellation", "Clôturé"):
        assert label in page


def test_refused_transition_is_explained_and_changes_nothing(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    report = make_report()
    login(console_client, "agent@test.fr")
    response = act(console_client, report.id, "close")
    assert response.status_code == 409
    assert "impossible" in response.get_data(as_text=True)
    db.session.refresh(report)
    assert report.status == "received" and len(_events(report.id)) == 2


def test_reject_needs_a_reason(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    report = make_report()
    login(console_client, "agent@test.fr")
    assert act(console_client, report.id, "reject", text="").status_code == 422
    assert act(console_client, report.id, "reject", text="Relève d'un litige civil").status_code == 302
    db.session.refresh(report)
    assert report.status == "rejected" and _events(report.id)[-1].text == "Relève d'un litige civil"


def test_resolve_needs_a_known_outcome(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    report = make_report()
    login(console_client, "agent@test.fr")
    act(console_client, report.id, "acknowledge")
    assert act(console_client, report.id, "resolve", outcome_code="pas_un_code").status_code == 422
    db.session.refresh(report)
    assert report.status == "acknowledged"


# At night the police municipale is closed, so a parking report goes to the commissariat, which may hand it back to
# the police municipale (competent for parking; it could not take a point de deal).
@pytest.mark.instant(WEEKDAY_NIGHT)
def test_transfer_then_accept_by_the_receiving_unit(app, db_session):
    make_officer("paris@test.fr", unit_code="PN-75104")
    make_officer("pm@test.fr", unit_code="PM-75056")
    report = make_report("stationnement_genant", description="Voiture sur le passage piéton")
    assert report.unit_id == unit("PN-75104").id
    due = report.acknowledge_due_at
    paris, pm = new_client(app), new_client(app)
    login(paris, "paris@test.fr")
    login(pm, "pm@test.fr")
    # The police municipale does not see the report before the transfer.
    assert pm.get(f"/console/reports/{report.id}").status_code == 404
    target = unit("PM-75056")
    assert act(paris, report.id, "transfer", target_unit=str(target.id), text="Stationnement : compétence PM"
               ).status_code == 302
    db.session.refresh(report)
    assert report.pending_transfer_unit_id == target.id
    # While pending, the sender cannot act, and the receiving unit sees it in its queue.
    assert act(paris, report.id, "acknowledge").status_code == 409
    assert "transfert à accepter" in pm.get("/console/").get_data(as_text=True)
    assert act(pm, report.id, "accept_transfer").status_code == 302
    db.session.refresh(report)
    assert report.unit_id == target.id and report.pending_transfer_unit_id is None
    assert report.status == "acknowledged"
    assert report.acknowledge_due_at == due  # the SLA clock keeps running
    types = [e.type for e in _events(report.id)]
    assert types[-2:] == ["transferred", "transfer_accepted"]
    # The original unit no longer sees it.
    assert paris.get(f"/console/reports/{report.id}").status_code == 404


def test_declined_transfer_returns_to_sender_and_its_supervisor(app, db_session):
    make_officer("paris@test.fr", unit_code="PN-75104")
    make_officer("lyon@test.fr", unit_code="PN-69382")
    make_officer("ddpn@test.fr", role="superviseur", unit_code="DDPN-75")
    report = make_report()
    paris, lyon, ddpn = new_client(app), new_client(app), new_client(app)
    for client, email in ((paris, "paris@test.fr"), (lyon, "lyon@test.fr"), (ddpn, "ddpn@test.fr")):
        login(client, email)
    # Lyon is not near Paris: it is not offered as a target.
    assert act(paris, report.id, "transfer", target_unit=str(unit("PN-69382").id), text="?").status_code == 422
    target = unit("PN-75101")
    make_officer("paris1@test.fr", unit_code="PN-75101")
    paris1 = new_client(app)
    login(paris1, "paris1@test.fr")
    assert act(paris, report.id, "transfer", target_unit=str(target.id), text="Hors secteur").status_code == 302
    assert act(paris1, report.id, "decline_transfer", text="").status_code == 422
    assert act(paris1, report.id, "decline_transfer", text="Bien dans le 4e").status_code == 302
    db.session.refresh(report)
    assert report.unit_id == unit("PN-75104").id and report.pending_transfer_unit_id is None
    declined = _events(report.id)[-1]
    assert declined.type == "transfer_declined" and declined.data["supervisor_unit_id"] == unit("DDPN-75").id
    # Never a dead end: the supervisor sees it flagged, the sender can act again.
    assert "arbitrage du superviseur" in ddpn.get("/console/").get_data(as_text=True)
    assert act(paris, report.id, "acknowledge").status_code == 302


def test_reopen_after_close(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    report = make_report()
    login(console_client, "agent@test.fr")
    for action, fields in (("acknowledge", {}), ("resolve", {"outcome_code": "verbalisation"}), ("close", {})):
        act(console_client, report.id, action, **fields)
    assert act(console_client, report.id, "reopen", text="Les faits ont repris").status_code == 302
    db.session.refresh(report)
    assert report.status == "acknowledged" and report.closed_at is None and report.outcome_code is None


# At night: every Paris 4e report goes to the commissariat's queue (the police municipale is closed).
@pytest.mark.instant(WEEKDAY_NIGHT)
def test_queue_is_ordered_by_priority_then_time_left(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    deal = make_report("point_de_deal")           # priority 2
    rodeo = make_report("rodeo_motorise", description="Motos sur le trottoir", ongoing=True)  # priority 1
    degradation = make_report("degradation", description="Abribus cassé")                   # priority 4
    login(console_client, "agent@test.fr")
    data = console_client.get("/console/queue.json").get_json()
    assert data["ids"] == [rodeo.id, deal.id, degradation.id]
    assert {m["id"] for m in data["markers"]} == {rodeo.id, deal.id, degradation.id}
    html = console_client.get("/console/").get_data(as_text=True)
    assert html.index(rodeo.reference) < html.index(deal.reference) < html.index(degradation.reference)
    assert "en cours" in html and "reste" in html
    # Filters.
    only = console_client.get("/console/queue.json?categorie=degradation").get_json()
    assert only["ids"] == [degradation.id]
    act(console_client, deal.id, "reject", text="Doublon d'une enquête")
    assert deal.id not in console_client.get("/console/queue.json").get_json()["ids"]
    assert console_client.get("/console/queue.json?statut=rejected").get_json()["ids"] == [deal.id]


def test_incident_reports_collapse_in_the_queue(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    first = make_report("rodeo_motorise", description="Motos")
    second = make_report("rodeo_motorise", description="Encore les motos")
    assert second.incident_id is not None and first.incident_id == second.incident_id
    login(console_client, "agent@test.fr")
    data = console_client.get("/console/queue.json").get_json()
    assert len(data["ids"]) == 1 and data["markers"][0]["incident_size"] == 2


def test_contact_details_are_shown_only_on_request_and_audited(app, db_session):
    console_client = new_client(app)
    officer = make_officer("agent@test.fr")
    report = make_report(contact={"name": "Camille Martin", "email": "camille@example.fr", "phone": "0600000000"})
    assert db.session.get(ReportContact, report.id) is not None
    login(console_client, "agent@test.fr")
    page = console_client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert "Camille" not in page and "Afficher les coordonnées" in page
    token = token_from(console_client, f"/console/reports/{report.id}")
    response = console_client.post(f"/console/reports/{report.id}/contact",
                                   data={"contact-csrf_token": token, "contact-reason": "Rappel du déclarant"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "camille@example.fr" in html
    assert response.headers["Cache-Control"] == "no-store"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.contact.read")).one()
    assert entry.officer_id == officer.id and entry.target_id == str(report.id)
    assert entry.details["reason"] == "Rappel du déclarant"
    assert audit.verify().ok


def test_photo_is_served_through_the_scoped_route(app, db_session):
    console_client = new_client(app)
    from io import BytesIO

    from PIL import Image
    buffer = BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, "JPEG")
    make_officer("agent@test.fr")
    report = make_report(photos=[buffer.getvalue()])
    photo = report.photos[0]
    login(console_client, "agent@test.fr")
    response = console_client.get(f"/console/reports/{report.id}/photos/{photo.id}")
    assert response.status_code == 200 and response.mimetype.startswith("image/")
    assert response.data[:2] == b"\xff\xd8" or response.data[:4] == b"\x89PNG" or response.data[:4] == b"RIFF"


def test_acting_on_an_incident_acts_on_its_reports(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    first = make_report("rodeo_motorise", description="Motos")
    second = make_report("rodeo_motorise", description="Encore")
    login(console_client, "agent@test.fr")
    token = token_from(console_client, f"/console/incidents/{first.incident_id}")
    response = console_client.post(f"/console/incidents/{first.incident_id}/actions",
                                   data={"incident-csrf_token": token, "incident-action": "acknowledge"})
    assert response.status_code == 302
    for report in (first, second):
        db.session.refresh(report)
        assert report.status == "acknowledged"
        assert _events(report.id)[-1].data["incident_id"] == first.incident_id
    # A second acknowledge skips both (already acknowledged) and says so.
    response = console_client.post(f"/console/incidents/{first.incident_id}/actions",
                                   data={"incident-csrf_token": token, "incident-action": "acknowledge"},
                                   follow_redirects=True)
    assert "0 signalement(s) mis à jour" in response.get_data(as_text=True)


def test_lyon_report_goes_to_lyon(db_session):
    report = make_report("point_de_deal", at=LYON_2E)
    assert report.unit.code == "PN-69382"
    assert isinstance(db.session.get(Report, report.id), Report)


def test_citizen_visible_actions_write_outbox_rows_in_the_same_transaction(app, db_session):
    console_client = new_client(app)
    from models import Notification
    from tests.factories import make_device
    device = make_device(tokens=("fcm-token-console",))
    db.session.commit()
    make_officer("agent@test.fr")
    report = make_report(device=device)
    login(console_client, "agent@test.fr")
    act(console_client, report.id, "acknowledge")
    act(console_client, report.id, "note", text="interne")
    acknowledged, note = _events(report.id)[-2:]
    rows = db.session.scalars(select(Notification).where(Notification.report_id == report.id)).all()
    assert acknowledged.id in {n.event_id for n in rows}
    assert note.id not in {n.event_id for n in rows}  # internal notes are never pushed


def test_two_officers_acknowledging_at_once_write_one_event(app, committed):
    import threading

    from models import Officer
    from service.reports import workflow
    make_officer("a@test.fr")
    make_officer("b@test.fr")
    report_id = make_report().id
    barrier = threading.Barrier(2)
    outcomes = []

    def acknowledge(email):
        with app.app_context():
            officer = db.session.scalar(select(Officer).where(Officer.email == email))
            report = db.session.get(Report, report_id)
            barrier.wait()
            try:
                workflow.acknowledge(report, officer)
                outcomes.append("ok")
            except workflow.TransitionRefused:
                outcomes.append("refused")

    threads = [threading.Thread(target=acknowledge, args=(e,)) for e in ("a@test.fr", "b@test.fr")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    types = db.session.scalars(select(ReportEvent.type).where(ReportEvent.report_id == report_id)).all()
    assert types.count("acknowledged") == 1


def test_ongoing_flag_goes_stale_after_the_category_live_time(db_session):
    from datetime import timedelta

    from service.console import queries
    officer = make_officer("agent@test.fr")
    fresh = make_report("rodeo_motorise", description="Motos", ongoing=True)
    old = make_report("rodeo_motorise", at=LYON_2E, description="Motos à Lyon", ongoing=True)
    old.received_at = old.received_at - timedelta(hours=3)  # rodéo: live for about 2 h
    db.session.commit()
    officer.role = "admin"
    rows = {r.id: r for r in queries.queue(officer, queries.QueueFilters())}
    assert rows[fresh.id].live and not rows[old.id].live and rows[old.id].ongoing
