"""Console sign-in: sessions, CSRF, throttling and temporary lock, safe redirects, cookie flags."""

from sqlalchemy import select

from models import AuditEntry, Officer, db
from tests.integration.console_support import PASSWORD, csrf_token, login, make_officer, new_client


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


def _login_from(client, address: str, email: str, password: str = PASSWORD):
    token = csrf_token(client.get("/console/login", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True))
    return client.post("/console/login", data={"csrf_token": token, "email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _audited(action: str) -> list[AuditEntry]:
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_a_stranger_cannot_lock_the_owner_out(app, db_session, clock):
    stranger, owner = new_client(app), new_client(app)
    officer = make_officer("agent@test.fr")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        response = _login_from(stranger, "203.0.113.7", "agent@test.fr", "wrong password!!")
        assert response.status_code == 401
        assert "Identifiants incorrects" in response.get_data(as_text=True)
    # From the stranger's address, even the right password is now refused: guessing stays expensive…
    assert _login_from(stranger, "203.0.113.7", "agent@test.fr").status_code == 429
    # …while the owner, from their own address, logs in.
    assert _login_from(owner, "198.51.100.20", "agent@test.fr").status_code == 302
    assert owner.get("/console/", environ_base={"REMOTE_ADDR": "198.51.100.20"}).status_code == 200
    db.session.refresh(officer)
    assert officer.locked_until is None
    throttled = _audited("login.throttled")
    assert len(throttled) == 1 and throttled[0].officer_id == officer.id
    assert throttled[0].details["ip"] == "203.0.113.7"
    # The next window forgives the stranger's address.
    clock.advance(minutes=app.config["LOGIN_LOCK_MINUTES"])
    assert _login_from(new_client(app), "203.0.113.7", "agent@test.fr").status_code == 302


def test_ipv6_addresses_count_by_their_64(app, db_session):
    make_officer("agent@test.fr")
    client = new_client(app)
    for i in range(app.config["LOGIN_MAX_FAILURES"]):
        _login_from(client, f"2001:db8:1:2::{i + 1:x}", "agent@test.fr", "wrong password!!")
    assert _login_from(client, "2001:db8:1:2:ffff::99", "agent@test.fr").status_code == 429
    assert _login_from(new_client(app), "2001:db8:1:3::1", "agent@test.fr").status_code == 302


def test_the_per_address_cap_holds_when_redis_is_down(committed):
    from service import create_app
    from tests.conftest import _test_config
    app = create_app({**_test_config(), "REDIS_URL": "redis://127.0.0.1:1/0", "RATELIMIT_STORAGE_URI":
                      "redis://127.0.0.1:1/0", "LOGIN_MAX_FAILURES_PER_IP": 3})
    with app.app_context():
        make_officer("agent@test.fr")
        db.session.remove()
    client = new_client(app)
    for i in range(3):
        assert _login_from(client, "192.0.2.50", f"nobody{i}@test.fr", "whatever password").status_code == 401
    assert _login_from(client, "192.0.2.50", "agent@test.fr").status_code == 429
    assert _login_from(client, "192.0.2.51", "agent@test.fr").status_code == 302


def test_an_attack_from_many_addresses_alerts_the_supervisors(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ALERT_FAILURES", 6)
    officer = make_officer("agent@test.fr", unit_code="PN-75104")
    make_officer("chef@test.fr", "superviseur", unit_code="PN-75104")
    for i in range(6):
        _login_from(new_client(app), f"198.51.100.{i + 1}", "agent@test.fr", "wrong password!!")
    alerts = _audited("login.attack_suspected")
    assert len(alerts) == 1 and alerts[0].officer_id == officer.id
    supervisor = new_client(app)
    assert _login_from(supervisor, "192.0.2.9", "chef@test.fr").status_code == 302
    page = supervisor.get("/console/tableau-de-bord/journal").get_data(as_text=True)
    assert 'id="security-alerts"' in page and "agent@test.fr" in page
    # The owner is not locked out by the attack.
    assert _login_from(new_client(app), "192.0.2.10", "agent@test.fr").status_code == 302


def test_unknown_email_gives_the_same_answer(app, db_session):
    console_client = new_client(app)
    response = login(console_client, "nobody@test.fr", "whatever password")
    assert response.status_code == 401
    assert "Identifiants incorrects" in response.get_data(as_text=True)


def test_per_address_throttle(app, db_session, monkeypatch):
    console_client = new_client(app)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_IP", 3)
    make_officer("agent@test.fr")
    for i in range(3):
        login(console_client, f"nobody{i}@test.fr", "whatever password")
    assert login(console_client, "agent@test.fr").status_code == 429
    assert len(_audited("login.address_throttled")) == 1


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


def _copy_cookies(source, target) -> None:
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_a_cookie_copied_before_logout_is_refused_after_it(app, db_session):
    officer_client, thief = new_client(app), new_client(app)
    make_officer("agent@test.fr")
    login(officer_client, "agent@test.fr")
    _copy_cookies(officer_client, thief)
    assert thief.get("/console/").status_code == 200  # the copy works while the session lives
    token = csrf_token(officer_client.get("/console/").get_data(as_text=True))
    assert officer_client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get("/console/").status_code == 302
    assert thief.get("/console/", headers={"Accept": "application/json"}).status_code == 401


def test_a_password_change_ends_every_session(app, db_session):
    from service.accounts import officers
    first, second = new_client(app), new_client(app)
    officer = make_officer("agent@test.fr")
    login(first, "agent@test.fr")
    login(second, "agent@test.fr")
    officers.set_password(officer, "another long password", actor="cli")
    assert first.get("/console/").status_code == 302 and second.get("/console/").status_code == 302
    assert login(first, "agent@test.fr", "another long password").status_code == 302
    assert [e.action for e in _audited("officer.password_change")] == ["officer.password_change"]


def test_deactivation_ends_sessions_at_once(app, db_session):
    from service.accounts import officers
    client = new_client(app)
    officer = make_officer("agent@test.fr")
    login(client, "agent@test.fr")
    officers.set_active(officer, False, actor="cli")
    officers.set_active(officer, True, actor="cli")
    assert client.get("/console/").status_code == 302  # reactivated, but the old session stays ended


def test_sessions_end_when_idle_and_after_their_lifetime(app, db_session, clock):
    client = new_client(app)
    make_officer("agent@test.fr")
    login(client, "agent@test.fr")
    clock.advance(minutes=app.config["CONSOLE_SESSION_IDLE_MIN"] - 1)
    assert client.get("/console/").status_code == 200
    clock.advance(minutes=app.config["CONSOLE_SESSION_IDLE_MIN"] + 1)
    assert client.get("/console/").status_code == 302
    login(client, "agent@test.fr")
    # Used every hour, a session still ends CONSOLE_SESSION_MAX_HOURS after login.
    for _ in range(app.config["CONSOLE_SESSION_MAX_HOURS"] - 1):
        clock.advance(hours=1)
        assert client.get("/console/").status_code == 200
    clock.advance(hours=1, minutes=1)
    assert client.get("/console/").status_code == 302


def test_role_and_unit_changes_are_audited_and_end_sessions(app, db_session):
    from service.accounts import officers
    from tests.integration.console_support import unit
    client = new_client(app)
    officer = make_officer("agent@test.fr", unit_code="PN-75104")
    login(client, "agent@test.fr")
    officers.change_assignment(officer, "superviseur", unit("PN-69382"), actor="cli")
    assert client.get("/console/").status_code == 302
    change = _audited("officer.assignment_change")[0]
    assert change.details["before"]["role"] == "agent" and change.details["after"]["role"] == "superviseur"


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
