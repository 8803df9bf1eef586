"""Load test: find the highest rate Proxima sustains for 60 s with p99 < 250 ms and no error.

Starts gunicorn (3 gthread workers × 4 threads, as `make run`) on bench/wsgi_bench.py (abuse limits out of
reach, as in every benchmark), then runs locust headless (bench/load/locustfile.py) at increasing numbers of
users (each ~1 request/s, Poisson arrivals), 30 s per probe, stops at the first probe that breaks the target,
and confirms the best one for 60 s. Writes bench/results/load.md. Usage:

    LOAD_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/proxima_test_hardening \\
    LOAD_REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/load/run.py [--steps 20,40,60] [--confirm-s 60]

The database needs the schema and reference data (any `make test` or `make run` database has them).
"""
import argparse
import csv
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv" / "bin"
P99_TARGET_MS = 250


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(VENV / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "3", "--threads", "4",
         "--worker-class", "gthread", "--timeout", "30", "bench.wsgi_bench:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not become ready")


def warm_up(port: int) -> None:
    """Each gunicorn worker loads its routing index (34,909 communes) on first use: load it everywhere
    before measuring, by sending more concurrent routing requests than one worker has threads."""
    from concurrent.futures import ThreadPoolExecutor
    url = f"http://127.0.0.1:{port}/api/v1/coverage?lat=48.8566&lon=2.3522"
    with ThreadPoolExecutor(24) as pool:
        for _ in range(4):
            list(pool.map(lambda _: urlopen(url, timeout=120).status, range(24)))


def probe(port: int, users: int, seconds: int, workdir: str) -> dict:
    prefix = os.path.join(workdir, f"u{users}-{seconds}")
    subprocess.run(
        [str(VENV / "locust"), "-f", str(ROOT / "bench" / "load" / "locustfile.py"), "--headless",
         "--host", f"http://127.0.0.1:{port}", "--users", str(users), "--spawn-rate", str(max(1, users // 2)),
         "--run-time", f"{seconds}s", "--csv", prefix, "--only-summary", "--loglevel", "WARNING",
         "--stop-timeout", "5"],
        cwd=ROOT, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(prefix + "_stats.csv") as fh:
        rows = {row["Name"]: row for row in csv.DictReader(fh)}
    total = rows["Aggregated"]
    by_name = {name: {"count": int(r["Request Count"]), "p99": float(r["99%"] or 0),
                      "failures": int(r["Failure Count"])}
               for name, r in rows.items() if name != "Aggregated"}
    result = {"users": users, "seconds": seconds, "requests": int(total["Request Count"]),
              "failures": int(total["Failure Count"]), "rps": float(total["Requests/s"]),
              "p50": float(total["50%"] or 0), "p95": float(total["95%"] or 0), "p99": float(total["99%"] or 0),
              "by_name": by_name, "errors": _failure_messages(prefix + "_failures.csv")}
    result["ok"] = result["failures"] == 0 and result["p99"] < P99_TARGET_MS and result["requests"] > 0
    return result


def _failure_messages(path: str) -> list[str]:
    """What each failure was (locust's failures CSV: request, error, occurrences)."""
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [f"{row['Method']} {row['Name']} : {row['Error']} (×{row['Occurrences']})" for row in csv.DictReader(fh)]


def line(r: dict) -> str:
    return (f"| {r['users']} | {r['seconds']} s | {r['requests']} | {r['rps']:.1f} | {r['p50']:.0f} | "
            f"{r['p95']:.0f} | {r['p99']:.0f} | {r['failures']} | {'oui' if r['ok'] else 'non'} |")


LOAD_AT_START = ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="1,2,4,6,8,12,16,24,32,48,64,96")
    parser.add_argument("--probe-s", type=int, default=30)
    parser.add_argument("--confirm-s", type=int, default=60)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), PROXIMA_ENV="benchmark", SECRET_KEY="load-only-not-secret",
               DATABASE_URL=os.environ.get("LOAD_DATABASE_URL",
                                           "postgresql+psycopg://postgres@127.0.0.1:5432/proxima_test_hardening"),
               REDIS_URL=os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/8"), FCM_CREDENTIALS_FILE="")
    port = free_port()
    server = start_gunicorn(port, env)
    probes, best = [], None
    try:
        with tempfile.TemporaryDirectory() as workdir:
            warm_up(port)
            probe(port, 6, 20, workdir)  # and a short run of the real mix: caches, connection pools
            for users in [int(u) for u in args.steps.split(",")]:
                result = probe(port, users, args.probe_s, workdir)
                probes.append(result)
                print(line(result), flush=True)
                print("   ", {name: r["p99"] for name, r in result["by_name"].items()}, flush=True)
                for message in result["errors"]:
                    print("    erreur :", message, flush=True)
                if not result["ok"]:
                    break
                best = result
            confirmed = None
            if best is not None:
                confirmed = probe(port, best["users"], args.confirm_s, workdir)
                print(line(confirmed), flush=True)
    finally:
        server.terminate()
        server.wait(15)
    write_report(probes, confirmed)


def write_report(probes: list[dict], confirmed: dict | None) -> None:
    out = ROOT / "bench" / "results" / "load.md"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    lines = [
        "# Charge réaliste (bench/load)", "",
        f"Mesuré le {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit.strip()}, "
        f"{os.cpu_count()} cœurs ({platform.processor() or platform.machine()}), machine partagée "
        f"(charge moyenne au début : {LOAD_AT_START}) ; "
        "gunicorn 3 workers × 4 threads, PostgreSQL et Redis locaux, locust sur la même machine.", "",
        "Trafic : 90 % de résidents (inscription, puis par seconde : 6/10 consultations de statut, 2/10 "
        "signalements depuis une grande ville française ±1 km, 1/10 liste, 1/10 couverture), 10 % de "
        "partenaires Open311 (services, requêtes). Objectif : p99 < 250 ms et 0 erreur pendant 60 s.", "",
        "| utilisateurs | durée | requêtes | req/s | p50 ms | p95 ms | p99 ms | erreurs | objectif tenu |",
        "|---|---|---|---|---|---|---|---|---|",
        *[line(r) for r in probes],
    ]
    errors = [f"* {r['users']} utilisateurs, {r['seconds']} s — {message}" for r in probes + ([confirmed] if confirmed
              else []) for message in r.get("errors", [])]
    if errors:
        lines += ["", "Erreurs relevées :", "", *errors]
    if confirmed:
        lines += ["", "Confirmation sur 60 s au palier retenu :", "",
                  "| utilisateurs | durée | requêtes | req/s | p50 ms | p95 ms | p99 ms | erreurs | objectif tenu |",
                  "|---|---|---|---|---|---|---|---|---|", line(confirmed), "",
                  "Par type de requête (confirmation) :", "", "| requête | nombre | p99 ms | erreurs |",
                  "|---|---|---|---|",
                  *[f"| {name} | {r['count']} | {r['p99']:.0f} | {r['failures']} |"
                    for name, r in sorted(confirmed["by_name"].items())]]
        verdict = (f"**Débit soutenu : {confirmed['rps']:.0f} requêtes/s** pendant {confirmed['seconds']} s "
                   f"(p99 {confirmed['p99']:.0f} ms, {confirmed['failures']} erreur)."
                   if confirmed["ok"] else "Le palier retenu n'a pas tenu l'objectif sur 60 s : voir le tableau.")
        lines += ["", verdict]
    out.write_text("\n".join(lines) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    sys.exit(main())
