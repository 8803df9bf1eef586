"""Reads that tolerate lag (Open311 GET, the dashboard's report list) go to the replica while its lag is within
REPLICA_MAX_LAG_S (8 s in the cluster), then back to the primary; a resident's own report is always read on
the primary. Replay on the replica is paused to make it lag on purpose."""
import contextlib
import re
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from service import create_app
from tests.cluster.conftest import wait_replica_caught_up
from tests.faults.support import register, report_body


@pytest.fixture(scope="module")
def max_lag_s(cluster) -> float:
    return float(cluster["REPLICA_MAX_LAG_S"])


def _warm_up(base: str, http: requests.Session) -> None:
    """First requests of each gunicorn process build its routing index and pools: keep them out of the timing."""
    token = register(base, http)
    for i in range(4):
        http.post(base + "/api/v1/reports", json=report_body(40 + i), timeout=60,
                  headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        http.get(base + "/open311/v2/requests.json", timeout=60).raise_for_status()


@contextlib.contextmanager
def replay_paused(primary, replica):
    """The replica stops replaying from a moment just after a commit (so its lag counts from now)."""
    with primary.connect() as conn:
        conn.execute(text("SELECT txid_current()"))  # a commit whose replay timestamp starts the lag clock
    wait_replica_caught_up(primary, replica)
    with replica.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    paused_at = time.monotonic()
    try:
        yield paused_at
    finally:
        with replica.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
        wait_replica_caught_up(primary, replica)


def _intake(base: str, http: requests.Session, token: str) -> str:
    response = http.post(base + "/api/v1/reports", json=report_body(7), timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return response.json()["reference"]


def _wait_until(condition, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"not true after {timeout} s")


def test_open311_reads_the_replica_until_it_lags_too_much_and_residents_read_the_primary(
        primary, replica, web_urls, max_lag_s):
    base = web_urls[0]
    http = requests.Session()
    _warm_up(base, http)
    token = register(base, http)
    with replay_paused(primary, replica) as paused_at:
        reference = _intake(base, http, token)
        # The resident who just sent it sees it at once (primary)…
        own = http.get(f"{base}/api/v1/reports/{reference}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert own.status_code == 200
        # …Open311 readers do not yet (replica, behind by less than REPLICA_MAX_LAG_S)…
        stale = http.get(f"{base}/open311/v2/requests/{reference}.json", timeout=30)
        assert time.monotonic() - paused_at < max_lag_s - 2, "too slow to observe the replica in time"
        assert stale.status_code == 404
        # …until the replica lags beyond the bound: the same read then goes to the primary.
        _wait_until(lambda: http.get(f"{base}/open311/v2/requests/{reference}.json", timeout=30).status_code == 200,
                    timeout=max_lag_s + 15)
        assert time.monotonic() - paused_at >= max_lag_s
        with replica.connect() as conn:  # still paused: the answer came from the primary
            assert conn.execute(text("SELECT count(*) FROM reports WHERE reference = :r"),
                                {"r": reference}).scalar() == 0


def _admin_credentials() -> tuple[str, str]:
    accounts = Path(__file__).resolve().parents[2] / "var" / "cluster" / "demo-accounts.txt"
    for line in accounts.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "admin":
            return fields[1], fields[2]
    raise AssertionError("no admin account in " + str(accounts))


def _console_login(base: str) -> requests.Session:
    http = requests.Session()
    page = http.get(base + "/console/login", timeout=30).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    email, password = _admin_credentials()
    response = http.post(base + "/console/login", data={"csrf_token": csrf, "email": email, "password": password},
                         timeout=30, allow_redirects=False)
    assert response.status_code == 302, response.text[:300]
    return http


def test_the_dashboard_report_list_and_export_read_the_replica_within_the_lag_bound(
        cluster, primary, replica, web_urls, max_lag_s):
    base = web_urls[1]
    resident = requests.Session()
    _warm_up(base, resident)
    token = register(base, resident)
    console = _console_login(base)
    for _ in range(4):
        console.get(base + "/console/tableau-de-bord/signalements", timeout=60).raise_for_status()
    app = create_app({"SQLALCHEMY_DATABASE_URI": cluster["DATABASE_PRIMARY_DIRECT_URL"], "DATABASE_REPLICA_URL": None,
                      "REDIS_URL": cluster["REDIS_URL"]})
    exports = text("SELECT count(*) FROM audit_log WHERE action = 'indicators.export_csv'")
    with primary.connect() as conn:
        exports_before = conn.execute(exports).scalar()
    with replay_paused(primary, replica) as paused_at:
        reference = _intake(base, resident, token)
        with app.app_context():  # the worker's refresh, done now: the report enters the dashboard's table
            from service.statistics.report_clocks import refresh_indicator_views
            refresh_indicator_views()
        listed = console.get(base + "/console/tableau-de-bord/signalements", timeout=60)
        exported = console.get(base + "/console/tableau-de-bord/export.csv", timeout=60)
        assert time.monotonic() - paused_at < max_lag_s - 2, "too slow to observe the replica in time"
        assert listed.status_code == 200 and reference not in listed.text
        # The export's audit entry is written on the primary, its rows read on the replica.
        assert exported.status_code == 200 and reference not in exported.text
        with primary.connect() as conn:
            assert conn.execute(exports).scalar() == exports_before + 1
        _wait_until(lambda: reference in console.get(base + "/console/tableau-de-bord/signalements", timeout=60).text,
                    timeout=max_lag_s + 15)
        assert time.monotonic() - paused_at >= max_lag_s
