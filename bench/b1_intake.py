"""B1 intake: POST /api/v1/reports under gunicorn, loaded by wrk on loopback at a fixed concurrency.

Devices are registered beforehand (each with an FCM token, so every report also writes its outbox row);
requests carry realistic locations (bench_points, drawn from commune populations) and a category mix.
Baselines in the same run, at the same concurrency:
* pgbench running the same transaction's SQL: routing lookup (units and commune), duplicate lookup,
  INSERT of the report, its two events and its outbox row, COMMIT;
* GET /healthz (a trivial JSON endpoint) on the same gunicorn.
"""
import json
import os
import random
import tempfile
import time
from pathlib import Path

from bench.common import (BENCH, QUICK, BenchResult, Gunicorn, profile_client, psql, ratio, run_pgbench, run_wrk,
                          say, warm_up)

CONNECTIONS = 8
TARGET_P99_MS = 50.0
TARGET_CPU_MS = 4.0  # CPU of the gunicorn processes per report created
# The demo profile's category mix (service/devtools/demo_data.py), with the answers a category requires.
MIX = (("nuisance_sonore", 22, {"source": "logement"}), ("stationnement_genant", 14, {}),
       ("rodeo_motorise", 12, {}), ("depot_sauvage", 12, {}), ("regroupement_genant", 10, {}),
       ("degradation", 9, {}), ("point_de_deal", 8, {}), ("vehicule_abandonne", 5, {}),
       ("violence_en_cours", 2, {}), ("autre", 6, {}))
DESCRIPTIONS = ("Plusieurs motos font des rodéos depuis une heure.", "Musique très forte, cris dans la cour.",
                "Voiture garée sur le passage piéton devant l'école.", "Encombrants déposés au pied de l'immeuble.",
                "Groupe bruyant dans le hall, comme chaque soir.")

PGBENCH_TX = """\\set i random(1, :n)
BEGIN;
SELECT lon, lat, category, device_id, push_token_id FROM bench_intake WHERE id = :i \\gset
SELECT id AS unit_id FROM units WHERE receives_reports AND active
   AND ST_Intersects(jurisdiction, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
 ORDER BY ST_Area(jurisdiction) LIMIT 1 \\gset
SELECT insee_code, name AS commune_name, departement_code FROM communes
 WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) LIMIT 1 \\gset
INSERT INTO reports (reference, category_code, description, location, accuracy_m, commune_insee, commune_name,
    departement_code, observed_at, received_at, ongoing, status, priority, emergency, unit_id, routing_reason,
    device_id, source, answers, acknowledge_due_at, dispatch_due_at, resolve_due_at, updated_at)
VALUES (substr(md5(random()::text), 1, 16), :category, 'Signalement de pgbench',
    ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 15, :insee_code, :commune_name, :departement_code, now(), now(),
    false, 'received', 3, false, :unit_id,
    'Zone de référence (pgbench)', :device_id, 'app', '{}', now() + interval '30 minutes',
    now() + interval '90 minutes', now() + interval '8 hours', now()) RETURNING id AS report_id \\gset
INSERT INTO report_events (report_id, type, at, actor_kind, unit_id, citizen_visible)
VALUES (:report_id, 'created', now(), 'citizen', :unit_id, true);
INSERT INTO report_events (report_id, type, at, actor_kind, unit_id, text, citizen_visible, data)
VALUES (:report_id, 'routed', now(), 'system', :unit_id, 'Zone de référence (pgbench)', true,
        '{"commune": "00000", "closed_units": []}') RETURNING id AS event_id \\gset
SELECT id, incident_id FROM reports WHERE category_code = :category AND id <> :report_id
   AND status IN ('received', 'acknowledged', 'dispatched') AND received_at >= now() - interval '180 minutes'
   AND location && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 0.003)
   AND ST_DWithin(location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, 150)
 ORDER BY received_at DESC LIMIT 1;
INSERT INTO notifications (report_id, event_id, device_id, push_token_id, kind, locale, payload, urgent)
VALUES (:report_id, :event_id, :device_id, :push_token_id, 'received', 'fr', '{"data": {"kind": "received",
  "reference": "pgbench", "locale": "fr"}, "notification": {"title": "Signalement reçu", "body": "Transmis."}}', false);
COMMIT;
"""


def prepare(app, devices_n: int, requests_n: int) -> tuple[Path, int]:
    """Register devices, pick routable (point, category) pairs; write wrk's request file and bench_intake."""
    from flask import current_app
    from sqlalchemy import func, select, text
    from models import Category, PushToken, db
    from service.accounts import devices
    from service.reports.routing import NoCompetentUnit, OutsideTerritory, route
    rng = random.Random(7)
    with app.app_context():
        say(f"  B1: registering {devices_n} devices (with FCM tokens)")
        registered = []
        for i in range(devices_n):
            device, secret = devices.register("android" if i % 3 else "ios", "fr" if i % 10 else "en",
                                              fcm_token=f"bench-fcm-{time.time_ns()}-{i}")
            registered.append((device.id, secret))
        tokens = {d: t for d, t in db.session.execute(
            select(PushToken.device_id, PushToken.id).where(PushToken.device_id.in_([d for d, _ in registered])))}
        forces = {c.code: c.forces for c in db.session.scalars(select(Category))}
        now = db.session.execute(select(func.now())).scalar_one()
        points = db.session.execute(text("SELECT lon, lat FROM bench_points ORDER BY id DESC LIMIT :n"),
                                    {"n": int(requests_n * 1.05)}).all()
        codes, weights = [m[0] for m in MIX], [m[1] for m in MIX]
        answers = {m[0]: m[2] for m in MIX}
        rows, skipped = [], 0
        max_m = current_app.config["ROUTING_FALLBACK_DISTANCE_M"]
        assert max_m
        for lon, lat in points:
            code = rng.choices(codes, weights)[0]
            try:
                route(lon, lat, code, forces[code], now)
            except (OutsideTerritory, NoCompetentUnit):
                skipped += 1
                continue
            device_id, secret = registered[len(rows) % len(registered)]
            rows.append((len(rows) + 1, lon, lat, code, str(device_id), tokens[device_id], secret))
            if len(rows) >= requests_n:
                break
        db.session.remove()
    say(f"  B1: {len(rows)} requests prepared ({skipped} points outside every territory left out)")
    fd, path = tempfile.mkstemp(prefix="bench-intake-", suffix=".tsv")
    with os.fdopen(fd, "w") as fh:
        for _, lon, lat, code, _, _, secret in rows:
            body = {"category": code, "description": rng.choice(DESCRIPTIONS),
                    "location": {"lat": round(lat, 6), "lon": round(lon, 6), "accuracy_m": rng.choice((8, 15, 30))},
                    "ongoing": rng.random() < 0.6, "answers": answers[code]}
            fh.write(f"POST\t/api/v1/reports\t{secret}\t{json.dumps(body, ensure_ascii=False)}\n")
    psql("DROP TABLE IF EXISTS bench_intake; CREATE TABLE bench_intake (id int PRIMARY KEY, lon float8, "
         "lat float8, category text, device_id uuid, push_token_id int)")
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
        for row in rows:
            fh.write(",".join(str(v) for v in row[:6]) + "\n")
        csv_path = fh.name
    _copy(csv_path)
    os.unlink(csv_path)
    return Path(path), len(rows)


def _copy(csv_path: str) -> None:
    import psycopg
    from bench.common import libpq_url
    with psycopg.connect(libpq_url()) as conn, conn.cursor() as cur:
        with open(csv_path) as fh, cur.copy("COPY bench_intake FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(fh.read())
        cur.execute("ANALYZE bench_intake")


def _errors(r: dict) -> int:
    return r["socket_errors"] + r["timeouts"] + r["non_2xx"]


def run(app) -> BenchResult:
    result = BenchResult("B1", "Intake POST /api/v1/reports under gunicorn")
    seconds = 6 if QUICK else 20
    trial_seconds = 10
    requests_path, n = prepare(app, 200 if QUICK else 1000, 20_000 if QUICK else 60_000)
    # Data loaded and statistics fresh before any application process starts (see dataset.py).
    psql("ANALYZE reports; ANALYZE report_events; ANALYZE notifications; ANALYZE devices; ANALYZE push_tokens")
    env = {"BENCH_REQUESTS": str(requests_path)}
    script = BENCH / "lua" / "replay.lua"
    configs = [(2, 2)] if QUICK else [(2, 2), (2, 4), (3, 2), (4, 1)]
    trials = []
    # With a single setting (QUICK) there is nothing to choose: no trial, straight to the measurement.
    for workers, threads in (configs if len(configs) > 1 else []):
        with Gunicorn(workers, threads) as server:
            warm_up(server.url, script, CONNECTIONS, env)  # routing index, pools, caches
            r = run_wrk(server.url, script, CONNECTIONS, trial_seconds, env=env)
            trials.append({"workers": workers, "threads": threads, **r})
            say(f"  B1: gunicorn {workers}×{threads}: {r['rps']:.0f} reports/s, p99 {r['p99_ms']:.1f} ms, "
                f"{_errors(r)} errors")
    good = [t for t in trials if _errors(t) == 0 and t["p99_ms"] < TARGET_P99_MS] or trials
    best = max(good, key=lambda t: t["rps"]) if trials else None
    workers, threads = (best["workers"], best["threads"]) if best else configs[0]
    result.details["gunicorn_trials"] = trials
    result.details["gunicorn_chosen"] = {"workers": workers, "threads": threads}

    say(f"  B1: measuring with gunicorn {workers} workers × {threads} threads, {CONNECTIONS} connections")
    with Gunicorn(workers, threads) as server:
        warm_up(server.url, script, CONNECTIONS, env)
        cpu = server.cpu_seconds()
        intake = run_wrk(server.url, script, CONNECTIONS, seconds, env=env)
        intake["server_cpu_s"] = server.cpu_seconds() - cpu
        health = _healthz(server.url, seconds)
        log_tail = server.errors_logged()
    say(f"  B1: pgbench, the same transaction's SQL, {CONNECTIONS} clients")
    pg = run_pgbench(PGBENCH_TX, CONNECTIONS, seconds, {"n": n})
    requests_path.unlink()
    result.details.update(intake=intake, healthz=health, pgbench=pg, connections=CONNECTIONS,
                          gunicorn_log_tail=log_tail[-1500:] if _errors(intake) else "")
    result.add(f"reports/s at {CONNECTIONS} connections", intake["rps"], "reports/s",
               f"pgbench same transaction, {CONNECTIONS} clients", pg["tps"], ratio(intake["rps"], pg["tps"]),
               "≥ 0.25 × pgbench TPS", ratio(intake["rps"], pg["tps"]) >= 0.25,
               note=f"p50 {intake['p50_ms']:.1f} ms; pgbench p50 {pg['p50_ms']:.2f} ms, p99 {pg['p99_ms']:.1f} ms")
    result.add("p99 latency", intake["p99_ms"], "ms", f"GET /healthz p99, {CONNECTIONS} connections",
               health["p99_ms"], None, "p99 < 50 ms at the measured throughput", intake["p99_ms"] < TARGET_P99_MS,
               note=f"p50 {intake['p50_ms']:.1f} ms, p90 {intake['p90_ms']:.1f} ms, max {intake['max_ms']:.0f} ms")
    result.add("errors", float(_errors(intake)), "errors", "", None, None, "0 errors", _errors(intake) == 0,
               note=f"{intake['requests']} requests, statuses {intake['statuses']}")
    result.add("trivial endpoint GET /healthz", health["rps"], "req/s", "", None,
               ratio(intake["rps"], health["rps"]), "information (ratio = intake / healthz)", None,
               note=f"p99 {health['p99_ms']:.1f} ms on the same gunicorn")
    created = intake["statuses"].get("201", 0)
    cpu_ms = intake["server_cpu_s"] * 1000 / created if created else None
    result.add("server CPU per report (gunicorn)", cpu_ms, "ms", "", None, None, "≤ 4 ms",
               cpu_ms is not None and cpu_ms <= TARGET_CPU_MS,
               note=f"{intake['server_cpu_s']:.1f} CPU s of the master and workers for {created} reports created "
                    f"({intake['server_cpu_s'] / intake['duration_s']:.2f} cores); PostgreSQL and Redis not counted; "
                    f"wrk {100 * intake['generator_cpu_share']:.0f} % of a core")
    if any(c.passed is False for c in result.checks):
        say("  B1: a target was missed: profiling the intake view in process (pyinstrument)")
        with app.app_context():
            result.details["profile"] = profile(app, 60 if QUICK else 400)
    return result


def profile(app, requests_n: int = 300) -> str:
    """Per-request cost, SQL round trips and pyinstrument top frames of the intake view, in process."""
    requests_path, _ = prepare(app, 20, requests_n)
    requests = []
    for line in requests_path.read_text().splitlines():
        _, path, token, body = line.split("\t", 3)
        requests.append(("POST", path, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                         body))
    requests_path.unlink()
    return profile_client(app, requests, lines=90)


def _healthz(url: str, seconds: float) -> dict:
    fd, path = tempfile.mkstemp(suffix=".tsv")
    with os.fdopen(fd, "w") as fh:
        fh.write("GET\t/healthz\t-\t-\n")
    try:
        return run_wrk(url, BENCH / "lua" / "replay.lua", CONNECTIONS, seconds, env={"BENCH_REQUESTS": path})
    finally:
        os.unlink(path)
