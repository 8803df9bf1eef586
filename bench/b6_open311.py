"""B6 Open311: GET /open311/v2/requests.xml returning 1000 requests, against the same query in SQL.

The SQL the view runs is captured (SQLAlchemy `before_cursor_execute`) while `find_requests` answers the
same query in process, then replayed alone on a raw connection: that is the floor the view stands on.
The view itself is timed over HTTP under gunicorn (sequential requests on loopback).
"""
import time
import urllib.request
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from sqlalchemy import event

from bench.common import QUICK, BenchResult, Gunicorn, median, percentile, profile_get, ratio, say

TARGET_MS = 250.0
PATHS = {
    "requests.xml": "/open311/v2/requests.xml",
    "requests.json": "/open311/v2/requests.json",
    "requests.xml?extensions=true": "/open311/v2/requests.xml?extensions=true",
}


def captured_sql(app, extensions: bool) -> tuple[list[tuple[str, dict]], int]:
    from models import db
    from service.open311.service_requests import RequestQuery, find_requests
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", capture)
        try:
            found = find_requests(RequestQuery(extensions=extensions), datetime.now(timezone.utc))
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        db.session.remove()
    return [s for s in statements if "FROM reports" in s[0] or "FROM report_events" in s[0]], len(found)


def time_sql(app, statements, runs: int) -> list[float]:
    from models import db
    times = []
    with app.app_context():
        for _ in range(runs):
            with db.engine.connect() as conn:
                t0 = time.perf_counter()
                for statement, params in statements:
                    conn.exec_driver_sql(statement, params).fetchall()
                times.append((time.perf_counter() - t0) * 1000)
    return times


def time_http(url: str, runs: int) -> tuple[list[float], int, int]:
    times, size, count = [], 0, 0
    for _ in range(runs):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
        times.append((time.perf_counter() - t0) * 1000)
        size = len(body)
    if url.split("?")[0].endswith(".xml"):
        count = len(ET.fromstring(body).findall("request"))
    else:
        import json
        count = len(json.loads(body))
    return times, size, count


def run(app) -> BenchResult:
    result = BenchResult("B6", "Open311 GET /requests.xml with 1000 results")
    runs = 3 if QUICK else 15
    sql_plain, found = captured_sql(app, extensions=False)
    sql_ext, _ = captured_sql(app, extensions=True)
    sql_ms = time_sql(app, sql_plain, runs)
    sql_ext_ms = time_sql(app, sql_ext, runs)
    result.details["sql_statements"] = [s for s, _ in sql_plain]
    say(f"  B6: in-process find_requests returned {found} requests; SQL alone {median(sql_ms):.1f} ms")
    with Gunicorn(1, 2) as server:
        http, cpu_s = {}, {}
        for name, path in PATHS.items():
            time_http(server.url + path, 2)  # warm-up
            cpu = server.cpu_seconds()
            http[name] = time_http(server.url + path, runs)
            cpu_s[name] = server.cpu_seconds() - cpu
    result.details["http"] = {name: {"median_ms": median(t), "p95_ms": percentile(t, 95), "bytes": size,
                                     "requests_returned": count} for name, (t, size, count) in http.items()}
    result.details["server_cpu_s"] = cpu_s
    result.details["sql_ms"] = {"plain_median": median(sql_ms), "extensions_median": median(sql_ext_ms)}
    for name, (times, size, count) in http.items():
        base = median(sql_ext_ms) if "extensions" in name else median(sql_ms)
        main = name == "requests.xml"
        result.add(f"GET {name} ({count} results)", median(times), "ms (median)", "same query in SQL", base,
                   ratio(median(times), base), "< 250 ms" if main else "information",
                   (median(times) < TARGET_MS and count == 1000) if main else None,
                   note=f"p95 {percentile(times, 95):.0f} ms, {size / 1024:.0f} KiB, {runs} sequential requests")
    result.add("GET requests.xml server CPU per request (gunicorn)", cpu_s["requests.xml"] * 1000 / runs, "ms", "",
               None, None, "information", None,
               note=f"{runs} sequential requests (CPU counted in 10 ms ticks: rough over a few requests); "
                    f"requests.json {cpu_s['requests.json'] * 1000 / runs:.0f} ms; PostgreSQL not counted")
    if any(c.passed is False for c in result.checks):
        say("  B6: target missed: profiling the view in process (pyinstrument)")
        result.details["profile"] = profile_get(app, PATHS["requests.xml"])
    return result
