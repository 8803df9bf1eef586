"""Messages on a report: the unit in charge asks or informs, the resident answers or adds, in one thread.

Rules (each raises MessageRefused, whose `status` the channels answer with):
- the thread is open while the report is, while it is resolved, and within the resident's reopen window after it
  ended (RESIDENT_REOPEN_DAYS after `closed_at`); later, nobody writes (409);
- only the unit in charge (and its supervisors) writes, reads and is told: never a unit a transfer is merely
  offered to (404, as for anything outside an officer's scope);
- a resident's message carries text, up to PHOTO_MAX_COUNT photos cleaned like intake's, or both (422); at most
  MESSAGES_PER_REPORT_PER_DAY of them per report in 24 hours (429; the per-device rate is a limit of
  service.platform.limits); a retried post with the same Idempotency-Key returns the first message;
- the resident sees the unit's name, never the officer's; the officer's message is pushed with a fixed text
  (service.followup.push_texts), never its own;
- the unit reading a thread that holds resident messages is audited (`report.messages.read`), like the contact,
  and marks them read; a thread's texts are never logged.

A message is not a ReportEvent: events feed Open311's notes and the report's `updated_at` its updated_datetime, and
partners must see neither messages nor their existence. The resident's timeline merges the thread in
(service.api.presenters).
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from models import (CannedQuestion, MessageAuthor, Report, ReportMessage, ReportMessagePhoto, ReportStatus, Unit,
                    db)
from service.accounts.scope import unit_in_scope
from service.followup import notifications, push_texts
from service.platform import audit, clock
from service.reports.photos import PhotoRejected, clean_photo
from service.reports.workflow import OPEN, RESIDENT_REOPEN_DAYS

TEXT_MAX = 2000


class MessageRefused(Exception):
    """A refused message or read; `message` is French, `status` the HTTP status the channels answer."""

    def __init__(self, message: str, status: int, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors or {}


@dataclass
class PostResult:
    message: ReportMessage
    created: bool


def thread_open(report: Report, now: datetime | None = None) -> bool:
    """Messages may be written while the report is open or resolved, and within the reopen window after its end."""
    if report.status in OPEN or report.status == ReportStatus.RESOLVED.value:
        return True
    now = now or clock.now()
    return report.closed_at is not None and now - report.closed_at <= timedelta(days=RESIDENT_REOPEN_DAYS)


def unit_may_use_thread(report: Report, officer) -> bool:
    """The unit in charge and its supervisors: not a unit a transfer is only offered to."""
    return unit_in_scope(getattr(officer, "officer", officer), report.unit_id)


def _check_open(report: Report) -> None:
    if not thread_open(report):
        raise MessageRefused(f"Les échanges sont fermés sur ce signalement (au-delà de {RESIDENT_REOPEN_DAYS} jours "
                             "après sa clôture).", 409)


def _clean_text(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > TEXT_MAX:
        raise MessageRefused("Le message contient des erreurs.", 422, {"text": [f"{TEXT_MAX} caractères au plus."]})
    return text


# --- the unit ---------------------------------------------------------------------------------------------------

def post_unit_message(report: Report, officer, text: str | None) -> ReportMessage:
    """An officer of the unit in charge writes to the resident; the push leaves after the commit."""
    officer = getattr(officer, "officer", officer)
    if not unit_may_use_thread(report, officer):
        raise MessageRefused("Seule l'unité en charge du signalement peut écrire au résident.", 404)
    _check_open(report)
    text = _clean_text(text)
    if not text:
        raise MessageRefused("Le message est vide.", 422, {"text": ["Le message est vide."]})
    message = ReportMessage(report_id=report.id, author=MessageAuthor.UNIT.value, officer_id=officer.id,
                            unit_id=report.unit_id, text=text, created_at=clock.now())
    db.session.add(message)
    db.session.flush()
    outbox = notifications.queue_for_report(report, push_texts.UNIT_MESSAGE)
    audit.record(officer, "report.message.sent", "report", report.id,
                 {"reference": report.reference, "message_id": message.id})
    db.session.commit()
    notifications.dispatch_after_commit(outbox)
    return message


@dataclass
class ThreadEntry:
    message: ReportMessage
    unread: bool  # a resident's message the unit had not read before this page
    photo_ids: list[int]


def read_thread_for_unit(report: Report, officer) -> list[ThreadEntry]:
    """The thread as the unit sees it. Resident messages are personal data: reading them writes an audit entry and
    marks them read (commits, when there are any)."""
    officer = getattr(officer, "officer", officer)
    if not unit_may_use_thread(report, officer):
        raise MessageRefused("Échanges réservés à l'unité en charge du signalement.", 404)
    messages = thread(report)
    photos = photo_ids([m.id for m in messages])
    entries = [ThreadEntry(m, m.author == MessageAuthor.RESIDENT.value and m.read_at is None, photos.get(m.id, []))
               for m in messages]
    resident = [m for m in messages if m.author == MessageAuthor.RESIDENT.value]
    if not resident:
        return entries
    unread_ids = [entry.message.id for entry in entries if entry.unread]
    audit.record(officer, "report.messages.read", "report", report.id,
                 {"reference": report.reference, "resident_messages": len(resident), "unread": len(unread_ids)})
    if unread_ids:
        db.session.execute(update(ReportMessage).where(ReportMessage.id.in_(unread_ids))
                           .values(read_at=clock.now()).execution_options(synchronize_session=False))
    db.session.commit()
    return entries


def resident_wrote_after_end(report: Report, entries: list[ThreadEntry]) -> bool:
    """A resident's message on an ended report: the console offers to reopen it in one action."""
    if report.status in OPEN:
        return False
    ended = report.closed_at or report.updated_at
    return any(e.message.author == MessageAuthor.RESIDENT.value and e.message.created_at >= ended for e in entries)


def canned_questions(category_code: str) -> list[CannedQuestion]:
    return db.session.scalars(select(CannedQuestion).where(CannedQuestion.category_code == category_code)
                              .order_by(CannedQuestion.position, CannedQuestion.id)).all()


# --- the resident -----------------------------------------------------------------------------------------------

def _fingerprint(text: str, photos: list[bytes]) -> str:
    body = {"text": text, "photos": [hashlib.sha256(p).hexdigest() for p in photos]}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def post_resident_message(report: Report, text: str | None, photos: list[bytes],
                          idempotency_key: str | None = None) -> PostResult:
    """The reporting device writes on its own report (the caller checked it owns it). Commits once."""
    text = (text or "").strip()
    fingerprint = _fingerprint(text, photos)
    if idempotency_key:
        replay = _replay(report, idempotency_key, fingerprint)
        if replay is not None:
            return replay
    _check_open(report)
    text = _clean_text(text)
    cleaned = _clean_photos(photos)
    if not text and not cleaned:
        raise MessageRefused("Le message est vide.", 422, {"text": ["Écrivez un message ou joignez une photo."]})
    _check_report_rate(report)
    message = ReportMessage(report_id=report.id, author=MessageAuthor.RESIDENT.value, unit_id=report.unit_id,
                            text=text, created_at=clock.now(), idempotency_key=idempotency_key,
                            request_hash=fingerprint if idempotency_key else None)
    for photo in cleaned:
        message.photos.append(ReportMessagePhoto(content_type=photo.content_type, width=photo.width,
                                                 height=photo.height, content=photo.content))
    db.session.add(message)
    try:
        db.session.commit()
    except IntegrityError:
        # A concurrent twin with the same Idempotency-Key committed first.
        db.session.rollback()
        replay = _replay(report, idempotency_key, fingerprint) if idempotency_key else None
        if replay is None:
            raise
        return replay
    return PostResult(message, True)


def _replay(report: Report, key: str, fingerprint: str) -> PostResult | None:
    message = db.session.scalar(select(ReportMessage).where(ReportMessage.report_id == report.id,
                                                            ReportMessage.idempotency_key == key))
    if message is None:
        return None
    if message.request_hash != fingerprint:
        raise MessageRefused("Cette clé d'idempotence a déjà servi pour un autre message.", 422,
                             {"Idempotency-Key": ["Déjà utilisée avec un contenu différent."]})
    return PostResult(message, False)


def _clean_photos(raw_photos: list[bytes]):
    max_count = current_app.config["PHOTO_MAX_COUNT"]
    if len(raw_photos) > max_count:
        raise MessageRefused("Le message contient des erreurs.", 422, {"photos": [f"{max_count} photos au plus."]})
    photos, errors = [], []
    for index, raw in enumerate(raw_photos):
        try:
            photos.append(clean_photo(raw, current_app.config["PHOTO_MAX_BYTES"]))
        except PhotoRejected as exc:
            errors.append(f"Photo {index + 1} : {exc}")
    if errors:
        raise MessageRefused("Le message contient des erreurs.", 422, {"photos": errors})
    return photos


def _check_report_rate(report: Report) -> None:
    """At most MESSAGES_PER_REPORT_PER_DAY resident messages on one report in 24 hours (counted in the database:
    the limit holds even when Redis, and with it the per-device limits, is down)."""
    limit = current_app.config["MESSAGES_PER_REPORT_PER_DAY"]
    since = clock.now() - timedelta(days=1)
    count = db.session.scalar(select(func.count()).select_from(ReportMessage).where(
        ReportMessage.report_id == report.id, ReportMessage.author == MessageAuthor.RESIDENT.value,
        ReportMessage.created_at >= since))
    if count >= limit:
        raise MessageRefused(f"Nombre maximal de messages sur ce signalement atteint ({limit} par 24 heures). "
                             "En cas d'urgence, appelez le 17 ou le 112.", 429)


def mark_read_by_resident(report: Report, up_to_id: int | None = None) -> int:
    """The resident has read the unit's messages (all, or up to `up_to_id`); returns how many were marked."""
    stmt = update(ReportMessage).where(ReportMessage.report_id == report.id,
                                       ReportMessage.author == MessageAuthor.UNIT.value,
                                       ReportMessage.read_at.is_(None))
    if up_to_id is not None:
        stmt = stmt.where(ReportMessage.id <= up_to_id)
    count = db.session.execute(stmt.values(read_at=clock.now()).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return count


# --- both -------------------------------------------------------------------------------------------------------

def thread(report: Report) -> list[ReportMessage]:
    return db.session.scalars(select(ReportMessage).where(ReportMessage.report_id == report.id)
                              .order_by(ReportMessage.created_at, ReportMessage.id)).all()


def photo_ids(message_ids: list[int]) -> dict[int, list[int]]:
    """Each message's photo ids, without loading the photos themselves."""
    if not message_ids:
        return {}
    found: dict[int, list[int]] = {}
    for message_id, photo_id in db.session.execute(
            select(ReportMessagePhoto.message_id, ReportMessagePhoto.id)
            .where(ReportMessagePhoto.message_id.in_(message_ids)).order_by(ReportMessagePhoto.id)):
        found.setdefault(message_id, []).append(photo_id)
    return found


def unit_names(messages: list[ReportMessage]) -> dict[int, str]:
    ids = {m.unit_id for m in messages}
    return dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all()) if ids else {}


def get_photo(report: Report, photo_id: int) -> ReportMessagePhoto | None:
    """A photo of this report's thread, or None."""
    return db.session.scalar(select(ReportMessagePhoto).join(ReportMessage)
                             .where(ReportMessagePhoto.id == photo_id, ReportMessage.report_id == report.id))


def unread_resident_messages(report_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(ReportMessage).where(
        ReportMessage.report_id == report_id, ReportMessage.author == MessageAuthor.RESIDENT.value,
        ReportMessage.read_at.is_(None)))


# --- canned questions (administrators) --------------------------------------------------------------------------

def add_canned_question(category_code: str, text: str, position: int, officer) -> CannedQuestion:
    text = (text or "").strip()
    if not text or len(text) > 500:
        raise MessageRefused("La question doit compter de 1 à 500 caractères.", 422)
    question = CannedQuestion(category_code=category_code, text=text, position=position or 0)
    db.session.add(question)
    db.session.flush()
    audit.record(officer, "canned_question.create", "canned_question", question.id,
                 {"category": category_code, "text": text})
    db.session.commit()
    return question


def delete_canned_question(question: CannedQuestion, officer) -> None:
    audit.record(officer, "canned_question.delete", "canned_question", question.id,
                 {"category": question.category_code, "text": question.text})
    db.session.delete(question)
    db.session.commit()
