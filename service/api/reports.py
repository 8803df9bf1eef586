from flask_smorest import Blueprint

blp = Blueprint("reports", __name__)
