"""A request whose database connection dies under it ends cleanly: no exception out of the teardown (which
gunicorn would turn into a 500 after the answer was built), and the next request gets a fresh connection."""
from sqlalchemy import text

from models import db
from service.platform.errors import release_session


def test_request_session_on_a_killed_connection_is_released_without_error(app, committed):
    with app.test_request_context("/api/v1/reports", method="POST"):
        db.session.execute(text("SELECT 1"))  # the request's transaction is open on a pooled connection
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with db.engine.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar_one()

        release_session(None)

    with app.test_request_context("/api/v1/reports", method="POST"):
        assert db.session.execute(text("SELECT pg_backend_pid()")).scalar_one() != backend
