"""The dashboard blueprint object (its own module so views and helpers import it without cycles)."""
from flask import Blueprint

bp = Blueprint("dashboard", __name__, url_prefix="/console/tableau-de-bord")
