"""Scaling run on the `make cluster` topology: what the scale-out pieces give and cost on this machine.

Run (cluster up): .venv/bin/python -m bench.scaling [--quick]   → bench/results/scaling.json and scaling.md

1. Intake throughput with 1, 2 and 4 gunicorn processes (gthread, 4 threads each), DATABASE_URL straight to
   the primary and through PgBouncer (transaction mode); wrk replaying prepared intakes at 8 connections for
   every setting (equal concurrency: figures at different concurrencies are not comparable here).
2. The dashboard's report list (`/console/tableau-de-bord/signalements`, SQL on every request) p50/p99 from a
   gunicorn of its own, reads on the replica, while wrk loads intake on the primary; the same with the replica
   switched off (reads on the primary) as the baseline.
3. Replica lag during that load: `pg_stat_replication.replay_lag` and the replay distance in bytes, sampled on
   the primary every 0.25 s.
4. Sentinel failover: the Redis master killed during an intake stream on both cluster web instances; time
   until the Sentinels name a new master, intakes refused, reports lost, notifications lost or sent twice
   (counted at the cluster's FCM test server).

The cluster's own web processes and workers keep running: the workers push every intake's notification to
the FCM test server during the run, as they would in production. Data are loaded and analysed before any
gunicorn of the run starts.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from bench.common import (BENCH, ROOT, Gunicorn, machine_info, percentile, run_wrk, say, warm_up)

sys.path.insert(0, str(ROOT))
from tests.cluster.conftest import read_env  # noqa: E402

CONNECTIONS = 8
READERS = 2
WEB_PROCESSES = (1, 2, 4)
THREADS = 4
CLUSTER_DIR = ROOT / "var" / "cluster"
RESULTS = BENCH / "results"


def cluster_env() -> dict:
    path = CLUSTER_DIR / "cluster.env"
    if not path.exists():
        raise SystemExit("the cluster is not running: make cluster")
    return read_env(str(path))


def server_env(cluster: dict, through_pgbouncer: bool, replica: bool) -> dict:
    """Environment of a gunicorn of this run (bench/wsgi_bench.py: abuse limits out of reach, since the load
    comes from one address), on the cluster's database and Redis (through the Sentinels)."""
    return {
        "DATABASE_URL": cluster["DATABASE_URL"] if through_pgbouncer else cluster["DATABASE_APP_DIRECT_URL"],
        "DATABASE_PGBOUNCER": "1" if through_pgbouncer else "0",
        "DATABASE_REPLICA_URL": cluster["DATABASE_REPLICA_URL"] if replica else "",
        "REPLICA_MAX_LAG_S": cluster["REPLICA_MAX_LAG_S"],
        "REDIS_URL": cluster["REDIS_URL"], "REDIS_SENTINELS": cluster["REDIS_SENTINELS"],
        "REDIS_SENTINEL_MASTER": cluster["REDIS_SENTINEL_MASTER"],
        "FCM_CREDENTIALS_FILE": cluster["FCM_CREDENTIALS_FILE"], "FCM_ENDPOINT": cluster["FCM_ENDPOINT"],
        "SECRET_KEY": "cluster-not-secret",
    }


def psql(cluster: dict, sql: str) -> str:
    url = cluster["DATABASE_PRIMARY_DIRECT_URL"].replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", url, "-c", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


# --- 1. intake throughput ----------------------------------------------------------------------------------

def prepare_intakes(cluster: dict, devices_n: int, requests_n: int) -> Path:
    """Register devices (with FCM tokens) and write wrk's request file from demo report locations."""
    from bench.b1_intake import DESCRIPTIONS, MIX
    from service import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": cluster["DATABASE_PRIMARY_DIRECT_URL"],
                      "REDIS_URL": cluster["REDIS_URL"], "REDIS_SENTINELS": cluster["REDIS_SENTINELS"]})
    rng = random.Random(16)
    with app.app_context():
        from sqlalchemy import text
        from models import db
        from service.accounts import devices
        secrets = [devices.register("android", "fr", fcm_token=f"bench-scaling-{time.time_ns()}-{i}")[1]
                   for i in range(devices_n)]
        points = db.session.execute(text("SELECT ST_X(location) AS lon, ST_Y(location) AS lat FROM reports "
                                         "WHERE status <> 'held' ORDER BY random() LIMIT :n"), {"n": requests_n}).all()
        db.session.remove()
    codes, weights = [m[0] for m in MIX], [m[1] for m in MIX]
    answers = {m[0]: m[2] for m in MIX}
    fd, path = tempfile.mkstemp(prefix="bench-scaling-", suffix=".tsv")
    with os.fdopen(fd, "w") as fh:
        for i, point in enumerate(points):
            code = rng.choices(codes, weights)[0]
            body = {"category": code, "description": rng.choice(DESCRIPTIONS),
                    "location": {"lat": round(point.lat, 6), "lon": round(point.lon, 6), "accuracy_m": 15},
                    "ongoing": True, "answers": answers[code]}
            fh.write(f"POST\t/api/v1/reports\t{secrets[i % len(secrets)]}\t{json.dumps(body, ensure_ascii=False)}\n")
    return Path(path)


def intake_throughput(cluster: dict, requests_path: Path, seconds: float) -> list[dict]:
    runs = []
    env = {"BENCH_REQUESTS": str(requests_path)}
    script = BENCH / "lua" / "replay.lua"
    for through_pgbouncer in (False, True):
        for processes in WEB_PROCESSES:
            with Gunicorn(processes, THREADS, **server_env(cluster, through_pgbouncer, replica=False)) as server:
                warm_up(server.url, script, CONNECTIONS, env)
                r = run_wrk(server.url, script, CONNECTIONS, seconds, env=env)
            errors = r["socket_errors"] + r["timeouts"] + r["non_2xx"]
            runs.append({"processes": processes, "pgbouncer": through_pgbouncer, **r, "errors": errors})
            say(f"  intake, {processes} process(es), {'PgBouncer' if through_pgbouncer else 'direct'}: "
                f"{r['rps']:.0f} reports/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, {errors} errors")
    return runs


# --- 2 and 3. dashboard on the replica under intake load, and the replica's lag --------------------------

def console_session(base: str) -> requests.Session:
    accounts = (CLUSTER_DIR / "demo-accounts.txt").read_text().splitlines()
    email, password = next(line.split()[1:3] for line in accounts if line.split()[:1] == ["admin"])
    http = requests.Session()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', http.get(base + "/console/login").text).group(1)
    http.post(base + "/console/login", data={"csrf_token": csrf, "email": email, "password": password},
              allow_redirects=False).raise_for_status()
    return http


def read_dashboard(base: str, stop: threading.Event, latencies: list[float], errors: list[int]) -> None:
    http = console_session(base)
    rng = random.Random(threading.get_ident())
    categories = ["", "nuisance_sonore", "rodeo_motorise", "depot_sauvage", "point_de_deal"]
    while not stop.is_set():
        started = time.perf_counter()
        response = http.get(base + "/console/tableau-de-bord/signalements",
                            params={"page": rng.randint(1, 5), "category_code": rng.choice(categories)}, timeout=60)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            errors.append(response.status_code)


def sample_lag(cluster: dict, stop: threading.Event, samples: list[dict]) -> None:
    import psycopg
    url = cluster["DATABASE_PRIMARY_DIRECT_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            row = conn.execute("SELECT extract(epoch FROM replay_lag), "
                               "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication").fetchone()
            if row:
                samples.append({"replay_lag_s": float(row[0] or 0), "replay_bytes": int(row[1] or 0)})
            time.sleep(0.25)


def dashboard_under_load(cluster: dict, requests_path: Path, seconds: float) -> list[dict]:
    runs = []
    env = {"BENCH_REQUESTS": str(requests_path)}
    script = BENCH / "lua" / "replay.lua"
    with Gunicorn(2, THREADS, **server_env(cluster, True, replica=False)) as intake:
        warm_up(intake.url, script, CONNECTIONS, env)
        for replica in (False, True):
            with Gunicorn(1, THREADS, **server_env(cluster, True, replica=replica)) as dashboard:
                for _ in range(5):  # pools, caches, the replica's lag measurement
                    console_session(dashboard.url).get(dashboard.url + "/console/tableau-de-bord/signalements")
                stop, latencies, errors, lag = threading.Event(), [], [], []
                threads = [threading.Thread(target=read_dashboard, args=(dashboard.url, stop, latencies, errors))
                           for _ in range(READERS)] + [threading.Thread(target=sample_lag, args=(cluster, stop, lag))]
                for thread in threads:
                    thread.start()
                load = run_wrk(intake.url, script, CONNECTIONS, seconds, env=env)
                stop.set()
                for thread in threads:
                    thread.join(120)
            run = {"reads_on": "replica" if replica else "primary", "readers": READERS, "requests": len(latencies),
                   "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "errors": len(errors),
                   "intake_rps": load["rps"], "intake_p99_ms": load["p99_ms"],
                   "lag_samples": len(lag), "replay_lag_max_s": max((s["replay_lag_s"] for s in lag), default=None),
                   "replay_lag_p99_s": percentile([s["replay_lag_s"] for s in lag], 99),
                   "replay_bytes_max": max((s["replay_bytes"] for s in lag), default=None)}
            runs.append(run)
            say(f"  dashboard list on the {run['reads_on']}: p50 {run['p50_ms']:.0f} ms, p99 {run['p99_ms']:.0f} ms "
                f"({run['requests']} requests, {run['errors']} errors) while intake ran at {load['rps']:.0f}/s; "
                f"replay lag max {run['replay_lag_max_s']} s, {run['replay_bytes_max']} bytes behind at most")
    return runs


# --- 4. Sentinel failover ----------------------------------------------------------------------------------

def failover(cluster: dict) -> dict:
    import signal
    from uuid import uuid4

    import psycopg
    from redis.sentinel import Sentinel

    from service.platform.redis_client import sentinel_addresses
    from sqlalchemy import create_engine

    from tests.cluster.test_sentinel_failover import (RotatingIntakes, _delivered, _restart_as_replica,
                                                      requeue_lost_jobs, wait_until_only)
    from tests.faults.support import register

    name = cluster["REDIS_SENTINEL_MASTER"]
    sentinel = Sentinel(sentinel_addresses(cluster["REDIS_SENTINELS"]), socket_timeout=1)
    old = sentinel.discover_master(name)
    bases = cluster["WEB_URLS"].split(",")
    streams = [RotatingIntakes(base, [register(base, fcm_token=f"bench-failover-{uuid4().hex}") for _ in range(40)])
               .start() for base in bases]
    time.sleep(3)
    os.kill(int((CLUSTER_DIR / f"redis-{old[1]}" / "redis.pid").read_text()), signal.SIGKILL)
    killed = time.monotonic()
    new = old
    while new == old and time.monotonic() - killed < 60:
        time.sleep(0.05)
        try:
            new = sentinel.discover_master(name)
        except Exception:  # noqa: BLE001 — a Sentinel between two states: ask again
            pass
    elected_s = time.monotonic() - killed
    time.sleep(5)
    outcomes = [o for s in streams for o in s.stop()]
    _restart_as_replica(old[1], new)
    accepted = {o[2] for o in outcomes if o[1] == 201}
    url = cluster["DATABASE_PRIMARY_DIRECT_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        stored = {r[0] for r in conn.execute("SELECT reference FROM reports WHERE reference = ANY(%s)",
                                             [list(accepted)])}
    primary = create_engine(cluster["DATABASE_PRIMARY_DIRECT_URL"])
    states = wait_until_only(primary, accepted, {"sent"}, timeout=60)
    waiting_for_lost_job = states.get("queued", 0)
    if set(states) != {"sent"}:
        # Jobs gone with the old master: the relay enqueues them again REQUEUE_AFTER_S later; run it now.
        requeue_lost_jobs(cluster)
        states = wait_until_only(primary, accepted, {"sent"}, timeout=120)
    primary.dispose()
    drained_s = time.monotonic() - killed
    time.sleep(1)
    delivered = _delivered(cluster["FCM_RECEIVED_LOG"], accepted)
    result = {"old_master": list(old), "new_master": list(new), "elected_after_s": round(elected_s, 2),
              "intakes": len(outcomes), "refused": len(outcomes) - len(accepted),
              "reports_lost": len(accepted - stored), "notification_states": dict(states),
              "notifications_lost": len(accepted - set(delivered)),
              "notifications_twice": sum(1 for n in delivered.values() if n > 1),
              "waiting_for_a_lost_job": waiting_for_lost_job,
              "all_delivered_after_kill_s": round(drained_s, 1)}
    say(f"  failover: {result}")
    return result


# --- report ------------------------------------------------------------------------------------------------

def write_results(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scaling.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    lines = [f"# Scaling run ({results['started_at']}, commit {(results['machine'].get('git_commit') or '?')[:7]})", "",
             f"Machine: {results['machine'].get('cpu_model', '?')}, {results['machine'].get('cores', '?')} cores, "
             f"load average at start {', '.join(f'{x:.1f}' for x in results['machine']['load_average_at_start'])} "
             "(shared with other engineers' work): figures are noisy; compare only within this run.", "",
             f"## Intake throughput, wrk at {CONNECTIONS} connections (gthread, {THREADS} threads per process)", "",
             "| web processes | database | reports/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|---|"]
    for r in results["intake"]:
        lines.append(f"| {r['processes']} | {'PgBouncer' if r['pgbouncer'] else 'direct'} | {r['rps']:.0f} | "
                     f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} |")
    lines += ["", f"## Dashboard report list under intake load ({READERS} readers; intake wrk {CONNECTIONS} "
              "connections through PgBouncer)", "",
              "| reads on | requests | p50 ms | p99 ms | errors | intake reports/s | replay lag max s | "
              "replay lag p99 s | bytes behind max |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results["dashboard"]:
        lines.append(f"| {r['reads_on']} | {r['requests']} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']} | "
                     f"{r['intake_rps']:.0f} | {r['replay_lag_max_s']:.3f} | {r['replay_lag_p99_s']:.3f} | "
                     f"{r['replay_bytes_max']} |")
    f = results["failover"]
    lines += ["", "## Sentinel failover (Redis master killed with SIGKILL under intake load)", "",
              f"* new master named by the Sentinels {f['elected_after_s']} s after the kill "
              "(down-after-milliseconds 2000)",
              f"* {f['intakes']} intakes during the run, {f['refused']} refused, {f['reports_lost']} reports lost",
              f"* notifications: {f['notification_states']}; lost {f['notifications_lost']}, "
              f"sent twice {f['notifications_twice']}; "
              f"all delivered {f['all_delivered_after_kill_s']} s after the kill; "
              f"{f.get('waiting_for_a_lost_job', 0)} waited for a job lost with the old master (enqueued again "
              "by the relay, run at once)",
              ""]
    (RESULTS / "scaling.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter loads (6 s instead of 20 s)")
    options = parser.parse_args()
    seconds = 6 if options.quick else 20
    cluster = cluster_env()
    os.environ.update(BENCH_DATABASE_URL=cluster["DATABASE_PRIMARY_DIRECT_URL"],
                      BENCH_REDIS_URL=cluster["REDIS_URL"])
    results = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_info(),
               "connections": CONNECTIONS, "seconds": seconds}
    say("scaling: preparing intakes (devices, locations), then ANALYZE before any gunicorn starts")
    requests_path = prepare_intakes(cluster, 300, 20_000)
    psql(cluster, "ANALYZE")
    try:
        say("scaling: intake throughput")
        results["intake"] = intake_throughput(cluster, requests_path, seconds)
        say("scaling: dashboard on the replica while intake loads the primary")
        results["dashboard"] = dashboard_under_load(cluster, requests_path, seconds)
    finally:
        requests_path.unlink()
    say("scaling: Sentinel failover")
    results["failover"] = failover(cluster)
    write_results(results)
    say(f"scaling: results in {RESULTS / 'scaling.md'}")


if __name__ == "__main__":
    main()
