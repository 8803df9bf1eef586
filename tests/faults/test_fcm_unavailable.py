"""FCM answers 503 for a while: retries are bounded and spaced, the queues do not swell, and every
notification is delivered once FCM is back."""
import os
import time
from collections import Counter

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from models import Notification, db
from service import create_app
from service.followup import notifications
from tests.factories import add_event, make_device, make_report
from tests.fcm_server import Answer
from tests.integration.push_fixtures import (fcm_credentials, fcm_server, push_app, push_config,  # noqa: F401
                                             push_db, work)
from workers.outbox import relay

OUTAGE_S = float(os.environ.get("FAULTS_FCM_OUTAGE_S", 3))  # bench/faults/run.sh: 60
# Back-off scaled on the outage so that 8 attempts outlast it (3 s: 0.5, 1, 2, 2… s; production: 30 s … 1 h).
RETRY = {"PUSH_MAX_ATTEMPTS": 8, "PUSH_BACKOFF_BASE_S": OUTAGE_S / 6, "PUSH_BACKOFF_MAX_S": OUTAGE_S * 2 / 3}


def run_fcm_outage(app, fcm_server, outage_s: float, count: int = 20) -> dict:
    """The scenario, 60 s long in bench/faults/run.sh. Returns what it observed."""
    with app.app_context():
        rows = []
        for i in range(count):
            report = make_report(device=make_device(tokens=(f"tok-fcm-{i}",)))
            rows += notifications.queue_for_event(report, add_event(report, "dispatched"))
        db.session.commit()
        fcm_server.default = Answer.error(503)
        notifications.dispatch_after_commit(rows)
        connection = app.extensions["redis"]
        backlog = []
        deadline = time.monotonic() + outage_s
        while time.monotonic() < deadline:
            work(app)
            relay()
            backlog.append(Queue("push", connection=connection).count
                           + ScheduledJobRegistry("push", connection=connection).count)
            time.sleep(0.1)
        calls_during_outage = len(fcm_server.messages)
        fcm_server.default = Answer.ok()
        recovery = time.monotonic() + 30 + outage_s
        while time.monotonic() < recovery:
            work(app)
            relay()
            db.session.rollback()
            if set(db.session.scalars(select(Notification.state))) == {"sent"}:
                break
            time.sleep(0.2)
        db.session.rollback()
        attempts = list(db.session.scalars(select(Notification.attempts)))
        states = Counter(db.session.scalars(select(Notification.state)))
    return {"count": count, "backlog": backlog, "calls_during_outage": calls_during_outage, "attempts": attempts,
            "states": states, "messages": list(fcm_server.messages)}


@pytest.mark.slow
def test_fcm_503_is_retried_with_bounded_back_off_and_everything_is_delivered_after(
        push_db, fcm_server, fcm_credentials):
    app = create_app(push_config(fcm_server, fcm_credentials, **RETRY))
    seen = run_fcm_outage(app, fcm_server, OUTAGE_S)
    count = seen["count"]
    print(f"{seen['calls_during_outage']} calls to FCM during {OUTAGE_S} s of 503, backlog max "
          f"{max(seen['backlog'])}, attempts max {max(seen['attempts'])}, states {dict(seen['states'])}")
    # Bounded, not growing with the outage: per notification at most a send job (after-commit or relay) and
    # a scheduled retry, plus a relay batch job (the claim lets only one of them send); never more attempts
    # than configured.
    assert max(seen["backlog"]) <= 3 * count
    assert seen["calls_during_outage"] <= count * RETRY["PUSH_MAX_ATTEMPTS"]
    assert max(seen["attempts"]) <= RETRY["PUSH_MAX_ATTEMPTS"]
    # Spaced: with a 0.5 s base, nobody is hammered more than ~5 times in 3 s.
    per_token = Counter(m.token for m in seen["messages"] if m.status == 503)
    assert max(per_token.values()) <= 5
    # Everything delivered, once.
    assert seen["states"] == Counter({"sent": count})
    delivered = Counter(m.token for m in seen["messages"] if m.status == 200)
    assert len(delivered) == count and set(delivered.values()) == {1}
