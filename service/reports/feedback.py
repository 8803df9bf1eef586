"""Residents' satisfaction feedback: once per report, only from the reporting device, only once it is answered."""
from sqlalchemy import select

from models import OPEN_STATUSES, Device, EventType, Feedback, Report, ReportEvent, db
from service.platform import clock


class FeedbackRefused(Exception):
    """Why feedback cannot be recorded: `status` 404 (no such report for this device) or 409 (not now / twice)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def can_give_feedback(report: Report) -> bool:
    """Closed, resolved or rejected: the answer is known. A reopened report is open again until re-answered."""
    return report.status not in OPEN_STATUSES


def submit_feedback(reference: str, device: Device, reactivite: int, courtoisie: int, information: int,
                    comment: str | None = None) -> Feedback:
    """Record the rating and its `feedback` event in one transaction, and commit."""
    # Row lock: two simultaneous submissions for the same report queue up, the second one sees the first.
    report = db.session.scalars(select(Report).where(Report.reference == reference)
                                .with_for_update(of=Report)).one_or_none()
    if report is None or device is None or report.device_id != device.id:
        # Same answer for "no such report" and "not yours": a reference never leaks to another device.
        raise FeedbackRefused(404, "Signalement introuvable.")
    if not can_give_feedback(report):
        raise FeedbackRefused(409, "Votre avis pourra être donné une fois le signalement traité et clos.")
    if db.session.get(Feedback, report.id) is not None:
        raise FeedbackRefused(409, "Un avis a déjà été donné pour ce signalement.")
    comment = (comment or "").strip() or None
    feedback = Feedback(report_id=report.id, reactivite=reactivite, courtoisie=courtoisie,
                        information=information, comment=comment)
    db.session.add(feedback)
    db.session.add(ReportEvent(report_id=report.id, type=EventType.FEEDBACK.value, at=clock.now(),
                               actor_kind="resident",
                               unit_id=report.unit_id,
                               data={"reactivite": reactivite, "courtoisie": courtoisie, "information": information}))
    db.session.commit()
    return feedback
