"""Shared pieces of the benchmarks: settings, progress, timing, results, and the external load tools.

Every figure is recorded next to a baseline measured in the same run (`Check`), because absolute
times on a shared machine mean little from one run to the next.
"""
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
QUICK = os.environ.get("QUICK", "") not in ("", "0")
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/proxima_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
_STARTED = time.monotonic()


def database_url() -> str:
    from service.platform.config import normalise_database_url
    return normalise_database_url(os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DB)


def libpq_url() -> str:
    """The same database for psql/pgbench/psycopg (no SQLAlchemy driver prefix)."""
    return database_url().replace("postgresql+psycopg://", "postgresql://")


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS


def app_env(**extra) -> dict:
    """Environment of every Proxima process the benchmarks start (gunicorn, workers, export)."""
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url(), REDIS_URL=redis_url(), PROXIMA_ENV="benchmark",
               SECRET_KEY="bench-only-not-secret", PYTHONPATH=str(ROOT))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def make_app():
    """An application on the benchmark database (configuration comes from the environment, as in production)."""
    wanted = ("DATABASE_URL", "REDIS_URL", "PROXIMA_ENV", "SECRET_KEY")
    os.environ.update({k: v for k, v in app_env().items() if k in wanted})
    import logging
    from bench.wsgi_bench import BENCH_LIMITS
    from service import create_app
    app = create_app(BENCH_LIMITS)
    # In-process runs (profiles, set-up) would print an access line per request among the progress lines.
    for name in ("proxima.access", "flask-limiter", "proxima"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return app


# --- progress --------------------------------------------------------------------------------------------

def say(message: str) -> None:
    elapsed = time.monotonic() - _STARTED
    print(f"[{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}] {message}", flush=True)


@contextmanager
def step(name: str):
    say(f"{name}…")
    started = time.monotonic()
    yield
    say(f"{name}: done in {time.monotonic() - started:.1f} s")


# --- results ---------------------------------------------------------------------------------------------

@dataclass
class Check:
    """One figure against its same-run baseline and its target."""
    bench: str
    name: str
    figure: float | None
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class BenchResult:
    bench: str
    title: str
    checks: list[Check] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def add(self, *args, **kwargs) -> Check:
        check = Check(self.bench, *args, **kwargs)
        self.checks.append(check)
        flag = {True: "PASS", False: "FAIL", None: "info"}[check.passed]
        base = f" vs {check.baseline_name} {fmt(check.baseline)}" if check.baseline_name else ""
        ratio = f" (ratio {check.ratio:.2f})" if check.ratio is not None else ""
        say(f"  {self.bench} {check.name}: {fmt(check.figure)} {check.unit}{base}{ratio} "
            f"[{check.target or 'no target'}] {flag}")
        return check


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}".replace(",", " ")
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def ratio(a, b):
    return (a / b) if a is not None and b else None


def percentile(values, q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of a sequence; None when empty."""
    data = sorted(values)
    if not data:
        return None
    k = (len(data) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


# --- machine ---------------------------------------------------------------------------------------------

def cpu_ticks() -> tuple[int, int]:
    """(all CPU ticks, ticks stolen by the hypervisor) of the machine so far, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """Share of the machine's CPU time the hypervisor gave to other guests between two cpu_ticks(): on a shared
    virtual machine the same code runs slower when it is high, so every figure of the period is read with it."""
    total = after[0] - before[0]
    return (after[1] - before[1]) / total if total > 0 else None


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem_gb = round(mem_kb / 1024 / 1024, 1)
    except (OSError, AttributeError):
        pass

    def out(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None

    versions = {"python": platform.python_version()}
    for package in ("flask", "sqlalchemy", "psycopg", "gunicorn", "shapely", "rq", "redis", "pyfcm", "geoalchemy2"):
        try:
            from importlib.metadata import version
            versions[package] = version(package)
        except Exception:  # not installed
            versions[package] = None
    versions["postgresql"] = out("psql", libpq_url(), "-Atc", "SHOW server_version")
    versions["postgis"] = out("psql", libpq_url(), "-Atc", "SELECT postgis_lib_version()")
    versions["pgbench"] = out("pgbench", "--version")
    versions["wrk"] = (out("sh", "-c", "wrk -v 2>&1 | head -1") or "").strip()
    versions["redis_server"] = out("sh", "-c", "redis-cli -u " + redis_url() + " INFO server | grep redis_version")
    return {
        "cores": os.cpu_count(), "cpu_model": cpu, "memory_gb": mem_gb, "kernel": platform.release(),
        "load_average_at_start": os.getloadavg(), "versions": versions,
        "git_commit": out("git", "-C", str(ROOT), "rev-parse", "HEAD"),
        "git_dirty": bool(out("git", "-C", str(ROOT), "status", "--porcelain", "--", "service", "models",
                              "workers", "bench")),
        "quick": QUICK,
    }


# --- processes -------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# --- CPU time of processes -------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None once the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children…), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) spent so far by `pid`, its live descendants and the children it has reaped.

    Counting the reaped children too keeps a before/after difference right when a child ends in between (its
    whole time moves into the parent's cutime/cstime)."""
    total = 0
    for p in [pid, *descendants(pid)]:
        fields = _stat(p)
        if fields:
            total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return total / CLOCK_TICKS


class Gunicorn:
    """Proxima under gunicorn on a free loopback port, against the benchmark database."""

    def __init__(self, workers: int, threads: int, **env):
        self.workers, self.threads = workers, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--worker-class", "gthread", "--threads", str(threads), "--timeout", "60",
             "--graceful-timeout", "5", "--error-logfile", "-", "--log-level", "warning", "bench.wsgi_bench:app"],
            cwd=ROOT, env=app_env(**env), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def __enter__(self):
        try:
            wait_http(self.url + "/readyz")
        except RuntimeError:
            self.stop()
            raise RuntimeError("gunicorn did not start: " + Path(self.log.name).read_text()[-2000:])
        return self

    def __exit__(self, *exc):
        self.stop()

    def cpu_seconds(self) -> float:
        """CPU seconds spent so far by the master and its workers (take it before and after a measured load)."""
        return process_tree_cpu(self.proc.pid)

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def errors_logged(self) -> str:
        return Path(self.log.name).read_text()[-3000:]


# --- wrk -------------------------------------------------------------------------------------------------

def ensure_wrk() -> str:
    """wrk is a Debian package; install it when missing (provisioning, like `make run` does for its packages)."""
    path = shutil.which("wrk")
    if path:
        return path
    say("wrk is missing: apt-get install -y wrk")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run(sudo + ["apt-get", "install", "-y", "--no-install-recommends", "wrk"], check=False)
    path = shutil.which("wrk")
    if not path:
        raise RuntimeError("wrk is not installed and could not be installed (apt-get install wrk)")
    return path


def run_wrk(url: str, script: Path, connections: int, seconds: float, threads: int = 1, env: dict | None = None,
            timeout_s: int = 5) -> dict:
    """Run wrk with one of our Lua scripts (they print a JSON summary line); returns that summary."""
    cmd = [ensure_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{max(1, int(seconds))}s",
           "--timeout", f"{timeout_s}s", "-s", str(script), url]
    # The generator's own CPU: wrk is the only child waited for in between.
    before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=seconds + 60)
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic() - wall
    generator_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            data = json.loads(line[len("BENCHJSON "):])
            data.update(connections=connections, wrk_threads=threads, generator_cpu_s=generator_cpu,
                        generator_cpu_share=generator_cpu / wall)
            return data
    raise RuntimeError(f"wrk gave no summary (exit {proc.returncode}): {proc.stdout[-800:]} {proc.stderr[-800:]}")


# --- pgbench ---------------------------------------------------------------------------------------------

def run_pgbench(script: str, clients: int, seconds: float, variables: dict | None = None) -> dict:
    """TPS and latency of a custom pgbench script at `clients` concurrency (prepared statements)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="bench-", delete=False) as fh:
        fh.write(script)
        path = fh.name
    log_dir = tempfile.mkdtemp(prefix="bench-pgbench-")
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)),
           "-T", str(max(1, int(seconds))), "-f", path, "-l", "--log-prefix", f"{log_dir}/tx"]
    for key, value in (variables or {}).items():
        cmd += ["-D", f"{key}={value}"]
    cmd.append(libpq_url())
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, cwd=log_dir)
    os.unlink(path)
    tps = re.search(r"tps = ([\d.]+)", proc.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", proc.stdout)
    if tps is None:
        raise RuntimeError(f"pgbench failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    latencies = []
    for log in Path(log_dir).glob("tx*"):
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                latencies.append(int(parts[2]) / 1000.0)  # µs → ms
        log.unlink()
    os.rmdir(log_dir)
    return {"tps": float(tps.group(1)), "clients": clients, "failed": int(failed.group(1)) if failed else 0,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "transactions": len(latencies)}


def psql(sql: str) -> str:
    proc = subprocess.run(["psql", libpq_url(), "-v", "ON_ERROR_STOP=1", "-Atq", "-c", sql],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return proc.stdout.strip()


def python_exe() -> str:
    return str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable


def warm_up(url: str, script: Path, connections: int, env: dict, budget_s: float = 40.0, threads: int = 1) -> int:
    """Load until every worker has built its caches (the routing index takes seconds to load per process):
    2-second wrk runs until two consecutive runs complete requests at rates within 25 % of each other."""
    deadline = time.monotonic() + budget_s
    runs, previous = 0, None
    while time.monotonic() < deadline:
        r = run_wrk(url, script, connections, 2, threads=threads, env=env, timeout_s=30)
        runs += 1
        if r["requests"] > 0 and previous and abs(r["rps"] - previous) <= 0.25 * max(r["rps"], previous):
            return runs
        previous = r["rps"] if r["requests"] > 0 else None
    return runs


def profile_get(app, path: str, runs: int = 3, lines: int = 60) -> str:
    """pyinstrument top frames of GET `path` in process (Flask test client: the same view code)."""
    from pyinstrument import Profiler
    client = app.test_client()
    client.get(path)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(runs):
        client.get(path)
    profiler.stop()
    return "\n".join(profiler.output_text(unicode=False, color=False).splitlines()[:lines])


def profile_client(app, requests: list[tuple[str, str, dict, str | None]], lines: int = 60) -> str:
    """Per-request wall/CPU time, SQL round trips by statement, and pyinstrument top frames of `requests`
    (method, path, headers, body) sent in process through the Flask test client (the same view code)."""
    from pyinstrument import Profiler
    from sqlalchemy import event
    from models import db
    client = app.test_client()
    for method, path, headers, body in requests[:10]:  # warm-up: routing index, pools, plans
        client.open(path, method=method, headers=headers, data=body)
    stats: dict[str, list] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        entry = stats.setdefault(" ".join(statement.split())[:100], [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    profiler = Profiler(interval=0.0005)
    wall, cpu = time.perf_counter(), time.process_time()
    profiler.start()
    try:
        for method, path, headers, body in requests:
            client.open(path, method=method, headers=headers, data=body)
    finally:
        profiler.stop()
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    n = len(requests)
    wall, cpu = (time.perf_counter() - wall) * 1000 / n, (time.process_time() - cpu) * 1000 / n
    db_ms = sum(t for _, t in stats.values()) * 1000 / n
    table = [f"In process, {n} requests: {wall:.1f} ms wall per request, {cpu:.1f} ms of CPU in this process, "
             f"{db_ms:.1f} ms waiting on {sum(c for c, _ in stats.values()) / n:.1f} SQL round trips:"]
    for statement, (count, seconds) in sorted(stats.items(), key=lambda kv: -kv[1][1])[:16]:
        table.append(f"  {count / n:4.1f}× {seconds * 1000 / n:6.2f} ms  {statement}")
    tree = profiler.output_text(unicode=False, color=False, show_all=False).splitlines()[:lines]
    return "\n".join(table) + "\n\n" + "\n".join(tree)
