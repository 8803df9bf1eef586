"""A worker process killed with SIGKILL in the middle of a push: after recovery every resident has been
sent each message exactly once (the one in flight is not sent again)."""
import os
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import select

from models import Notification, db
from service import notifications
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
    rows = db.session.execute(select(Notification.state, Notification.last_error)).all()
    print(f"after recovery: {dict(Counter(state for state, _ in rows))}, FCM received {len(fcm_server.messages)}")
    # Settled: sent, or (for what was in flight when the worker died) failed as DELIVERY_UNKNOWN, never resent.
    assert {state for state, _ in rows} <= {"sent", "failed"}
    assert all(error.startswith("DELIVERY_UNKNOWN") for state, error in rows if state == "failed")
    # Every resident got the message once: none lost with the dead worker, none sent twice.
    received = Counter(m.token for m in fcm_server.messages)
    never = sorted(f"tok-kill-{i}" for i in range(COUNT) if f"tok-kill-{i}" not in received)
    twice = sorted(token for token, n in received.items() if n > 1)
    assert (never, twice) == ([], []), (
        f"{received_before_kill} received before the kill; never delivered: {never}; delivered twice: {twice}")
