"""The console blueprint and its login manager, shared by its view modules."""
from flask import Blueprint
from flask_login import LoginManager

bp = Blueprint("console", __name__, url_prefix="/console")
login_manager = LoginManager()
