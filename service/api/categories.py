from flask_smorest import Blueprint

blp = Blueprint("categories", __name__)
