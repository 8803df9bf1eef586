"""The session class of `db`: while a request reads from a replica, its reads go there and its writes do not."""
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import Delete, Insert, Update

# Key in `Session.info` naming the bind (an engine of SQLALCHEMY_BINDS) that reads go to; set for the rest of a
# request by service.platform.database.read_from_replica(), gone with the session at the end of the request.
READ_BIND = "proxima_read_bind"


class RoutingSession(FlaskSession):
    """Flask-SQLAlchemy's session, with reads sent to `info[READ_BIND]` when set.

    Flushes and INSERT/UPDATE/DELETE constructs always go to the default (primary) engine; a write spelled as
    text SQL would reach the read bind and fail there, since a standby refuses writes.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        read_bind = self.info.get(READ_BIND)
        if (bind is None and read_bind is not None and not self._flushing
                and not isinstance(clause, (Insert, Update, Delete))):
            return self._db.engines[read_bind]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
