"""Residents' web app (`/`): an installable, offline-first client of the citizen API, served by Proxima."""
from flask import Flask


def init_app(app: Flask) -> None:
    from service.residents.views import bp
    app.register_blueprint(bp)
