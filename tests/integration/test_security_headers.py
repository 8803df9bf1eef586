"""Security headers and cookie flags on the console, its dashboard, the API docs, the API and Open311."""
import re

import pytest

from tests.integration.console_support import console_client, login, make_officer  # noqa: F401 (fixture)

PAGES = ["/console/login", "/api/v1/docs"]
API = ["/api/v1/categories", "/open311/v2/services.json", "/open311/v2/services.xml", "/api/v1/nowhere"]


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_common(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors" in directives(response.headers["Content-Security-Policy"])
    assert directives(response.headers["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_a_csp_without_inline_scripts(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_common(response)
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["default-src"] and "'unsafe-eval'" not in str(policy)
    assert response.headers["Cache-Control"] == "no-store"
    # And the page itself holds no script the policy would block: every executable <script> has a src.
    html = response.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), "inline event handler"


def test_console_pages_behind_login_carry_the_policy(console_client):
    make_officer("chef.csp@interieur.gouv.fr", role="superviseur")
    assert login(console_client, "chef.csp@interieur.gouv.fr").status_code in (302, 303)
    for path in ("/console/", "/console/tableau-de-bord/"):
        response = console_client.get(path)
        assert response.status_code == 200, path
        assert_common(response)
        assert directives(response.headers["Content-Security-Policy"])["script-src"] == ["'self'"]
        html = response.get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=\s*[\"']", html, flags=re.I), f"inline event handler in {path}"


def test_map_tile_host_is_allowed_for_images_only(app, client):
    app.config["MAP_TILE_URL"] = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    try:
        policy = directives(client.get("/console/login").headers["Content-Security-Policy"])
    finally:
        app.config["MAP_TILE_URL"] = ""
    assert "https://*.tile.example.org" in policy["img-src"]
    assert "https://*.tile.example.org" not in policy["script-src"] + policy["connect-src"]


@pytest.mark.parametrize("path", API)
def test_api_answers_allow_nothing_active(client, path):
    response = client.get(path)
    assert_common(response)
    assert directives(response.headers["Content-Security-Policy"])["default-src"] == ["'none'"]


def test_hsts_only_over_tls(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    secure = client.get("/healthz", base_url="https://proxima.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=63072000")


def test_behind_a_tls_proxy_hsts_and_client_address_come_from_forwarded_headers(committed):
    from service import create_app
    from tests.conftest import _test_config
    app = create_app({**_test_config(), "PROXY_FIX_X_FOR": 1, "PROXY_FIX_X_PROTO": 1,
                      "RATELIMIT_REGISTRATION_PER_IP": "1 per minute"})
    client = app.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    response = client.post("/api/v1/devices", json={"platform": "ios"}, headers=forwarded)
    assert response.status_code == 201
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    # The limit counts the forwarded client, not the proxy: another client behind it still gets through.
    assert client.post("/api/v1/devices", json={"platform": "ios"}, headers=forwarded).status_code == 429
    other = {**forwarded, "X-Forwarded-For": "198.51.100.5"}
    assert client.post("/api/v1/devices", json={"platform": "ios"}, headers=other).status_code == 201
    # Without a trusted proxy configured, the same headers change nothing.
    plain = create_app(_test_config()).test_client()
    assert "Strict-Transport-Security" not in plain.get("/healthz", headers=forwarded).headers


def _cookie_attributes(response, name: str) -> dict[str, str | bool] | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            attributes = {}
            for part in header.split(";")[1:]:
                key, _, value = part.strip().partition("=")
                attributes[key.lower()] = value or True
            return attributes
    return None


def test_session_cookie_is_httponly_and_samesite(console_client):
    make_officer("agent.cookie@interieur.gouv.fr")
    response = login(console_client, "agent.cookie@interieur.gouv.fr")
    cookie = _cookie_attributes(response, "session")
    assert cookie is not None, response.headers.getlist("Set-Cookie")
    assert cookie.get("httponly") is True and cookie.get("samesite") == "Lax"
    assert "secure" not in cookie  # plain-HTTP development: SESSION_COOKIE_SECURE is off by default


def test_session_cookie_is_secure_when_configured(committed):
    from service import create_app
    from tests.integration.console_support import new_client
    from tests.conftest import _test_config
    app = create_app({**_test_config(), "SESSION_COOKIE_SECURE": True})
    with app.app_context():
        make_officer("agent.secure@interieur.gouv.fr")
    client = new_client(app)
    response = login(client, "agent.secure@interieur.gouv.fr")
    cookie = _cookie_attributes(response, "session")
    assert cookie is not None and cookie.get("secure") is True and cookie.get("httponly") is True
