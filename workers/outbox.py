"""The outbox relay: moves due notification rows to the push queue, so a Redis outage delays but loses nothing.

Several relays may run at once (scheduled job, `flask outbox relay`): rows are claimed with
`FOR UPDATE SKIP LOCKED` and marked `queued` in a committed transaction before they are enqueued.
It also settles rows a dead worker left `sending`: resent when the call never started, given up
(DELIVERY_UNKNOWN) when it may have reached FCM, so nothing is ever sent twice.
"""
import logging
from dataclasses import dataclass

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import text

from models import db
from service.platform import clock
from service.platform.redis_client import get_redis
from workers.push import DELIVERY_UNKNOWN, attempt_key, enqueue_sends
from workers.queues import PUSH, job

log = logging.getLogger("proxima.outbox")

BATCH_SIZE = 500
MAX_BATCHES = 40
# A `queued` row whose job vanished (Redis restarted without persistence, or the process that wrote it queued died
# before enqueuing: service/followup/notifications.py) is enqueued again after this; a duplicate job is harmless,
# the claim lets only one of them send.
REQUEUE_AFTER_S = 600

CLAIM_DUE = text("""
    WITH due AS (
        SELECT id FROM notifications
        WHERE (state IN ('pending', 'retrying') AND not_before <= CAST(:now AS timestamptz))
           OR (state = 'queued' AND updated_at < CAST(:now AS timestamptz) - make_interval(secs => :requeue_after))
        ORDER BY not_before
        LIMIT :batch
        FOR UPDATE SKIP LOCKED)
    UPDATE notifications n SET state = 'queued', updated_at = CAST(:now AS timestamptz)
    FROM due WHERE n.id = due.id
    RETURNING n.id, n.attempts""")

RELEASE = text("UPDATE notifications SET state = 'pending', updated_at = CAST(:now AS timestamptz) "
               "WHERE id = ANY(:ids) AND state = 'queued'")

# Sending past the timeout: the worker died. Whether the HTTP call had started is in Redis (attempt marks).
STUCK = text("""
    SELECT id, attempts FROM notifications
    WHERE state = 'sending' AND claimed_at < CAST(:now AS timestamptz) - make_interval(secs => :timeout)
    ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED""")

# The call may have reached FCM: never resent.
GIVE_UP = text(f"""
    UPDATE notifications SET state = 'failed', updated_at = CAST(:now AS timestamptz),
        last_error = '{DELIVERY_UNKNOWN}: worker lost during the call (claimed ' || claimed_at::text || ')'
    WHERE id = ANY(:ids) AND state = 'sending'""")

# The worker died before the call started: nothing left, so it is sent again.
RESEND = text("""
    UPDATE notifications SET state = 'pending', updated_at = CAST(:now AS timestamptz),
        last_error = 'NOT_ATTEMPTED: worker lost before the call'
    WHERE id = ANY(:ids) AND state = 'sending'""")


@dataclass
class RelayResult:
    enqueued: int = 0
    given_up: int = 0
    error: str | None = None


# On the push queue: retries and rows held by quiet hours reach FCM on the workers that send, never behind a long
# indicator refresh on `default`.
@job(queue=PUSH, timeout=300, result_ttl=60)
def relay_outbox() -> dict:
    result = relay()
    return {"enqueued": result.enqueued, "given_up": result.given_up, "error": result.error}


def settle_stuck(sending_timeout_s: float, connection=None) -> int:
    """Rows a dead worker left `sending`: resend those whose call never started, give up the others.

    Without Redis the marks cannot be read: the rows wait for the next relay rather than risk a double send.
    Returns how many were given up as DELIVERY_UNKNOWN.
    """
    stuck = db.session.execute(STUCK, {"timeout": sending_timeout_s, "now": clock.now()}).all()
    if not stuck:
        db.session.rollback()
        return 0
    try:
        marks = connection or get_redis()
        pipe = marks.pipeline(transaction=False)
        for row in stuck:
            pipe.exists(attempt_key(row.id, row.attempts))
        marked = pipe.execute()
    except RedisError as exc:
        db.session.rollback()
        log.warning("relais : marques d'envoi illisibles (%s), %d notifications en attente", exc, len(stuck))
        return 0
    unknown = [row.id for row, seen in zip(stuck, marked) if seen]
    never_sent = [row.id for row, seen in zip(stuck, marked) if not seen]
    if unknown:
        db.session.execute(GIVE_UP, {"ids": unknown, "now": clock.now()})
        log.warning("notifications %s abandonnées en cours d'envoi (remise inconnue, pas de renvoi)", unknown)
    if never_sent:
        db.session.execute(RESEND, {"ids": never_sent, "now": clock.now()})
        log.warning("notifications %s jamais parties avant la perte du worker : renvoyées", never_sent)
    db.session.commit()
    return len(unknown)


def relay(batch_size: int = BATCH_SIZE, sending_timeout_s: float | None = None,
          requeue_after_s: float = REQUEUE_AFTER_S, connection=None) -> RelayResult:
    """Give up rows stuck in `sending`, then claim and enqueue due rows batch by batch."""
    if sending_timeout_s is None:
        sending_timeout_s = current_app.config["PUSH_SENDING_TIMEOUT_S"]
    result = RelayResult()
    result.given_up = settle_stuck(sending_timeout_s, connection)
    for _ in range(MAX_BATCHES):
        due = {"batch": batch_size, "requeue_after": requeue_after_s, "now": clock.now()}
        rows = db.session.execute(CLAIM_DUE, due).all()
        db.session.commit()
        if not rows:
            break
        try:
            enqueue_sends([(row.id, row.attempts) for row in rows], connection)
        except Exception as exc:  # Redis down: hand the rows back at once rather than after REQUEUE_AFTER_S
            db.session.execute(RELEASE, {"ids": [row.id for row in rows], "now": clock.now()})
            db.session.commit()
            result.error = f"{exc.__class__.__name__}: {exc}"
            log.warning("relais : file d'attente indisponible (%s), %d notifications remises en attente",
                        result.error, len(rows))
            break
        result.enqueued += len(rows)
        if len(rows) < batch_size:
            break
    return result
