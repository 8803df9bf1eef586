"""SQLAlchemy models: one module per aggregate. `db` lives here so models import nothing of ours."""
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from models.session import RoutingSession

# Deterministic constraint names keep Alembic migrations reproducible.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# join_transaction_mode only matters when the session is bound to a Connection that is already in a
# transaction: the test suite does exactly that to roll every test back; production binds to the engine.
# RoutingSession: reads of a request may go to the streaming replica (service.platform.database).
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING),
                session_options={"join_transaction_mode": "create_savepoint", "class_": RoutingSession})

from models.category import Category, OutcomeCode  # noqa: E402,F401
from models.territory import Commune, Departement, Territory  # noqa: E402,F401
from models.unit import Unit, UnitKind  # noqa: E402,F401
from models.device import Device, PushToken  # noqa: E402,F401
from models.officer import Officer, OfficerSession, Role  # noqa: E402,F401
from models.incident import Incident  # noqa: E402,F401
from models.report import (OPEN_STATUSES, OPEN_STATUSES_SQL, Report, ReportContact, ReportIdBlock,  # noqa: E402,F401
                           ReportPhoto, ReportReference, ReportStatus)
from models.event import ReportEvent, EventType  # noqa: E402,F401
from models.notification import Notification, NotificationState  # noqa: E402,F401
from models.feedback import Feedback  # noqa: E402,F401
from models.audit import AuditCheckpoint, AuditEntry  # noqa: E402,F401
from models.partner import PartnerKey  # noqa: E402,F401
from models.idempotency import IdempotencyRecord  # noqa: E402,F401
from models.message import (CannedQuestion, MessageAuthor, ReportMessage,  # noqa: E402,F401
                            ReportMessagePhoto)
from models.indicator import IndicatorRefresh, IndicatorSnapshot, ReportClock  # noqa: E402,F401
