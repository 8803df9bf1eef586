"""Reporter contact details: kept apart from the report, and every read by an officer is audited."""
from models import Report, ReportContact, db
from service.platform import audit


def reveal_contact(report: Report, officer, reason: str | None = None) -> ReportContact | None:
    """Return the contact details of `report`'s author, writing an audit entry first (commits)."""
    contact = db.session.get(ReportContact, report.id)
    audit.record(officer, "report.contact.read", "report", report.id,
                 {"reference": report.reference, "found": contact is not None, "reason": reason})
    db.session.commit()
    return contact
