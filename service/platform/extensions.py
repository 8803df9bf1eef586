"""Unbound extension singletons, bound to the app in `create_app`."""
from flask_migrate import Migrate
from flask_smorest import Api as SmorestApi


class Api(SmorestApi):
    """flask-smorest, with error rendering left to `service.platform.errors` (one handler for JSON, Open311, console).

    No catch-all `default` error response: each operation documents the codes it answers (service.api.blueprint).
    """

    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self):
        pass


migrate = Migrate()
api = Api()
