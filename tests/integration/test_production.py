"""Production refuses unsafe configuration: gunicorn and flask started as an operator would, with
PROXIMA_ENV=production, exit non-zero with a message naming the problem."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.integration.test_make_run import _free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STRONG = {"SECRET_KEY": "k3y-Vq9s7T2m8Xw4Zp1Lr6Nc0Bd5Hf3Jg", "AUDIT_HMAC_KEY": "a8d-Qe4Wr7Ty1Ui3Op5As9Df2Gh6Jk0Lz",
          "SESSION_COOKIE_SECURE": "1"}

pytestmark = pytest.mark.slow


def _run(command: list[str], **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DATABASE_URL": TEST_DATABASE_URL, "REDIS_URL": TEST_REDIS_URL,
                   "PROXIMA_ENV": "production", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)


def _gunicorn(**env) -> subprocess.CompletedProcess:
    return _run([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{_free_port()}", "--workers", "1", "wsgi:app"], **env)


def test_the_development_key_is_refused():
    result = _gunicorn(**{**STRONG, "SECRET_KEY": "dev-only-not-secret"})
    assert result.returncode != 0
    assert "refuses to start with PROXIMA_ENV=production" in result.stderr and "SECRET_KEY" in result.stderr


def test_insecure_session_cookies_are_refused():
    result = _gunicorn(**{**STRONG, "SESSION_COOKIE_SECURE": "0"})
    assert result.returncode != 0 and "SESSION_COOKIE_SECURE=1 is required" in result.stderr


def test_the_audit_key_must_be_set_and_differ_from_the_secret_key():
    result = _run([str(BIN / "flask"), "--app", "service", "audit", "verify"],
                  **{**STRONG, "AUDIT_HMAC_KEY": STRONG["SECRET_KEY"]})
    assert result.returncode != 0 and "AUDIT_HMAC_KEY must differ from SECRET_KEY" in result.stderr


def test_synthetic_demo_units_in_service_are_refused_by_the_serving_processes(app):
    # The test database holds the synthetic demo units, active: gunicorn and the worker refuse to serve…
    result = _gunicorn(**STRONG)
    assert result.returncode != 0 and "synthetic demo unit(s) are active" in result.stderr
    worker = _run([str(BIN / "flask"), "--app", "wsgi", "worker", "--burst"], **STRONG)
    assert worker.returncode != 0 and "synthetic demo unit(s) are active" in worker.stderr
    # …while maintenance commands still run, so that an operator can fix it.
    maintenance = _run([str(BIN / "flask"), "--app", "service", "audit", "verify"], **STRONG)
    assert maintenance.returncode == 0, maintenance.stderr


def test_demo_accounts_and_history_are_development_only(app, db_session):
    runner = app.test_cli_runner()
    for args in (["officer", "seed-demo"], ["demo", "generate", "--reports", "1"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "development and benchmarks only" in result.output, args


def test_configuration_problems_name_each_unsafe_setting():
    from service.platform.production import configuration_problems
    assert configuration_problems(STRONG) == []
    problems = configuration_problems({"SECRET_KEY": "dev-only-not-secret", "AUDIT_HMAC_KEY": "dev-only-audit-key",
                                       "SESSION_COOKIE_SECURE": False})
    assert [p.split(" ")[0] for p in problems] == ["SECRET_KEY", "AUDIT_HMAC_KEY", "SESSION_COOKIE_SECURE=1"]
