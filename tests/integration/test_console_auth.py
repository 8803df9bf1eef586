"""Console sign-in: sessions, CSRF, throttling and temporary lock, safe redirects, cookie flags."""
from datetime import timedelta

from sqlalchemy import select

from models import AuditEntry, Officer, db
from tests.integration.console_support import PASSWORD, csrf_token, login, make_officer, new_client
from service.platform import clock as service_clock


def test_login_page_is_french_and_has_csrf(app, db_session):
    console_client = new_client(app)
    response = console_client.get("/console/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'lang="fr"' in html and "Mot de passe" in html
    assert csrf_token(html)


def test_queue_requires_login(app, db_session):
    console_client = new_client(app)
    response = console_client.get("/console/")
    assert response.status_code == 302
    assert "/console/login?next=" in response.headers["Location"]
    assert console_client.get("/console/queue.json").status_code == 401


def test_login_success_sets_secure_session(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    response = login(console_client, "agent@test.fr")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert console_client.get("/console/").status_code == 200
    officer = db.session.scalar(select(Officer).where(Officer.email == "agent@test.fr"))
    assert officer.last_login_at is not None
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.officer_id == officer.id)).all()
    assert "login.success" in actions


def test_login_post_without_csrf_is_refused(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    response = console_client.post("/console/login", data={"email": "agent@test.fr", "password": PASSWORD})
    assert response.status_code == 400
    assert console_client.get("/console/").status_code == 302  # still not logged in


def test_wrong_password_then_lock(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    max_failures = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(max_failures):
        response = login(console_client, "agent@test.fr", "wrong password!!")
        assert response.status_code == 401
        assert "Identifiants incorrects" in response.get_data(as_text=True)
    officer = db.session.scalar(select(Officer).where(Officer.email == "agent@test.fr"))
    db.session.refresh(officer)
    assert officer.locked_until is not None and officer.locked_until > service_clock.now()
    # Locked: even the right password is refused, with the same message.
    response = login(console_client, "agent@test.fr")
    assert response.status_code == 401
    assert console_client.get("/console/").status_code == 302
    # Once the lock has expired, the right password works again.
    officer.locked_until = service_clock.now() - timedelta(seconds=1)
    db.session.commit()
    assert login(console_client, "agent@test.fr").status_code == 302
    assert console_client.get("/console/").status_code == 200


def test_unknown_email_gives_the_same_answer(app, db_session):
    console_client = new_client(app)
    response = login(console_client, "nobody@test.fr", "whatever password")
    assert response.status_code == 401
    assert "Identifiants incorrects" in response.get_data(as_text=True)


def test_per_address_throttle(app, db_session):
    console_client = new_client(app)
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    try:
        make_officer("agent@test.fr")
        for i in range(3):
            login(console_client, f"nobody{i}@test.fr", "whatever password")
        assert login(console_client, "agent@test.fr").status_code == 429
    finally:
        app.config["LOGIN_MAX_FAILURES_PER_IP"] = 30


def test_next_redirect_is_kept_inside_the_console(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    response = login(console_client, "agent@test.fr", next_url="/console/reports/12")
    assert response.headers["Location"] == "/console/reports/12"


def test_next_redirect_to_another_site_is_ignored(app, db_session):
    make_officer("agent@test.fr")
    for target in ("https://evil.example/", "//evil.example/console", "/\\evil.example", "/api/v1/reports",
                   "javascript:alert(1)", "%2F%2Fevil.example"):
        response = login(new_client(app), "agent@test.fr", next_url=target)
        assert response.headers["Location"] == "/console/", target


def test_logout_needs_post_with_csrf(app, db_session):
    console_client = new_client(app)
    make_officer("agent@test.fr")
    login(console_client, "agent@test.fr")
    assert console_client.get("/console/logout").status_code == 405
    assert console_client.post("/console/logout").status_code == 400
    assert console_client.get("/console/").status_code == 200
    token = csrf_token(console_client.get("/console/").get_data(as_text=True))
    assert console_client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert console_client.get("/console/").status_code == 302


def test_inactive_officer_is_logged_out(app, db_session):
    console_client = new_client(app)
    officer = make_officer("agent@test.fr")
    login(console_client, "agent@test.fr")
    officer.active = False
    db.session.commit()
    assert console_client.get("/console/").status_code == 302


def test_api_is_not_subject_to_console_csrf(app, db_session):
    console_client = new_client(app)
    # The JSON API authenticates with bearer tokens: no CSRF token, and it must not answer 400 for its absence.
    response = console_client.post("/api/v1/devices", json={"platform": "android", "locale": "fr"})
    assert response.status_code != 400 or "CSRF" not in response.get_data(as_text=True)
