"""The intake's cost in process: CPU and wall per report, SQL round trips by statement, pyinstrument's top frames.

    BENCH_REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python -m bench.profile_intake [REPORTS] [--no-profiler]

Sends REPORTS (default 400) prepared `POST /api/v1/reports` through the Flask test client, i.e. the view,
limiter, validation, routing, intake and answer code that gunicorn runs, without the HTTP server. The
benchmark database must exist (`make bench` provisions it). `--no-profiler` measures CPU without pyinstrument's
sampling overhead; it also gives the CPU of `GET /healthz` in the same process (Flask's own floor per request),
since this machine's speed drifts by half from one hour to the next and only the ratio compares across runs.
"""
import sys
import time

from bench.b1_intake import profile, prepare
from bench.common import make_app


def cpu_per_report(app, reports_n: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per report, no profiler, after a warm-up of 20 reports."""
    requests_path, _ = prepare(app, 20, reports_n + 20)
    lines = requests_path.read_text().splitlines()
    requests_path.unlink()
    client = app.test_client()
    requests = []
    for line in lines:
        _, path, token, body = line.split("\t", 3)
        requests.append((path, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, body))
    for path, headers, body in requests[:20]:
        assert client.post(path, headers=headers, data=body).status_code == 201
    measured = requests[20:]
    cpu, wall = time.process_time(), time.perf_counter()
    for path, headers, body in measured:
        response = client.post(path, headers=headers, data=body)
        assert response.status_code == 201, response.get_data(as_text=True)
    return ((time.process_time() - cpu) * 1000 / len(measured), (time.perf_counter() - wall) * 1000 / len(measured))


def healthz_cpu(app, n: int = 1000) -> float:
    """CPU ms per `GET /healthz` through the same test client: the floor every request pays."""
    client = app.test_client()
    for _ in range(50):
        client.get("/healthz")
    cpu = time.process_time()
    for _ in range(n):
        client.get("/healthz")
    return (time.process_time() - cpu) * 1000 / n


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    reports_n = int(args[0]) if args else 400
    app = make_app()
    if "--no-profiler" in sys.argv:
        floor = healthz_cpu(app)
        cpu, wall = cpu_per_report(app, reports_n)
        print(f"{reports_n} reports in process: {cpu:.2f} ms of CPU, {wall:.2f} ms wall per report; "
              f"GET /healthz {floor:.3f} ms of CPU (intake = {cpu / floor:.1f} × healthz)")
    else:
        with app.app_context():
            print(profile(app, reports_n))


if __name__ == "__main__":
    main()
