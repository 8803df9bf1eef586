"""Officer console (`/console`): sessions, CSRF, French UI (Flask-Babel), triage views and CLI commands."""
from flask import Flask, make_response, render_template, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from service.console import auth, commands, views  # noqa: F401  (auth, views: routes register on import)
from service.console.blueprint import bp, login_manager
from service.platform import errors

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
    """Babel, CSRF and Flask-Login (their settings: service.platform.config), the routes and the CLI commands."""
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

    app.register_blueprint(bp)
    errors.register_renderer("/console", _render_console_error)
    commands.init_app(app)
