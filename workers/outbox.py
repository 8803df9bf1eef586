"""The outbox relay: moves due notification rows to the push queue, so a Redis outage delays but loses nothing.

Several relays may run at once (scheduled job, `flask outbox relay`): rows are claimed with
`FOR UPDATE SKIP LOCKED` and marked `queued` in a committed transaction before they are enqueued.
"""
import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import text

from models import db
from workers.push import DELIVERY_UNKNOWN, enqueue_sends
from workers.queues import DEFAULT, job

log = logging.getLogger("proxima.outbox")

BATCH_SIZE = 500
MAX_BATCHES = 40
# A `queued` row whose job vanished (Redis restarted without persistence) is enqueued again after this;
# a duplicate job is harmless, the claim lets only one of them send.
REQUEUE_AFTER_S = 600

CLAIM_DUE = text("""
    WITH due AS (
        SELECT id FROM notifications
        WHERE (state IN ('pending', 'retrying') AND not_before <= now())
           OR (state = 'queued' AND updated_at < now() - make_interval(secs => :requeue_after))
        ORDER BY not_before
        LIMIT :batch
        FOR UPDATE SKIP LOCKED)
    UPDATE notifications n SET state = 'queued', updated_at = now()
    FROM due WHERE n.id = due.id
    RETURNING n.id, n.attempts""")

RELEASE = text("UPDATE notifications SET state = 'pending', updated_at = now() "
               "WHERE id = ANY(:ids) AND state = 'queued'")

# Sending past the timeout: the worker died during the HTTP call. FCM may have delivered it; do not resend.
GIVE_UP_STUCK = text(f"""
    UPDATE notifications SET state = 'failed', updated_at = now(),
        last_error = '{DELIVERY_UNKNOWN}: worker lost during the call (claimed ' || claimed_at::text || ')'
    WHERE state = 'sending' AND claimed_at < now() - make_interval(secs => :timeout)
    RETURNING id""")


@dataclass
class RelayResult:
    enqueued: int = 0
    given_up: int = 0
    error: str | None = None


@job(queue=DEFAULT, timeout=300, result_ttl=60)
def relay_outbox() -> dict:
    result = relay()
    return {"enqueued": result.enqueued, "given_up": result.given_up, "error": result.error}


def relay(batch_size: int = BATCH_SIZE, sending_timeout_s: float | None = None,
          requeue_after_s: float = REQUEUE_AFTER_S, connection=None) -> RelayResult:
    """Give up rows stuck in `sending`, then claim and enqueue due rows batch by batch."""
    if sending_timeout_s is None:
        sending_timeout_s = current_app.config["PUSH_SENDING_TIMEOUT_S"]
    result = RelayResult()
    stuck = db.session.execute(GIVE_UP_STUCK, {"timeout": sending_timeout_s}).scalars().all()
    db.session.commit()
    result.given_up = len(stuck)
    if stuck:
        log.warning("notifications %s abandonnées en cours d'envoi (remise inconnue, pas de renvoi)", stuck)
    for _ in range(MAX_BATCHES):
        rows = db.session.execute(CLAIM_DUE, {"batch": batch_size, "requeue_after": requeue_after_s}).all()
        db.session.commit()
        if not rows:
            break
        try:
            enqueue_sends([(row.id, row.attempts) for row in rows], connection)
        except Exception as exc:  # Redis down: hand the rows back at once rather than after REQUEUE_AFTER_S
            db.session.execute(RELEASE, {"ids": [row.id for row in rows]})
            db.session.commit()
            result.error = f"{exc.__class__.__name__}: {exc}"
            log.warning("relais : file d'attente indisponible (%s), %d notifications remises en attente",
                        result.error, len(rows))
            break
        result.enqueued += len(rows)
        if len(rows) < batch_size:
            break
    return result
