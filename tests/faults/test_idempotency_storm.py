"""The same Idempotency-Key sent 50 times at once to a multi-process server: exactly one report."""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from models import IdempotencyRecord, Notification, Report, db
from tests.faults.support import Server, register, report_body

SENDERS = int(os.environ.get("FAULTS_IDEMPOTENCY_SENDERS", 50))


@pytest.mark.slow
def test_fifty_concurrent_retries_with_one_key_make_one_report(committed):
    server = Server(workers=3, threads=8).start()
    try:
        token = register(server.url, fcm_token="tok-idem")
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "retry-storm-0001"}
        barrier = threading.Barrier(SENDERS)

        def send(_):
            barrier.wait()
            return requests.post(server.url + "/api/v1/reports", json=report_body(3), headers=headers, timeout=60)

        with ThreadPoolExecutor(SENDERS) as pool:
            responses = list(pool.map(send, range(SENDERS)))
    finally:
        server.stop()

    assert [r.status_code for r in responses] == [201] * SENDERS, {r.status_code for r in responses}
    assert len({r.json()["reference"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in responses) == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Report)) == 1
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1
