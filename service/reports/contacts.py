"""Reporter contact details: kept apart from the report, shown only to the unit in charge, every read audited."""
from models import Report, ReportContact, db
from service.accounts.scope import unit_in_scope
from service.platform import audit


class ContactRefused(Exception):
    """The officer's unit is not in charge of the report (a transfer merely offered to it, or declined by it)."""


def may_reveal_contact(report: Report, officer) -> bool:
    """Only the unit in charge (and its supervisors) may read who reported: not a unit a transfer is offered to."""
    return unit_in_scope(officer, report.unit_id)


def reveal_contact(report: Report, officer, reason: str | None = None) -> ReportContact | None:
    """Return the contact details of `report`'s author, writing an audit entry first (commits).

    A refused attempt is audited too, then raises ContactRefused.
    """
    if not may_reveal_contact(report, officer):
        audit.record(officer, "report.contact.refused", "report", report.id,
                     {"reference": report.reference, "reason": reason})
        db.session.commit()
        raise ContactRefused()
    contact = db.session.get(ReportContact, report.id)
    audit.record(officer, "report.contact.read", "report", report.id,
                 {"reference": report.reference, "found": contact is not None, "reason": reason})
    db.session.commit()
    return contact
