"""Flask CLI commands (`flask --app wsgi …`), grouped by topic."""
from flask import Flask

from service.reference_data import cli as reference_data_cli


def init_app(app: Flask) -> None:
    reference_data_cli.init_app(app)
