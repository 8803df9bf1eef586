"""Open311 GeoReport v2 endpoints under /open311/v2, each in .xml and .json. Thin: parse, call, render."""
from datetime import datetime, timezone

from flask import Blueprint, current_app, request, url_for

from service.platform import clock, database

from service.accounts import partners
from service.reports.intake import IntakeRejected, submit_report
from service.open311 import catalogue, params
from service.open311.errors import Open311Error, bad_request, forbidden, not_found
from service.open311.service_requests import (MAX_RESULTS, MAX_SPAN, RequestQuery, default_window, find_request,
                                              find_requests, find_updates, resolve_token)
from service.open311.submit import submission_from_form
from service.open311.wire import render

bp = Blueprint("open311", __name__)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Bump when the served behaviour changes, so partners' discovery caches refresh.
CHANGESET = datetime(2026, 11, 26, tzinfo=timezone.utc)
FORMAT = "<any(xml, json):fmt>"


@bp.before_request
def _jurisdiction():
    params.check_jurisdiction(request.values)


@bp.after_request
def _public_reads(response):
    # Public data may be read from any web page (open-data portals); POST stays server-to-server, since a
    # browser page would have to expose its partner key.
    if request.method in ("GET", "HEAD"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get(f"/discovery.{FORMAT}")
def discovery(fmt):
    endpoint_type = "production" if current_app.config.get("PROXIMA_ENV") == "production" else "test"
    document = {
        "changeset": CHANGESET,
        "contact": current_app.config["OPEN311_CONTACT"],
        "key_service": "Clés API délivrées aux partenaires (mairies, polices municipales) par l'administrateur "
                       "Proxima : flask open311 key create NOM.",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": url_for("open311.services", fmt="xml", _external=True).rsplit("/", 1)[0],
            "changeset": CHANGESET,
            "type": endpoint_type,
            "formats": ["text/xml", "application/json"],
        }],
    }
    return render(fmt, "discovery", document)


@bp.get(f"/services.{FORMAT}")
def services(fmt):
    return render(fmt, "services", catalogue.service_list())


@bp.get(f"/services/<service_code>.{FORMAT}")
def service_definition(service_code, fmt):
    category = catalogue.find_category(service_code)
    if category is None:
        raise not_found(f"service_code inconnu : {service_code}.")
    return render(fmt, "service_definition", catalogue.service_definition(category))


@bp.get(f"/requests.{FORMAT}")
def list_requests(fmt):
    database.read_from_replica()
    return render(fmt, "service_requests", find_requests(_request_query(request.args), clock.now()))


@bp.get(f"/requests/<service_request_id>.{FORMAT}")
def show_request(service_request_id, fmt):
    database.read_from_replica()
    found = find_request(service_request_id, params.boolean(request.args, "extensions"))
    if found is None:
        raise not_found(f"service_request_id inconnu : {service_request_id}.")
    return render(fmt, "service_requests", [found])


@bp.post(f"/requests.{FORMAT}")
def create_request(fmt):
    key = partners.verify_key(params.value(request.form, "api_key"))
    if key is None:
        raise forbidden("api_key manquante, inconnue ou révoquée.")
    service_code = params.value(request.form, "service_code")
    if service_code is not None and catalogue.find_category(service_code) is None:
        raise bad_request(f"service_code inconnu : {service_code}.")
    submission = submission_from_form(request.form, request.files, key,
                                      request.headers.get("Idempotency-Key", "").strip() or None)
    try:
        result = submit_report(submission)
    except IntakeRejected as exc:
        raise Open311Error(400, *_rejection_messages(exc))
    report = result.report
    notice = f"Signalement transmis à {report.unit.name}."
    if result.emergency_notice:
        notice = f"{result.emergency_notice} {notice}"
    document = [{"service_request_id": report.reference, "service_notice": notice, "account_id": ""}]
    return render(fmt, "service_requests", document, 201 if result.created else 200)


@bp.get(f"/tokens/<token>.{FORMAT}")
def token(token, fmt):
    key = partners.verify_key(params.value(request.args, "api_key"))
    reference = resolve_token(token, key.id if key else None)
    if reference is None:
        raise not_found(f"token inconnu : {token}.")
    return render(fmt, "service_requests", [{"service_request_id": reference, "token": token}])


@bp.get(f"/servicerequestupdates.{FORMAT}")
def service_request_updates(fmt):
    """mySociety extension: citizen-visible state changes in a window, oldest first, for partner sync."""
    database.read_from_replica()
    args = request.args
    start, end = _window(args)
    page = params.integer(args, "page", 1, 1, 100_000)
    page_size = params.integer(args, "page_size", MAX_RESULTS, 1, MAX_RESULTS)
    return render(fmt, "service_requests_updates", find_updates(start, end, page, page_size))


def _window(args) -> tuple[datetime, datetime]:
    start, end = params.moment(args, "start_date"), params.moment(args, "end_date")
    _check_span(start, end)
    return default_window(start, end, clock.now())


def _check_span(start, end) -> None:
    if start and end:
        if end < start:
            raise bad_request("end_date doit être postérieure à start_date.")
        if end - start > MAX_SPAN:
            raise bad_request("start_date et end_date : 90 jours d'écart au plus.")


def _request_query(args) -> RequestQuery:
    statuses = params.comma_list(args, "status")
    if statuses and any(s not in ("open", "closed") for s in statuses):
        raise bad_request("status : open, closed ou open,closed attendu.")
    start, end = params.moment(args, "start_date"), params.moment(args, "end_date")
    _check_span(start, end)
    return RequestQuery(
        ids=params.comma_list(args, "service_request_id"),
        service_codes=params.comma_list(args, "service_code"),
        start=start, end=end, statuses=statuses,
        updated_after=params.moment(args, "updated_after"),
        updated_before=params.moment(args, "updated_before"),
        page=params.integer(args, "page", 1, 1, 100_000),
        page_size=params.integer(args, "page_size", MAX_RESULTS, 1, MAX_RESULTS),
        extensions=params.boolean(args, "extensions"),
    )


def _rejection_messages(exc: IntakeRejected) -> list[str]:
    # Intake speaks the mobile API's field names; partners sent Open311 ones.
    names = {"category": "service_code", "location": "lat/long", "photos": "media", "answers": "attribute"}
    messages = [f"{names.get(field, field)} : {msg}" for field, msgs in exc.errors.items() for msg in msgs]
    return messages or [exc.message]
