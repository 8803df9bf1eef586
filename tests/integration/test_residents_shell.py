"""The residents' app as served: its shell, manifest and service worker, their policy, and the push settings."""
import json
import re

import pytest

from tests.integration.test_security_headers import assert_common, directives

FCM_WEB = {"FCM_WEB_API_KEY": "web-api-key", "FCM_WEB_APP_ID": "1:42:web:abc", "FCM_WEB_SENDER_ID": "42",
           "FCM_WEB_VAPID_KEY": "BPublicVapidKey", "FCM_PROJECT_ID": "proxima-test"}


@pytest.fixture
def fcm_web(app, monkeypatch):
    for name, value in FCM_WEB.items():
        monkeypatch.setitem(app.config, name, value)


@pytest.mark.parametrize("path", ["/", "/manifest.webmanifest", "/sw.js"])
def test_app_answers_carry_the_page_policy_with_geolocation_for_this_origin(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_common(response)
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert "blob:" in policy["img-src"]  # photo previews before upload
    assert policy["connect-src"] == ["'self'"]  # no push configured: nothing else to reach
    assert "geolocation=(self)" in response.headers["Permissions-Policy"]
    assert response.headers["Cache-Control"] == "no-cache"


def test_shell_has_no_inline_script_and_the_accessible_names(client):
    html = client.get("/").get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
        assert "src=" in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), "inline event handler"
    for name in ("Nature du signalement", "Description", "Ajouter une photo", "Envoyer le signalement",
                 "Mes signalements", "tel:17", "tel:112", "sms:114"):
        assert name in html
    assert "data-fcm" not in html


def test_manifest_and_service_worker(client):
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    body = json.loads(manifest.get_data(as_text=True))
    assert body["start_url"] == body["scope"] == "/" and body["lang"] == "fr"
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get("/sw.js")
    assert worker.mimetype == "text/javascript" and b"addEventListener(\"fetch\"" in worker.data


def test_api_answers_keep_their_own_policy(client):
    response = client.get("/api/v1/categories")
    assert directives(response.headers["Content-Security-Policy"])["default-src"] == ["'none'"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]


def test_fcm_web_settings_reach_the_page_and_its_policy(client, fcm_web):
    response = client.get("/")
    html = response.get_data(as_text=True)
    config = json.loads(re.search(r"data-fcm='([^']*)'", html).group(1))
    assert config == {"apiKey": "web-api-key", "appId": "1:42:web:abc", "messagingSenderId": "42",
                      "projectId": "proxima-test", "vapidKey": "BPublicVapidKey"}
    assert "firebase-messaging-compat.js" in html
    connect = directives(response.headers["Content-Security-Policy"])["connect-src"]
    assert connect == ["'self'", "https://firebaseinstallations.googleapis.com",
                       "https://fcmregistrations.googleapis.com"]


def test_incomplete_fcm_web_settings_mean_no_push(client, fcm_web, app, monkeypatch):
    monkeypatch.setitem(app.config, "FCM_WEB_VAPID_KEY", None)
    assert "data-fcm" not in client.get("/").get_data(as_text=True)
