"""Messages between the resident and the unit on the resident's own report: list, post (JSON or multipart with
photos), mark read. The rules are in service/reports/messages.py."""
from flask import request
from flask_smorest import abort
from marshmallow import ValidationError

from models import MessageAuthor
from service.api.blueprint import ApiBlueprint
from service.api.auth import device_required
from service.api.reports import own_report
from service.api.schemas import MessageCreateSchema, MessageListSchema, MessageSchema, MessagesReadSchema
from service.platform.input_guard import json_problems, load_json
from service.reports import messages

blp = ApiBlueprint("messages", __name__, description="Échanges avec l'unité sur un signalement")

POST_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": MessageCreateSchema},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["message"],
                "properties": {
                    "message": {"type": "string", "description": "The JSON body, as a string"},
                    "photos": {"type": "array", "items": {"type": "string", "format": "binary"},
                               "description": "Up to 3 JPEG or PNG photos (metadata removed)"}}}},
        },
    },
    "parameters": [{"in": "header", "name": "Idempotency-Key", "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "Retrying with the same key returns the same message and creates nothing."}],
}


def message_dict(message, unit_name: str, photo_count: int) -> dict:
    """What the resident sees of a message: the unit's name, never the officer's."""
    return {"id": message.id, "author": message.author, "text": message.text, "photos": photo_count,
            "unit": unit_name if message.author == MessageAuthor.UNIT.value else None,
            "created_at": message.created_at, "read_at": message.read_at}


def _thread_dict(report) -> dict:
    thread = messages.thread(report)
    photos = messages.photo_ids([m.id for m in thread])
    unit_names = messages.unit_names(thread)
    items = [message_dict(m, unit_names.get(m.unit_id, ""), len(photos.get(m.id, []))) for m in thread]
    unread = sum(1 for m in thread if m.author == MessageAuthor.UNIT.value and m.read_at is None)
    return {"items": items, "unread": unread, "open": messages.thread_open(report)}


@blp.get("/reports/<string:reference>/messages")
@device_required
@blp.response(200, MessageListSchema)
@blp.alt_response(404, schema="Error", description="No such report for this device")
def list_messages(reference):
    return _thread_dict(own_report(reference))


@blp.post("/reports/<string:reference>/messages")
@device_required
@blp.doc(**POST_DOC)
@blp.response(201, MessageSchema)
@blp.alt_response(200, schema=MessageSchema, description="Replay of an Idempotency-Key already used: the same message")
@blp.alt_response(404, schema="Error", description="No such report for this device")
@blp.alt_response(409, schema="Error", description="Messages are closed on this report (ended more than 7 days ago)")
@blp.alt_response(413, schema="Error", description="Body larger than the photos allowed (checked before reading it)")
@blp.alt_response(422, schema="Error", description="Empty or invalid message or photos (field messages)")
def post_message(reference):
    report = own_report(reference)
    body, photos, location = _read_message()
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > 200:
        abort(422, message="Idempotency-Key trop longue.", errors={"Idempotency-Key": ["200 caractères au plus."]})
    try:
        result = messages.post_resident_message(report, body["text"], photos, key)
    except messages.MessageRefused as exc:
        abort(exc.status, message=exc.message, errors={location: exc.errors} if exc.errors else None)
    photo_count = len(messages.photo_ids([result.message.id]).get(result.message.id, []))
    body = message_dict(result.message, "", photo_count)
    if result.created:
        return body, 201
    return body, 200, {"Idempotent-Replayed": "true"}


def _read_message() -> tuple[dict, list[bytes], str]:
    """The JSON body, or multipart with the JSON in a `message` field and `photos` files (as intake)."""
    photos: list[bytes] = []
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("message")
        if raw is None:
            abort(422, message="Champ « message » manquant.", errors={"form": {"message": ["Champ obligatoire."]}})
        try:
            data = load_json(raw)
        except ValueError:
            abort(422, message="Le champ « message » n'est pas du JSON valide.",
                  errors={"form": {"message": ["JSON invalide."]}})
        problems = json_problems(data)
        if problems:
            abort(422, message="Le champ « message » contient des caractères non autorisés.",
                  errors={"form": {"message": problems}})
        photos = [f.read() for f in request.files.getlist("photos")]
        location = "form"
    else:
        data = request.get_json(silent=True)
        if data is None:
            abort(422, message="Corps JSON attendu.", errors={"json": {"_schema": ["Corps JSON invalide ou absent."]}})
        location = "json"
    if not isinstance(data, dict):
        abort(422, message="Un objet JSON est attendu.", errors={location: {"_schema": ["Objet attendu."]}})
    try:
        return MessageCreateSchema().load(data), photos, location
    except ValidationError as exc:
        abort(422, message="Le message contient des erreurs.", errors={location: exc.messages})


@blp.post("/reports/<string:reference>/messages/read")
@device_required
@blp.arguments(MessagesReadSchema)
@blp.response(200, MessageListSchema)
@blp.alt_response(404, schema="Error", description="No such report for this device")
def mark_messages_read(body, reference):
    report = own_report(reference)
    messages.mark_read_by_resident(report, body.get("up_to"))
    return _thread_dict(report)
