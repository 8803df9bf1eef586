"""Redis (queues and rate-limit counters) down during a stream of intakes: every report accepted (201),
every notification delivered after recovery, none twice."""
import os
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from models import Notification, Report, db
from service import create_app
from tests.faults.support import IntakeStream, Server, register
from tests.integration.push_fixtures import (PrivateRedis, fcm_credentials, fcm_server, push_app,  # noqa: F401
                                             push_config, push_db, work)
from workers.outbox import relay

OUTAGE_S = float(os.environ.get("FAULTS_REDIS_OUTAGE_S", 4))  # bench/faults/run.sh: 30


def run_redis_outage(fcm_server, fcm_credentials, tmp_path, outage_s: float, devices: int = 4,
                     concurrency: int = 4) -> dict:
    """The scenario, 30 s long in bench/faults/run.sh. Returns what it observed."""
    private_redis = PrivateRedis(tmp_path).start()
    server = Server(REDIS_URL=private_redis.url).start()
    worker_app = create_app(push_config(fcm_server, fcm_credentials, REDIS_URL=private_redis.url))
    try:
        tokens = [register(server.url, fcm_token=f"tok-outage-{n}") for n in range(devices)]
        warm_up = server.warm_up(tokens[0])
        stream = IntakeStream(server.url, tokens, concurrency=concurrency).start()
        time.sleep(1.5)
        private_redis.stop()
        down_at = time.monotonic()
        time.sleep(outage_s)
        private_redis.start()  # same port, empty: jobs queued before the outage are gone with it
        up_at = time.monotonic()
        time.sleep(1.5)
        outcomes = stream.stop()
        # Recovery: the relay (normally every OUTBOX_RELAY_INTERVAL_S) and workers drain the outbox.
        with worker_app.app_context():
            deadline = time.monotonic() + 60 + outage_s
            while time.monotonic() < deadline:
                relay(requeue_after_s=0)
                work(worker_app)
                db.session.rollback()
                pending = db.session.scalar(select(func.count()).select_from(Notification).where(
                    Notification.state.notin_(("sent", "failed", "skipped", "token_retired"))))
                if pending == 0:
                    break
                time.sleep(0.2)
            states = Counter(db.session.scalars(select(Notification.state)))
            references = set(db.session.scalars(select(Report.reference)))
    finally:
        server.stop()
        private_redis.stop()
    return {"outcomes": outcomes, "down_at": down_at, "up_at": up_at, "states": states,
            "references": references, "warm_up": warm_up, "messages": list(fcm_server.messages)}


@pytest.mark.slow
def test_intake_accepts_everything_while_redis_is_down_and_delivers_each_notification_once(
        push_db, fcm_server, fcm_credentials, tmp_path):
    seen = run_redis_outage(fcm_server, fcm_credentials, tmp_path, OUTAGE_S)
    outcomes = seen["outcomes"]
    during = [o for o in outcomes if seen["down_at"] < o.started < seen["up_at"]]
    print(f"{len(outcomes)} intakes ({len(during)} during the outage), slowest "
          f"{max(o.elapsed for o in outcomes):.2f} s; notifications {dict(seen['states'])}")
    assert during, "no intake was sent while Redis was down"
    assert [o.status for o in outcomes if o.status != 201] == []
    # No hang: a refused Redis connection costs milliseconds; a Redis that stops mid-call is bounded by the
    # limiter's 0.5 s and the queue's 1–2 s socket timeouts (slack for a loaded shared machine).
    assert max(o.elapsed for o in outcomes) < 10
    accepted = {o.reference for o in outcomes} | seen["warm_up"]
    assert accepted == seen["references"]
    # One notification per report (one token per device), each delivered exactly once.
    assert seen["states"] == Counter({"sent": len(accepted)})
    delivered = Counter(m.message["data"]["reference"] for m in seen["messages"] if m.status == 200)
    assert set(delivered) == accepted and set(delivered.values()) == {1}
