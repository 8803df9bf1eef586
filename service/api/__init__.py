"""Citizen JSON API (`/api/v1`), for the mobile app."""
from flask import Flask

from service.api import categories, communes, coverage, devices, feedback, messages, reports
from service.platform.extensions import api


def init_app(app: Flask) -> None:
    api.spec.components.security_scheme("device", {
        "type": "http", "scheme": "bearer",
        "description": "The token returned once by POST /api/v1/devices (no account, no name)."})
    for module in (devices, categories, coverage, communes, reports, messages, feedback):
        api.register_blueprint(module.blp, url_prefix="/api/v1")
