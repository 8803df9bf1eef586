"""Officer console (`/console`): sessions, CSRF, French UI (Flask-Babel), triage views and CLI commands."""
from datetime import timedelta

from flask import Flask, make_response, render_template, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from service.platform import errors

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

# Token-authenticated machine interfaces: no browser session, hence no CSRF token to check.
CSRF_EXEMPT_PREFIXES = ("/api/", "/open311/")


def _locale() -> str:
    # French is the console's language; other locales come with translation catalogues.
    return request.accept_languages.best_match(["fr", "en"], default="fr") if request else "fr"


def _render_console_error(code: int, message: str | None, _errors):
    messages = {
        400: "Requête invalide (formulaire expiré ? rechargez la page).",
        401: "Veuillez vous connecter.",
        403: "Action non autorisée.",
        404: "Page introuvable ou hors de votre périmètre.",
        405: "Méthode non autorisée.",
        429: "Trop de tentatives : patientez avant de réessayer.",
    }
    text = messages.get(code, "Erreur du service : réessayez dans quelques instants.")
    response = make_response(render_template("console/error.html", code=code, message=text), code)
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "fr")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Paris")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    # CSRF is checked for every state-changing request except the token-authenticated APIs (see below).
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=12))
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE", False))
    app.config.setdefault("LOGIN_MAX_FAILURES_PER_IP", 30)

    babel.init_app(app, locale_selector=_locale)
    csrf.init_app(app)

    @app.before_request
    def _csrf_protect():
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return
        if request.path.startswith(CSRF_EXEMPT_PREFIXES):
            return
        csrf.protect()

    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.login_message = "Veuillez vous connecter pour accéder à la console."
    login_manager.login_message_category = "info"
    # "strong": a session cookie replayed from another IP/agent is dropped.
    login_manager.session_protection = "strong"

    from service.console import auth, views, commands  # noqa: F401  (routes register on import)
    from service.console.blueprint import bp
    app.register_blueprint(bp)
    errors.register_renderer("/console", _render_console_error)
    commands.init_app(app)
