"""Request bodies with photos: JSON, or multipart with the JSON document in one field and `photos` files.

Intake (`report` field) and a resident's message (`message` field) read their bodies the same way; errors are the
API's 422 with field messages, under the location they came from (`json` or `form`).
"""
from flask import request
from flask_smorest import abort
from marshmallow import Schema, ValidationError

from service.platform.input_guard import json_problems, load_json


def read_document_with_photos(field: str, schema: Schema, invalid: str) -> tuple[dict, list[bytes], str]:
    """(the document loaded by `schema`, the photos' bytes, "json" or "form"); `invalid` is the 422's message."""
    photos: list[bytes] = []
    if request.mimetype == "multipart/form-data":
        raw = request.form.get(field)
        if raw is None:
            abort(422, message=f"Champ « {field} » manquant.", errors={"form": {field: ["Champ obligatoire."]}})
        try:
            data = load_json(raw)
        except ValueError:
            abort(422, message=f"Le champ « {field} » n'est pas du JSON valide.",
                  errors={"form": {field: ["JSON invalide."]}})
        problems = json_problems(data)
        if problems:
            abort(422, message=f"Le champ « {field} » contient des caractères non autorisés.",
                  errors={"form": {field: problems}})
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
        return schema.load(data), photos, location
    except ValidationError as exc:
        abort(422, message=invalid, errors={location: exc.messages})
