"""Retention at a stated instant: every status has an end, every personal field goes, the clocks stay."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from models import (AuditEntry, Feedback, Notification, Report, ReportContact, ReportEvent, ReportPhoto, db)
from service.reports import retention
from tests.factories import add_event, make_report

AT = "2026-11-24T10:00:00+01:00"
NOW = datetime.fromisoformat(AT)
pytestmark = pytest.mark.instant(AT)


def _personal(report: Report, days_since_activity: int) -> Report:
    """Give `report` everything personal a report can carry; its last activity `days_since_activity` ago."""
    report.description = "Le scooter immatriculé AB-123-CD de M. Martin"
    report.answers = {"plaque": "AB-123-CD"}
    db.session.add(ReportPhoto(report_id=report.id, content_type="image/jpeg", width=1, height=1, content=b"jpeg"))
    db.session.add(ReportContact(report_id=report.id, name="Camille", email="camille@example.fr", phone="0600000000"))
    add_event(report, "note", actor_kind="officer", text="Le requérant habite au 3e, porte gauche")
    db.session.add(Notification(report_id=report.id, kind="status_changed", locale="fr", state="sent",
                                payload={"title": "Signalement clôturé", "body": "Motif : M. Martin"}))
    report.updated_at = NOW - timedelta(days=days_since_activity)
    db.session.flush()
    return report


def _ended(status: str, days_ago: int) -> Report:
    report = make_report("nuisance_sonore", status=status, received_at=NOW - timedelta(days=days_ago + 3),
                         closed_at=NOW - timedelta(days=days_ago) if status != "resolved" else None)
    return _personal(report, days_ago)


def test_every_status_ends_and_everything_personal_goes(db_session):
    resolved = _ended("resolved", 400)  # nothing closes a resolved report: it must expire anyway
    rejected = _ended("rejected", 400)
    db.session.add(Feedback(report_id=rejected.id, reactivite=4, courtoisie=4, information=4,
                            comment="Merci, je suis Camille du 3e"))
    abandoned = _personal(make_report("nuisance_sonore", received_at=NOW - timedelta(days=800)), 731)
    recent_closed = _ended("closed", 30)
    quiet_but_open = _personal(make_report("nuisance_sonore", received_at=NOW - timedelta(days=400)), 400)
    db.session.commit()

    preview = retention.what_would_be_purged()
    assert preview.counts() == {"reports": 3, "photos": 3, "contacts": 3, "texts": 3, "comments": 1, "payloads": 3,
                                "message_texts": 0, "message_photos": 0}
    assert db.session.scalar(select(func.count()).select_from(ReportContact)) == 5  # the dry run changed nothing

    result = retention.purge_expired_reports()
    assert result.counts() == preview.counts()
    assert sorted(result.report_ids) == sorted([resolved.id, rejected.id, abandoned.id])
    db.session.expire_all()
    for report in (resolved, rejected, abandoned):
        report = db.session.get(Report, report.id)
        assert report.anonymised_at is not None and report.description == "" and report.answers == {}
        assert db.session.get(ReportContact, report.id) is None
        assert not db.session.scalars(select(ReportPhoto).where(ReportPhoto.report_id == report.id)).all()
        texts = db.session.scalars(select(ReportEvent.text).where(ReportEvent.report_id == report.id,
                                                                  ReportEvent.actor_kind != "system")).all()
        assert texts and all(t is None for t in texts)
        payloads = db.session.scalars(select(Notification.payload).where(Notification.report_id == report.id)).all()
        assert payloads == [{}]
        # The timeline's instants and types stay: indicator clocks are computed from them.
        assert [e.type for e in report.events][:3] == ["created", "routed", "note"]
    assert db.session.get(Feedback, rejected.id).comment is None
    assert db.session.get(Feedback, rejected.id).reactivite == 4
    for kept in (recent_closed, quiet_but_open):
        kept = db.session.get(Report, kept.id)
        assert kept.anonymised_at is None and kept.description.startswith("Le scooter")
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "retention_purge")).one()
    assert entry.details["texts"] == 3
    assert retention.purge_expired_reports().reports == 0


def test_as_of_looks_ahead_only_in_a_dry_run(db_session):
    _ended("closed", 300)  # expires in 65 days (365-day retention)
    db.session.commit()
    assert retention.what_would_be_purged().reports == 0
    assert retention.what_would_be_purged(NOW + timedelta(days=70)).reports == 1
    assert retention.purge_expired_reports(as_of=NOW + timedelta(days=70)).reports == 0  # never later than now


def test_the_cli_says_what_it_purges(app, db_session):
    _ended("rejected", 400)
    db.session.commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["retention", "run", "--dry-run"])
    assert dry.exit_code == 0 and "Seraient purgés : 1 signalement(s), 1 photo(s)" in dry.output
    future = runner.invoke(args=["retention", "run", "--as-of", "2030-01-01"])
    assert future.exit_code != 0 and "only with --dry-run" in future.output
    done = runner.invoke(args=["retention", "run"])
    assert done.exit_code == 0 and "Purgés : 1 signalement(s)" in done.output
    assert db.session.execute(text("SELECT count(*) FROM reports WHERE anonymised_at IS NOT NULL")).scalar() == 1
