"""Tools of the fault tests: a TCP proxy that can be cut, a gunicorn server, a stream of intakes.

Everything runs on 127.0.0.1 with real servers; the long versions of the scenarios are in bench/faults/.
"""
import os
import selectors
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, clock_environment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLACES = [(48.8530, 2.3499), (45.7578, 4.8320), (43.2965, 5.3698), (47.2184, -1.5536), (44.8378, -0.5792),
          (50.6292, 3.0573), (48.5734, 7.7521), (43.6047, 1.4442)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` kills every connection and refuses new ones (a server
    restart as clients see it), `blackhole()` accepts and never answers (a partition), `restore()` heals."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode = "up"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._held: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._stop = threading.Event()

    def start(self) -> "TcpProxy":
        self._listen()
        threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True).start()
        return self

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        listener.settimeout(0.1)
        self._listener = listener

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                client, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            if self.mode == "blackhole":
                with self._lock:
                    self._held.append(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.2):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def _drop_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
            held, self._held = self._held, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for s in held:
            s.close()

    def cut(self) -> None:
        self.mode = "down"
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._drop_all()

    def blackhole(self) -> None:
        """Existing connections freeze (nothing forwarded any more), new ones are accepted and ignored."""
        self.mode = "blackhole"
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            self._held.extend(pair)  # stop pumping: the pump threads see closed sockets only on restore
        if self._listener is None:
            self._listen()

    def restore(self) -> None:
        self._drop_all()
        if self._listener is None:
            self._listen()
        self.mode = "up"

    def stop(self) -> None:
        self._stop.set()
        self.cut()


def database_url_through(proxy: TcpProxy) -> str:
    from sqlalchemy.engine import make_url
    return make_url(TEST_DATABASE_URL).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def postgres_address() -> tuple[str, int]:
    from sqlalchemy.engine import make_url
    url = make_url(TEST_DATABASE_URL)
    return url.host or "127.0.0.1", url.port or 5432


class Server:
    """gunicorn serving Proxima on a free port (threads, like `make run`), on the test database by default."""

    def __init__(self, workers: int = 2, threads: int = 4, **env):
        self.port = free_port()
        self.env = {
            **os.environ, "DATABASE_URL": TEST_DATABASE_URL, "REDIS_URL": TEST_REDIS_URL, "PROXIMA_ENV": "test",
            "SECRET_KEY": "test-secret", "FCM_CREDENTIALS_FILE": "", "PYTHONPATH": ROOT,
            **{k: str(v) for k, v in env.items()},
        }
        self.args = ["--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
                     "--timeout", "30", "--graceful-timeout", "2"]
        self.process: subprocess.Popen | None = None
        self.log_path = os.path.join("/tmp", f"proxima-faults-gunicorn-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, entry: str = "tests.faults.wsgi_faults:app", ready_path: str = "/healthz") -> "Server":
        self.process = subprocess.Popen(
            [os.path.join(ROOT, ".venv", "bin", "gunicorn"), "--bind", f"127.0.0.1:{self.port}", *self.args, entry],
            cwd=ROOT, env={**self.env, **clock_environment()},
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "wb"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited: " + self.log_tail())
            try:
                if requests.get(self.url + ready_path, timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready")

    def log_tail(self, lines: int = 30) -> str:
        with open(self.log_path, errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])

    def logged_errors(self) -> str:
        """The error-level lines of the server's log (with their tracebacks), to explain an unexpected 500."""
        with open(self.log_path, errors="replace") as fh:
            lines = fh.readlines()
        # JSON error lines carry their traceback; gunicorn's own "[ERROR] Error handling request" is followed by it.
        return "".join(line for i, line in enumerate(lines)
                       if '"level": "error"' in line or "[ERROR]" in line or not line.startswith(("{", "[")))

    def warm_up(self, token: str, requests_per_worker: int = 3) -> set[str]:
        """First requests build each worker's routing index: keep them out of the measured window."""
        references = set()
        for i in range(requests_per_worker * 2):
            response = requests.post(self.url + "/api/v1/reports", json=report_body(i), timeout=60,
                                     headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            references.add(response.json()["reference"])
        return references

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def register(base_url: str, session: requests.Session | None = None, fcm_token: str | None = None) -> str:
    http = session or requests
    body = {"platform": "android", **({"fcm_token": fcm_token} if fcm_token else {})}
    response = http.post(base_url + "/api/v1/devices", json=body, timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def report_body(i: int) -> dict:
    lat, lon = PLACES[i % len(PLACES)]
    # Spots ~100 m apart within 5 km of the city centre (long runs wrap around rather than drift to sea).
    return {"category": "degradation", "description": f"Abribus dégradé n° {i}",
            "location": {"lat": lat + (i // len(PLACES)) % 45 * 0.001, "lon": lon}}


@dataclass
class Outcome:
    status: int
    elapsed: float
    started: float
    retry_after: str | None = None
    reference: str | None = None
    error: str | None = None


@dataclass
class IntakeStream:
    """Sends intakes from a pool of threads until stopped; records every outcome with its timing."""
    base_url: str
    tokens: list[str]
    concurrency: int = 4
    pause_s: float = 0.02
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._counter = iter(range(10**9))
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.concurrency)
        self._futures = []

    def start(self) -> "IntakeStream":
        self._futures = [self._pool.submit(self._run, n) for n in range(self.concurrency)]
        return self

    def _run(self, n: int) -> None:
        session = requests.Session()
        token = self.tokens[n % len(self.tokens)]
        while not self._stop.is_set():
            with self._lock:
                i = next(self._counter)
            started = time.monotonic()
            try:
                response = session.post(self.base_url + "/api/v1/reports", json=report_body(i), timeout=30,
                                        headers={"Authorization": f"Bearer {token}",
                                                 "Idempotency-Key": uuid.uuid4().hex})
                body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") \
                    else {}
                outcome = Outcome(response.status_code, time.monotonic() - started, started,
                                  response.headers.get("Retry-After"), body.get("reference"))
            except requests.RequestException as exc:
                outcome = Outcome(0, time.monotonic() - started, started, error=exc.__class__.__name__)
            with self._lock:
                self.outcomes.append(outcome)
            time.sleep(self.pause_s)

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for future in self._futures:
            future.result(60)
        self._pool.shutdown()
        return self.outcomes
