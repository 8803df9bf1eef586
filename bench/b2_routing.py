"""B2 routing: the in-process lookup (in-memory spatial index) and GET /api/v1/coverage, against raw PostGIS.

* in-process: `service.reports.routing.units_at` + `commune_at` (what `route()` needs for one point), in one process
  and in one process per core, over realistic points; also the whole `route()` decision;
* baseline: the same two `ST_Intersects` lookups in one SQL statement run by pgbench at the same concurrency
  (one client per in-process process);
* agreement: for every point, the index's units and commune against PostGIS's, computed set-based in SQL;
* HTTP: GET /api/v1/coverage under gunicorn, loaded by wrk on loopback; p99.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (BENCH, QUICK, ROOT, BenchResult, Gunicorn, app_env, percentile, python_exe,
                          profile_client, ratio, run_pgbench, run_wrk, say, warm_up)

LOOKUP_SQL = """\\set id random(1, :npoints)
SELECT (SELECT array_agg(u.id) FROM units u
        WHERE u.receives_reports AND u.active AND ST_Intersects(u.jurisdiction, p.geom)),
       (SELECT c.insee_code FROM communes c WHERE ST_Intersects(c.geom, p.geom) LIMIT 1)
FROM bench_points p WHERE p.id = :id;
"""

CATEGORIES = ("nuisance_sonore", "stationnement_genant", "rodeo_motorise", "depot_sauvage", "regroupement_genant",
              "degradation", "point_de_deal", "vehicule_abandonne", "violence_en_cours", "autre")


def load_points(limit: int | None = None) -> list[tuple[int, float, float]]:
    from models import db
    from sqlalchemy import text
    sql = "SELECT id, lon, lat FROM bench_points ORDER BY id" + (f" LIMIT {int(limit)}" if limit else "")
    return [tuple(r) for r in db.session.execute(text(sql)).all()]


def lookup_loop(points, seconds: float | None = None) -> tuple[int, float, list[float]]:
    """Route points through units_at + commune_at; returns (lookups, wall seconds, per-lookup µs)."""
    from flask import current_app
    from service.reports.routing import commune_at, units_at
    max_m = current_app.config["ROUTING_FALLBACK_DISTANCE_M"]
    clock = time.perf_counter_ns
    timings = []
    done = 0
    started = time.perf_counter()
    deadline = started + seconds if seconds else None
    while True:
        for _, lon, lat in points:
            t0 = clock()
            units_at(lon, lat, max_m)
            commune_at(lon, lat, max_m)
            timings.append((clock() - t0) / 1000)
            done += 1
            if deadline and (done & 255) == 0 and time.perf_counter() > deadline:
                return done, time.perf_counter() - started, timings
        if not deadline:
            return done, time.perf_counter() - started, timings


def route_loop(points) -> tuple[int, float, list[float]]:
    from flask import current_app
    from sqlalchemy import func, select
    from models import Category, db
    from service.reports.routing import NoCompetentUnit, OutsideTerritory, route
    forces = {c.code: c.forces for c in db.session.scalars(select(Category))}
    now = db.session.execute(select(func.now())).scalar_one()
    clock = time.perf_counter_ns
    timings = []
    refused = 0
    started = time.perf_counter()
    for i, (_, lon, lat) in enumerate(points):
        code = CATEGORIES[i % len(CATEGORIES)]
        t0 = clock()
        try:
            route(lon, lat, code, forces[code], now)
        except (OutsideTerritory, NoCompetentUnit):
            refused += 1
        timings.append((clock() - t0) / 1000)
    assert current_app
    return len(points), time.perf_counter() - started, timings


def worker_main(seconds: float, limit: int) -> None:
    """Child process: warm the index, say ready, wait for 'go', loop for `seconds`, print the count."""
    from bench.common import make_app
    app = make_app()
    with app.app_context():
        points = load_points(limit)
        lookup_loop(points[:200])
        print("ready", flush=True)
        sys.stdin.readline()
        done, wall, _ = lookup_loop(points, seconds)
        print(json.dumps({"lookups": done, "seconds": wall}), flush=True)


def parallel_lookups(processes: int, seconds: float, limit: int) -> dict:
    children = [subprocess.Popen([python_exe(), "-m", "bench.b2_routing", "worker", str(seconds), str(limit)],
                                 cwd=ROOT, env=app_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    try:
        for child in children:
            line = child.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"routing worker failed to start: {line!r}")
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [json.loads(child.stdout.readline()) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
            child.wait()
    rate = sum(r["lookups"] / r["seconds"] for r in results)
    return {"processes": processes, "lookups_per_s": rate, "per_process": results}


def agreement(points_n: int) -> dict:
    """Index vs PostGIS on every point of bench_points[:points_n] (units as sets, commune as the lowest code)."""
    from models import db
    from sqlalchemy import text
    from service.reports.routing import _index
    postgis = db.session.execute(text("""
        SELECT p.id, p.lon, p.lat,
               ARRAY(SELECT u.id FROM units u WHERE u.receives_reports AND u.active
                     AND ST_Intersects(u.jurisdiction, p.geom) ORDER BY u.id) AS units,
               (SELECT min(c.insee_code) FROM communes c WHERE ST_Intersects(c.geom, p.geom)) AS commune
        FROM bench_points p WHERE p.id <= :n ORDER BY p.id"""), {"n": points_n}).all()
    index = _index()
    unit_mismatch, commune_mismatch, examples, empty = 0, 0, [], 0
    for pid, lon, lat, units, commune in postgis:
        mine_units = sorted(r[0] for r in index.units_at(lon, lat))
        hit = index.commune_at(lon, lat)
        mine_commune = hit[0] if hit else None
        if not units:
            empty += 1
        if mine_units != list(units):
            unit_mismatch += 1
            if len(examples) < 5:
                examples.append({"id": pid, "lon": lon, "lat": lat, "index": mine_units, "postgis": list(units)})
        if mine_commune != commune:
            commune_mismatch += 1
            if len(examples) < 5:
                examples.append({"id": pid, "lon": lon, "lat": lat, "index": mine_commune, "postgis": commune})
    checked = len(postgis)
    agree = checked - max(unit_mismatch, commune_mismatch) if checked else 0
    return {"points": checked, "unit_mismatches": unit_mismatch, "commune_mismatches": commune_mismatch,
            "points_outside_every_unit": empty, "agreement": (checked - unit_mismatch - commune_mismatch) / checked
            if checked else None, "agreeing_points_lower_bound": agree, "examples": examples}


def coverage_requests(points, path: Path) -> None:
    with open(path, "w") as fh:
        for i, (_, lon, lat) in enumerate(points):
            fh.write(f"GET\t/api/v1/coverage?lat={lat:.6f}&lon={lon:.6f}&category={CATEGORIES[i % 10]}\t-\t-\n")


def run(app, gunicorn_config: tuple[int, int] = (2, 4)) -> BenchResult:
    result = BenchResult("B2", "Routing: in-memory index and /api/v1/coverage vs PostGIS")
    n_points = 10_000 if QUICK else 100_000
    seconds = 3 if QUICK else 15
    cores = os.cpu_count() or 1
    with app.app_context():
        from service.reports.routing import _index
        from models import db
        from sqlalchemy import text
        npoints_table = db.session.execute(text("SELECT count(*) FROM bench_points")).scalar_one()
        points = load_points(n_points)
        say(f"  B2: loading the in-memory index ({len(points)} points to route)")
        t0 = time.perf_counter()
        index = _index()
        index.units_at(2.35, 48.85)
        result.details["index_load_s"] = round(time.perf_counter() - t0, 2)

        say("  B2: agreement of the in-memory index with PostGIS")
        agree = agreement(n_points)
        result.details["agreement"] = agree
        full = agree["unit_mismatches"] == 0 and agree["commune_mismatches"] == 0
        result.add("agreement with PostGIS", 100.0 * (agree["agreement"] or 0), "% of points",
                   target=f"100 % on {agree['points']} points", passed=full and agree["points"] >= n_points,
                   note=f"{agree['unit_mismatches']} unit / {agree['commune_mismatches']} commune mismatches; "
                        f"{agree['points_outside_every_unit']} points outside every jurisdiction (fallback)")

        say("  B2: in-process lookups, one process")
        done, wall, timings = lookup_loop(points)
        single = done / wall
        result.details["in_process_single"] = {"lookups": done, "seconds": wall, "lookups_per_s": single,
                                               "p50_us": percentile(timings, 50), "p99_us": percentile(timings, 99)}
        done, wall, timings = route_loop(points[: min(len(points), 20_000)])
        result.details["route_single"] = {"decisions": done, "seconds": wall, "per_s": done / wall,
                                          "p50_us": percentile(timings, 50), "p99_us": percentile(timings, 99)}
        db.session.remove()

    say(f"  B2: pgbench raw ST_Intersects lookup, 1 client and {cores} clients")
    pg1 = run_pgbench(LOOKUP_SQL, 1, seconds, {"npoints": npoints_table})
    pgn = run_pgbench(LOOKUP_SQL, cores, seconds, {"npoints": npoints_table})
    say(f"  B2: in-process lookups, {cores} processes")
    par = parallel_lookups(cores, seconds, n_points)
    result.details.update(pgbench_1=pg1, pgbench_n=pgn, in_process_parallel=par)
    result.add(f"in-process lookups/s ({cores} processes)", par["lookups_per_s"], "lookups/s",
               f"pgbench raw SQL, {cores} clients", pgn["tps"], ratio(par["lookups_per_s"], pgn["tps"]),
               "≥ 1.0 × raw SQL", ratio(par["lookups_per_s"], pgn["tps"]) >= 1.0)
    result.add("in-process lookups/s (1 process)", single, "lookups/s", "pgbench raw SQL, 1 client", pg1["tps"],
               ratio(single, pg1["tps"]), "≥ 1.0 × raw SQL", ratio(single, pg1["tps"]) >= 1.0,
               note=f"p99 {result.details['in_process_single']['p99_us']:.0f} µs in process vs "
                    f"{pg1['p99_ms'] * 1000:.0f} µs over SQL")
    rs = result.details["route_single"]
    result.add("route() decisions/s (1 process)", rs["per_s"], "decisions/s", "pgbench raw SQL, 1 client",
               pg1["tps"], ratio(rs["per_s"], pg1["tps"]), "information",
               note=f"whole decision incl. precedence and service hours; p99 {rs['p99_us']:.0f} µs")

    workers, threads = gunicorn_config
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as fh:
        requests_file = Path(fh.name)
    coverage_requests(points[:20_000], requests_file)
    say(f"  B2: GET /api/v1/coverage under gunicorn ({workers} workers × {threads} threads)")
    runs = {}
    with Gunicorn(workers, threads) as server:
        warm_up(server.url, BENCH / "lua" / "replay.lua", 4, {"BENCH_REQUESTS": str(requests_file)})
        for connections in (1, 4):
            cpu = server.cpu_seconds()
            runs[connections] = run_wrk(server.url, BENCH / "lua" / "replay.lua", connections, seconds,
                                        env={"BENCH_REQUESTS": str(requests_file)})
            runs[connections]["server_cpu_s"] = server.cpu_seconds() - cpu
        runs["healthz"] = _healthz(server.url, 4, seconds)
    requests_file.unlink()
    result.details["coverage_http"] = runs
    for connections in (1, 4):
        r = runs[connections]
        errors = r["socket_errors"] + r["timeouts"] + r["non_2xx"]
        result.add(f"GET /coverage p99 at {connections} connection(s)", r["p99_ms"], "ms",
                   "GET /healthz p99 at 4 connections", runs["healthz"]["p99_ms"], None, "p99 < 10 ms",
                   r["p99_ms"] < 10 and errors == 0,
                   note=f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} ms, {errors} errors "
                        f"(statuses {r['statuses']})")
    per_request = {c: runs[c]["server_cpu_s"] * 1000 / runs[c]["requests"] if runs[c]["requests"] else None
                   for c in (1, 4)}
    result.add("GET /coverage server CPU per request (gunicorn), 4 connections", per_request[4], "ms", "", None, None,
               "information", None,
               note=f"{per_request[1] or 0:.2f} ms at 1 connection; CPU of the master and workers over the requests "
                    "answered; PostgreSQL and Redis not counted")
    if any(c.passed is False for c in result.checks):
        say("  B2: a target was missed: profiling GET /api/v1/coverage in process")
        paths = [f"/api/v1/coverage?lat={lat:.6f}&lon={lon:.6f}&category={CATEGORIES[i % 10]}"
                 for i, (_, lon, lat) in enumerate(points[:60 if QUICK else 300])]
        result.details["profile"] = profile_client(app, [("GET", p, {}, None) for p in paths])
    return result


def _healthz(url: str, connections: int, seconds: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as fh:
        fh.write("GET\t/healthz\t-\t-\n")
        path = fh.name
    try:
        return run_wrk(url, BENCH / "lua" / "replay.lua", connections, seconds, env={"BENCH_REQUESTS": path})
    finally:
        os.unlink(path)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "worker":
    worker_main(float(sys.argv[2]), int(sys.argv[3]))
