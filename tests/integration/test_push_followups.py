"""Scheduled follow-ups: SLA reminder and escalation, satisfaction request after closure, retention purge."""
import signal
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from models import (AuditEntry, Incident, Notification, ReportContact, ReportEvent, ReportPhoto, Unit, db)
from service.reports import retention
from tests.factories import add_event, make_device, make_officer, make_report
from tests.integration.push_fixtures import (fcm_credentials, fcm_server, push_app, push_db,  # noqa: F401
                                             work, worker_process)
from workers.queues import worker_connection
from workers.worker import build_cron
from service.platform import clock as service_clock

NOW = service_clock.now


def events(report_id, event_type):
    db.session.rollback()
    return db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == report_id,
                                                        ReportEvent.type == event_type)).all()


def test_periodic_schedule_fires_sla_reminder_then_escalation(push_app, push_db):
    late = make_report("nuisance_sonore", acknowledge_due_at=NOW() - timedelta(minutes=40))
    just_late = make_report("nuisance_sonore", acknowledge_due_at=NOW() - timedelta(minutes=5))
    on_time = make_report("nuisance_sonore", acknowledge_due_at=NOW() + timedelta(minutes=20))
    taken = make_report("nuisance_sonore", status="acknowledged", acknowledge_due_at=NOW() - timedelta(hours=2))
    unit = db.session.get(Unit, late.unit_id)
    chief = make_officer(unit, role="superviseur")
    commander = make_officer(unit.parent, role="superviseur")
    make_officer(unit, role="agent")
    db.session.commit()

    cron = build_cron(push_app, worker_connection(push_app))
    enqueued = {job.func_name.rsplit(".", 1)[1] for job in cron.enqueue_jobs()}
    assert {"relay_outbox", "remind_unacknowledged", "request_feedback", "refresh_indicators"} <= enqueued
    assert "purge_expired_reports" not in enqueued  # daily, at 03:30 UTC
    work(push_app, with_scheduler=False)

    (reminder,) = events(late.id, "sla_reminder")
    assert reminder.unit_id == late.unit_id and "non pris en compte" in reminder.text
    assert reminder.data["overdue_min"] >= 40
    (escalation,) = events(late.id, "escalated")
    assert escalation.target_unit_id == unit.parent_id and unit.parent.name in escalation.text
    assert sorted(escalation.data["supervisor_ids"]) == sorted([chief.id, commander.id])
    assert len(events(just_late.id, "sla_reminder")) == 1 and events(just_late.id, "escalated") == []
    assert events(on_time.id, "sla_reminder") == [] and events(taken.id, "sla_reminder") == []

    # The next runs add nothing: one reminder and one escalation per report.
    for job in cron.get_jobs():
        job.next_enqueue_time = None
    cron.enqueue_jobs()
    work(push_app, with_scheduler=False)
    assert len(events(late.id, "sla_reminder")) == 1 and len(events(late.id, "escalated")) == 1


def test_satisfaction_request_is_pushed_once_some_time_after_closure(push_app, push_db, fcm_server):
    device = make_device(tokens=("tok-feedback",))
    ready = make_report(device=device, status="closed", closed_at=NOW() - timedelta(minutes=61))
    too_soon = make_report(device=make_device(tokens=("tok-soon",)), status="closed",
                           closed_at=NOW() - timedelta(minutes=30))
    too_old = make_report(device=make_device(tokens=("tok-old",)), status="closed",
                          closed_at=NOW() - timedelta(days=30))
    db.session.commit()
    from workers.followups import request_feedback
    assert request_feedback() == 1
    assert request_feedback() == 0
    work(push_app)
    (message,) = fcm_server.wait_for(1)
    assert message.token == "tok-feedback"
    assert message.message["data"] == {"kind": "feedback_request", "reference": ready.reference, "locale": "fr"}
    assert message.message["notification"]["title"] == "Votre avis compte"
    kinds = db.session.execute(select(Notification.report_id, Notification.kind, Notification.state)).all()
    assert kinds == [(ready.id, "feedback_request", "sent")]
    assert too_soon.id and too_old.id  # neither got a row


def _photo(report):
    db.session.add(ReportPhoto(report_id=report.id, content_type="image/jpeg", width=1, height=1, content=b"jpeg"))
    db.session.add(ReportContact(report_id=report.id, name="Camille", email="camille@example.fr", phone="0600000000"))


def test_retention_purge_removes_photos_contact_and_precise_location(push_app, push_db):
    point = (2.352219, 48.856614)
    expired = make_report("nuisance_sonore", point=point, status="closed", received_at=NOW() - timedelta(days=400),
                          closed_at=NOW() - timedelta(days=366))
    recent = make_report("nuisance_sonore", point=point, status="closed", closed_at=NOW() - timedelta(days=30))
    old_open = make_report("nuisance_sonore", point=point, received_at=NOW() - timedelta(days=400))
    kept_longer = make_report("point_de_deal", point=point, status="closed",  # 730-day retention
                              closed_at=NOW() - timedelta(days=400))
    incident = Incident(category_code="nuisance_sonore", location=f"SRID=4326;POINT({point[0]} {point[1]})",
                        first_report_at=NOW(), last_report_at=NOW(), status="closed")
    db.session.add(incident)
    db.session.flush()
    expired.incident_id = incident.id
    for report in (expired, recent, old_open, kept_longer):
        _photo(report)
    add_event(expired, "resolved")
    add_event(expired, "closed")
    db.session.commit()

    from workers.followups import purge_expired_reports
    assert purge_expired_reports() == {"reports": 1, "photos": 1, "contacts": 1, "texts": 0, "comments": 0,
                                       "payloads": 0, "message_texts": 0, "message_photos": 0}
    db.session.expire_all()

    assert db.session.scalar(select(func.count()).select_from(ReportPhoto).where(
        ReportPhoto.report_id == expired.id)) == 0
    assert db.session.get(ReportContact, expired.id) is None
    lon, lat, moved = db.session.execute(text(
        "SELECT ST_X(location), ST_Y(location), ST_DistanceSphere(location, ST_MakePoint(:lon, :lat)) "
        "FROM reports WHERE id = :id"), {"id": expired.id, "lon": point[0], "lat": point[1]}).one()
    assert (lon, lat) == pytest.approx(retention.coarsen(*point), abs=1e-9)
    assert 0 < moved < 100
    assert expired.anonymised_at is not None and expired.accuracy_m == 100
    # What indicators read is untouched: unit, commune, category, timeline.
    assert expired.unit_id and expired.commune_insee == "75104"
    assert [e.type for e in expired.events] == ["created", "routed", "resolved", "closed"]
    incident_lon = db.session.execute(text("SELECT ST_X(location) FROM incidents WHERE id = :id"),
                                      {"id": incident.id}).scalar()
    assert incident_lon == pytest.approx(lon, abs=1e-9)
    for report in (recent, old_open, kept_longer):
        assert report.anonymised_at is None and db.session.get(ReportContact, report.id) is not None
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "retention_purge")).one()
    assert audit.details["report_ids"] == [expired.id]

    assert purge_expired_reports()["reports"] == 0

    from service.statistics.report_clocks import refresh_indicator_views
    refresh_indicator_views(full=True)
    clocks = db.session.execute(text("SELECT resolve_s FROM indicator_report_clocks WHERE report_id = :id"),
                                {"id": expired.id}).first()
    assert clocks is not None and clocks.resolve_s is not None


@pytest.mark.slow
def test_flask_worker_with_scheduler_relays_reminds_and_delivers(push_app, push_db, fcm_server, fcm_credentials):
    """`flask worker --with-scheduler` alone (as `make run` starts it) delivers a row nobody enqueued."""
    report = make_report(device=make_device(tokens=("tok-cron",)),
                         acknowledge_due_at=NOW() - timedelta(minutes=5))
    from service.followup import notifications
    rows = notifications.queue_for_event(report, add_event(report, "routed"))
    db.session.commit()
    # No dispatch_after_commit: its enqueue failed, the row is back to pending and only the periodic relay can send it.
    notifications._hand_back([row.id for row in rows])

    worker = worker_process(fcm_server, fcm_credentials, "--with-scheduler", OUTBOX_RELAY_INTERVAL_S=1)
    try:
        fcm_server.wait_for(1, timeout=60)
        deadline = time.monotonic() + 30
        while not events(report.id, "sla_reminder") and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except Exception:
            worker.kill()
    assert fcm_server.messages[0].token == "tok-cron"
    assert len(events(report.id, "sla_reminder")) == 1
    assert len(events(report.id, "citizen_notified")) == 1
