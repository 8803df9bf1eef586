"""`make bench`: build the data set, run B1–B7, write bench/results/latest.json and latest.md.

QUICK=1 runs the short variant (fewer points, shorter loads, fewer filters) in a few minutes.
Environment: BENCH_DATABASE_URL (default proxima_bench on 127.0.0.1), BENCH_REDIS_URL (default Redis db 7),
BENCH_ONLY=B1,B2 to run a subset, BENCH_OUTPUT=dir to write the results elsewhere.
"""
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402
from bench.common import (QUICK, BenchResult, cpu_ticks, database_url, ensure_wrk, fmt, machine_info,  # noqa: E402
                          make_app, redis_url, say, steal_share, step)

STARTED_TICKS = cpu_ticks()
# BENCH_OUTPUT: another directory for trial runs, so the committed results of the last full run stay put.
RESULTS = Path(os.environ.get("BENCH_OUTPUT") or ROOT / "bench" / "results")
# Order: B2 and B1 first (routing then intake), B6, the realistic mix B7, then the ones that rely on the demo
# history and workers.
BENCHES = (("B2", "bench.b2_routing"), ("B1", "bench.b1_intake"), ("B6", "bench.b6_open311"),
           ("B7", "bench.b7_mix"), ("B4", "bench.b4_indicators"), ("B5", "bench.b5_export"),
           ("B3", "bench.b3_push"))


def provision() -> None:
    """Bench-only tools: wrk (Debian package) and the `bench` extra (pyinstrument, locust)."""
    ensure_wrk()
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        say("installing the bench extra: pip install -e '.[bench]'")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", f"{ROOT}[bench]"], check=True)


def write(results: list[BenchResult], machine: dict, data: dict, started: float, finished: bool) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    checks = [c for r in results for c in r.checks]
    payload = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "complete": finished, "quick": QUICK, "duration_s": round(time.monotonic() - started, 1),
        "machine": machine, "data": data,
        "steal_share": steal_share(STARTED_TICKS, cpu_ticks()),
        "steal_by_bench": {r.bench: r.details.get("steal_share") for r in results},
        "database": database_url().rsplit("@", 1)[-1], "redis": redis_url(),
        "summary": {"checks": len(checks), "passed": sum(c.passed is True for c in checks),
                    "failed": sum(c.passed is False for c in checks),
                    "errors": [r.bench for r in results if r.error]},
        "benchmarks": [{"bench": r.bench, "title": r.title, "seconds": round(r.seconds, 1), "error": r.error,
                        "checks": [c.as_dict() for c in r.checks], "details": r.details} for r in results],
    }
    (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")
    (RESULTS / "latest.md").write_text(markdown(payload))


def markdown(p: dict) -> str:
    m = p["machine"]
    v = m["versions"]
    lines = [
        f"# Proxima benchmarks — {'QUICK' if p['quick'] else 'full'} run, {p['generated_at']}",
        "",
        f"Machine: {m['cores']} cores, {m['cpu_model']}, {m['memory_gb']} GB RAM, Linux {m['kernel']}; "
        f"load average at start {', '.join(f'{x:.1f}' for x in m['load_average_at_start'])}; "
        + (f"CPU stolen by the hypervisor during the run {100 * p['steal_share']:.0f} % "
           f"({', '.join(f'{b} {100 * s:.0f} %' for b, s in p['steal_by_bench'].items() if s is not None)}).  "
           if p.get("steal_share") is not None else "CPU stolen by the hypervisor: not measured.  "),
        f"Commit {m['git_commit']}{' (with uncommitted changes)' if m['git_dirty'] else ''}; "
        f"Python {v['python']}, PostgreSQL {v['postgresql']}, PostGIS {v['postgis']}, {v['pgbench']}, "
        f"{v['wrk']}, {v['redis_server']}, Flask {v['flask']}, SQLAlchemy {v['sqlalchemy']}, "
        f"gunicorn {v['gunicorn']}, shapely {v['shapely']}, RQ {v['rq']}, pyfcm {v['pyfcm']}.  ",
        "Data: " + ", ".join(f"{k} {v:,}".replace(",", " ") for k, v in p["data"].items() if v is not None) + ".  ",
        f"Run took {p['duration_s']:.0f} s; {p['summary']['passed']} checks passed, {p['summary']['failed']} failed"
        + (f"; benchmarks that crashed: {', '.join(p['summary']['errors'])}" if p["summary"]["errors"] else "")
        + ("" if p["complete"] else " (run still in progress or interrupted)") + ".",
        "",
        "Every figure is compared with a baseline measured in the same run (ratio = figure / baseline).",
        "",
        "| # | what | figure | unit | baseline | baseline figure | ratio | target | result | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for bench in p["benchmarks"]:
        if bench["error"]:
            lines.append(f"| {bench['bench']} | {bench['title']} | — | | | | | | ERROR | "
                         f"{bench['error'].splitlines()[-1][:200]} |")
        for c in bench["checks"]:
            verdict = {True: "**pass**", False: "**FAIL**", None: "info"}[c["passed"]]
            r = f"{c['ratio']:.2f}" if c["ratio"] is not None else ""
            lines.append(f"| {c['bench']} | {c['name']} | {fmt(c['figure'])} | {c['unit']} | {c['baseline_name']} | "
                         f"{fmt(c['baseline'])} | {r} | {c['target']} | {verdict} | {c['note']} |")
    profiles = [(b["bench"], b["details"].get("profile")) for b in p["benchmarks"] if b["details"].get("profile")]
    for bench, text in profiles:
        lines += ["", f"## {bench}: profile (pyinstrument, top frames)", "", "```", text.strip()[:6000], "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    started = time.monotonic()
    only = {b.strip().upper() for b in os.environ.get("BENCH_ONLY", "").split(",") if b.strip()}
    say(f"Proxima benchmarks ({'QUICK' if QUICK else 'full'}) on {database_url().rsplit('@', 1)[-1]}, "
        f"Redis {redis_url()}")
    provision()
    machine = machine_info()
    say(f"machine: {machine['cores']} cores, {machine['cpu_model']}, commit {machine['git_commit']}")
    with step("Data set"):
        dataset.ensure_schema()
        dataset.ensure_points(100_000)
        dataset.remove_previous_runs()
        needs_history = not only or only & {"B4", "B5", "B6"}
        if needs_history:
            have = dataset.demo_report_count()
            wanted = 100_000 if QUICK else 1_000_000
            if not (QUICK and have >= wanted):
                dataset.ensure_demo_history(wanted)
            dataset.ensure_territories()
        dataset.analyze()
    data = dataset.table_counts()
    say("data: " + ", ".join(f"{k} {v}" for k, v in data.items()))
    app = make_app()
    results: list[BenchResult] = []
    for code, module_name in BENCHES:
        if only and code not in only:
            continue
        say(f"=== {code} ===")
        t0, ticks = time.monotonic(), cpu_ticks()
        try:
            module = importlib.import_module(module_name)
            result = module.run(app)
        except Exception:
            result = BenchResult(code, module_name, error=traceback.format_exc())
            say(f"{code} crashed:\n{result.error}")
        result.seconds = time.monotonic() - t0
        result.details["steal_share"] = steal_share(ticks, cpu_ticks())
        results.append(result)
        write(results, machine, data, started, finished=False)
    data_after = dataset.table_counts()
    write(results, machine, {**data, **{f"{k} (after)": v for k, v in data_after.items() if k == "reports"}},
          started, finished=True)
    say(f"results: {RESULTS / 'latest.md'}")
    print((RESULTS / "latest.md").read_text())
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
