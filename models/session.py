"""The session class of `db`: while a request reads from a replica, its reads go there and its writes do not."""
from flask import g, has_app_context
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import Delete, Insert, Update

# Attribute of `flask.g` naming the bind (an engine of SQLALCHEMY_BINDS) that reads go to; set for the rest of a
# request by service.platform.database.read_from_replica(). On `g` rather than on the session: a streamed
# response (the CSV export) reads after the view's session was removed, in the same application context.
READ_BIND = "proxima_read_bind"


class RoutingSession(FlaskSession):
    """Flask-SQLAlchemy's session, with reads sent to `g.<READ_BIND>` when set.

    Flushes and INSERT/UPDATE/DELETE constructs always go to the default (primary) engine; a write spelled as
    text SQL would reach the read bind and fail there, since a standby refuses writes.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        read_bind = g.get(READ_BIND) if has_app_context() else None
        if (bind is None and read_bind is not None and not self._flushing
                and not isinstance(clause, (Insert, Update, Delete))):
            return self._db.engines[read_bind]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
