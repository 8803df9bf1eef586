"""Nothing lost, nothing sent twice: Redis outage at intake, worker killed mid-send, concurrent relays and workers."""
import signal
import threading
import time

import pytest
import redis
from sqlalchemy import func, select, update

from models import Notification, db
from service import create_app
from service.followup import notifications
from service.followup.push import Outcome, get_backend
from service.platform.redis_client import get_redis
from tests.factories import add_event, make_device, make_report
from tests.fcm_server import Answer
from tests.integration.push_fixtures import (PrivateRedis, fcm_credentials, fcm_server, push_app,  # noqa: F401
                                             free_port, push_config, push_db, work, worker_process)
from workers.outbox import relay
from workers import push
from workers.push import claim_for_sending, enqueue_sends
from service.platform import clock as service_clock
from service.platform.clock import PARIS


def states(*report_ids):
    db.session.rollback()
    query = select(Notification.state).order_by(Notification.id)
    if report_ids:
        query = query.where(Notification.report_id.in_(report_ids))
    return db.session.scalars(query).all()


@pytest.mark.slow
def test_intake_succeeds_while_redis_is_down_and_the_relay_delivers_later(
        push_db, fcm_server, fcm_credentials, tmp_path):
    private_redis = PrivateRedis(tmp_path).start()
    app = create_app(push_config(fcm_server, fcm_credentials, REDIS_URL=private_redis.url))
    try:
        with app.app_context():
            client = app.test_client()
            body = {"category": "nuisance_sonore", "description": "Musique très forte",
                    "location": {"lat": 48.8566, "lon": 2.3522}, "answers": {"source": "logement"}}
            # Warm-up while Redis is up (routing index, pools), from a device without token: a skipped row.
            silent = client.post("/api/v1/devices", json={"platform": "android"}).json
            warm = client.post("/api/v1/reports", headers={"Authorization": f"Bearer {silent['token']}"}, json=body)
            assert warm.status_code == 201, warm.json
            device = client.post("/api/v1/devices", json={"platform": "android", "fcm_token": "tok-outage"}).json

            private_redis.stop()
            started = time.monotonic()
            response = client.post("/api/v1/reports", headers={"Authorization": f"Bearer {device['token']}"},
                                   json={**body, "description": "Toujours la musique"})
            assert response.status_code == 201, response.json
            assert time.monotonic() - started < 3  # Redis down costs a refused connection, not a hang
            assert states() == ["skipped", "pending"]
            assert relay().error is not None  # the relay cannot enqueue either, and hands the rows back
            assert states() == ["skipped", "pending"]

            private_redis.start()  # same port, empty: whatever was queued before is gone
            assert relay().enqueued == 1
            work(app)
            (message,) = fcm_server.wait_for(1)
            assert message.token == "tok-outage"
            assert message.message["data"]["reference"] == response.json["reference"]
            assert states() == ["skipped", "sent"]
    finally:
        private_redis.stop()


@pytest.mark.slow
def test_a_worker_killed_mid_send_never_causes_a_second_message(push_app, push_db, fcm_server, fcm_credentials):
    report = make_report(device=make_device(tokens=("tok-killed",)))
    event = add_event(report, "acknowledged")
    rows = notifications.queue_for_event(report, event)
    db.session.commit()
    notifications.dispatch_after_commit(rows)
    fcm_server.script("tok-killed", Answer.ok(delay_s=0.05))
    fcm_server.hold()  # the server receives the message and keeps the answer back

    worker = worker_process(fcm_server, fcm_credentials)
    try:
        fcm_server.wait_for(1, timeout=30)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        fcm_server.release.set()
        if worker.poll() is None:
            worker.kill()
    assert states() == ["sending"]

    # A live send must not be given up: with the normal timeout the relay leaves the row alone...
    assert relay().given_up == 0
    # ...and another job for the same row (RQ retry, duplicate enqueue) cannot claim it.
    enqueue_sends([(rows[0].id, 0), (rows[0].id, 1)])
    work(push_app)
    assert states() == ["sending"]
    # Past the sending timeout the relay records it as DELIVERY_UNKNOWN and never resends.
    result = relay(sending_timeout_s=0)
    assert result.given_up == 1 and result.enqueued == 0
    row = db.session.get(Notification, rows[0].id)
    assert row.state == "failed" and row.last_error.startswith("DELIVERY_UNKNOWN")
    # Workers and relays keep running: nothing more goes out for that row.
    work(push_app)
    assert relay().enqueued == 0
    assert len(fcm_server.sent_to("tok-killed")) == 1


def test_a_row_claimed_by_a_worker_that_died_before_the_call_is_sent_once(push_app, push_db, fcm_server,
                                                                          fcm_credentials):
    report = make_report(device=make_device(tokens=("tok-claimed",)))
    rows = notifications.queue_for_event(report, add_event(report, "dispatched"))
    db.session.commit()
    # The claim commits, then the worker dies before its thread marks the attempt and posts.
    assert [c.id for c in claim_for_sending([rows[0].id])] == [rows[0].id]
    assert states() == ["sending"]

    result = relay(sending_timeout_s=0)
    assert result.given_up == 0 and result.enqueued == 1
    work(push_app)
    assert states() == ["sent"]
    assert len(fcm_server.sent_to("tok-claimed")) == 1
    # Later relays find nothing more to do.
    assert relay(sending_timeout_s=0).enqueued == 0
    work(push_app)
    assert len(fcm_server.sent_to("tok-claimed")) == 1


def test_a_chunk_is_sent_only_once_its_attempts_are_marked(push_app, push_db, fcm_server, monkeypatch):
    rows = []
    for i in range(3):
        report = make_report(device=make_device(tokens=(f"tok-mark-{i}",)))
        rows += notifications.queue_for_event(report, add_event(report, "dispatched"))
    db.session.commit()
    claims = claim_for_sending([row.id for row in rows])
    # Redis unreachable (nothing listens on that port): nothing marked, so nothing sent; each row a plain retry.
    monkeypatch.setattr(push, "get_redis", lambda: redis.Redis(port=free_port(), socket_connect_timeout=1))
    unmarked = push.send_all(get_backend(), claims)
    assert [r.error_code for r in unmarked] == ["ATTEMPT_NOT_MARKED"] * 3 and fcm_server.messages == []
    monkeypatch.undo()
    sent = push.send_all(get_backend(), claims)
    assert [r.outcome for r in sent] == [Outcome.DELIVERED] * 3 and len(fcm_server.messages) == 3
    marks = get_redis()
    assert all(marks.exists(push.attempt_key(c.id, c.attempts)) for c in claims)


@pytest.mark.slow
def test_concurrent_relays_and_workers_send_each_row_exactly_once(push_app, push_db, fcm_server, fcm_credentials):
    count = 60
    all_rows = []
    for i in range(count // 2):
        report = make_report(device=make_device(tokens=(f"tok-a{i}", f"tok-b{i}")))
        all_rows += notifications.queue_for_event(report, add_event(report, "dispatched"))
    db.session.commit()
    # Written `queued`: half of them get their immediate enqueue after commit (the relays skip them); the other
    # half's enqueue failed and they went back to `pending`, for the relays.
    assert all(row.handed_to_queue for row in all_rows)
    notifications.dispatch_after_commit(all_rows[::2])
    notifications._hand_back([row.id for row in all_rows[1::2]])

    barrier = threading.Barrier(2)
    results, errors = [], []

    def run_relay():
        with push_app.app_context():
            try:
                barrier.wait()
                results.append(relay(batch_size=7))
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run_relay) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sum(r.enqueued for r in results) == count // 2  # each pending row claimed by exactly one relay
    # Duplicate jobs for every row on top (as RQ retries or a lost-and-requeued job would make).
    enqueue_sends([(row.id, 0) for row in all_rows])

    workers = [worker_process(fcm_server, fcm_credentials, "--burst") for _ in range(2)]
    for w in workers:
        assert w.wait(120) == 0, w.stdout.read().decode()[-2000:]
    tokens = [m.token for m in fcm_server.messages]
    assert len(tokens) == count and len(set(tokens)) == count
    assert states() == ["sent"] * count
    names = db.session.scalars(select(func.count(func.distinct(Notification.fcm_message_name)))).one()
    assert names == count


def test_a_retry_lost_with_redis_is_picked_up_by_the_relay(push_app, push_db, fcm_server, redis_conn):
    report = make_report(device=make_device(tokens=("tok-lost",)))
    rows = notifications.queue_for_event(report, add_event(report, "acknowledged"))
    db.session.commit()
    # A long Retry-After: the "not due yet" check below cannot race the clock; time is then moved on in the row.
    fcm_server.script("tok-lost", Answer.error(429, retry_after=60))
    notifications.dispatch_after_commit(rows)
    work(push_app)
    assert states() == ["retrying"]
    redis_conn.flushdb()  # Redis restarted empty: the scheduled retry is gone
    assert relay().enqueued == 0  # not due yet
    db.session.execute(update(Notification).values(not_before=service_clock.now()))  # the minute has passed
    db.session.commit()
    assert relay().enqueued == 1
    work(push_app)
    assert states() == ["sent"]
    assert [m.status for m in fcm_server.sent_to("tok-lost")] == [429, 200]


def test_rows_due_now_are_written_queued_and_a_lost_hand_off_is_relayed(push_app, push_db, fcm_server):
    """No second transaction after the event's commit: a row due now is written `queued` and its job enqueued
    right after the commit; a row in quiet hours waits `pending` for the relay; a row written `queued` whose job
    never came (the process died before enqueuing) is enqueued again by the relay after its requeue delay."""
    from workers.outbox import REQUEUE_AFTER_S
    from datetime import timedelta
    now = service_clock.now().astimezone(PARIS)
    night = {"quiet_hours": {"start": (now - timedelta(hours=1)).strftime("%H:%M"),
                             "end": (now + timedelta(hours=1)).strftime("%H:%M")}}  # now is inside
    due = make_report(device=make_device(tokens=("tok-due",)))
    quiet = make_report(device=make_device(tokens=("tok-quiet",), preferences=night))
    lost = make_report(device=make_device(tokens=("tok-lost",)))
    due_rows = notifications.queue_for_event(due, add_event(due, "dispatched"))
    quiet_rows = notifications.queue_for_event(quiet, add_event(quiet, "dispatched"))
    lost_rows = notifications.queue_for_event(lost, add_event(lost, "dispatched"))
    db.session.commit()
    assert [r.handed_to_queue for r in due_rows + quiet_rows + lost_rows] == [True, False, True]
    assert states(due.id, quiet.id, lost.id) == ["queued", "pending", "queued"]

    notifications.dispatch_after_commit(due_rows + quiet_rows)  # the lost row's process died before this
    work(push_app, with_scheduler=False)
    assert [m.token for m in fcm_server.messages] == ["tok-due"]
    assert relay().enqueued == 0  # the lost row is young: its job may still be on its way
    db.session.execute(update(Notification).where(Notification.id == lost_rows[0].id).values(
        updated_at=service_clock.now() - func.make_interval(0, 0, 0, 0, 0, 0, REQUEUE_AFTER_S + 1)))
    db.session.commit()
    assert relay().enqueued == 1
    work(push_app, with_scheduler=False)
    assert sorted(m.token for m in fcm_server.messages) == ["tok-due", "tok-lost"]
    assert states(due.id, quiet.id, lost.id) == ["sent", "pending", "sent"]
