"""A worker process killed with SIGKILL in the middle of a push: after recovery nothing was sent twice, every
message whose HTTP call had not started is delivered once, and only calls in flight at the kill (which may
or may not have reached FCM: v1 has no idempotency key) are settled as DELIVERY_UNKNOWN."""
import os
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import select

from models import Notification, PushToken, db
from service.followup import notifications
from tests.factories import add_event, make_device, make_report
from tests.fcm_server import Answer
from tests.integration.push_fixtures import (fcm_credentials, fcm_server, push_app, push_db,  # noqa: F401
                                             worker_process)
from workers.outbox import relay

COUNT = int(os.environ.get("FAULTS_WORKER_KILL_COUNT", 12))
VICTIM = 5  # the worker dies while FCM holds this one's answer


@pytest.mark.slow
def test_sigkill_mid_push_delivers_each_message_exactly_once(push_app, push_db, fcm_server, fcm_credentials):
    rows = []
    for i in range(COUNT):
        report = make_report(device=make_device(tokens=(f"tok-kill-{i}",)))
        rows += notifications.queue_for_event(report, add_event(report, "acknowledged"))
    db.session.commit()
    fcm_server.script(f"tok-kill-{VICTIM}", Answer.ok(delay_s=0.05))
    fcm_server.hold()
    notifications.dispatch_after_commit(rows)

    worker = worker_process(fcm_server, fcm_credentials)
    try:
        deadline = time.monotonic() + 60
        while not fcm_server.sent_to(f"tok-kill-{VICTIM}"):
            assert time.monotonic() < deadline, "the worker never reached the held message"
            assert worker.poll() is None, worker.stdout.read().decode()[-2000:]
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        received_before_kill = len(fcm_server.messages)
    finally:
        fcm_server.release.set()
        if worker.poll() is None:
            worker.kill()

    # Recovery, as the periodic relay does once its timeouts have passed (PUSH_SENDING_TIMEOUT_S for the row
    # in flight, REQUEUE_AFTER_S for the rows of the dead worker's batch job): the row in flight is settled
    # as DELIVERY_UNKNOWN rather than sent again, the others are handed to a new worker.
    for _ in range(2):
        relay(sending_timeout_s=0, requeue_after_s=0)
        replacement = worker_process(fcm_server, fcm_credentials, "--burst")
        try:
            replacement.wait(60)
        finally:
            if replacement.poll() is None:
                replacement.kill()

    db.session.rollback()
    rows = db.session.execute(select(Notification.state, Notification.last_error, Notification.push_token_id,
                                     PushToken.token).join(PushToken)).all()
    print(f"after recovery: {dict(Counter(r.state for r in rows))}, FCM received {len(fcm_server.messages)}")
    # Settled: sent, or (for what was in flight when the worker died) failed as DELIVERY_UNKNOWN, never resent.
    assert {r.state for r in rows} <= {"sent", "failed"}
    assert all(r.last_error.startswith("DELIVERY_UNKNOWN") for r in rows if r.state == "failed")
    received = Counter(m.token for m in fcm_server.messages)
    twice = sorted(token for token, n in received.items() if n > 1)
    assert twice == [], f"delivered twice: {twice}"
    # A message that never reached FCM was lost only if its call had started (attempt marked) when the worker
    # died: those are the DELIVERY_UNKNOWN rows, at most one per sending thread. Everything else arrived.
    unknown = {r.token for r in rows if r.state == "failed"}
    never = {f"tok-kill-{i}" for i in range(COUNT)} - set(received)
    assert never <= unknown, (f"{received_before_kill} received before the kill; never delivered and not in "
                              f"flight: {sorted(never - unknown)}")
    assert len(unknown) <= push_app.config["PUSH_SEND_THREADS"]
