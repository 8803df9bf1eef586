"""B5 CSV export of every report: rows/s and peak RSS of the export process, against COPY of the same rows.

The export runs in a process of its own (`python -m bench.b5_export child`) through the code the
dashboard's /export.csv endpoint streams (service.dashboard.export.csv_stream: COPY … TO STDOUT, cells formatted
in SQL),
writing to a pipe that the parent reads and counts; its peak RSS is the child's ru_maxrss (VmHWM).
Baseline: `COPY (<the same SELECT>) TO STDOUT WITH CSV` on a raw psycopg connection, bytes counted.
"""
import json
import re
import resource
import subprocess
import sys
import time

from bench.common import QUICK, ROOT, BenchResult, app_env, libpq_url, python_exe, ratio, say

TARGET_RATIO = 0.3
TARGET_RSS_MB = 200.0


def _all_reports():
    """Every report (QUICK: the last 60 days only, about a sixth of the history)."""
    from datetime import datetime, timedelta
    from service.platform.clock import PARIS
    from service.statistics.filters import IndicatorFilters
    if QUICK:
        today = datetime.now(PARIS).date()
        return IndicatorFilters(start=today - timedelta(days=59), end=today)
    return IndicatorFilters(start=None, end=None)


def child() -> None:
    """Stream the CSV export of every report to stdout; the summary goes to stderr as the last line."""
    from bench.common import make_app
    app = make_app()
    out = sys.stdout.buffer
    with app.app_context():
        from service.dashboard.export import csv_stream
        rss_before = _vm_hwm_kb()
        rows, size = -1, 0  # the header line is not a report
        t0, cpu = time.perf_counter(), _cpu_s()
        for chunk in csv_stream(_all_reports()):
            size += len(chunk)
            rows += chunk.count(b"\r\n")
            out.write(chunk)
        out.flush()
        elapsed, cpu = time.perf_counter() - t0, _cpu_s() - cpu
    sys.stderr.write(json.dumps({"rows": rows, "bytes": size, "seconds": elapsed, "cpu_s": cpu,
                                 "rss_before_kb": rss_before,
                                 "peak_rss_kb": _vm_hwm_kb(),
                                 "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}) + "\n")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _vm_hwm_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_export() -> dict:
    proc = subprocess.Popen([python_exe(), "-m", "bench.b5_export", "child"], cwd=ROOT, env=app_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    received = 0
    t0 = time.perf_counter()
    while True:
        block = proc.stdout.read(1 << 20)
        if not block:
            break
        received += len(block)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.wait()
    lines = [line for line in err.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"export process failed: {err[-1500:]}")
    summary = json.loads(lines[-1])
    summary.update(received_bytes=received, wall_s=wall)
    return summary


def run_copy(app) -> dict:
    import psycopg
    with app.app_context():
        from service.statistics.report_rows import report_rows_sql
        sql, params = report_rows_sql(_all_reports(), order="c.report_id")
    # SQLAlchemy's :name placeholders → psycopg's %(name)s (the SQL holds no other colon-word or percent sign).
    sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)
    size, rows = 0, 0
    with psycopg.connect(libpq_url()) as conn, conn.cursor() as cur:
        t0 = time.perf_counter()
        with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)", params) as copy:
            for block in copy:
                size += len(block)
                rows += bytes(block).count(b"\n")
        elapsed = time.perf_counter() - t0
    return {"rows": rows - 1, "bytes": size, "seconds": elapsed}


def profile_export(app, rows: int, lines: int = 60) -> str:
    from pyinstrument import Profiler
    with app.app_context():
        from service.dashboard.export import csv_stream
        profiler = Profiler(interval=0.0005)
        profiler.start()
        seen = 0
        for chunk in csv_stream(_all_reports()):
            seen += chunk.count(b"\r\n")
            if seen >= rows:
                break
        profiler.stop()
    return "\n".join(profiler.output_text(unicode=False, color=False).splitlines()[:lines])


def run(app) -> BenchResult:
    result = BenchResult("B5", "CSV export of the reports (QUICK: last 60 days) vs COPY")
    say("  B5: COPY (SELECT …) TO STDOUT of the same rows")
    copy = run_copy(app)
    say(f"  B5: COPY: {copy['rows']} rows in {copy['seconds']:.1f} s; now the export process")
    export = run_export()
    result.details.update(copy=copy, export=export)
    export_rate = export["rows"] / export["seconds"]
    copy_rate = copy["rows"] / copy["seconds"]
    r = ratio(export_rate, copy_rate)
    result.add(f"export rows/s ({export['rows']} rows)", export_rate, "rows/s", "COPY of the same rows", copy_rate,
               r, "≥ 0.3 × COPY", r >= TARGET_RATIO,
               note=f"{export['bytes'] / 1e6:.0f} MB in {export['seconds']:.1f} s; COPY {copy['bytes'] / 1e6:.0f} MB "
                    f"in {copy['seconds']:.1f} s")
    peak_mb = export["peak_rss_kb"] / 1024
    result.add("peak RSS of the export process", peak_mb, "MB", "RSS before the export started",
               export["rss_before_kb"] / 1024, None, "< 200 MB", peak_mb < TARGET_RSS_MB,
               note="VmHWM of the process (application loaded, then the whole export streamed)")
    result.add("export process CPU per 1,000 rows", export["cpu_s"] * 1e6 / export["rows"] if export["rows"] else None,
               "ms", "", None, None, "information", None,
               note=f"{export['cpu_s']:.1f} CPU s of the export process while streaming "
                    f"({export['cpu_s'] / export['seconds']:.2f} cores); PostgreSQL not counted")
    if r < TARGET_RATIO:
        say("  B5: target missed: profiling the export in process (pyinstrument, first 20,000 rows)")
        result.details["profile"] = profile_export(app, 20_000)
    if export["rows"] != copy["rows"]:
        result.add("same rows as COPY", float(export["rows"]), "rows", "COPY rows", float(copy["rows"]), None,
                   "equal", False)
    return result


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "child":
    child()
