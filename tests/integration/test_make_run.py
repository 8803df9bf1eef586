"""Smoke test of what `make run` serves: gunicorn with the real wsgi app answers /readyz.

`make run` itself would provision again from inside the suite, so this starts the same gunicorn command as
scripts/run.sh on a free port, against the test database and Redis. scripts/smoke.sh drives `make run` itself.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Gunicorn:
    """gunicorn wsgi:app as scripts/run.sh starts it (gthread workers; one here, to start fast), stopped with SIGTERM."""

    def __init__(self, env_overrides: dict):
        self.port = _free_port()
        env = {**os.environ, "DATABASE_URL": TEST_DATABASE_URL, "REDIS_URL": TEST_REDIS_URL,
               "PROXIMA_ENV": "test", "SECRET_KEY": "smoke-test", **env_overrides}
        self.process = subprocess.Popen(
            [str(GUNICORN), "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--worker-class", "gthread",
             "--threads", "2", "--graceful-timeout", "5", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_for(self, path: str, statuses: set[int], timeout: float = 60) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited early:\n{self.output()}"
            try:
                status, body = _get(self.base + path)
                if status in statuses:
                    return status, body
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet
            time.sleep(0.3)
        raise AssertionError(f"{path} did not answer {statuses} within {timeout}s:\n{self.stop()}")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.output()

    def output(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stdout.read().decode(errors="replace")[-4000:]


@pytest.fixture
def served(app):  # `app` makes sure the test database exists and is migrated
    servers = []

    def start(**env_overrides) -> Gunicorn:
        server = Gunicorn(env_overrides)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_gunicorn_serves_readyz_then_stops_on_sigterm(served):
    server = served()
    status, body = server.wait_for("/readyz", {200})
    assert json.loads(body) == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
    assert _get(server.base + "/healthz")[0] == 200

    server.stop()
    assert server.process.returncode == 0, server.output()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_readyz_is_503_when_redis_is_unreachable(served):
    server = served(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    status, body = server.wait_for("/readyz", {200, 503})
    assert status == 503
    checks = json.loads(body)["checks"]
    assert checks["database"] == "ok" and checks["redis"].startswith("error")


@pytest.mark.skipif(not (ROOT / "service/static/vendor/.stamp").exists(),
                    reason="front-end libraries not vendored yet (make run / make test copy them)")
def test_vendored_front_end_libraries_are_served_locally(client):
    for path in ("leaflet/leaflet.js", "leaflet/leaflet.css", "leaflet/images/marker-icon.png",
                 "chart.js/chart.umd.js", "redoc/redoc.standalone.js"):
        response = client.get(f"/static/vendor/{path}")
        assert response.status_code == 200 and len(response.data) > 100, path
        response.close()
