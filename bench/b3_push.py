"""B3 push delivery: outbox rows → RQ → 2 push worker processes → pyfcm → the local FCM test server.

* The FCM HTTP v1 test server (tests/fcm_server.py) runs in a process of its own on 127.0.0.1 and answers
  5 % of the messages with 429 (Retry-After: 1) or 503, at random (seeded);
* two push workers (`flask worker -q push`: the sends and the outbox relay) and a third worker with the scheduler
  and the `default` and `maintenance` queues, the topology docs/notifications.md recommends where push latency
  matters; a one-second back-off base so retries land within the run;
* before the burst, the indicators are brought up to date once (the reports of earlier benchmarks were just
  removed), so the scheduler's refresh has nothing left to chew on during the measurement;
* phase 1, throughput: N outbox rows committed in batches of 500 and handed to the queue as intake does
  (`enqueue_sends` after commit); messages/s from the first commit to the last delivery;
* phase 2, latency: rows committed in small batches at half that rate; end-to-end commit → delivery
  (the test server's receipt time; same machine clock), p50/p99;
* lost = rows never delivered, duplicated = rows delivered more than once (each row carries its id in the
  message data, so the server's log tells them apart).
Baselines in the same run: redis-py LPUSH/RPOP pairs per second, and the test server's own request ceiling
(wrk posting messages to it).
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (BENCH, QUICK, ROOT, BenchResult, app_env, percentile, process_tree_cpu, psql, python_exe,
                          ratio, redis_url, run_wrk, say)

PROJECT = "proxima-bench"
INJECTED = 0.05
TARGET_RATE = 500.0


# --- the FCM test server in its own process -----------------------------------------------------------------

def server_main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fcm_server import Answer, FCMTestServer

    class InjectingServer(FCMTestServer):
        inject = 0.0
        rng = random.Random(311)

        def _next_answer(self, token):
            with self._lock:
                draw = self.rng.random()
            if draw < self.inject / 2:
                return Answer.error(429, retry_after="1")
            if draw < self.inject:
                return Answer.error(503)
            return super()._next_answer(token)

    server = InjectingServer(project_id=PROJECT).start()
    credentials = server.service_account_file(tempfile.mktemp(prefix="bench-fcm-", suffix=".json"))
    print(json.dumps({"endpoint": server.endpoint, "credentials": credentials}), flush=True)
    for line in sys.stdin:
        command = line.strip().split()
        if not command:
            continue
        if command[0] == "inject":
            server.inject = float(command[1])
            print("{}", flush=True)
        elif command[0] == "reset":
            with server._lock:
                server.messages.clear()
            print("{}", flush=True)
        elif command[0] == "stats":
            with server._lock:
                messages = list(server.messages)
            by_id: dict[str, list] = {}
            for m in messages:
                bench_id = (m.message.get("data") or {}).get("bench_id")
                if bench_id:
                    by_id.setdefault(bench_id, []).append((m.status, m.at))
            print(json.dumps({"total": len(messages), "by_id": by_id}), flush=True)
        elif command[0] == "quit":
            break
    server.stop()
    os.unlink(credentials)


class ServerProcess:
    def __init__(self):
        self.proc = subprocess.Popen([python_exe(), "-m", "bench.b3_push", "server"], cwd=ROOT, env=app_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     stderr=open(tempfile.mktemp(prefix="bench-fcm-server-", suffix=".log"), "w"))
        info = json.loads(self.proc.stdout.readline())
        self.endpoint, self.credentials = info["endpoint"], info["credentials"]

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


# --- baselines ----------------------------------------------------------------------------------------------

def redis_baseline(seconds: float) -> float:
    import redis
    conn = redis.Redis.from_url(redis_url())
    key = "bench:lpush-rpop"
    conn.delete(key)
    done = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    payload = b"x" * 300
    while time.perf_counter() < deadline:
        for _ in range(100):
            conn.lpush(key, payload)
            conn.rpop(key)
        done += 100
    rate = done / (time.perf_counter() - t0)
    conn.delete(key)
    return rate


def server_ceiling(server: ServerProcess, seconds: float) -> dict:
    import urllib.parse
    import urllib.request
    form = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                   "assertion": "bench"}).encode()
    with urllib.request.urlopen(server.endpoint + "/token", data=form, timeout=5) as response:
        access = json.loads(response.read())["access_token"]
    body = json.dumps({"message": {"token": "bench-ceiling", "data": {"kind": "received", "reference": "X"},
                                   "notification": {"title": "Signalement reçu", "body": "Transmis."}}})
    fd, path = tempfile.mkstemp(suffix=".tsv")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"POST\t/v1/projects/{PROJECT}/messages:send\t{access}\t{body}\n")
    try:
        return run_wrk(server.endpoint, BENCH / "lua" / "replay.lua", 2, seconds, env={"BENCH_REQUESTS": path})
    finally:
        os.unlink(path)


# --- workers and producer ------------------------------------------------------------------------------------

def start_workers(server: ServerProcess) -> list[subprocess.Popen]:
    env = app_env(FCM_CREDENTIALS_FILE=server.credentials, FCM_PROJECT_ID=PROJECT, FCM_ENDPOINT=server.endpoint,
                  PUSH_BACKOFF_BASE_S=1, PUSH_BACKOFF_MAX_S=4, OUTBOX_RELAY_INTERVAL_S=1, LOG_LEVEL="WARNING")
    log = open(tempfile.mktemp(prefix="bench-workers-", suffix=".log"), "w")
    flask = str(Path(python_exe()).parent / "flask")
    return [subprocess.Popen([flask, "--app", "bench.wsgi_bench", "worker", *extra], cwd=ROOT, env=env,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            for extra in (["-q", "push"], ["-q", "push"], ["--with-scheduler", "-q", "default", "-q", "maintenance"])]


def stop_workers(workers) -> None:
    import signal
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(20)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait(5)


def quiesce_outbox() -> int:
    """Rows left pending by B1 (no worker ran then) are not part of this benchmark: set them aside."""
    import redis
    redis.Redis.from_url(redis_url()).flushdb()
    return int(psql("""WITH s AS (UPDATE notifications SET state = 'skipped', last_error = 'bench: left out of B3',
                                  updated_at = now()
                       WHERE state IN ('pending', 'queued', 'retrying', 'sending') RETURNING 1)
                       SELECT count(*) FROM s"""))


def templates(app, wanted: int) -> list[int]:
    """Outbox rows written by intake (B1's requests: `report_routed`; its pgbench transaction: `received`) for
    devices with a push token, used as models for new rows."""
    ids = [int(x) for x in psql(f"""SELECT id FROM notifications WHERE push_token_id IS NOT NULL
                                    AND kind IN ('report_routed', 'received')
                                    ORDER BY id DESC LIMIT {int(wanted)}""").split()]
    if ids:
        return ids
    say("  B3: no intake rows to model on (B1 did not run): creating 200 reports through the API in process")
    from bench.b1_intake import prepare
    path, _ = prepare(app, 20, 200)
    client = app.test_client()
    for line in path.read_text().splitlines():
        _, url, token, body = line.split("\t", 3)
        client.post(url, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    path.unlink()
    quiesce_outbox()
    return templates(app, wanted)


def commit_batch(conn, template_ids: list[int], size: int, offset: int) -> tuple[list[int], float]:
    """Insert `size` outbox rows modelled on intake's, each carrying its own id; returns (ids, commit time)."""
    chosen = [template_ids[(offset + i) % len(template_ids)] for i in range(size)]
    with conn.cursor() as cur:
        cur.execute("""
            INSERT INTO notifications (id, report_id, event_id, device_id, push_token_id, kind, locale, payload,
                                       urgent, state, not_before)
            SELECT nid, report_id, event_id, device_id, push_token_id, kind, locale,
                   jsonb_set(payload, '{data,bench_id}', to_jsonb(nid::text)), true, 'pending', now()
            FROM (SELECT nextval('notifications_id_seq') AS nid, n.*
                  FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(id, pos) JOIN notifications n ON n.id = t.id
                  ORDER BY t.pos) src
            RETURNING id""", (chosen,))
        ids = [r[0] for r in cur.fetchall()]
    conn.commit()
    return ids, time.time()


def dispatch(conn, ids: list[int]) -> None:
    """What intake's dispatch_after_commit does: mark the committed rows queued, commit, enqueue the sends."""
    from workers.push import enqueue_sends
    with conn.cursor() as cur:
        cur.execute("UPDATE notifications SET state = 'queued', updated_at = now() "
                    "WHERE id = ANY(%s) AND state = 'pending' AND not_before <= now() RETURNING id, attempts", (ids,))
        due = cur.fetchall()
    conn.commit()
    enqueue_sends([(i, attempts) for i, attempts in due])


def wait_delivered(server: ServerProcess, ids: set, cap_s: float, stall_s: float = 20.0) -> dict:
    """Poll the server until every row is delivered, or nothing new arrived for `stall_s`, or `cap_s` passed."""
    deadline = time.monotonic() + cap_s
    stats, last, last_change = {}, -1, time.monotonic()
    while time.monotonic() < deadline:
        stats = server.ask("stats")
        delivered = sum(1 for k, v in stats["by_id"].items() if int(k) in ids and any(s == 200 for s, _ in v))
        if delivered >= len(ids):
            break
        if delivered != last:
            last, last_change = delivered, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            break
        time.sleep(1.0)
    return stats


def analyse(stats: dict, commits: dict[int, float]) -> dict:
    firsts, dup, lost, attempts = [], 0, [], 0
    for nid, committed in commits.items():
        answers = stats["by_id"].get(str(nid), [])
        attempts += len(answers)
        ok = sorted(at for status, at in answers if status == 200)
        if not ok:
            lost.append(nid)
            continue
        if len(ok) > 1:
            dup += 1
        firsts.append((ok[0], ok[0] - committed))
    errors_answered = attempts - len(firsts) - dup
    times = [t for t, _ in firsts]
    start = min(commits.values()) if commits else 0
    span = (max(times) - start) if times else None
    t95 = sorted(times)[int(len(times) * 0.95) - 1] - start if len(times) >= 20 else None
    latencies = [lat * 1000 for _, lat in firsts]
    return {"rows": len(commits), "delivered": len(firsts), "lost": len(lost), "lost_ids": lost, "duplicated": dup,
            "injected_errors_answered": errors_answered, "span_s": span,
            "rate": len(firsts) / span if span else None,
            "rate_first_95pct": (0.95 * len(firsts)) / t95 if t95 else None,
            "latency_p50_ms": percentile(latencies, 50), "latency_p99_ms": percentile(latencies, 99),
            "latency_max_ms": max(latencies) if latencies else None}


def run(app) -> BenchResult:
    import psycopg
    from bench.common import libpq_url
    from workers.indicators import refresh_indicators
    result = BenchResult("B3", "Push delivery: outbox → 2 RQ push workers → local FCM test server")
    n = 2000 if QUICK else 10_000
    paced_s = 5 if QUICK else 15
    # Measured on the data set alone, as every benchmark: the reports B1 just wrote (tens of thousands, fresh,
    # unacknowledged) would otherwise feed the scheduler's indicator refresh and reminders during the burst.
    from bench import dataset
    removed = dataset.remove_previous_runs()
    dataset.analyze()
    set_aside = quiesce_outbox()
    say(f"  B3: {removed} reports of earlier benchmarks removed, {set_aside} outbox rows set aside; "
        f"Redis db flushed")
    server = ServerProcess()
    workers = []
    try:
        say("  B3: baselines: redis-py LPUSH/RPOP, the test server's ceiling (wrk, 2 connections)")
        redis_rate = redis_baseline(3)
        ceiling = server_ceiling(server, 5 if QUICK else 10)
        server.ask("reset")
        server.ask(f"inject {INJECTED}")
        with app.app_context():
            template_ids = templates(app, 5000)
            started = time.monotonic()
            refresh_indicators()
            say(f"  B3: indicators brought up to date in {time.monotonic() - started:.1f} s before the burst")
            workers = start_workers(server)
            time.sleep(3)  # workers connect, import, fetch their OAuth token on the first message
            conn = psycopg.connect(libpq_url())
            say(f"  B3: phase 1: {n} notifications committed in batches of 500, 5 % answered 429/503")
            commits = {}
            cpu = sum(process_tree_cpu(w.pid) for w in workers)
            for offset in range(0, n, 500):
                ids, at = commit_batch(conn, template_ids, min(500, n - offset), offset)
                dispatch(conn, ids)
                commits.update({i: at for i in ids})
            stats = wait_delivered(server, set(commits), 240 if QUICK else 600)
            burst = analyse(stats, commits)
            burst["workers_cpu_s"] = sum(process_tree_cpu(w.pid) for w in workers) - cpu
            say(f"  B3: phase 1: {burst['delivered']}/{n} delivered at {burst['rate'] or 0:.0f} msg/s, "
                f"{burst['lost']} lost, {burst['duplicated']} duplicated")
            rate = max(5.0, (burst["rate"] or 10) / 2)
            say(f"  B3: phase 2: {paced_s} s at {rate:.0f} notifications/s for commit → delivery latency")
            paced = {}
            period = 0.05
            per_batch = max(1, int(rate * period))
            t_next = time.monotonic()
            end = t_next + paced_s
            offset = n
            while time.monotonic() < end:
                ids, at = commit_batch(conn, template_ids, per_batch, offset)
                dispatch(conn, ids)
                paced.update({i: at for i in ids})
                offset += per_batch
                t_next += period
                time.sleep(max(0.0, t_next - time.monotonic()))
            stats = wait_delivered(server, set(paced), 120)
            latency = analyse(stats, paced)
            conn.close()
            states = psql(f"SELECT state, count(*) FROM notifications WHERE id >= {min(commits)} GROUP BY 1")
            lost_ids = burst["lost_ids"] + latency["lost_ids"]
            # Why a row was never answered 200: its state and error as the workers recorded them.
            lost_why = psql("SELECT state, left(coalesce(last_error, '-'), 120), count(*) FROM notifications "
                            f"WHERE id IN ({', '.join(map(str, lost_ids))}) GROUP BY 1, 2") if lost_ids else ""
    finally:
        stop_workers(workers)
        server.stop()
    result.details.update(burst=burst, paced=latency, redis_lpush_rpop_per_s=redis_rate, fcm_server_ceiling=ceiling,
                          final_states=states, lost_why=lost_why, injected_share=INJECTED)
    result.add("messages/s, 2 push workers (burst)", burst["rate"], "msg/s", "test server ceiling (wrk)",
               ceiling["rps"],
               ratio(burst["rate"], ceiling["rps"]), "≥ 500 msg/s", (burst["rate"] or 0) >= TARGET_RATE,
               note=f"{burst['delivered']}/{burst['rows']} in {burst['span_s']:.1f} s incl. retry tail; "
                    f"95 % delivered at {burst['rate_first_95pct'] or 0:.0f} msg/s")
    result.add("messages/s vs redis-py LPUSH/RPOP", burst["rate"], "msg/s", "redis-py LPUSH+RPOP pairs/s",
               redis_rate, ratio(burst["rate"], redis_rate), "information", None)
    total_lost = burst["lost"] + latency["lost"]
    total_dup = burst["duplicated"] + latency["duplicated"]
    result.add("lost / duplicated with 5 % injected 429/503", float(total_lost + total_dup), "messages", "", None, None,
               "0 lost, 0 duplicated", total_lost == 0 and total_dup == 0,
               note=f"{total_lost} lost, {total_dup} duplicated of {burst['rows'] + latency['rows']}; "
                    f"{burst['injected_errors_answered'] + latency['injected_errors_answered']} error answers "
                    f"injected and retried" + (f"; the lost: {lost_why}" if lost_why else ""))
    per_message = burst["workers_cpu_s"] * 1000 / burst["delivered"] if burst["delivered"] else None
    result.add("workers' CPU per message delivered (burst)", per_message, "ms", "", None, None, "information", None,
               note=f"{burst['workers_cpu_s']:.1f} CPU s of the 2 `flask worker` processes for {burst['delivered']} "
                    "messages, retries and the scheduler's jobs included; the test server and PostgreSQL not counted")
    result.add(f"commit → delivery p99 at {rate:.0f} msg/s", latency["latency_p99_ms"], "ms", "", None, None,
               "information", None,
               note=f"p50 {latency['latency_p50_ms'] or 0:.0f} ms, max {latency['latency_max_ms'] or 0:.0f} ms; "
                    f"the 5 % answered 429/503 wait ≥ 1 s of back-off by design")
    return result


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "server":
    server_main()
