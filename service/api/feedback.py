"""Residents' satisfaction rating of a closed report: POST /api/v1/reports/{reference}/feedback."""
from flask_smorest import abort
from marshmallow import Schema, fields, validate

from service.api.blueprint import ApiBlueprint
from service.api.auth import current_device, device_required
from service.reports.feedback import FeedbackRefused, submit_feedback

blp = ApiBlueprint("feedback", __name__, description="Avis des habitants")

_SCORE = dict(required=True, strict=True, validate=validate.Range(min=1, max=5, error="Note de 1 à 5."))


class FeedbackCreateSchema(Schema):
    class Meta:
        unknown = "raise"

    reactivite = fields.Integer(**_SCORE, metadata={"description": "Réactivité, 1 à 5"})
    courtoisie = fields.Integer(**_SCORE, metadata={"description": "Courtoisie, 1 à 5"})
    information = fields.Integer(**_SCORE, metadata={"description": "Information reçue, 1 à 5"})
    comment = fields.String(allow_none=True, validate=validate.Length(max=1000, error="1000 caractères au plus."))


class FeedbackSchema(Schema):
    reference = fields.String()
    reactivite = fields.Integer()
    courtoisie = fields.Integer()
    information = fields.Integer()
    comment = fields.String(allow_none=True)
    created_at = fields.DateTime()


@blp.post("/reports/<reference>/feedback")
@device_required
@blp.arguments(FeedbackCreateSchema)
@blp.response(201, FeedbackSchema)
@blp.alt_response(404, schema="Error", description="No such report for this device")
@blp.alt_response(409, schema="Error", description="Report not answered yet, or feedback already given")
def create_feedback(body, reference):
    try:
        feedback = submit_feedback(reference, current_device(), body["reactivite"], body["courtoisie"],
                                   body["information"], body.get("comment"))
    except FeedbackRefused as exc:
        abort(exc.status, message=exc.message)
    return {"reference": reference, "reactivite": feedback.reactivite, "courtoisie": feedback.courtoisie,
            "information": feedback.information, "comment": feedback.comment, "created_at": feedback.created_at}
