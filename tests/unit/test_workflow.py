"""The triage state machine: allowed and refused transitions, from the pure transition table (no database)."""
from datetime import datetime, timedelta, timezone

import pytest

from models import Report
from service.reports.workflow import (Action, Actor, TRANSITIONS, TransitionRefused, allowed_actions, next_status,
                                      resident_may_reopen)

HAPPY_PATH = [
    (Action.ACKNOWLEDGE, "received", "acknowledged"),
    (Action.DISPATCH, "acknowledged", "dispatched"),
    (Action.RESOLVE, "dispatched", "resolved"),
    (Action.CLOSE, "resolved", "closed"),
]


@pytest.mark.parametrize("action,source,target", HAPPY_PATH)
def test_happy_path(action, source, target):
    assert next_status(action, source, transfer_pending=False) == target


@pytest.mark.parametrize("action,source,target", [
    (Action.RESOLVE, "acknowledged", "resolved"),     # e.g. hors compétence, no patrol needed
    (Action.REJECT, "received", "rejected"),
    (Action.REJECT, "acknowledged", "rejected"),
    (Action.REOPEN, "closed", "acknowledged"),
    (Action.REOPEN, "resolved", "acknowledged"),
    (Action.REOPEN, "rejected", "acknowledged"),
    (Action.RESIDENT_REOPEN, "closed", "received"),
    (Action.TRANSFER, "received", "received"),       # the status does not change; a transfer becomes pending
    (Action.TRANSFER, "dispatched", "dispatched"),
    (Action.NOTE, "closed", "closed"),
])
def test_other_allowed_transitions(action, source, target):
    assert next_status(action, source, transfer_pending=False) == target


@pytest.mark.parametrize("action,source", [
    (Action.ACKNOWLEDGE, "acknowledged"),   # twice
    (Action.ACKNOWLEDGE, "closed"),
    (Action.DISPATCH, "received"),          # must be acknowledged first
    (Action.DISPATCH, "resolved"),
    (Action.RESOLVE, "received"),
    (Action.RESOLVE, "closed"),
    (Action.CLOSE, "dispatched"),           # resolve with an outcome first
    (Action.CLOSE, "received"),
    (Action.REJECT, "dispatched"),          # a patrol went: resolve with an outcome instead
    (Action.REJECT, "closed"),
    (Action.REOPEN, "received"),
    (Action.REOPEN, "dispatched"),
    (Action.RESIDENT_REOPEN, "resolved"),
    (Action.RESIDENT_REOPEN, "rejected"),
    (Action.TRANSFER, "resolved"),
    (Action.TRANSFER, "closed"),
    (Action.ACCEPT_TRANSFER, "received"),   # nothing pending
    (Action.DECLINE_TRANSFER, "acknowledged"),
])
def test_refused_transitions(action, source):
    with pytest.raises(TransitionRefused) as exc:
        next_status(action, source, transfer_pending=False)
    assert exc.value.message  # French reason for the officer


@pytest.mark.parametrize("action", [Action.ACKNOWLEDGE, Action.DISPATCH, Action.RESOLVE, Action.REJECT,
                                    Action.TRANSFER, Action.REOPEN])
def test_pending_transfer_freezes_the_sender(action):
    source = next(iter(TRANSITIONS[action].sources))
    with pytest.raises(TransitionRefused, match="transfert est en attente"):
        next_status(action, source, transfer_pending=True)


def test_pending_transfer_is_accepted_or_declined():
    assert next_status(Action.ACCEPT_TRANSFER, "received", transfer_pending=True) == "acknowledged"
    assert next_status(Action.ACCEPT_TRANSFER, "dispatched", transfer_pending=True) == "acknowledged"
    assert next_status(Action.DECLINE_TRANSFER, "dispatched", transfer_pending=True) == "dispatched"
    assert next_status(Action.NOTE, "received", transfer_pending=True) == "received"


def test_allowed_actions_depend_on_who_acts():
    in_charge = set(allowed_actions("received", False, Actor.CURRENT_UNIT))
    assert in_charge == {Action.ACKNOWLEDGE, Action.REJECT, Action.TRANSFER, Action.NOTE}
    assert set(allowed_actions("received", True, Actor.CURRENT_UNIT)) == {Action.NOTE}
    assert set(allowed_actions("received", True, Actor.TRANSFER_TARGET)) == {
        Action.ACCEPT_TRANSFER, Action.DECLINE_TRANSFER, Action.NOTE}
    assert set(allowed_actions("dispatched", False, Actor.CURRENT_UNIT)) == {
        Action.RESOLVE, Action.TRANSFER, Action.NOTE}
    assert set(allowed_actions("closed", False, Actor.CURRENT_UNIT)) == {Action.REOPEN, Action.NOTE}
    # Residents' actions are never offered in the console.
    assert Action.RESIDENT_REOPEN not in allowed_actions("closed", False, Actor.CURRENT_UNIT)


def test_every_status_has_a_way_forward():
    """No dead end: from every status, the unit in charge can do something that changes the status."""
    for status in ("received", "acknowledged", "dispatched", "resolved", "closed", "rejected"):
        moves = [a for a in allowed_actions(status, False, Actor.CURRENT_UNIT)
                 if TRANSITIONS[a].target not in (None, status)]
        assert moves, status


def test_every_action_writes_a_known_event_type():
    from models import EventType
    assert {t.event for t in TRANSITIONS.values()} <= set(EventType)


def _closed(days_ago: float, reopen_count: int = 0) -> Report:
    return Report(status="closed", reopen_count=reopen_count,
                  closed_at=datetime(2026, 5, 1, tzinfo=timezone.utc) - timedelta(days=days_ago))


def test_resident_reopens_once_within_seven_days():
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    assert resident_may_reopen(_closed(6.9), now)
    assert not resident_may_reopen(_closed(7.1), now)
    assert not resident_may_reopen(_closed(1, reopen_count=1), now)
    report = _closed(1)
    report.status = "resolved"
    assert not resident_may_reopen(report, now)
