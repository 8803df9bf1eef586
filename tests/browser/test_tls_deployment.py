"""The production recipe of docs/deploy.md, end to end: nginx (Debian's) terminating TLS with a self-signed
certificate in front of gunicorn with the ProxyFix settings, and the console driven in Chromium over HTTPS
(login, a workflow action, logout). gunicorn runs with PROXIMA_ENV=test: the test database holds the synthetic
demo units, which production refuses (tests/integration/test_production.py)."""
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import console_login
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, clock_environment
from tests.integration.console_support import make_officer, make_report
from tests.integration.test_make_run import _free_port

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# The server block of docs/deploy.md, with this test's ports and files.
NGINX_CONF = """
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{https_port} ssl;
        server_name localhost;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        client_max_body_size 25m;
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host:$server_port;
        }}
    }}
}}
"""


def _wait(url: str, process: subprocess.Popen, context=None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args[0]} exited early"
        try:
            urllib.request.urlopen(url, timeout=2, context=context)
            return
        except Exception:  # not listening yet
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture
def https_console(tmp_path, committed):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    app_port, https_port = _free_port(), _free_port()
    env = {**os.environ, "DATABASE_URL": TEST_DATABASE_URL, "REDIS_URL": TEST_REDIS_URL, "PROXIMA_ENV": "test",
           "SECRET_KEY": "tls-test-secret-key-of-some-length-000", "SESSION_COOKIE_SECURE": "1",
           "PROXY_FIX_X_FOR": "1", "PROXY_FIX_X_PROTO": "1", "PROXY_FIX_X_HOST": "1", **clock_environment()}
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--bind", f"127.0.0.1:{app_port}", "--workers", "1",
         "--worker-class", "gthread", "--threads", "4", "wsgi:app"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "gunicorn.log", "w"))
    (tmp_path / "nginx.conf").write_text(NGINX_CONF.format(
        user="user root;" if os.geteuid() == 0 else "", dir=tmp_path, https_port=https_port, app_port=app_port))
    nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait(f"http://127.0.0.1:{app_port}/healthz", gunicorn)
        import ssl
        _wait(f"https://localhost:{https_port}/healthz", nginx, ssl._create_unverified_context())
        yield f"https://localhost:{https_port}"
    finally:
        for process in (nginx, gunicorn):
            process.send_signal(signal.SIGTERM if process is gunicorn else signal.SIGQUIT)
        for process in (nginx, gunicorn):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_the_console_over_https_behind_nginx(https_console, browser):
    make_officer("agent.tls@test.fr", unit_code="PN-75104")
    report = make_report("rodeo_motorise", description="Motos sur le parvis")
    context = browser.new_context(ignore_https_errors=True, locale="fr-FR", timezone_id="Europe/Paris")
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        response = page.goto(f"{https_console}/console/login")
        assert response.headers.get("strict-transport-security", "").startswith("max-age=")  # HTTPS seen via proxy
        console_login(page, https_console, "agent.tls@test.fr")
        session_cookie = next(c for c in context.cookies() if c["name"] == "session")
        assert session_cookie["secure"] and session_cookie["httpOnly"]
        assert page.url.startswith(https_console)  # redirects kept the scheme and host of the proxy

        page.goto(f"{https_console}/console/reports/{report.id}")
        page.get_by_role("button", name="Prendre en compte").click()
        expect(page.locator("#report-status")).to_have_text("Pris en compte")

        page.get_by_role("button", name="Se déconnecter").click()
        expect(page.get_by_label("Mot de passe")).to_be_visible()
        assert page.url.startswith(f"{https_console}/console/login")
        # The session cookie is dead server-side too: the console sends back to the login page.
        page.goto(f"{https_console}/console/")
        assert "/console/login" in page.url
    finally:
        context.close()
