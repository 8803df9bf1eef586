"""Push delivery through pyfcm (unpatched) against the local FCM HTTP v1 test server, with real Redis and RQ."""
import json
import time
from datetime import timedelta

from sqlalchemy import select

from models import Notification, OutcomeCode, PushToken, ReportEvent, Unit, db
from service.followup import notifications
from service.followup.push import Outcome
from service.followup.push.fcm import FCMBackend
from service.platform import clock as service_clock
from service.platform.clock import PARIS
from tests.factories import add_event, make_device, make_report
from tests.fcm_server import Answer
from tests.integration.push_fixtures import (fcm_credentials, fcm_server, free_port, push_app, push_db,  # noqa: F401
                                             work, work_until)

EVENTS = ["routed", "acknowledged", "dispatched", "resolved", "closed", "transfer_accepted", "rejected", "merged",
          "reopened"]
TITLES_FR = {
    "routed": "Signalement reçu", "acknowledged": "Signalement pris en compte", "dispatched": "Patrouille engagée",
    "resolved": "Signalement traité", "closed": "Signalement clôturé", "transfer_accepted": "Signalement transféré",
    "rejected": "Signalement non retenu", "merged": "Signalements regroupés", "reopened": "Signalement rouvert",
}


def notify(report, event_type, **fields):
    """What workflow code does: write the event and its outbox rows, commit, then dispatch."""
    event = add_event(report, event_type, **fields)
    rows = notifications.queue_for_event(report, event)
    db.session.commit()
    notifications.dispatch_after_commit(rows)
    return rows


def rows_for(report_id):
    db.session.rollback()
    return db.session.scalars(select(Notification).where(Notification.report_id == report_id)
                              .order_by(Notification.id)).all()


def test_each_citizen_visible_event_reaches_the_device_with_its_message(push_app, push_db, fcm_server):
    device = make_device(locale="fr", tokens=("tok-events",))
    report = make_report("nuisance_sonore", device=device)
    outcome = db.session.get(OutcomeCode, "interpellation") or db.session.scalars(select(OutcomeCode)).first()
    other_unit = db.session.scalars(select(Unit).where(Unit.receives_reports, Unit.id != report.unit_id)).first()
    extra = {"resolved": {"outcome_code": outcome.code}, "rejected": {"text": "Relève du bailleur social."},
             "transfer_accepted": {"target_unit_id": other_unit.id}}
    for event_type in EVENTS:
        notify(report, event_type, **extra.get(event_type, {}))
    work(push_app)

    received = fcm_server.wait_for(len(EVENTS))
    assert [m.message["notification"]["title"] for m in received] == [TITLES_FR[e] for e in EVENTS]
    assert {m.token for m in received} == {"tok-events"}
    assert {m.project for m in received} == {"proxima-test"}
    assert all(m.message["data"]["reference"] == report.reference for m in received)
    bodies = {e: m.message["notification"]["body"] for e, m in zip(EVENTS, received)}
    assert report.unit.name in bodies["routed"]
    assert outcome.citizen_text_fr[:60] in bodies["resolved"]
    # An officer's free text never reaches a lock screen: the reason is read in the app's timeline.
    assert "bailleur" not in json.dumps([m.message for m in received], ensure_ascii=False)
    assert bodies["rejected"].endswith("Le motif est indiqué dans le suivi du signalement.")
    assert other_unit.name in bodies["transfer_accepted"]

    rows = rows_for(report.id)
    assert [r.state for r in rows] == ["sent"] * len(EVENTS)
    assert [r.fcm_message_name for r in rows] == [m.name for m in received]
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows)
    notified = db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id,
                                                            ReportEvent.type == "citizen_notified")).all()
    assert sorted(e.data["notification_id"] for e in notified) == [r.id for r in rows]
    assert {e.data["fcm_message_name"] for e in notified} == {m.name for m in received}


def test_english_device_gets_english_text(push_app, push_db, fcm_server):
    device = make_device(locale="en", tokens=("tok-en",))
    report = make_report("nuisance_sonore", device=device)
    notify(report, "routed")
    work(push_app)
    (message,) = fcm_server.wait_for(1)
    assert message.message["notification"]["title"] == "Report received"
    assert "(Noise nuisance)" in message.message["notification"]["body"]
    assert message.message["data"]["locale"] == "en"


def test_sensitive_category_sends_data_only(push_app, push_db, fcm_server):
    device = make_device(tokens=("tok-sensitive",))
    report = make_report("point_de_deal", device=device)
    notify(report, "acknowledged")
    work(push_app)
    (message,) = fcm_server.wait_for(1)
    assert "notification" not in message.message
    assert message.message["data"] == {"kind": "report_acknowledged", "reference": report.reference, "locale": "fr",
                                       "sensitive": "true", "text": "Votre signalement a été mis à jour"}
    assert "deal" not in str(message.body).lower()


def test_every_active_token_of_the_device_gets_one_message(push_app, push_db, fcm_server):
    device = make_device(tokens=("tok-phone", "tok-tablet"))
    device.push_tokens.append(PushToken(token="tok-old", active=False))
    report = make_report(device=device)
    notify(report, "dispatched")
    work(push_app)
    fcm_server.wait_for(2)
    time.sleep(0.1)
    assert sorted(m.token for m in fcm_server.messages) == ["tok-phone", "tok-tablet"]


def test_dead_token_is_retired_and_not_used_again(push_app, push_db, fcm_server):
    device = make_device(tokens=("tok-dead",))
    report = make_report(device=device)
    fcm_server.script("tok-dead", Answer.error(404))
    notify(report, "routed")
    work(push_app)
    (row,) = rows_for(report.id)
    assert row.state == "token_retired" and row.last_error.startswith("UNREGISTERED")
    token = db.session.get(PushToken, row.push_token_id)
    assert not token.active and token.retired_reason == "UNREGISTERED" and token.retired_at is not None

    # A later event finds no active token: a row says so, nothing goes to FCM.
    notify(report, "acknowledged")
    work(push_app)
    rows = rows_for(report.id)
    assert [(r.state, r.last_error) for r in rows][1] == ("skipped", "NO_ACTIVE_TOKEN")
    assert len(fcm_server.messages) == 1


def test_invalid_argument_is_a_permanent_failure(push_app, push_db, fcm_server):
    device = make_device(tokens=("tok-bad",))
    report = make_report(device=device)
    fcm_server.script("tok-bad", Answer.error(400))
    notify(report, "routed")
    work(push_app)
    time.sleep(0.5)  # longer than the back-off: nothing is retried
    work(push_app)
    (row,) = rows_for(report.id)
    assert row.state == "failed" and row.last_error.startswith("INVALID_ARGUMENT")
    assert row.attempts == 1 and len(fcm_server.messages) == 1
    assert db.session.get(PushToken, row.push_token_id).active  # a bad message does not kill the token


def test_429_waits_for_retry_after_then_delivers(push_app, push_db, fcm_server):
    device = make_device(tokens=("tok-429",))
    report = make_report(device=device)
    # Retry-After 3 s: long enough that the "not due yet" pass below cannot race a loaded machine's clock.
    fcm_server.script("tok-429", Answer.error(429, retry_after=3))
    notify(report, "routed")
    started = time.monotonic()
    work(push_app)
    # pyfcm 2.1 would sleep on Retry-After (and loop): the job returns without waiting it out.
    assert time.monotonic() - started < 3
    (row,) = rows_for(report.id)
    assert row.state == "retrying" and row.last_error.startswith("QUOTA_EXCEEDED")
    assert (row.not_before - row.claimed_at).total_seconds() >= 2.99

    work(push_app)  # not due yet: the scheduled retry stays scheduled
    assert len(fcm_server.messages) == 1
    work_until(push_app, lambda: rows_for(report.id)[0].state == "sent")
    first, second = fcm_server.messages
    assert second.at - first.at >= 3.0
    (row,) = rows_for(report.id)
    assert row.attempts == 2 and row.fcm_message_name == second.name and row.last_error is None


def test_503_is_retried_with_backoff_then_delivered(push_app, push_db, fcm_server):
    device = make_device(tokens=("tok-503",))
    report = make_report(device=device)
    fcm_server.script("tok-503", Answer.error(503), Answer.error(503))
    notify(report, "routed")
    work_until(push_app, lambda: rows_for(report.id)[0].state == "sent")
    statuses = [m.status for m in fcm_server.sent_to("tok-503")]
    assert statuses == [503, 503, 200]
    gaps = [b.at - a.at for a, b in zip(fcm_server.messages, fcm_server.messages[1:])]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # 0.2 s then 0.4 s back-off (PUSH_BACKOFF_BASE_S = 0.2)
    assert rows_for(report.id)[0].attempts == 3


def test_500_forever_gives_up_after_the_attempt_limit(push_app, push_db, fcm_server):
    device = make_device(tokens=("tok-500",))
    report = make_report(device=device)
    fcm_server.default = Answer.error(500)
    notify(report, "routed")
    work_until(push_app, lambda: rows_for(report.id)[0].state == "failed")
    (row,) = rows_for(report.id)
    assert row.attempts == push_app.config["PUSH_MAX_ATTEMPTS"] == 4
    assert row.last_error.startswith("INTERNAL") and "4 tentatives" in row.last_error
    assert len(fcm_server.messages) == 4
    time.sleep(0.3)
    work(push_app)
    assert len(fcm_server.messages) == 4


def test_a_read_timeout_is_recorded_as_unknown_and_never_resent(push_app, push_db, fcm_server):
    device = make_device(tokens=("tok-slow",))
    report = make_report(device=device)
    fcm_server.script("tok-slow", Answer.ok(delay_s=1.5))  # PUSH_HTTP_TIMEOUT_S is 1 in these tests
    notify(report, "routed")
    work(push_app)
    (row,) = rows_for(report.id)
    assert row.state == "failed" and row.last_error.startswith("DELIVERY_UNKNOWN: TIMEOUT")
    time.sleep(0.5)
    work(push_app)
    assert len(fcm_server.messages) == 1


def test_quiet_hours_hold_non_urgent_pushes_until_the_window_ends(push_app, push_db, fcm_server):
    paris_now = service_clock.now().astimezone(PARIS)
    window = {"start": (paris_now - timedelta(hours=1)).strftime("%H:%M"),
              "end": (paris_now + timedelta(hours=1)).strftime("%H:%M")}
    device = make_device(tokens=("tok-night",), preferences={"quiet_hours": window})
    quiet = make_report("nuisance_sonore", device=device)
    urgent = make_report("rodeo_motorise", device=device)
    notify(quiet, "acknowledged")
    notify(urgent, "dispatched")  # priority-1 category, patrol on its way: sent now
    work(push_app)
    from workers.outbox import relay
    relay()
    work(push_app)
    assert [m.message["data"]["reference"] for m in fcm_server.wait_for(1)] == [urgent.reference]
    (held,) = rows_for(quiet.id)
    assert held.state == "pending" and not held.urgent
    expected_end = paris_now.replace(second=0, microsecond=0) + timedelta(hours=1)
    assert abs((held.not_before - expected_end).total_seconds()) < 61


def test_device_without_token_or_with_notifications_off_gets_a_skipped_row(push_app, push_db, fcm_server):
    silent = make_report(device=make_device(tokens=("tok-off",), preferences={"notify": False}))
    tokenless = make_report(device=make_device())
    anonymous = make_report(device=None)
    for report in (silent, tokenless, anonymous):
        notify(report, "routed")
    work(push_app)
    assert [(r.state, r.last_error) for r in rows_for(silent.id)] == [("skipped", "NOTIFICATIONS_OFF")]
    assert [(r.state, r.last_error) for r in rows_for(tokenless.id)] == [("skipped", "NO_ACTIVE_TOKEN")]
    assert rows_for(anonymous.id) == []
    assert fcm_server.messages == []


def test_one_oauth_token_and_one_connection_for_many_messages(push_app, fcm_server, fcm_credentials):
    fcm_server.reset()
    backend = FCMBackend.from_service_account_file(fcm_credentials, None, fcm_server.endpoint, timeout_s=5)
    results = [backend.send(f"tok-{i}", {"data": {"kind": "t", "reference": "PX-X"}}) for i in range(25)]
    assert {r.outcome for r in results} == {Outcome.DELIVERED}
    assert len(fcm_server.messages) == 25
    assert len(fcm_server.token_requests) == 1
    assert fcm_server.connections == 2  # one to the token endpoint, one kept alive for all 25 messages


def test_unreachable_fcm_is_retryable_because_nothing_was_sent(fcm_credentials):
    backend = FCMBackend.from_service_account_file(fcm_credentials, "proxima-test",
                                                   f"http://127.0.0.1:{free_port()}", timeout_s=2)
    # The OAuth endpoint is the test server (up); the FCM endpoint is a closed port.
    result = backend.send("tok-x", {"data": {"kind": "t", "reference": "PX-X"}})
    assert result.outcome == Outcome.RETRY and result.error_code == "UNAVAILABLE"


def test_logging_backend_records_what_would_have_been_sent(app, committed):
    """Without FCM credentials (make run on a laptop) rows are 'logged', with their payload and timeline event."""
    device = make_device(tokens=("tok-dev",))
    report = make_report(device=device)
    notify(report, "routed")
    work(app)
    (row,) = rows_for(report.id)
    assert row.state == "logged" and row.sent_at is not None and row.fcm_message_name is None
    assert row.payload["notification"]["title"] == "Signalement reçu"
    event = db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id,
                                                         ReportEvent.type == "citizen_notified")).one()
    assert event.data["backend"] == "log"


def test_intake_and_console_workflow_push_every_step_in_order(push_app, push_db, fcm_server):
    """The real API intake and workflow functions feed the outbox; the worker sends each step once."""
    from models import Report
    from service.reports import workflow
    from tests.factories import make_officer
    client = push_app.test_client()
    device = client.post("/api/v1/devices", json={"platform": "ios", "fcm_token": "tok-flow", "locale": "fr"}).json
    created = client.post("/api/v1/reports", headers={"Authorization": f"Bearer {device['token']}"},
                          json={"category": "stationnement_genant", "description": "Voiture sur le trottoir",
                                "location": {"lat": 48.8566, "lon": 2.3522}})
    assert created.status_code == 201, created.json
    report = db.session.scalars(select(Report).where(Report.reference == created.json["reference"])).one()
    agent = make_officer(report.unit)
    db.session.commit()
    outcome = db.session.scalars(select(OutcomeCode).order_by(OutcomeCode.code)).first()
    workflow.acknowledge(report, agent)
    workflow.dispatch(report, agent)
    workflow.resolve(report, agent, outcome.code)
    workflow.close(report, agent)
    work(push_app)

    received = fcm_server.wait_for(5)
    assert [m.message["data"]["kind"] for m in received] == [
        "report_routed", "report_acknowledged", "patrol_dispatched", "report_resolved", "report_closed"]
    assert {m.token for m in received} == {"tok-flow"}
    assert {m.message["data"]["reference"] for m in received} == {report.reference}
    assert [r.state for r in rows_for(report.id)] == ["sent"] * 5


def test_one_batch_job_records_each_row_its_own_outcome(push_app, push_db, fcm_server):
    """A batch is claimed and recorded in one transaction each, but every row keeps its own FCM answer."""
    from workers.push import deliver_batch
    answers = {"tok-ok1": None, "tok-ok2": None, "tok-gone": Answer.error(404), "tok-bad": Answer.error(400),
               "tok-busy": Answer.error(503)}
    rows = {}
    for token, answer in answers.items():
        if answer is not None:
            fcm_server.script(token, answer)
        report = make_report(device=make_device(tokens=(token,)))
        (rows[token],) = notifications.queue_for_event(report, add_event(report, "acknowledged"))
    report = make_report(device=make_device(tokens=("tok-retired",)))
    (rows["tok-retired"],) = notifications.queue_for_event(report, add_event(report, "acknowledged"))
    db.session.flush()
    db.session.get(PushToken, rows["tok-retired"].push_token_id).active = False  # retired after the row was written
    db.session.commit()
    ids = {token: row.id for token, row in rows.items()}

    outcomes = deliver_batch(list(ids.values()))
    assert outcomes == {"sent": 2, "token_retired": 1, "failed": 1, "retrying": 1, "skipped": 1}
    db.session.rollback()
    state = {token: db.session.get(Notification, nid) for token, nid in ids.items()}
    assert {t: r.state for t, r in state.items()} == {
        "tok-ok1": "sent", "tok-ok2": "sent", "tok-gone": "token_retired", "tok-bad": "failed",
        "tok-busy": "retrying", "tok-retired": "skipped"}
    assert all(state[t].fcm_message_name and state[t].sent_at for t in ("tok-ok1", "tok-ok2"))
    assert state["tok-bad"].last_error.startswith("INVALID_ARGUMENT") and state["tok-busy"].attempts == 1
    assert state["tok-retired"].last_error == "TOKEN_INACTIVE"
    assert not db.session.get(PushToken, state["tok-gone"].push_token_id).active
    notified = db.session.scalars(select(ReportEvent).where(ReportEvent.type == "citizen_notified")).all()
    assert sorted(e.data["notification_id"] for e in notified) == sorted([ids["tok-ok1"], ids["tok-ok2"]])
    assert {e.data["fcm_message_name"] for e in notified} == {state["tok-ok1"].fcm_message_name,
                                                             state["tok-ok2"].fcm_message_name}
    assert sorted(m.token for m in fcm_server.messages) == sorted(answers)  # nothing for the retired token

    # The same batch again (an RQ retry, a duplicate job): nothing is claimable, nothing is sent.
    assert deliver_batch(list(ids.values())) == {"not claimable": 6}
    assert len(fcm_server.messages) == 5


def test_sending_threads_share_one_oauth_token_and_a_bounded_pool(push_app, fcm_server, fcm_credentials):
    from concurrent.futures import ThreadPoolExecutor
    fcm_server.reset()
    backend = FCMBackend.from_service_account_file(fcm_credentials, None, fcm_server.endpoint, timeout_s=5,
                                                   pool_size=4)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: backend.send(f"tok-{i}", {"data": {"kind": "t", "reference": "PX-X"}}),
                                range(40)))
    assert {r.outcome for r in results} == {Outcome.DELIVERED}
    assert len({r.message_name for r in results}) == 40 and len(fcm_server.messages) == 40
    assert len(fcm_server.token_requests) == 1  # pyfcm alone would fetch one per thread
    assert fcm_server.connections <= 1 + 4  # the token endpoint, then at most one connection per thread


def test_an_expired_oauth_token_is_a_retry_and_the_next_send_fetches_a_new_one(push_app, fcm_server,
                                                                                  fcm_credentials):
    fcm_server.reset()
    backend = FCMBackend.from_service_account_file(fcm_credentials, None, fcm_server.endpoint, timeout_s=5)
    message = {"data": {"kind": "t", "reference": "PX-X"}}
    assert backend.send("tok-1", message).outcome == Outcome.DELIVERED
    fcm_server.expire_tokens()
    refused = backend.send("tok-2", message)
    assert refused.outcome == Outcome.RETRY and refused.error_code == "THIRD_PARTY_AUTH_ERROR"
    assert len(fcm_server.token_requests) == 1  # not resent at once with a new token: the job queue retries
    assert backend.send("tok-2", message).outcome == Outcome.DELIVERED
    assert len(fcm_server.token_requests) == 2
    assert [m.token for m in fcm_server.messages] == ["tok-1", "tok-2"]  # the refused call reached no device
