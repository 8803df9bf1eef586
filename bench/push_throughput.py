"""Push throughput: messages per second from outbox rows to the local FCM HTTP v1 test server.

Run: .venv/bin/python -m bench.push_throughput [--messages 2000] [--workers 2]
(database and Redis from BENCH_DATABASE_URL / BENCH_REDIS_URL, reference data already loaded).

Three figures, measured in the same run so that the shared machine's load affects them alike:
1. raw: one kept-alive requests.Session posting to the test server (the server's own ceiling);
2. backend: the pyfcm backend sending in a loop (one OAuth token, one session), no database, no RQ;
3. pipeline: outbox rows → relay → RQ → `flask worker` processes → FCM test server → outcome recorded,
   timed from the first to the last message the server received.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import requests
from sqlalchemy import text

from bench.common import ROOT, app_env, make_app, say

sys.path.insert(0, str(ROOT))
from tests.fcm_server import FCMTestServer  # noqa: E402

MESSAGE = {"notification": {"title": "Signalement pris en compte", "body": "Bench"},
           "data": {"kind": "report_acknowledged", "reference": "PX-BENCH", "locale": "fr"}}


def raw_rate(server: FCMTestServer, count: int) -> float:
    session = requests.Session()
    token = session.post(server.endpoint + "/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x"}).json()["access_token"]
    url = f"{server.endpoint}/v1/projects/{server.project_id}/messages:send"
    started = time.perf_counter()
    for i in range(count):
        session.post(url, json={"message": {"token": f"raw-{i}", **MESSAGE}},
                     headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    return count / (time.perf_counter() - started)


def backend_rate(server: FCMTestServer, credentials: str, count: int) -> float:
    from service.push.fcm import FCMBackend
    backend = FCMBackend.from_service_account_file(credentials, None, server.endpoint, timeout_s=10)
    backend.send("warm-up", MESSAGE)
    started = time.perf_counter()
    for i in range(count):
        backend.send(f"backend-{i}", MESSAGE)
    return count / (time.perf_counter() - started)


def seed_outbox(count: int) -> None:
    """`count` devices with one token each, one report each and one pending notification each."""
    from models import db
    db.session.execute(text("""
        WITH unit AS (SELECT id, departement_code FROM units WHERE receives_reports ORDER BY id LIMIT 1),
        devs AS (
            INSERT INTO devices (id, token_hash, platform)
            SELECT gen_random_uuid(), 'bench-' || g || '-' || md5(random()::text), 'android'
            FROM generate_series(1, :n) g RETURNING id),
        numbered AS (SELECT id, row_number() OVER () AS g FROM devs),
        toks AS (
            INSERT INTO push_tokens (device_id, token) SELECT id, 'bench-tok-' || g FROM numbered
            RETURNING id, device_id),
        reps AS (
            INSERT INTO reports (reference, category_code, location, observed_at, priority, unit_id,
                                 routing_reason, device_id, acknowledge_due_at, dispatch_due_at, resolve_due_at)
            SELECT 'PX-B' || substr(md5(random()::text), 1, 9), 'degradation',
                   ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326), now(), 4, unit.id, 'bench', n.id,
                   now() + interval '4 hours', now() + interval '1 day', now() + interval '7 days'
            FROM numbered n, unit RETURNING id, device_id)
        INSERT INTO notifications (report_id, device_id, push_token_id, kind, payload)
        SELECT reps.id, reps.device_id, toks.id, 'report_acknowledged', CAST(:payload AS jsonb)
        FROM reps JOIN toks USING (device_id)"""), {"n": count, "payload": __import__("json").dumps(MESSAGE)})
    db.session.commit()


def pipeline_rate(server: FCMTestServer, credentials: str, count: int, workers: int) -> tuple[float, dict]:
    from models import db
    from workers.outbox import relay
    seed_outbox(count)
    relayed = relay(batch_size=1000)
    env = app_env(FCM_CREDENTIALS_FILE=credentials, FCM_ENDPOINT=server.endpoint)
    processes = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(workers)]
    for process in processes:
        process.wait()
    received = [m for m in server.messages if m.token and m.token.startswith("bench-tok-")]
    span = received[-1].at - received[0].at if len(received) > 1 else float("nan")
    states = dict(db.session.execute(text(
        "SELECT state, count(*) FROM notifications WHERE kind = 'report_acknowledged' GROUP BY state")).all())
    return len(received) / span, {"relayed": relayed.enqueued, "received": len(received), "states": states}


def cleanup() -> None:
    from models import db
    db.session.execute(text("DELETE FROM reports WHERE routing_reason = 'bench'"))
    db.session.execute(text("DELETE FROM devices WHERE token_hash LIKE 'bench-%'"))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    server = FCMTestServer().start()
    credentials = server.service_account_file(os.path.join(tempfile.mkdtemp(), "service-account.json"))
    app = make_app()
    with app.app_context():
        try:
            raw = raw_rate(server, args.messages)
            say(f"raw requests.Session → test server: {raw:,.0f} msg/s")
            backend = backend_rate(server, credentials, args.messages)
            say(f"pyfcm backend (one token, one session): {backend:,.0f} msg/s")
            rate, detail = pipeline_rate(server, credentials, args.messages, args.workers)
            say(f"outbox → relay → RQ → {args.workers} worker(s) → FCM test server: {rate:,.0f} msg/s {detail}")
            say(f"token requests to the OAuth endpoint: {len(server.token_requests)} "
                f"(expected: 1 raw + 1 backend + 1 per worker process)")
        finally:
            cleanup()
            server.stop()


if __name__ == "__main__":
    main()
