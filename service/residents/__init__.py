"""Residents' web app (`/`): an installable, offline-first client of the citizen API, served by Proxima."""
from flask import Flask

from service.residents.views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
