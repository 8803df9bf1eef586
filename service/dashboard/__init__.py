"""Supervisors' dashboard (`/console/tableau-de-bord`): proximity indicators, report lists, CSV export, audit log."""
from flask import Flask

from service.dashboard import views  # noqa: F401  (routes register on import)
from service.dashboard.blueprint import bp
from service.dashboard.commands import demo_cli, indicators_cli, territories_cli


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    for group in (indicators_cli, demo_cli, territories_cli):
        app.cli.add_command(group)
