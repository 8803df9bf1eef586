"""Open311 GeoReport v2 for partners at /open311/v2 (XML and JSON), with Proxima's privacy rules."""
from flask import Flask

from service.open311.cli import open311_cli
from service.open311.errors import render_error
from service.open311.views import bp
from service.platform.errors import register_renderer

URL_PREFIX = "/open311/v2"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp, url_prefix=URL_PREFIX)
    # Every error under /open311 (unknown route, wrong method, oversized body…) in Open311's format.
    register_renderer("/open311", render_error)
    app.cli.add_command(open311_cli)
