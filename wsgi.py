"""WSGI entry point for gunicorn and the serving `flask` commands (worker); maintenance uses `flask --app service`."""
from service import create_app
from service.platform import production

app = create_app()
production.check_data(app)  # in production: no demo accounts or synthetic units in service, no superuser
