"""Push throughput: messages per second from outbox rows to the local FCM HTTP v1 test server.

Run: .venv/bin/python -m bench.push_throughput [--messages 2000] [--workers 2] [--inject 0.05]
(database and Redis from BENCH_DATABASE_URL / BENCH_REDIS_URL, reference data already loaded).

Figures measured in the same run so that the shared machine's load affects them alike:
1. server: the test server's own ceiling, wrk with 8 kept-alive connections;
2. raw: one kept-alive requests.Session posting in a loop (what one Python client connection does);
3. backend: the pyfcm backend sending in a loop (one OAuth token, one session), no database, no RQ;
4. pipeline: outbox rows → relay → RQ → `flask worker` processes → FCM test server → outcome recorded,
   timed from the first to the last message the server accepted. With --inject, that share of the
   messages is first answered 429 (Retry-After: 1) or 503; the workers then run with the scheduler
   (retries are scheduled) until every row is final, and lost and duplicated rows are counted.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import requests
from sqlalchemy import text

from bench.common import BENCH, ROOT, app_env, make_app, run_wrk, say

sys.path.insert(0, str(ROOT))
from tests.fcm_server import Answer, FCMTestServer  # noqa: E402

MESSAGE = {"notification": {"title": "Signalement pris en compte", "body": "Bench"},
           "data": {"kind": "report_acknowledged", "reference": "PX-BENCH", "locale": "fr"}}


def server_ceiling(server: FCMTestServer, seconds: float = 5, connections: int = 8) -> float:
    """Requests/s the test server answers to wrk (C, 8 connections): the ceiling the pipeline runs under."""
    access = requests.post(server.endpoint + "/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x"}).json()["access_token"]
    fd, path = tempfile.mkstemp(suffix=".tsv")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"POST\t/v1/projects/{server.project_id}/messages:send\t{access}\t"
                 f"{json.dumps({'message': {'token': 'ceiling', **MESSAGE}})}\n")
    try:
        return run_wrk(server.endpoint, BENCH / "lua" / "replay.lua", connections, seconds,
                       env={"BENCH_REQUESTS": path})["rps"]
    finally:
        os.unlink(path)
        with server._lock:
            server.messages.clear()


def raw_rate(server: FCMTestServer, count: int) -> float:
    session = requests.Session()
    session.trust_env = False  # as the backend's session: no environment lookups at every request
    token = session.post(server.endpoint + "/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x"}).json()["access_token"]
    url = f"{server.endpoint}/v1/projects/{server.project_id}/messages:send"
    started = time.perf_counter()
    for i in range(count):
        session.post(url, json={"message": {"token": f"raw-{i}", **MESSAGE}},
                     headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    return count / (time.perf_counter() - started)


def backend_rate(server: FCMTestServer, credentials: str, count: int) -> float:
    from service.followup.push.fcm import FCMBackend
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


def pipeline_rate(server: FCMTestServer, credentials: str, count: int, workers: int,
                  inject: float = 0.0) -> tuple[float, dict]:
    from models import db
    from workers.outbox import relay
    seed_outbox(count)
    rng = random.Random(311)
    for i in range(1, count + 1):  # tokens are bench-tok-1 … bench-tok-N
        draw = rng.random()
        if draw < inject:
            server.script(f"bench-tok-{i}", Answer.error(429, retry_after="1") if draw < inject / 2
                          else Answer.error(503))
    relayed = relay(batch_size=1000)
    db.session.commit()
    env = app_env(FCM_CREDENTIALS_FILE=credentials, FCM_ENDPOINT=server.endpoint, PUSH_BACKOFF_BASE_S=1,
                  PUSH_BACKOFF_MAX_S=4, LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
    # Without injected errors every row is final after one pass: burst workers. With them, retries are
    # scheduled (enqueue_at), so the workers run with the scheduler until no row is left to send.
    extra = [["--burst"]] * workers if not inject else [["--with-scheduler"]] + [[]] * (workers - 1)
    processes = [subprocess.Popen(command + e, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True) for e in extra]
    try:
        if not inject:
            for process in processes:
                process.wait()
        else:
            deadline = time.monotonic() + 120 + count / 50
            while time.monotonic() < deadline:
                left = db.session.execute(text(
                    "SELECT count(*) FROM notifications WHERE kind = 'report_acknowledged' "
                    "AND state IN ('pending', 'queued', 'retrying', 'sending')")).scalar()
                db.session.commit()
                if not left:
                    break
                time.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)
    received = [m for m in server.messages if m.token and m.token.startswith("bench-tok-")]
    accepted = sorted(m.at for m in received if m.status == 200)
    span = accepted[-1] - received[0].at if len(accepted) > 1 else float("nan")
    per_token: dict[str, int] = {}
    for m in received:
        if m.status == 200:
            per_token[m.token] = per_token.get(m.token, 0) + 1
    states = dict(db.session.execute(text(
        "SELECT state, count(*) FROM notifications WHERE kind = 'report_acknowledged' GROUP BY state")).all())
    detail = {"relayed": relayed.enqueued, "received": len(received), "accepted": len(accepted),
              "lost": count - len(per_token), "duplicated": sum(1 for n in per_token.values() if n > 1),
              "error_answers": len(received) - len(accepted), "states": states}
    if inject and len(accepted) >= 20:
        # The retry tail waits ≥ 1 s of back-off by design; the rate of the first 95 % shows the steady state.
        t95 = accepted[int(len(accepted) * 0.95) - 1] - received[0].at
        detail["rate_first_95pct"] = round(0.95 * len(accepted) / t95)
    return len(accepted) / span, detail


def cleanup() -> None:
    from models import db
    db.session.execute(text("DELETE FROM reports WHERE routing_reason = 'bench'"))
    db.session.execute(text("DELETE FROM devices WHERE token_hash LIKE 'bench-%'"))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--inject", type=float, default=0.0, help="share of messages first answered 429/503")
    args = parser.parse_args()
    server = FCMTestServer().start()
    credentials = server.service_account_file(os.path.join(tempfile.mkdtemp(), "service-account.json"))
    app = make_app()
    with app.app_context():
        try:
            ceiling = server_ceiling(server)
            say(f"test server ceiling (wrk, 8 connections): {ceiling:,.0f} requests/s")
            raw = raw_rate(server, args.messages)
            say(f"raw requests.Session (one connection) → test server: {raw:,.0f} msg/s")
            backend = backend_rate(server, credentials, args.messages)
            say(f"pyfcm backend (one token, one session): {backend:,.0f} msg/s")
            rate, detail = pipeline_rate(server, credentials, args.messages, args.workers, args.inject)
            say(f"outbox → relay → RQ → {args.workers} worker(s) → FCM test server: {rate:,.0f} msg/s {detail}")
            say(f"token requests to the OAuth endpoint: {len(server.token_requests)} "
                f"(expected: 1 ceiling + 1 raw + 1 backend + 1 per worker process)")
        finally:
            cleanup()
            server.stop()


if __name__ == "__main__":
    main()
