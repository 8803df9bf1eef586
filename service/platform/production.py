"""Production refuses unsafe configuration: `check_configuration` when the app is built, `check_data` when it
is about to serve (wsgi.py: gunicorn and `flask --app wsgi worker`).

Maintenance commands (`flask --app service db upgrade`, `units import`, `officer deactivate`…) load the app
without `check_data`, so that an operator can fix what it finds. Outside production, nothing is checked.
"""
import logging

import click
from flask import Flask
from sqlalchemy import text

logger = logging.getLogger(__name__)

DEVELOPMENT_SECRETS = frozenset({"dev-only-not-secret", "dev-only-audit-key", "test-secret", "changeme", "secret"})
MIN_SECRET_LENGTH = 32
DEMO_EMAIL_DOMAIN = "@demo.proxima.fr"


class UnsafeProductionError(RuntimeError):
    """Raised at start-up: gunicorn and `flask` exit non-zero with this message."""

    def __init__(self, problems: list[str]):
        super().__init__("Proxima refuses to start with PROXIMA_ENV=production:\n"
                         + "\n".join(f"  - {p}" for p in problems) + "\nSee docs/deploy.md.")
        self.problems = problems


def _weak(secret: str | None) -> bool:
    return not secret or secret in DEVELOPMENT_SECRETS or len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < 10


def configuration_problems(config) -> list[str]:
    """What is unsafe in the settings themselves (no database needed)."""
    problems = []
    if _weak(config.get("SECRET_KEY")):
        problems.append(f"SECRET_KEY is the development key or too weak: set a random value of at least "
                        f"{MIN_SECRET_LENGTH} characters "
                        "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")
    if _weak(config.get("AUDIT_HMAC_KEY")):
        problems.append(f"AUDIT_HMAC_KEY is the development key or too weak: set a random value of at least "
                        f"{MIN_SECRET_LENGTH} characters, kept out of the database")
    elif config.get("AUDIT_HMAC_KEY") == config.get("SECRET_KEY"):
        problems.append("AUDIT_HMAC_KEY must differ from SECRET_KEY")
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append("SESSION_COOKIE_SECURE=1 is required: the console is served over HTTPS only")
    return problems


def data_problems(connection) -> list[str]:
    """What is unsafe in the database: demo accounts or synthetic units in service, a too powerful role."""
    problems = []
    facts = connection.execute(text(
        "SELECT (SELECT count(*) FROM officers WHERE active AND lower(email) LIKE :demo) AS demo_officers, "
        "       (SELECT count(*) FROM units WHERE active AND synthetic) AS synthetic_units, "
        "       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser, "
        "       (SELECT tableowner = current_user FROM pg_tables WHERE tablename = 'audit_log') AS owns_audit"),
        {"demo": "%" + DEMO_EMAIL_DOMAIN}).one()
    if facts.demo_officers:
        problems.append(f"{facts.demo_officers} demo officer account(s) ({DEMO_EMAIL_DOMAIN}) are active: "
                        "deactivate them (flask --app service officer deactivate-demo)")
    if facts.synthetic_units:
        problems.append(f"{facts.synthetic_units} synthetic demo unit(s) are active: import the real units "
                        "(flask --app service units import) and retire the demo ones "
                        "(flask --app service units retire-synthetic)")
    if facts.superuser or facts.owns_audit:
        problems.append("DATABASE_URL connects as a superuser or as the owner of audit_log: use the application "
                        "role (DATABASE_OWNER_URL is for migrations)")
    return problems


# Where demo accounts and the demo history may exist: development, and the benchmarks (production's code paths over
# a demo data set, `make bench`).
DEMO_DATA_ENVIRONMENTS = ("development", "benchmark")


def require_development(app: Flask, what: str) -> None:
    """Demo accounts and the demo history belong to development and benchmarks: refused elsewhere."""
    if app.config["PROXIMA_ENV"] not in DEMO_DATA_ENVIRONMENTS:
        raise click.ClickException(f"{what}: development and benchmarks only "
                                   f"(PROXIMA_ENV={app.config['PROXIMA_ENV']}).")


def check_configuration(app: Flask) -> None:
    if app.config["PROXIMA_ENV"] != "production":
        return
    problems = configuration_problems(app.config)
    if problems:
        raise UnsafeProductionError(problems)


def check_data(app: Flask) -> None:
    """Before serving in production. An unreachable database is logged, not fatal: /readyz reports it, and the
    settings were checked already."""
    if app.config["PROXIMA_ENV"] != "production":
        return
    from models import db
    with app.app_context():
        try:
            with db.engine.connect() as connection:
                problems = data_problems(connection)
        except Exception as exc:  # noqa: BLE001 — the database is down: the next start checks again
            logger.warning("production data checks skipped, database unreachable: %s", exc)
            return
    if problems:
        raise UnsafeProductionError(problems)
