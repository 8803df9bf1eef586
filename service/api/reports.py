"""Residents' reports: intake (JSON or multipart with photos), and the device's own reports."""

from flask import request
from flask_smorest import abort

from models import Report, db
from service.api.blueprint import ApiBlueprint
from service.api.auth import current_device, device_required
from service.api.bodies import read_document_with_photos
from service.api.presenters import created_dict, report_dict
from service.api.schemas import (ReopenSchema, ReportCreatedSchema, ReportCreateSchema, ReportQuerySchema,
                                 ReportSchema)
from service.platform.database import in_autocommit
from service.platform.limits import DeviceCapReached
from service.reports import workflow
from service.reports.intake import IntakeRejected, ReportSubmission, submit_report

blp = ApiBlueprint("reports", __name__, description="Signalements")
# Built once: a schema holds no per-request state, and building one costs about a tenth of a millisecond.
REPORT_CREATE_SCHEMA = ReportCreateSchema()

MULTIPART_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ReportCreateSchema},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["report"],
                "properties": {
                    "report": {"type": "string", "description": "The JSON body, as a string"},
                    "photos": {"type": "array", "items": {"type": "string", "format": "binary"},
                               "description": "Up to 3 JPEG or PNG photos"}}}},
        },
    },
    "parameters": [{"in": "header", "name": "Idempotency-Key", "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "Retrying with the same key returns the same report and creates nothing."}],
}


@blp.post("/reports")
@in_autocommit
@device_required
@blp.doc(**MULTIPART_DOC)
@blp.response(201, ReportCreatedSchema)
@blp.alt_response(422, schema="Error",
                  description="Invalid report (field messages) or place outside the served territories")
@blp.alt_response(413, schema="Error", description="Body larger than the photos allowed (checked before reading it)")
def create_report():
    body, photos, location = read_document_with_photos("report", REPORT_CREATE_SCHEMA,
                                                       "Le signalement contient des erreurs.")
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > 200:
        abort(422, message="Idempotency-Key trop longue.", errors={"Idempotency-Key": ["200 caractères au plus."]})
    device = current_device()
    submission = ReportSubmission(
        category_code=body["category"], description=body["description"], lat=body["location"]["lat"],
        lon=body["location"]["lon"], accuracy_m=body["location"].get("accuracy_m"),
        observed_at=body.get("observed_at"), ongoing=body["ongoing"], answers=body["answers"], photos=photos,
        contact=body.get("contact"), device=device, source="app",
        idempotency_scope=f"device:{device.id}", idempotency_key=key)
    try:
        result = submit_report(submission)
    except IntakeRejected as exc:
        abort(422, message=exc.message, errors={location: exc.errors})
    except DeviceCapReached as exc:
        abort(429, message=exc.message, headers={"Retry-After": str(exc.retry_after_s)})
    headers = {} if result.created else {"Idempotent-Replayed": "true"}
    return created_dict(result.report, result.emergency_notice), 201, headers


@blp.get("/reports")
@device_required
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, ReportCreatedSchema(many=True))
def list_reports(query):
    device = current_device()
    return [created_dict(r, None) for r in db.session.execute(
        db.select(Report).where(Report.device_id == device.id).order_by(Report.received_at.desc(), Report.id.desc())
        .limit(query["page_size"]).offset((query["page"] - 1) * query["page_size"])).scalars()]


@blp.get("/reports/<string:reference>")
@device_required
@blp.response(200, ReportSchema)
@blp.alt_response(404, schema="Error", description="No such report for this device")
def show_report(reference):
    return report_dict(own_report(reference), current_device().locale)


@blp.post("/reports/<string:reference>/reopen")
@device_required
@blp.arguments(ReopenSchema)
@blp.response(200, ReportSchema)
@blp.alt_response(404, schema="Error", description="No such report for this device")
@blp.alt_response(409, schema="Error", description="Not closed, already reopened once, or closed more than 7 days ago")
def reopen_report(body, reference):
    report = own_report(reference)
    try:
        workflow.reopen_by_resident(report, body.get("reason"))
    except workflow.WorkflowError as exc:
        abort(409, message=exc.message)
    return report_dict(report, current_device().locale)


def own_report(reference: str) -> Report:
    """The caller's report, or 404: another device's report is indistinguishable from a missing one."""
    report = db.session.execute(db.select(Report).where(
        Report.reference == reference, Report.device_id == current_device().id)).scalar_one_or_none()
    if report is None:
        abort(404, message="Signalement introuvable.")
    return report
