"""Console sessions held server-side: the cookie carries a random token naming a row of `officer_sessions`.

Ending the row ends every copy of the cookie: logout ends one session; a password change, a deactivation or a
change of role or unit ends all of an officer's. A session also ends when unused for CONSOLE_SESSION_IDLE_MIN
or CONSOLE_SESSION_MAX_HOURS after login.
"""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from models import Officer, OfficerSession, db
from service.platform import clock

# last_seen_at is written at most this often: a request per page is not a write per page.
TOUCH_EVERY = timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(officer: Officer) -> str:
    """A new session for `officer` (the caller commits); returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    db.session.add(OfficerSession(officer_id=officer.id, token_hash=_hash(token), created_at=now, last_seen_at=now))
    return token


def resolve(officer_id, token: str | None) -> Officer | None:
    """The active officer of a live session, or None (unknown, ended, expired, or another officer's)."""
    if not token:
        return None
    row = db.session.scalar(select(OfficerSession).where(OfficerSession.token_hash == _hash(token)))
    if row is None or row.ended_at is not None or str(row.officer_id) != str(officer_id):
        return None
    now = clock.now()
    idle = timedelta(minutes=current_app.config["CONSOLE_SESSION_IDLE_MIN"])
    lifetime = timedelta(hours=current_app.config["CONSOLE_SESSION_MAX_HOURS"])
    if now - row.last_seen_at > idle or now - row.created_at > lifetime:
        row.ended_at = now
        db.session.commit()
        return None
    officer = db.session.get(Officer, row.officer_id)
    if officer is None or not officer.active:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return officer


def end(token: str | None) -> None:
    """End one session (logout); the caller commits."""
    if token:
        db.session.execute(update(OfficerSession).where(OfficerSession.token_hash == _hash(token),
                                                        OfficerSession.ended_at.is_(None))
                           .values(ended_at=clock.now()))


def end_all(officer: Officer) -> None:
    """End every session of an officer (password, deactivation, role or unit changed); the caller commits."""
    db.session.execute(update(OfficerSession).where(OfficerSession.officer_id == officer.id,
                                                    OfficerSession.ended_at.is_(None))
                       .values(ended_at=clock.now()))
