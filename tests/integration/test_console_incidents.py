"""Incidents: automatic grouping at intake (category radius and window), officers' merge and split."""
import pytest
from sqlalchemy import select

from models import Incident, ReportEvent, db
from service.reports import incidents
from tests.instants import WEEKDAY_NIGHT
from tests.integration.console_support import (LYON_2E, PARIS_4E, login, make_officer, new_client,
                                               make_report, token_from)

# About 300 m east of PARIS_4E: inside a rodéo's 500 m radius, outside a dégradation's 50 m.
NEARBY = (PARIS_4E[0], PARIS_4E[1] + 0.004)


def test_grouping_respects_category_and_radius(db_session):
    a = make_report("rodeo_motorise", at=PARIS_4E)
    b = make_report("rodeo_motorise", at=NEARBY)
    c = make_report("degradation", at=PARIS_4E, description="Vitre")
    d = make_report("degradation", at=NEARBY, description="Vitre")
    assert a.incident_id is not None and a.incident_id == b.incident_id
    assert db.session.get(Incident, a.incident_id).report_count == 2
    assert c.incident_id is None and d.incident_id is None
    merged = db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == b.id,
                                                          ReportEvent.type == "merged")).one()
    assert merged.data["automatic"] is True


# At night: the Paris 4e reports are the commissariat's (the police municipale is closed).
@pytest.mark.instant(WEEKDAY_NIGHT)
def test_officer_merges_and_splits(app, db_session):
    console_client = new_client(app)
    officer = make_officer("agent@test.fr")
    first = make_report("degradation", at=PARIS_4E, description="Tag")
    second = make_report("degradation", at=NEARBY, description="Tag aussi")
    assert first.incident_id is None and second.incident_id is None
    login(console_client, "agent@test.fr")
    page = console_client.get(f"/console/reports/{second.id}").get_data(as_text=True)
    assert first.reference in page  # offered as a merge candidate
    token = token_from(console_client, f"/console/reports/{second.id}")
    response = console_client.post(f"/console/reports/{second.id}/merge",
                                   data={"merge-csrf_token": token, "merge-other_report": str(first.id)})
    assert response.status_code == 302
    db.session.refresh(first)
    db.session.refresh(second)
    assert first.incident_id is not None and first.incident_id == second.incident_id
    incident = db.session.get(Incident, first.incident_id)
    assert incident.report_count == 2
    event = db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == second.id)
                               .order_by(ReportEvent.id.desc())).first()
    assert event.type == "merged" and event.officer_id == officer.id and event.citizen_visible

    response = console_client.post(f"/console/reports/{second.id}/split", data={"split-csrf_token": token})
    assert response.status_code == 302
    db.session.refresh(second)
    db.session.refresh(incident)
    assert second.incident_id is None and incident.report_count == 1
    event = db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == second.id)
                               .order_by(ReportEvent.id.desc())).first()
    assert event.type == "split" and not event.citizen_visible


def test_merge_refuses_other_category(db_session):
    officer = make_officer("agent@test.fr")
    rodeo = make_report("rodeo_motorise")
    deal = make_report("point_de_deal")
    try:
        incidents.merge_reports(rodeo, deal, officer)
    except incidents.IncidentError as exc:
        assert "même nature" in exc.message
    else:
        raise AssertionError("merge of different categories accepted")


def test_incident_closes_when_its_last_report_closes(db_session):
    from service.reports import workflow
    officer = make_officer("agent@test.fr")
    a = make_report("rodeo_motorise")
    b = make_report("rodeo_motorise")
    incident = db.session.get(Incident, a.incident_id)
    for action in ("acknowledge", "resolve", "close"):
        workflow.act_on_incident(incident, officer, action, outcome_code="saisie_engin")
    db.session.refresh(incident)
    assert incident.status == "closed"
    workflow.reopen(b, officer, "Retour des motos")
    db.session.refresh(incident)
    assert incident.status == "open"


def test_lyon_and_paris_never_group(db_session):
    a = make_report("rodeo_motorise", at=PARIS_4E)
    b = make_report("rodeo_motorise", at=LYON_2E)
    assert a.incident_id is None and b.incident_id is None


@pytest.mark.instant("2026-11-24T19:30:00+01:00")
def test_the_same_nuisance_before_and_after_the_police_municipale_closes_makes_two_incidents(db_session, clock):
    """19:30: the police municipale is open and takes the report; 20:30: the commissariat does. Same place and
    category within the window, yet no incident: each unit sees only its own reports."""
    evening = make_report("nuisance_sonore", at=PARIS_4E, description="Musique", answers={"source": "voie_publique"})
    clock.advance(seconds=3600)
    night = make_report("nuisance_sonore", at=PARIS_4E, description="Encore", answers={"source": "voie_publique"})
    assert evening.unit_id != night.unit_id
    assert evening.incident_id is None and night.incident_id is None
    clock.advance(seconds=600)
    later = make_report("nuisance_sonore", at=PARIS_4E, description="Toujours", answers={"source": "voie_publique"})
    assert later.unit_id == night.unit_id and later.incident_id is not None and later.incident_id == \
        db.session.get(type(night), night.id).incident_id
    assert db.session.get(Incident, later.incident_id).unit_id == night.unit_id
