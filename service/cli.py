"""Flask CLI commands (`flask --app wsgi …`), grouped by topic."""
from flask import Flask


def init_app(app: Flask) -> None:
    pass
