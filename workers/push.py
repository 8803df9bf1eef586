"""The push job: claim outbox rows, make one delivery attempt each, record the outcomes.

Never twice: a job first moves its rows to `sending` in a committed transaction (only one job can win
that update for a row), and only then calls FCM. A row found in `sending` by anyone else is never sent
again blindly: a chunk's attempts are marked in Redis just before its HTTP calls, and for a row left
`sending` by a dead worker the relay resends it only when no attempt was marked (no call started);
a marked one may have reached FCM and is given up as DELIVERY_UNKNOWN (FCM v1 has no idempotency key,
so a blind resend could show the resident the same message twice).

Throughput: a job works a batch a chunk at a time, one chunk per sending thread's worth of rows; one
transaction per chunk records the previous chunk's outcomes and claims the next, and the chunk's HTTP
calls run side by side on threads sharing the backend's kept-alive connections and OAuth token, since
FCM's latency, not the CPU, is what a single sender waits for.
"""
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import bindparam, insert, text
from sqlalchemy.exc import OperationalError

from models import EventType, NotificationState, ReportEvent, db
from service.platform import clock
from service.followup.push import Outcome, PushBackend, PushResult, get_backend
from service.platform.redis_client import get_redis
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


# Rows per job when the relay enqueues: RQ's bookkeeping (some 50 Redis round trips per job) is paid once
# per batch. Rows are claimed a chunk at a time within the job (see deliver_batch).
BATCH_SIZE = 50
# RQ's own retry covers the job crashing before it could record anything (database restarting…);
# FCM's answers are handled below with back-off on the row itself. Rerunning a job is harmless.
JOB_RETRY = Retry(max=3, interval=[5, 30, 120])

# queued/pending/retrying → sending, committed before any HTTP call. SKIP LOCKED: a row locked by someone
# else is being claimed, relayed or recorded by them, and whoever holds it enqueues a job for it if needed;
# locking in id order keeps two jobs with overlapping batches from deadlocking.
CLAIM = text("""
    WITH mine AS (
        SELECT id FROM notifications
        WHERE id = ANY(:ids) AND state IN ('pending', 'queued', 'retrying') AND not_before <= CAST(:now AS timestamptz)
        ORDER BY id
        FOR UPDATE SKIP LOCKED)
    UPDATE notifications n
    SET state = 'sending', claimed_at = CAST(:now AS timestamptz), attempts = n.attempts + 1,
        updated_at = CAST(:now AS timestamptz)
    FROM mine WHERE n.id = mine.id
    RETURNING n.id, n.report_id, n.push_token_id, n.payload, n.attempts, n.kind, n.event_id,
        (SELECT t.token FROM push_tokens t WHERE t.id = n.push_token_id AND t.active) AS token,
        (SELECT r.unit_id FROM reports r WHERE r.id = n.report_id) AS unit_id""")

# Final states, written only if this job still owns the row (or the relay gave it up as DELIVERY_UNKNOWN
# meanwhile: the real outcome is better than the guess).
FINISH = text(f"""
    WITH v AS (
        SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:states AS text[]), CAST(:errors AS text[]),
                             CAST(:names AS text[]), CAST(:sent AS boolean[])) AS v(id, state, error, name, sent)),
    owned AS (
        SELECT n.id FROM notifications n JOIN v ON v.id = n.id
        WHERE n.state = 'sending' OR (n.state = 'failed' AND n.last_error LIKE '{DELIVERY_UNKNOWN}%')
        ORDER BY n.id
        FOR UPDATE OF n)
    UPDATE notifications n
    SET state = v.state, last_error = v.error, fcm_message_name = v.name, updated_at = CAST(:now AS timestamptz),
        sent_at = CASE WHEN v.sent THEN CAST(:now AS timestamptz) ELSE n.sent_at END
    FROM v JOIN owned USING (id) WHERE n.id = v.id
    RETURNING n.id""")

RETIRE_TOKENS = text("""
    UPDATE push_tokens t SET active = false, retired_at = CAST(:now AS timestamptz), retired_reason = v.reason
    FROM unnest(CAST(:ids AS bigint[]), CAST(:reasons AS text[])) AS v(id, reason)
    WHERE t.id = v.id AND t.active""")

# RETRY: FCM answered without taking the message; due again after the back-off.
RESCHEDULE = text("""
    WITH v AS (
        SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:delays AS float8[]), CAST(:errors AS text[]))
            AS v(id, delay, error)),
    owned AS (
        SELECT n.id FROM notifications n JOIN v ON v.id = n.id WHERE n.state = 'sending'
        ORDER BY n.id FOR UPDATE OF n)
    UPDATE notifications n
    SET state = 'retrying', not_before = CAST(:now AS timestamptz) + make_interval(secs => v.delay),
        last_error = v.error, updated_at = CAST(:now AS timestamptz)
    FROM v JOIN owned USING (id) WHERE n.id = v.id
    RETURNING n.id, n.attempts, n.not_before""")

NOTIFIED = insert(ReportEvent.__table__).values(
    report_id=bindparam("report_id"), type=EventType.CITIZEN_NOTIFIED.value, actor_kind="system",
    unit_id=bindparam("unit_id"), citizen_visible=False, data=bindparam("data"), at=bindparam("at"))


@job(queue=PUSH, timeout=60, retry=JOB_RETRY)
def send_push(notification_id: int) -> str:
    return deliver(notification_id)


@job(queue=PUSH, timeout=60 + 15 * BATCH_SIZE, retry=JOB_RETRY)
def send_push_batch(notification_ids: list[int]) -> dict[str, int]:
    return deliver_batch(notification_ids)


def deliver(notification_id: int) -> str:
    """Claim one row, make one delivery attempt, record the outcome."""
    outcomes = deliver_batch([notification_id])
    return next(iter(outcomes))


def deliver_batch(notification_ids: list[int]) -> dict[str, int]:
    """Claim, send and record the batch a chunk at a time; returns counts by outcome.

    A chunk is as many rows as there are sending threads, so every claimed row is on the wire at once: a
    worker killed mid-batch leaves only the calls really in flight `sending` (given up DELIVERY_UNKNOWN),
    and the batch's later rows, never claimed, go to another worker. One transaction per chunk records
    the previous chunk's outcomes and claims the next chunk.
    """
    backend = get_backend()  # before the claim: a configuration error must not strand rows in `sending`
    ids = list(dict.fromkeys(notification_ids))
    step = _threads()
    outcomes: dict[str, int] = {}
    sent: tuple[list[Claim], list[PushResult | None]] | None = None  # sent, outcome not yet recorded
    for start in [*range(0, len(ids), step), None]:
        chunk = ids[start:start + step] if start is not None else []
        claims, states = settle_and_claim(sent, chunk)
        for state in states:
            outcomes[state] = outcomes.get(state, 0) + 1
        if len(claims) < len(chunk):
            # sent, being sent, or not due: another job or the relay owns them
            outcomes["not claimable"] = outcomes.get("not claimable", 0) + len(chunk) - len(claims)
        sent = (claims, send_all(backend, claims)) if claims else None
    return outcomes


def claim_for_sending(notification_ids: list[int]) -> list[Claim]:
    """Move the claimable rows among `notification_ids` to `sending` and commit; the others are left alone."""
    return settle_and_claim(None, notification_ids)[0]


def settle_and_claim(sent: tuple[list[Claim], list[PushResult | None]] | None,
                     notification_ids: list[int]) -> tuple[list[Claim], list[str]]:
    """One committed transaction: record the outcomes of `sent`, claim the claimable `notification_ids`.

    Returns the new claims and the states recorded; retries are scheduled once the transaction is committed.
    """
    plan = _plan(*sent) if sent else None
    for attempt in range(3):
        try:
            rescheduled = _write_outcomes(*plan[:3]) if plan else []
            rows = (db.session.execute(CLAIM, {"ids": list(notification_ids), "now": clock.now()}).all()
                    if notification_ids else [])
            db.session.commit()
            break
        except OperationalError as exc:  # deadlock with a relay giving up rows: the transaction is redone
            db.session.rollback()
            if attempt == 2:
                raise
            log.warning("enregistrement des résultats d'envoi repris : %s", exc.orig)
    if plan:
        _schedule_retries(plan[1], rescheduled)
    return [Claim(*row) for row in rows], (plan[3] if plan else [])


# Set in Redis just before each HTTP call. A row left `sending` by a dead worker is resent only when its
# attempt was never marked (the call never started); a marked one may have reached FCM: never resent.
ATTEMPT_KEY = "proxima:push:attempt:{id}:{attempts}"
ATTEMPT_MARK_TTL_S = 7 * 24 * 3600


def attempt_key(notification_id: int, attempts: int) -> str:
    return ATTEMPT_KEY.format(id=notification_id, attempts=attempts)


def send_all(backend: PushBackend, claims: list[Claim]) -> list[PushResult | None]:
    """One delivery attempt per claim (None where the token was retired meanwhile), several in flight."""
    sendable = [c for c in claims if c.token is not None]
    try:
        _mark_attempts(sendable)
    except RedisError as exc:  # nothing marked, nothing sent: safe to try again later
        unmarked = PushResult(Outcome.RETRY, error_code="ATTEMPT_NOT_MARKED", detail=repr(exc)[:500])
        return [unmarked if c.token is not None else None for c in claims]

    def attempt(claim: Claim) -> PushResult | None:
        if claim.token is None:
            return None
        try:
            return backend.send(claim.token, claim.payload)
        except Exception as exc:  # the request may have left: recorded as unknown, never resent
            log.exception("envoi de la notification %s interrompu", claim.id)
            return PushResult(Outcome.UNKNOWN, error_code="SEND_ERROR", detail=repr(exc)[:500])

    if len(sendable) <= 1:
        return [attempt(c) for c in claims]
    return list(_executor().map(attempt, claims))


def _mark_attempts(claims: list[Claim]) -> None:
    """Mark the chunk's attempts in Redis, all or none (MULTI/EXEC), in one round trip just before its calls start.
    A mark per call, set by each sending thread, cost a round trip per message and a third of a send's time as the
    threads queued for Redis; a worker killed between this mark and its calls gives up at most a chunk of rows as
    DELIVERY_UNKNOWN, as it would with calls in flight."""
    if not claims:
        return
    marks = get_redis().pipeline()
    for claim in claims:
        marks.set(attempt_key(claim.id, claim.attempts), 1, ex=ATTEMPT_MARK_TTL_S)
    marks.execute()


def _plan(claims: list[Claim], results: list[PushResult | None]) -> tuple[list, list, list, list[str]]:
    """What to write for each outcome: (finals, retries, dead tokens, states)."""
    config = current_app.config
    finals: list[tuple[Claim, str, str | None, PushResult | None]] = []  # (claim, state, error, result)
    retries: list[tuple[Claim, float, str]] = []
    dead: list[tuple[int, str]] = []
    for claim, result in zip(claims, results):
        if result is None:
            finals.append((claim, S.SKIPPED.value, "TOKEN_INACTIVE", None))
        elif result.outcome in (Outcome.DELIVERED, Outcome.LOGGED):
            state = S.SENT if result.outcome == Outcome.DELIVERED else S.LOGGED
            finals.append((claim, state.value, None, result))
        elif result.outcome == Outcome.TOKEN_DEAD:
            finals.append((claim, S.TOKEN_RETIRED.value, _error(result), result))
            dead.append((claim.push_token_id, result.error_code))
        elif result.outcome == Outcome.PERMANENT:
            finals.append((claim, S.FAILED.value, _error(result), result))
        elif result.outcome == Outcome.UNKNOWN:
            finals.append((claim, S.FAILED.value, f"{DELIVERY_UNKNOWN}: {_error(result)}", result))
        elif claim.attempts >= config["PUSH_MAX_ATTEMPTS"]:
            finals.append((claim, S.FAILED.value,
                           f"{_error(result)} (abandon après {claim.attempts} tentatives)", result))
        else:
            delay = retry_delay(claim.attempts, result.retry_after_s, config["PUSH_BACKOFF_BASE_S"],
                                config["PUSH_BACKOFF_MAX_S"])
            retries.append((claim, delay, _error(result)))
    states = [state for _, state, _, _ in finals] + [S.RETRYING.value] * len(retries)
    return finals, retries, dead, states


def _schedule_retries(retries: list[tuple[Claim, float, str]], rescheduled: list) -> None:
    # Rows due in the same second go back in one job: a retry costs a job's overhead per batch, not per row.
    by_id = {claim.id: claim for claim, _, _ in retries}
    due: dict[datetime, list[Claim]] = {}
    for row in rescheduled:
        # RQ's scheduler runs on the machine's clock: the same delay from its own now.
        due.setdefault(_whole_second(clock.on_system_clock(row.not_before)), []).append(by_id[row.id])
    for at, group in due.items():
        _schedule_retry(group, at)


def _write_outcomes(finals, retries, dead) -> list:
    """Final states, retired tokens, citizen_notified events, retrying rows (the caller commits)."""
    rescheduled = []
    now = clock.now()
    if finals:
        owned = set(db.session.execute(FINISH, {
            "ids": [c.id for c, _, _, _ in finals], "states": [s for _, s, _, _ in finals],
            "errors": [e for _, _, e, _ in finals],
            "names": [r.message_name if r is not None else None for _, _, _, r in finals],
            "sent": [s in (S.SENT.value, S.LOGGED.value) for _, s, _, _ in finals], "now": now}).scalars())
        events = [{"report_id": c.report_id, "unit_id": c.unit_id, "at": now,
                   "data": {"notification_id": c.id, "kind": c.kind, "event_id": c.event_id,
                            "backend": "fcm" if r.outcome == Outcome.DELIVERED else "log",
                            "fcm_message_name": r.message_name}}
                  for c, s, _, r in finals if c.id in owned and s in (S.SENT.value, S.LOGGED.value)]
        if events:
            db.session.execute(NOTIFIED, events)
    if dead:
        db.session.execute(RETIRE_TOKENS, {"ids": [t for t, _ in dead], "reasons": [r for _, r in dead],
                                           "now": now})
    if retries:
        rescheduled = db.session.execute(RESCHEDULE, {
            "ids": [c.id for c, _, _ in retries], "delays": [float(d) for _, d, _ in retries],
            "errors": [e for _, _, e in retries], "now": now}).all()
    return rescheduled


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


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _threads() -> int:
    return current_app.config["PUSH_SEND_THREADS"]


def _executor() -> ThreadPoolExecutor:
    """One pool per worker process: its threads keep their HTTP sessions from batch to batch."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="proxima-push")
        return _pool


def _whole_second(when: datetime) -> datetime:
    # RQ's scheduler keeps whole seconds: round up, or the job would run just before the rows are due.
    return when.replace(microsecond=0) + timedelta(seconds=1 if when.microsecond else 0)


def _schedule_retry(claims: list[Claim], at: datetime) -> None:
    try:
        if len(claims) == 1:
            enqueue(send_push, claims[0].id, job_id=job_id_for(claims[0].id, claims[0].attempts), at=at)
        else:
            enqueue(send_push_batch, [claim.id for claim in claims], at=at)
    except Exception as exc:  # Redis unreachable: the relay claims retrying rows once not_before has passed
        log.warning("relance des notifications %s laissée au relais : %s", [c.id for c in claims], exc)


def _error(result: PushResult) -> str:
    code = result.error_code or result.outcome.value
    return f"{code}: {result.detail}"[:1000] if result.detail else code
