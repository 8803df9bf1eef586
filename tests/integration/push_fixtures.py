"""Fixtures and helpers of the push tests: the local FCM server, an app wired to it, workers, a private Redis."""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import redis

from models import db
from tests.conftest import (TEST_DATABASE_URL, TEST_REDIS_URL, _test_config, _truncate_transactional_tables,
                            clock_environment)
from tests.fcm_server import FCMTestServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Small numbers keep the suite fast: back-off in tenths of a second, a short HTTP timeout.
PUSH_CONFIG = {
    "PUSH_BACKOFF_BASE_S": 0.2,
    "PUSH_BACKOFF_MAX_S": 2,
    "PUSH_MAX_ATTEMPTS": 4,
    "PUSH_HTTP_TIMEOUT_S": 1,
    "SLA_ESCALATION_DELAY_MIN": 30,
    "SATISFACTION_DELAY_MIN": 60,
    "OUTBOX_RELAY_INTERVAL_S": 1,
}


@pytest.fixture(scope="session")
def fcm_server():
    server = FCMTestServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fcm_credentials(fcm_server, tmp_path_factory):
    return fcm_server.service_account_file(tmp_path_factory.mktemp("fcm") / "service-account.json")


def push_config(fcm_server, fcm_credentials, **overrides) -> dict:
    return {**_test_config(), "FCM_CREDENTIALS_FILE": fcm_credentials, "FCM_ENDPOINT": fcm_server.endpoint,
            "FCM_PROJECT_ID": None, **PUSH_CONFIG, **overrides}


@pytest.fixture(scope="session")
def push_app(app, fcm_server, fcm_credentials):
    """The application with the real pyfcm backend pointed at the local FCM test server."""
    from service import create_app
    return create_app(push_config(fcm_server, fcm_credentials))


@pytest.fixture
def push_db(push_app, redis_conn, fcm_server):
    """Real commits (workers and relays run in other transactions); transactional tables truncated after."""
    fcm_server.reset()
    with push_app.app_context():
        yield db.session
        db.session.remove()
        truncate()
    fcm_server.reset()


def truncate() -> None:
    _truncate_transactional_tables()  # as the owner: the application role may not truncate the audit tables


def work(app, with_scheduler: bool = True) -> None:
    """Run an in-process worker until the queues are empty (and move due scheduled jobs first)."""
    from workers.worker import run_worker
    run_worker(app, with_scheduler=with_scheduler, burst=True)


def work_until(app, condition, timeout: float = 8.0, pause: float = 0.1) -> None:
    """Run burst workers (with the scheduler) until `condition()` is true."""
    deadline = time.monotonic() + timeout
    while True:
        work(app)
        db.session.expire_all()
        db.session.rollback()
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(pause)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own, on its own port, that the test can stop and restart."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 5
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(5)
            self.process = None


def worker_process(fcm_server, fcm_credentials, *args, **env) -> subprocess.Popen:
    """`flask worker …` in a process of its own, on the test database, Redis and FCM server."""
    environment = {
        **os.environ, "DATABASE_URL": TEST_DATABASE_URL, "REDIS_URL": TEST_REDIS_URL,
        "FCM_CREDENTIALS_FILE": fcm_credentials, "FCM_ENDPOINT": fcm_server.endpoint, "PROXIMA_ENV": "test",
        "SECRET_KEY": "test-secret", "PUSH_HTTP_TIMEOUT_S": "30", "PUSH_BACKOFF_BASE_S": "1",
        **clock_environment(), **{k: str(v) for k, v in env.items()},
    }
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", *args], cwd=ROOT,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
