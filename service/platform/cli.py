"""Flask CLI commands (`flask --app wsgi …`), grouped by topic."""
from flask import Flask


def init_app(app: Flask) -> None:
    from service.reference_data import cli as reference_data_cli

    reference_data_cli.init_app(app)
