from flask_smorest import Blueprint

blp = Blueprint("coverage", __name__)
