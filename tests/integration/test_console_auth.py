"""Console sign-in: sessions, CSRF, throttling and temporary lock, safe redirects, cookie flags."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from models import AuditEntry, Officer, db
from tests.integration.console_support import PASSWORD, csrf_token, login, make_officer


def test_login_page_is_french_and_has_csrf(client):
    response = client.get("/console/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'lang="fr"' in html and "Mot de passe" in html
    assert csrf_token(html)


def test_queue_requires_login(client):
    response = client.get("/console/")
    assert response.status_code == 302
    assert "/console/login?next=" in response.headers["Location"]
    assert client.get("/console/queue.json").status_code == 401


def test_login_success_sets_secure_session(client, db_session):
    make_officer("agent@test.fr")
    response = login(client, "agent@test.fr")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/console/").status_code == 200
    officer = db.session.scalar(select(Officer).where(Officer.email == "agent@test.fr"))
    assert officer.last_login_at is not None
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.officer_id == officer.id)).all()
    assert "login.success" in actions


def test_login_post_without_csrf_is_refused(client, db_session):
    make_officer("agent@test.fr")
    response = client.post("/console/login", data={"email": "agent@test.fr", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/console/").status_code == 302  # still not logged in


def test_wrong_password_then_lock(client, app, db_session):
    make_officer("agent@test.fr")
    max_failures = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(max_failures):
        response = login(client, "agent@test.fr", "wrong password!!")
        assert response.status_code == 401
        assert "Identifiants incorrects" in response.get_data(as_text=True)
    officer = db.session.scalar(select(Officer).where(Officer.email == "agent@test.fr"))
    db.session.refresh(officer)
    assert officer.locked_until is not None and officer.locked_until > datetime.now(timezone.utc)
    # Locked: even the right password is refused, with the same message.
    response = login(client, "agent@test.fr")
    assert response.status_code == 401
    assert client.get("/console/").status_code == 302
    # Once the lock has expired, the right password works again.
    officer.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)
    db.session.commit()
    assert login(client, "agent@test.fr").status_code == 302
    assert client.get("/console/").status_code == 200


def test_unknown_email_gives_the_same_answer(client, db_session):
    response = login(client, "nobody@test.fr", "whatever password")
    assert response.status_code == 401
    assert "Identifiants incorrects" in response.get_data(as_text=True)


def test_per_address_throttle(client, app, db_session):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    try:
        make_officer("agent@test.fr")
        for i in range(3):
            login(client, f"nobody{i}@test.fr", "whatever password")
        assert login(client, "agent@test.fr").status_code == 429
    finally:
        app.config["LOGIN_MAX_FAILURES_PER_IP"] = 30


def test_next_redirect_is_kept_inside_the_console(client, db_session):
    make_officer("agent@test.fr")
    assert login(client, "agent@test.fr", next_url="/console/reports/12").headers["Location"] == "/console/reports/12"


def test_next_redirect_to_another_site_is_ignored(app, db_session):
    make_officer("agent@test.fr")
    for target in ("https://evil.example/", "//evil.example/console", "/\\evil.example", "/api/v1/reports",
                   "javascript:alert(1)", "%2F%2Fevil.example"):
        response = login(app.test_client(), "agent@test.fr", next_url=target)
        assert response.headers["Location"] == "/console/", target


def test_logout_needs_post_with_csrf(client, db_session):
    make_officer("agent@test.fr")
    login(client, "agent@test.fr")
    assert client.get("/console/logout").status_code == 405
    assert client.post("/console/logout").status_code == 400
    assert client.get("/console/").status_code == 200
    token = csrf_token(client.get("/console/").get_data(as_text=True))
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/").status_code == 302


def test_inactive_officer_is_logged_out(client, db_session):
    officer = make_officer("agent@test.fr")
    login(client, "agent@test.fr")
    officer.active = False
    db.session.commit()
    assert client.get("/console/").status_code == 302


def test_api_is_not_subject_to_console_csrf(client, db_session):
    # The JSON API authenticates with bearer tokens: no CSRF token, and it must not answer 400 for its absence.
    response = client.post("/api/v1/devices", json={"platform": "android", "locale": "fr"})
    assert response.status_code != 400 or "CSRF" not in response.get_data(as_text=True)
