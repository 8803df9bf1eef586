"""The console blueprint, shared by its view modules."""
from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")
