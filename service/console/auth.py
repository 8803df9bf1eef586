"""Console sign-in: a server-side session (service.accounts.sessions) behind Flask-Login's cookie, login
throttled per account × address (service.accounts.login_throttle), safe `next=` redirects."""
from urllib.parse import urlsplit

from flask import current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from models import Officer, db
from service.accounts import login_throttle, officers, sessions
from service.console.blueprint import bp, login_manager
from service.platform import audit
from service.platform.addresses import address_bucket

FAILED_LOGIN_MESSAGE = "Identifiants incorrects, ou compte temporairement verrouillé après trop d'échecs."
SESSION_TOKEN_KEY = "sid"


class SessionOfficer(UserMixin):
    """Flask-Login's user: wraps the Officer row (use `.officer` for the model) and forwards attributes to it."""

    def __init__(self, officer: Officer):
        self.officer = officer

    def get_id(self) -> str:
        return str(self.officer.id)

    @property
    def is_active(self) -> bool:
        return bool(self.officer.active)

    def __getattr__(self, name):
        return getattr(self.officer, name)


@login_manager.user_loader
def _load_user(officer_id: str):
    officer = sessions.resolve(officer_id, session.get(SESSION_TOKEN_KEY))
    return SessionOfficer(officer) if officer else None


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
        return jsonify(code=401, status="Unauthorized", message="Session expirée : reconnectez-vous."), 401
    flash(login_manager.login_message, "info")
    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


def safe_next(target: str | None) -> str:
    """Only a path inside the console: no scheme, no host, no `//` or backslash tricks."""
    default = url_for("console.queue")
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console") or target.startswith("//"):
        return default
    return target


class LoginForm(FlaskForm):
    email = EmailField("Adresse électronique", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[DataRequired(), Length(max=512)])


def _audit_failure(email: str, ip: str) -> None:
    """Count a failed login; a threshold reached is audited (once per window), with the account's officer so
    that its supervisors see it on their journal page."""
    crossed = login_throttle.count_failure(email, ip)
    if not (crossed.pair or crossed.address or crossed.alert):
        return
    target = officers.find_by_email(email)
    details = {"ip": ip, "network": address_bucket(ip), "email": officers.normalise_email(email)}
    if crossed.pair:
        audit.record(target or "system", "login.throttled", "officer", target.id if target else None, details)
    if crossed.address:
        audit.record("system", "login.address_throttled", None, None, details)
    if crossed.alert:
        audit.record(target or "system", "login.attack_suspected", "officer", target.id if target else None,
                     {**details, "failures": current_app.config["LOGIN_ALERT_FAILURES"]})
    db.session.commit()


def _reset_session() -> None:
    session.clear()
    # The CSRF secret lived in the session: drop the token derived from it for the rest of this request.
    g.pop("csrf_token", None)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        ip = request.remote_addr or "?"
        if login_throttle.refusal(form.email.data, ip):
            flash(_("Trop de tentatives depuis cette adresse : patientez quelques minutes."), "error")
            return render_template("console/login.html", form=form), 429
        result = officers.authenticate(form.email.data, form.password.data, remote_addr=ip)
        if result.officer is not None:
            login_throttle.forget_pair(form.email.data, ip)
            # A fresh session on login: nothing set before authentication survives (session fixation).
            _reset_session()
            session[SESSION_TOKEN_KEY] = sessions.start(result.officer)
            db.session.commit()
            login_user(SessionOfficer(result.officer))
            session.permanent = True
            return redirect(safe_next(request.args.get("next")))
        _audit_failure(form.email.data, ip)
        flash(_(FAILED_LOGIN_MESSAGE), "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("console/login.html", form=form), status


@bp.post("/logout")
def logout():
    sessions.end(session.get(SESSION_TOKEN_KEY))
    db.session.commit()
    logout_user()
    _reset_session()
    flash(_("Vous êtes déconnecté."), "info")
    return redirect(url_for("console.login"))
