"""Proxima's Flask application factory: reads like a table of contents."""
import os

from flask import Flask

import workers
from models import db
from service import api as citizen_api, console, dashboard, open311, residents
from service.platform import (clock, cli, database, errors, health, input_guard, limits, observability, production,
                              redis_client, security)
from service.platform.config import app_config
from service.platform.extensions import api, migrate


def create_app(config: dict | None = None) -> Flask:
    """The application: settings from the environment (service.platform.config), `config` on top (tests)."""
    app = Flask(__name__)
    app.config.from_mapping(app_config(config))
    production.check_configuration(app)  # PROXIMA_ENV=production with unsafe settings: refuse to start

    clock.init_app(app)
    database.init_app(app)  # engine options and the replica bind, before db creates the engines
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir())
    redis_client.init_app(app)
    api.init_app(app)
    errors.init_app(app)
    input_guard.init_app(app)
    observability.init_app(app)
    security.init_app(app)
    health.init_app(app)
    citizen_api.init_app(app)
    open311.init_app(app)
    console.init_app(app)
    dashboard.init_app(app)
    residents.init_app(app)
    workers.init_app(app)
    limits.init_app(app)  # after the blueprints: it wraps their endpoints
    cli.init_app(app)
    return app


def _migrations_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")
