"""Triage workflow of a report: a pure transition table, and the actions that apply it (one event each).

acknowledge → dispatch → resolve(outcome) → close; reject(reason); transfer(target, reason) → accept or
decline(reason) — a declined transfer stays with the sending unit and is flagged for its supervisor, never a dead
end; reopen; internal notes. Each action writes exactly one ReportEvent naming its author; citizen-visible events
get their outbox rows in the same transaction, and are handed to the queue only after the commit.
"""
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from models import OPEN_STATUSES, EventType, Incident, Officer, OutcomeCode, Report, ReportEvent, ReportStatus, Unit, db
from models.event import CITIZEN_VISIBLE
from service.accounts.scope import unit_in_scope
from service.platform import clock
from service.followup import notifications
from service.reports import incidents
from service.reports.routing import is_competent

RECEIVED, ACKNOWLEDGED, DISPATCHED, RESOLVED, CLOSED, REJECTED = (s.value for s in ReportStatus)
OPEN = frozenset(OPEN_STATUSES)
RESIDENT_REOPEN_DAYS = 7
RESIDENT_REOPEN_MAX = 1
MAX_TEXT = 4000


class Action(str, enum.Enum):
    ACKNOWLEDGE = "acknowledge"
    DISPATCH = "dispatch"
    RESOLVE = "resolve"
    CLOSE = "close"
    REJECT = "reject"
    TRANSFER = "transfer"
    ACCEPT_TRANSFER = "accept_transfer"
    DECLINE_TRANSFER = "decline_transfer"
    REOPEN = "reopen"
    RESIDENT_REOPEN = "resident_reopen"
    NOTE = "note"


class Actor(str, enum.Enum):
    """Which unit may perform an action: the one in charge, the one a transfer is offered to, or either."""
    CURRENT_UNIT = "current"
    TRANSFER_TARGET = "target"
    EITHER = "either"
    RESIDENT = "resident"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str | None          # None: the status does not change
    event: EventType
    transfer_pending: bool | None  # True: needs a pending transfer; False: refused while one is pending
    actor: Actor
    label_fr: str


ALL = frozenset(s.value for s in ReportStatus)

TRANSITIONS: dict[Action, Transition] = {
    Action.ACKNOWLEDGE: Transition(frozenset({RECEIVED}), ACKNOWLEDGED, EventType.ACKNOWLEDGED, False,
                                   Actor.CURRENT_UNIT, "Prendre en compte"),
    Action.DISPATCH: Transition(frozenset({ACKNOWLEDGED}), DISPATCHED, EventType.DISPATCHED, False,
                                Actor.CURRENT_UNIT, "Engager une patrouille"),
    Action.RESOLVE: Transition(frozenset({ACKNOWLEDGED, DISPATCHED}), RESOLVED, EventType.RESOLVED, False,
                               Actor.CURRENT_UNIT, "Résoudre"),
    Action.CLOSE: Transition(frozenset({RESOLVED}), CLOSED, EventType.CLOSED, False, Actor.CURRENT_UNIT, "Clôturer"),
    Action.REJECT: Transition(frozenset({RECEIVED, ACKNOWLEDGED}), REJECTED, EventType.REJECTED, False,
                              Actor.CURRENT_UNIT, "Rejeter"),
    Action.TRANSFER: Transition(OPEN, None, EventType.TRANSFERRED, False, Actor.CURRENT_UNIT,
                                "Transférer à une autre unité"),
    # The receiving unit takes the report in charge: the SLA targets fixed at reception keep running.
    Action.ACCEPT_TRANSFER: Transition(OPEN, ACKNOWLEDGED, EventType.TRANSFER_ACCEPTED, True, Actor.TRANSFER_TARGET,
                                       "Accepter le transfert"),
    Action.DECLINE_TRANSFER: Transition(OPEN, None, EventType.TRANSFER_DECLINED, True, Actor.TRANSFER_TARGET,
                                        "Refuser le transfert"),
    Action.REOPEN: Transition(frozenset({RESOLVED, CLOSED, REJECTED}), ACKNOWLEDGED, EventType.REOPENED, False,
                              Actor.CURRENT_UNIT, "Rouvrir"),
    Action.RESIDENT_REOPEN: Transition(frozenset({CLOSED}), RECEIVED, EventType.REOPENED, False, Actor.RESIDENT,
                                       "Rouvrir (résident)"),
    Action.NOTE: Transition(ALL, None, EventType.NOTE, None, Actor.EITHER, "Ajouter une note interne"),
}


class WorkflowError(Exception):
    """A refused action; `message` is French and can be shown to the officer."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransitionRefused(WorkflowError):
    pass


class NotInScope(WorkflowError):
    """The officer may not act on this report (views answer 404)."""


class InvalidInput(WorkflowError):
    pass


# Each action's label, on its button in the console and in refusal messages.
ACTION_LABELS_FR = {action.value: rule.label_fr for action, rule in TRANSITIONS.items()}

STATUS_LABELS_FR = {
    RECEIVED: "Reçu", ACKNOWLEDGED: "Pris en compte", DISPATCHED: "Patrouille engagée", RESOLVED: "Résolu",
    CLOSED: "Clôturé", REJECTED: "Rejeté",
}


def next_status(action: Action, status: str, transfer_pending: bool) -> str:
    """The status after `action`, or TransitionRefused with a French reason. Pure: no database."""
    rule = TRANSITIONS[Action(action)]
    if rule.transfer_pending is True and not transfer_pending:
        raise TransitionRefused("Aucun transfert n'est en attente pour ce signalement.")
    if rule.transfer_pending is False and transfer_pending:
        raise TransitionRefused("Un transfert est en attente : l'unité destinataire doit d'abord l'accepter "
                                "ou le refuser.")
    if status not in rule.sources:
        raise TransitionRefused(f"Action « {rule.label_fr} » impossible sur un signalement au statut "
                                f"« {STATUS_LABELS_FR.get(status, status)} ».")
    return rule.target or status


def allowed_actions(status: str, transfer_pending: bool, actor: Actor) -> list[Action]:
    """Actions the table allows from this state for an officer of the unit in charge or of the transfer target."""
    result = []
    for action, rule in TRANSITIONS.items():
        if rule.actor is Actor.RESIDENT:
            continue
        if rule.actor is not Actor.EITHER and rule.actor is not actor:
            continue
        try:
            next_status(action, status, transfer_pending)
        except TransitionRefused:
            continue
        result.append(action)
    return result


def acting_role(report: Report, officer: Officer) -> Actor | None:
    """How `officer` relates to `report`: unit in charge, transfer target, or None (out of scope)."""
    if unit_in_scope(officer, report.unit_id):
        return Actor.CURRENT_UNIT
    if report.pending_transfer_unit_id and unit_in_scope(officer, report.pending_transfer_unit_id):
        return Actor.TRANSFER_TARGET
    return None


def _check_actor(rule: Transition, report: Report, officer: Officer | None) -> None:
    if rule.actor is Actor.RESIDENT:
        return
    in_charge = unit_in_scope(officer, report.unit_id)
    target = bool(report.pending_transfer_unit_id) and unit_in_scope(officer, report.pending_transfer_unit_id)
    ok = {Actor.CURRENT_UNIT: in_charge, Actor.TRANSFER_TARGET: target, Actor.EITHER: in_charge or target}[rule.actor]
    if not ok:
        if in_charge or target:
            raise TransitionRefused("Cette action revient à l'autre unité concernée par le transfert.")
        raise NotInScope("Signalement hors de votre périmètre.")


def _clean_text(value: str | None, required: bool, what: str) -> str | None:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{what} est obligatoire.")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} ne doit pas dépasser {MAX_TEXT} caractères.")
    return value or None


def _apply(report: Report, officer: Officer | None, action: Action, *, text: str | None = None,
           outcome_code: str | None = None, target_unit_id: int | None = None, data: dict | None = None,
           mutate=None) -> tuple[ReportEvent, list]:
    """Check and apply one action inside the current transaction; returns the event and its outbox rows."""
    officer = getattr(officer, "officer", officer)
    # Row lock: two officers clicking at once must not both acknowledge.
    db.session.refresh(report, with_for_update=True)
    rule = TRANSITIONS[action]
    _check_actor(rule, report, officer)
    new_status = next_status(action, report.status, report.pending_transfer_unit_id is not None)
    unit_at_event = report.unit_id
    report.status = new_status
    if mutate:
        mutate(report)
    report.updated_at = now = clock.now()
    event = ReportEvent(report_id=report.id, type=rule.event.value, at=now,
                        actor_kind="officer" if officer is not None else "citizen",
                        officer_id=officer.id if officer is not None else None, unit_id=unit_at_event,
                        target_unit_id=target_unit_id, outcome_code=outcome_code, text=text,
                        citizen_visible=rule.event in CITIZEN_VISIBLE, data=data or {})
    db.session.add(event)
    db.session.flush()
    _refresh_incident_status(report)
    queued = notifications.queue_for_event(report, event) if event.citizen_visible else []
    return event, queued


def _commit(queued: list) -> None:
    db.session.commit()
    notifications.dispatch_after_commit(queued)


def _refresh_incident_status(report: Report) -> None:
    if report.incident_id is not None:
        incidents.refresh_status(db.session.get(Incident, report.incident_id))


def _run(report, officer, action, **kwargs) -> ReportEvent:
    try:
        event, queued = _apply(report, officer, action, **kwargs)
    except Exception:
        db.session.rollback()
        raise
    _commit(queued)
    return event


def acknowledge(report: Report, officer: Officer) -> ReportEvent:
    officer_id = getattr(officer, "officer", officer).id
    return _run(report, officer, Action.ACKNOWLEDGE, mutate=lambda r: setattr(r, "assigned_officer_id", officer_id))


def dispatch(report: Report, officer: Officer, text: str | None = None) -> ReportEvent:
    return _run(report, officer, Action.DISPATCH, text=_clean_text(text, False, "Le commentaire"))


def resolve(report: Report, officer: Officer, outcome_code: str, text: str | None = None) -> ReportEvent:
    if not outcome_code or db.session.get(OutcomeCode, outcome_code) is None:
        raise InvalidInput("Choisissez une issue valide.")
    return _run(report, officer, Action.RESOLVE, outcome_code=outcome_code,
                text=_clean_text(text, False, "Le commentaire"),
                mutate=lambda r: setattr(r, "outcome_code", outcome_code))


def close(report: Report, officer: Officer, text: str | None = None) -> ReportEvent:
    return _run(report, officer, Action.CLOSE, text=_clean_text(text, False, "Le commentaire"),
                mutate=lambda r: setattr(r, "closed_at", clock.now()))


def reject(report: Report, officer: Officer, reason: str) -> ReportEvent:
    reason = _clean_text(reason, True, "Le motif du rejet")
    return _run(report, officer, Action.REJECT, text=reason, mutate=lambda r: setattr(r, "closed_at", clock.now()))


def transfer(report: Report, officer: Officer, target_unit: Unit, reason: str) -> ReportEvent:
    reason = _clean_text(reason, True, "Le motif du transfert")
    if target_unit is None or not target_unit.active or not target_unit.receives_reports:
        raise InvalidInput("Choisissez une unité destinataire qui reçoit des signalements.")
    if target_unit.id == report.unit_id:
        raise InvalidInput("Le signalement est déjà traité par cette unité.")
    if not is_competent(target_unit.kind, target_unit.categories, report.category_code, report.category.forces):
        raise InvalidInput("Cette unité n'est pas compétente pour cette nature de signalement.")
    return _run(report, officer, Action.TRANSFER, text=reason, target_unit_id=target_unit.id,
                data={"from_unit_id": report.unit_id},
                mutate=lambda r: setattr(r, "pending_transfer_unit_id", target_unit.id))


def accept_transfer(report: Report, officer: Officer, text: str | None = None) -> ReportEvent:
    """The receiving unit takes the report in charge; it leaves its incident, which stays with the sending unit."""
    officer_id = getattr(officer, "officer", officer).id
    from_unit_id, to_unit_id = report.unit_id, report.pending_transfer_unit_id
    data = {"from_unit_id": from_unit_id}
    if report.incident_id is not None:
        data["left_incident_id"] = report.incident_id

    def take_over(r: Report) -> None:
        incidents.leave_incident(r)
        r.unit_id = to_unit_id
        r.pending_transfer_unit_id = None
        r.assigned_officer_id = officer_id

    return _run(report, officer, Action.ACCEPT_TRANSFER, text=_clean_text(text, False, "Le commentaire"),
                target_unit_id=to_unit_id, data=data, mutate=take_over)


def decline_transfer(report: Report, officer: Officer, reason: str) -> ReportEvent:
    """The report stays with the sending unit and is flagged for the sending unit's supervisor to arbitrate."""
    reason = _clean_text(reason, True, "Le motif du refus")
    declined_unit_id = report.pending_transfer_unit_id
    sender = db.session.get(Unit, report.unit_id)
    supervisor_unit_id = sender.parent_id if sender is not None and sender.parent_id else report.unit_id
    return _run(report, officer, Action.DECLINE_TRANSFER, text=reason, target_unit_id=declined_unit_id,
                data={"returned_to_unit_id": report.unit_id, "supervisor_unit_id": supervisor_unit_id},
                mutate=lambda r: setattr(r, "pending_transfer_unit_id", None))


def _reopen_mutation(r: Report) -> None:
    r.closed_at = None
    r.outcome_code = None


def reopen(report: Report, officer: Officer, reason: str | None = None) -> ReportEvent:
    return _run(report, officer, Action.REOPEN, text=_clean_text(reason, False, "Le motif"), mutate=_reopen_mutation)


def resident_may_reopen(report: Report, now: datetime | None = None) -> bool:
    """A resident may reopen a closed report once, within 7 days of its closure."""
    now = now or clock.now()
    return (report.status == CLOSED and report.reopen_count < RESIDENT_REOPEN_MAX and report.closed_at is not None
            and now - report.closed_at <= timedelta(days=RESIDENT_REOPEN_DAYS))


def reopen_by_resident(report: Report, reason: str | None = None) -> ReportEvent:
    db.session.refresh(report, with_for_update=True)
    if not resident_may_reopen(report):
        db.session.rollback()
        raise TransitionRefused("Ce signalement ne peut plus être rouvert (une seule fois, dans les 7 jours "
                                "suivant sa clôture).")

    def mutate(r: Report) -> None:
        _reopen_mutation(r)
        r.reopen_count += 1
    return _run(report, None, Action.RESIDENT_REOPEN, text=_clean_text(reason, False, "Le motif"), mutate=mutate)


def add_note(report: Report, officer: Officer, text: str) -> ReportEvent:
    return _run(report, officer, Action.NOTE, text=_clean_text(text, True, "La note"))


# The actions that make sense on a whole incident, with their label on the incident page.
INCIDENT_ACTION_LABELS_FR = {
    Action.ACKNOWLEDGE: "Tout prendre en compte", Action.DISPATCH: "Engager une patrouille pour tous",
    Action.RESOLVE: "Tout résoudre", Action.CLOSE: "Tout clôturer", Action.REJECT: "Tout rejeter",
    Action.NOTE: "Note sur chacun",
}


@dataclass
class IncidentResult:
    events: list[ReportEvent]
    skipped: list[tuple[Report, str]]


def act_on_incident(incident: Incident, officer: Officer, action: Action, **kwargs) -> IncidentResult:
    """Apply `action` to every report of the incident the officer may act on, in one transaction.

    Reports for which the transition is refused (already further along, transfer pending…) are skipped and listed.
    """
    action = Action(action)
    if action not in INCIDENT_ACTION_LABELS_FR:
        raise InvalidInput("Action impossible sur un incident.")
    text = kwargs.get("text")
    if action in (Action.REJECT, Action.NOTE):
        text = _clean_text(text, True, "Le motif" if action is Action.REJECT else "La note")
    else:
        text = _clean_text(text, False, "Le commentaire")
    outcome_code = kwargs.get("outcome_code")
    if action is Action.RESOLVE and (not outcome_code or db.session.get(OutcomeCode, outcome_code) is None):
        raise InvalidInput("Choisissez une issue valide.")
    officer_model = getattr(officer, "officer", officer)
    # Only the officer's own reports: a refusal listed for another unit's report would name it.
    reports = [report for report in db.session.scalars(
        select(Report).where(Report.incident_id == incident.id).order_by(Report.id))
        if unit_in_scope(officer_model, report.unit_id)
        or unit_in_scope(officer_model, report.pending_transfer_unit_id)]
    events, skipped, queued = [], [], []
    try:
        for report in reports:
            mutate = None
            if action is Action.ACKNOWLEDGE:
                mutate = lambda r: setattr(r, "assigned_officer_id", officer_model.id)  # noqa: E731
            elif action is Action.RESOLVE:
                mutate = lambda r: setattr(r, "outcome_code", outcome_code)  # noqa: E731
            elif action in (Action.CLOSE, Action.REJECT):
                mutate = lambda r: setattr(r, "closed_at", clock.now())  # noqa: E731
            try:
                with db.session.begin_nested():
                    event, rows = _apply(report, officer_model, action, text=text, mutate=mutate,
                                         outcome_code=outcome_code if action is Action.RESOLVE else None,
                                         data={"incident_id": incident.id})
            except (TransitionRefused, NotInScope) as exc:
                skipped.append((report, exc.message))
                continue
            events.append(event)
            queued.extend(rows)
    except Exception:
        db.session.rollback()
        raise
    _commit(queued)
    return IncidentResult(events, skipped)
