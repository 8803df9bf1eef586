"""The push job: claim one outbox row, make one delivery attempt, record the outcome on the row.

Never twice: a job first moves its row to `sending` in a transaction of its own (only one job can win
that update), and only then calls FCM. A row found in `sending` by anyone else is never sent again; if
the worker died mid-call the relay later marks it failed with DELIVERY_UNKNOWN (FCM v1 has no
idempotency key, so a blind resend could show the resident the same message twice).
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from rq import Retry
from sqlalchemy import func, or_, select, update

from models import EventType, Notification, NotificationState, PushToken, Report, ReportEvent, db
from service.push import Outcome, PushResult, get_backend
from workers.queues import PUSH, enqueue, enqueue_many, job

log = logging.getLogger("proxima.push")

S = NotificationState
CLAIMABLE = (S.PENDING.value, S.QUEUED.value, S.RETRYING.value)
DELIVERY_UNKNOWN = "DELIVERY_UNKNOWN"


@dataclass(frozen=True)
class Claim:
    id: int
    report_id: int
    push_token_id: int | None
    payload: dict
    attempts: int
    kind: str
    event_id: int | None
    token: str | None     # the registration token, None when it was retired meanwhile
    unit_id: int | None   # unit in charge of the report, for the timeline event


# Rows per job when the relay enqueues: RQ's own bookkeeping (some 50 Redis round trips per job) is then
# paid once per batch instead of once per message. Each row is still claimed and recorded on its own.
BATCH_SIZE = 25
# RQ's own retry covers the job crashing before it could record anything (database restarting…);
# FCM's answers are handled below with back-off on the row itself. Rerunning a job is harmless.
JOB_RETRY = Retry(max=3, interval=[5, 30, 120])


@job(queue=PUSH, timeout=60, retry=JOB_RETRY)
def send_push(notification_id: int) -> str:
    return deliver(notification_id)


@job(queue=PUSH, timeout=60 + 15 * BATCH_SIZE, retry=JOB_RETRY)
def send_push_batch(notification_ids: list[int]) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for notification_id in notification_ids:
        outcome = deliver(notification_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def deliver(notification_id: int) -> str:
    """Claim one row, make one delivery attempt, record the outcome."""
    backend = get_backend()  # before the claim: a configuration error must not strand a row in `sending`
    claim = claim_for_sending(notification_id)
    if claim is None:
        return "not claimable"  # sent, being sent, or not due: another job or the relay owns it
    if claim.token is None:
        _finish(claim, state=S.SKIPPED, error="TOKEN_INACTIVE")
        db.session.commit()
        return "skipped"
    result = backend.send(claim.token, claim.payload)
    return record_outcome(claim, result)


def claim_for_sending(notification_id: int) -> Claim | None:
    """queued/pending/retrying → sending, committed before any HTTP call; None if someone else has it."""
    # The token and the unit come back with the claim: one round trip instead of three.
    active_token = (select(PushToken.token).where(PushToken.id == Notification.push_token_id, PushToken.active)
                    .scalar_subquery())
    unit_id = select(Report.unit_id).where(Report.id == Notification.report_id).scalar_subquery()
    row = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.state.in_(CLAIMABLE),
               Notification.not_before <= func.now())
        .values(state=S.SENDING.value, claimed_at=func.now(), attempts=Notification.attempts + 1,
                updated_at=func.now())
        .returning(Notification.id, Notification.report_id, Notification.push_token_id, Notification.payload,
                   Notification.attempts, Notification.kind, Notification.event_id, active_token, unit_id)
    ).first()
    db.session.commit()
    return Claim(*row) if row is not None else None


def record_outcome(claim: Claim, result: PushResult) -> str:
    """Store what FCM said on the row (and the token, and the timeline); schedule a retry if worth it."""
    config = current_app.config
    if result.outcome in (Outcome.DELIVERED, Outcome.LOGGED):
        state = S.SENT if result.outcome == Outcome.DELIVERED else S.LOGGED
        if _finish(claim, state=state, message_name=result.message_name, sent=True):
            _write_notified_event(claim, result)
        db.session.commit()
        return state.value
    if result.outcome == Outcome.TOKEN_DEAD:
        _finish(claim, state=S.TOKEN_RETIRED, error=_error(result))
        db.session.execute(update(PushToken).where(PushToken.id == claim.push_token_id, PushToken.active)
                           .values(active=False, retired_at=func.now(), retired_reason=result.error_code))
        db.session.commit()
        return S.TOKEN_RETIRED.value
    if result.outcome == Outcome.PERMANENT:
        _finish(claim, state=S.FAILED, error=_error(result))
        db.session.commit()
        return S.FAILED.value
    if result.outcome == Outcome.UNKNOWN:
        _finish(claim, state=S.FAILED, error=f"{DELIVERY_UNKNOWN}: {_error(result)}")
        db.session.commit()
        return S.FAILED.value
    # RETRY: FCM answered without taking the message.
    if claim.attempts >= config["PUSH_MAX_ATTEMPTS"]:
        _finish(claim, state=S.FAILED, error=f"{_error(result)} (abandon après {claim.attempts} tentatives)")
        db.session.commit()
        return S.FAILED.value
    delay = retry_delay(claim.attempts, result.retry_after_s, config["PUSH_BACKOFF_BASE_S"],
                        config["PUSH_BACKOFF_MAX_S"])
    not_before = db.session.execute(
        update(Notification).where(Notification.id == claim.id, Notification.state == S.SENDING.value)
        .values(state=S.RETRYING.value, not_before=func.now() + timedelta(seconds=delay),
                last_error=_error(result), updated_at=func.now())
        .returning(Notification.not_before)).scalar()
    db.session.commit()
    if not_before is not None:
        _schedule_retry(claim, not_before)
    return S.RETRYING.value


def retry_delay(attempts: int, retry_after_s: float | None, base_s: float, max_s: float) -> float:
    """Exponential back-off from the number of attempts made, never sooner than FCM's Retry-After."""
    backoff = min(max_s, base_s * (2 ** max(0, attempts - 1)))
    return max(backoff, retry_after_s or 0.0)


def enqueue_sends(rows: list[tuple[int, int]], connection=None) -> None:
    """Enqueue send jobs for [(notification_id, attempts_so_far), …]: one job per row, or batches."""
    if len(rows) == 1:
        (nid, attempts), = rows
        enqueue_many(send_push, [((nid,), job_id_for(nid, attempts))], connection)
        return
    ids = [nid for nid, _ in rows]
    enqueue_many(send_push_batch, [((ids[i:i + BATCH_SIZE],), None) for i in range(0, len(ids), BATCH_SIZE)],
                 connection)


def job_id_for(notification_id: int, attempts_so_far: int) -> str:
    return f"push-{notification_id}-{attempts_so_far + 1}"


def _schedule_retry(claim: Claim, not_before: datetime) -> None:
    # RQ's scheduler keeps whole seconds: round up, or the job would run just before the row is due.
    at = not_before.replace(microsecond=0) + timedelta(seconds=1 if not_before.microsecond else 0)
    try:
        enqueue(send_push, claim.id, job_id=job_id_for(claim.id, claim.attempts), at=at)
    except Exception as exc:  # Redis unreachable: the relay claims retrying rows once not_before has passed
        log.warning("relance de la notification %s laissée au relais : %s", claim.id, exc)


def _finish(claim: Claim, state: S, error: str | None = None, message_name: str | None = None,
            sent: bool = False) -> bool:
    """Write a final state if this job still owns the row (or the relay gave it up as DELIVERY_UNKNOWN).

    The caller commits, together with whatever goes with the outcome (token retired, timeline event).
    """
    values = dict(state=state.value, last_error=error, fcm_message_name=message_name, updated_at=func.now())
    if sent:
        values["sent_at"] = func.now()
    done = db.session.execute(
        update(Notification)
        .where(Notification.id == claim.id,
               or_(Notification.state == S.SENDING.value,
                   (Notification.state == S.FAILED.value) & Notification.last_error.startswith(DELIVERY_UNKNOWN)))
        .values(**values).returning(Notification.id)).first()
    return done is not None


def _write_notified_event(claim: Claim, result: PushResult) -> None:
    db.session.add(ReportEvent(
        report_id=claim.report_id, type=EventType.CITIZEN_NOTIFIED.value, actor_kind="system", unit_id=claim.unit_id,
        citizen_visible=False,
        data={"notification_id": claim.id, "kind": claim.kind, "event_id": claim.event_id,
              "backend": "fcm" if result.outcome == Outcome.DELIVERED else "log",
              "fcm_message_name": result.message_name}))


def _error(result: PushResult) -> str:
    code = result.error_code or result.outcome.value
    return f"{code}: {result.detail}"[:1000] if result.detail else code
