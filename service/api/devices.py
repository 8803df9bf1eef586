from flask_smorest import Blueprint

blp = Blueprint("devices", __name__)
