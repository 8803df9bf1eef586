"""Satisfaction feedback: only the reporting device, only after the answer, only once; it feeds the indicators."""
import pytest
from sqlalchemy import select, update

from models import Feedback, Report, ReportEvent, db
from service.reports.feedback import FeedbackRefused, submit_feedback
from service.statistics.filters import IndicatorFilters
from service.statistics.reference_sql import summary
from service.statistics.report_clocks import refresh_indicator_views
from service.platform import clock as service_clock

BODY = {"reactivite": 4, "courtoisie": 5, "information": 3, "comment": "Merci, patrouille passée vite."}


@pytest.fixture
def api(app, db_session):
    """A test client with the feedback endpoint, on the test transaction.

    Until the endpoint is registered with the citizen API, an app built the same way registers it here.
    """
    if any(rule.rule.endswith("/feedback") for rule in app.url_map.iter_rules()):
        yield app.test_client()
        return
    from service import create_app
    from service.api.feedback import blp
    wired = create_app(dict(app.config))
    wired.register_blueprint(blp, url_prefix="/api/v1")
    connection = db.engines[None]  # the test's connection, inside its rolled-back transaction
    with wired.app_context():
        original = db.engines[None]
        db.engines[None] = connection
        try:
            yield wired.test_client()
        finally:
            db.session.remove()
            db.engines[None] = original


def register(client) -> dict:
    response = client.post("/api/v1/devices", json={"platform": "android"})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def new_report(client, headers) -> str:
    body = {"category": "degradation", "description": "Tags sur l'abribus",
            "location": {"lat": 48.8566, "lon": 2.3522}}
    response = client.post("/api/v1/reports", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["reference"]


def close(reference: str) -> None:
    db.session.execute(update(Report).where(Report.reference == reference).values(
        status="closed", closed_at=service_clock.now()))
    db.session.commit()


def test_feedback_before_closure_is_409_and_after_closure_201_once(api):
    headers = register(api)
    reference = new_report(api, headers)
    early = api.post(f"/api/v1/reports/{reference}/feedback", json=BODY, headers=headers)
    assert early.status_code == 409
    close(reference)
    first = api.post(f"/api/v1/reports/{reference}/feedback", json=BODY, headers=headers)
    assert first.status_code == 201, first.json
    assert first.json["reactivite"] == 4 and first.json["comment"] == BODY["comment"]
    again = api.post(f"/api/v1/reports/{reference}/feedback", json=BODY, headers=headers)
    assert again.status_code == 409
    report = db.session.scalar(select(Report).where(Report.reference == reference))
    assert db.session.get(Feedback, report.id).information == 3
    events = db.session.scalars(select(ReportEvent.type).where(ReportEvent.report_id == report.id)).all()
    assert events.count("feedback") == 1


def test_another_device_gets_404_and_an_unknown_reference_too(api):
    owner, stranger = register(api), register(api)
    reference = new_report(api, owner)
    close(reference)
    assert api.post(f"/api/v1/reports/{reference}/feedback", json=BODY, headers=stranger).status_code == 404
    assert api.post("/api/v1/reports/PX-0000000000/feedback", json=BODY, headers=owner).status_code == 404
    assert api.post(f"/api/v1/reports/{reference}/feedback", json=BODY).status_code == 401
    report = db.session.scalar(select(Report).where(Report.reference == reference))
    assert db.session.get(Feedback, report.id) is None


@pytest.mark.parametrize("body, field", [
    ({**BODY, "reactivite": 0}, "reactivite"),
    ({**BODY, "courtoisie": 6}, "courtoisie"),
    ({k: v for k, v in BODY.items() if k != "information"}, "information"),
    ({**BODY, "information": "4"}, "information"),
    ({**BODY, "comment": "x" * 1001}, "comment"),
    ({**BODY, "note": 3}, "note"),
])
def test_invalid_bodies_are_422_with_field_messages(api, body, field):
    headers = register(api)
    reference = new_report(api, headers)
    close(reference)
    response = api.post(f"/api/v1/reports/{reference}/feedback", json=body, headers=headers)
    assert response.status_code == 422
    assert field in str(response.json["errors"])


def test_feedback_counts_in_satisfaction_indicators(api):
    headers = register(api)
    reference = new_report(api, headers)
    close(reference)
    assert api.post(f"/api/v1/reports/{reference}/feedback", json={"reactivite": 2, "courtoisie": 4,
                                                                    "information": 3},
                    headers=headers).status_code == 201
    refresh_indicator_views(full=True)
    s = summary(IndicatorFilters.default())
    assert s["feedback_n"] == 1
    assert s["reactivite_mean"] == 2 and s["satisfaction_mean"] == pytest.approx(3)
    assert s["feedback_response_rate"] == 1


def test_domain_refuses_reopened_reports_until_answered_again(db_session, api):
    headers = register(api)
    reference = new_report(api, headers)
    report = db.session.scalar(select(Report).where(Report.reference == reference))
    report.status = "acknowledged"
    report.reopen_count = 1
    db.session.flush()
    with pytest.raises(FeedbackRefused) as refused:
        submit_feedback(reference, report.device, 3, 3, 3)
    assert refused.value.status == 409
