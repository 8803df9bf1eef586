"""The Redis master killed while both web instances take intakes: the Sentinels elect the replica, the web
processes, the limiter, RQ and the scheduler follow it; no report is lost and every notification reaches the
FCM test server exactly once.

Replication is asynchronous: a job enqueued just before the kill may be gone with the old master. Its outbox
row stays `queued` until the relay enqueues it again, REQUEUE_AFTER_S (10 min) later; the test runs that relay
at once (`requeue_after_s=0`, as if the time had passed), which also enqueues a second job for rows whose job
still exists: the claim must keep those from being sent twice."""
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import redis
import requests
from redis.sentinel import Sentinel
from sqlalchemy import text

from service import create_app
from service.platform.redis_client import sentinel_addresses
from tests.faults.support import register, report_body

DEVICES_PER_INSTANCE = 40  # each used at most 5 times during the run: under the limit of 6 reports a minute
LOAD_BEFORE_S, LOAD_AFTER_S = 3.0, 5.0
CLUSTER_DIR = Path(__file__).resolve().parents[2] / "var" / "cluster"


class RotatingIntakes:
    """Threads sending intakes to one web instance, each request from the next device of a pool."""

    def __init__(self, base: str, tokens: list[str], threads: int = 2, pause_s: float = 0.15):
        self.base, self.tokens, self.pause_s = base, tokens, pause_s
        self.outcomes: list[tuple[float, int, str | None]] = []  # (started, status, reference)
        self._next = iter(range(10**9))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> "RotatingIntakes":
        for thread in self._threads:
            thread.start()
        return self

    def _run(self) -> None:
        http = requests.Session()
        while not self._stop.is_set():
            with self._lock:
                i = next(self._next)
            started = time.monotonic()
            try:
                response = http.post(self.base + "/api/v1/reports", json=report_body(i), timeout=30, headers={
                    "Authorization": f"Bearer {self.tokens[i % len(self.tokens)]}",
                    "Idempotency-Key": uuid.uuid4().hex})
                outcome = (started, response.status_code,
                           response.json().get("reference") if response.status_code == 201 else response.text[:200])
            except requests.RequestException as exc:
                outcome = (started, 0, exc.__class__.__name__)
            with self._lock:
                self.outcomes.append(outcome)
            time.sleep(self.pause_s)

    def stop(self) -> list[tuple[float, int, str | None]]:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return self.outcomes


def _restart_as_replica(port: int, master: tuple[str, int]) -> None:
    """The killed server back, empty, as a replica of the new master (as scripts/cluster.sh starts Redis)."""
    folder = CLUSTER_DIR / f"redis-{port}"
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                    "--appendonly", "no", "--dir", str(folder), "--pidfile", str(folder / "redis.pid"),
                    "--logfile", str(folder / "redis.log"), "--replicaof", master[0], str(master[1])], check=True)


def notification_states(primary, references: set[str]) -> Counter:
    with primary.connect() as conn:
        return Counter(dict(conn.execute(text("""
            SELECT n.state, count(*) FROM notifications n JOIN reports r ON r.id = n.report_id
            WHERE r.reference = ANY(:refs) GROUP BY n.state"""), {"refs": list(references)}).all()))


def wait_until_only(primary, references: set[str], states: set[str], timeout: float) -> Counter:
    deadline = time.monotonic() + timeout
    while True:
        seen = notification_states(primary, references)
        if set(seen) <= states or time.monotonic() > deadline:
            return seen
        time.sleep(0.5)


def requeue_lost_jobs(cluster: dict) -> int:
    """The outbox relay as it runs REQUEUE_AFTER_S after a lost job, now; returns how many rows it enqueued."""
    from models import db
    from workers.outbox import relay
    app = create_app({"SQLALCHEMY_DATABASE_URI": cluster["DATABASE_PRIMARY_DIRECT_URL"], "DATABASE_REPLICA_URL": None,
                      "REDIS_URL": cluster["REDIS_URL"], "REDIS_SENTINELS": cluster["REDIS_SENTINELS"],
                      "REDIS_SENTINEL_MASTER": cluster["REDIS_SENTINEL_MASTER"]})
    with app.app_context():
        enqueued = relay(requeue_after_s=0).enqueued
        db.session.remove()
    return enqueued


def _delivered(log_path: str, references: set[str]) -> Counter:
    counts = Counter()
    with open(log_path, encoding="utf-8") as log:
        for line in log:
            reference = json.loads(line)["data"].get("reference")
            if reference in references:
                counts[reference] += 1
    return counts


def test_killing_the_redis_master_under_load_loses_nothing_and_sends_nothing_twice(cluster, primary, web_urls):
    name = cluster["REDIS_SENTINEL_MASTER"]
    sentinel = Sentinel(sentinel_addresses(cluster["REDIS_SENTINELS"]), socket_timeout=1)
    old_master = sentinel.discover_master(name)
    tokens = {base: [register(base, fcm_token=f"tok-failover-{uuid.uuid4().hex}") for _ in range(DEVICES_PER_INSTANCE)]
              for base in web_urls}
    streams = [RotatingIntakes(base, tokens[base]).start() for base in web_urls]
    killed = False
    try:
        time.sleep(LOAD_BEFORE_S)
        pid = int((CLUSTER_DIR / f"redis-{old_master[1]}" / "redis.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        killed_at, killed = time.monotonic(), True
        new_master = old_master
        while new_master == old_master and time.monotonic() - killed_at < 60:
            time.sleep(0.1)
            try:
                new_master = sentinel.discover_master(name)
            except redis.exceptions.RedisError:
                pass
        elected_after = time.monotonic() - killed_at
        time.sleep(LOAD_AFTER_S)
    finally:
        outcomes = [o for stream in streams for o in stream.stop()]
        if killed:
            _restart_as_replica(old_master[1], sentinel.discover_master(name))
    print(f"failover: new master {new_master} elected {elected_after:.1f} s after the kill; {len(outcomes)} intakes")
    assert new_master != old_master, "no new master elected"
    assert [o for o in outcomes if o[1] != 201] == []
    assert any(o[0] > killed_at for o in outcomes) and any(o[0] > killed_at + elected_after for o in outcomes)
    accepted = {o[2] for o in outcomes}

    with primary.connect() as conn:  # no report lost
        stored = set(conn.execute(text("SELECT reference FROM reports WHERE reference = ANY(:refs)"),
                                  {"refs": list(accepted)}).scalars())
    assert stored == accepted
    states = wait_until_only(primary, accepted, {"sent"}, timeout=45)
    if set(states) != {"sent"}:  # the rest waits `queued` for a job lost with the old master
        assert set(states) <= {"sent", "queued"}, states
        print(f"rows waiting for a lost job: {states['queued']}; enqueued again: {requeue_lost_jobs(cluster)}")
        states = wait_until_only(primary, accepted, {"sent"}, timeout=120)
    assert states == Counter({"sent": len(accepted)})
    time.sleep(1)  # the test server writes its log every 0.2 s
    delivered = _delivered(cluster["FCM_RECEIVED_LOG"], accepted)
    assert set(delivered) == accepted and set(delivered.values()) == {1}  # each exactly once
