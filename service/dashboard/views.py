"""Dashboard views: thin wrappers over service.statistics (figures, report lists, CSV export, audit log)."""
from datetime import timedelta

from flask import Response, abort, current_app, jsonify, render_template, request, stream_with_context
from sqlalchemy import select

from models import AuditEntry, Category, Departement, Officer, OutcomeCode, Role, Territory, Unit, db
from service.accounts.scope import unit_ids_in_scope
from service.platform import audit, clock, database
from service.statistics import exchanges, indicator_snapshots, report_rows
from service.statistics.report_clocks import as_of
from service.console.access import current_officer, officer_required
from service.dashboard import present
from service.dashboard.blueprint import bp
from service.dashboard.export import csv_stream, export_filename
from service.dashboard.filters import filters_from_args, today_paris

SUPERVISION_ROLES = (Role.SUPERVISEUR.value, Role.ADMIN.value)
LIST_PAGE_SIZE = 100

SECURITY_ALERT_ACTIONS = ("login.attack_suspected", "login.throttled")


def _scope(officer) -> frozenset[int] | None:
    return None if officer.role == Role.ADMIN.value else unit_ids_in_scope(officer)


def _filters():
    officer = current_officer()
    scope = _scope(officer)
    f, errors = filters_from_args(request.args, officer, scope)
    return officer, scope, f, errors


def _labels(model, key="code") -> dict:
    return {getattr(row, key): row.label_fr for row in db.session.scalars(select(model))}


def _form_choices(officer, scope, f) -> dict:
    if scope is None:
        # Everything for an admin would be thousands of units: supervision units, plus the one selected.
        query = select(Unit).where((Unit.receives_reports.is_(False)) | (Unit.id == (f.unit_id or 0)))
    else:
        query = select(Unit).where(Unit.id.in_(scope))
    return {
        "units": db.session.scalars(query.order_by(Unit.name)).all(),
        "categories": db.session.scalars(select(Category).order_by(Category.label_fr)).all(),
        "territories": db.session.scalars(select(Territory).order_by(Territory.name)).all(),
        "departements": db.session.scalars(select(Departement).order_by(Departement.code)).all(),
    }


def _data(f) -> dict:
    data = indicator_snapshots.served_dashboard_data(f)
    categories, outcomes = _labels(Category), _labels(OutcomeCode)
    for row in data["categories"]:
        row["label"] = categories.get(row["key"], row["key"])
    for row in data["outcomes"]:
        row["label"] = outcomes.get(row["key"], row["key"] or "sans issue")
    return data


@bp.get("/")
@officer_required(*SUPERVISION_ROLES)
def index():
    database.read_from_replica()
    officer, scope, f, errors = _filters()
    data = _data(f)
    selected_unit = db.session.get(Unit, f.unit_id) if f.unit_id else None
    return render_template("dashboard/index.html", officer=officer, f=f, errors=errors, data=data,
                           exchanges=exchanges.exchanges_by_unit(f) if not errors else [],
                           charts=present.chart_payload(data, f), p=present, selected_unit=selected_unit,
                           tile_url=_tile_url(), presets=present.period_presets(f, today_paris()),
                           **_form_choices(officer, scope, f))


@bp.get("/donnees.json")
@officer_required(*SUPERVISION_ROLES)
def data_json():
    database.read_from_replica()
    _, _, f, errors = _filters()
    data = _data(f)
    response = jsonify(summary=data["summary"], charts=present.chart_payload(data, f), errors=errors,
                       filters=f.query_args())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/signalements")
@officer_required(*SUPERVISION_ROLES)
def reports():
    """The reports behind a figure: same filters as the dashboard, newest first."""
    database.read_from_replica()
    officer, scope, f, errors = _filters()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows = report_rows.report_rows(f, limit=LIST_PAGE_SIZE + 1, offset=(page - 1) * LIST_PAGE_SIZE)
    return render_template("dashboard/reports.html", officer=officer, f=f, errors=errors,
                           rows=rows[:LIST_PAGE_SIZE], has_next=len(rows) > LIST_PAGE_SIZE, page=page, p=present,
                           total=report_rows.count_reports(f), **_form_choices(officer, scope, f))


@bp.get("/export.csv")
@officer_required(*SUPERVISION_ROLES)
def export():
    """CSV of the reports behind the filters on screen, streamed; the export itself is audited first."""
    officer, _, f, errors = _filters()
    if errors:
        abort(400)
    audit.record(officer, "indicators.export_csv", "report", None,
                 {"filters": f.query_args(), "as_of": as_of()})
    db.session.commit()
    database.read_from_replica()  # the audit entry is written on the primary; the rows may come from the replica
    response = Response(stream_with_context(csv_stream(f)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8; header=present"
    response.headers["Content-Disposition"] = f'attachment; filename="{export_filename(f)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/journal")
@officer_required(*SUPERVISION_ROLES)
def audit_log():
    """Audit log, newest first, with the chain verified since the last checkpoint (signing a new one)."""
    officer = current_officer()
    before = request.args.get("avant", type=int)
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(LIST_PAGE_SIZE)
    if before:
        query = query.where(AuditEntry.id < before)
    if officer.role != Role.ADMIN.value:
        # A supervisor reads the actions of the officers of their units, and their own.
        scope = unit_ids_in_scope(officer)
        query = query.where(AuditEntry.officer_id.in_(select(Officer.id).where(Officer.unit_id.in_(scope))))
    entries = db.session.scalars(query).all()
    verification = audit.verify_and_checkpoint()
    # Login attacks on the accounts this supervisor oversees, last 24 hours: shown above the log.
    alerts_query = (select(AuditEntry).where(AuditEntry.action.in_(SECURITY_ALERT_ACTIONS),
                                             AuditEntry.at >= clock.now() - timedelta(hours=24))
                    .order_by(AuditEntry.id.desc()).limit(50))
    if officer.role != Role.ADMIN.value:
        alerts_query = alerts_query.where(AuditEntry.officer_id.in_(
            select(Officer.id).where(Officer.unit_id.in_(unit_ids_in_scope(officer)))))
    alerts = db.session.scalars(alerts_query).all()
    return render_template("dashboard/audit.html", officer=officer, entries=entries, verification=verification,
                           alerts=alerts,
                           next_before=entries[-1].id if len(entries) == LIST_PAGE_SIZE else None, p=present)


def _tile_url() -> str:
    return current_app.config.get("MAP_TILE_URL") or ""
