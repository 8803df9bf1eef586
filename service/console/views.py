"""Console pages: the queue and its map, a report's page with its workflow actions, incidents, accounts."""
from datetime import datetime

from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models import Role
from service.platform import clock
from service.reports import contacts, incidents, messages, workflow
from service.reports.hours import describe_fr as describe_hours
from service.accounts import officers
from service.console import forms, queries
from service.console.access import current_officer, officer_required
from service.console.blueprint import bp
from service.platform.clock import PARIS


# --- Template helpers ------------------------------------------------------------------------------------------

@bp.app_template_filter("paris")
def _paris(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return value.astimezone(PARIS).strftime(fmt) if value else ""


def french_duration(seconds: float) -> str:
    """"2 j 4 h", "3 h 12 min", "7 min", "moins d'une minute"."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} j {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return "moins d'une minute"


@bp.app_template_filter("countdown")
def _countdown(due: datetime | None) -> str:
    if due is None:
        return ""
    left = (due - clock.now()).total_seconds()
    return f"reste {french_duration(left)}" if left >= 0 else f"dépassé de {french_duration(left)}"


@bp.app_template_filter("age")
def _age(since: datetime | None) -> str:
    return french_duration((clock.now() - since).total_seconds()) if since else ""


@bp.context_processor
def _console_context():
    return {"officer": current_officer(), "Role": Role, "status_labels": workflow.STATUS_LABELS_FR,
            "now_utc": clock.now()}


# --- Queue and map ---------------------------------------------------------------------------------------------

@bp.get("/")
@officer_required
def queue():
    officer = current_officer()
    filters = queries.QueueFilters.from_args(request.args)
    rows = queries.queue(officer, filters)
    return render_template("console/queue.html", rows=rows, filters=filters, categories=queries.categories(),
                           periods=queries.PERIODS, status_filters=queries.STATUS_FILTERS,
                           tile_url=current_app.config.get("MAP_TILE_URL") or "")


@bp.get("/queue.json")
@officer_required
def queue_json():
    """Polled by the queue page: fresh rows (server-rendered) and map markers, without reloading the page."""
    officer = current_officer()
    filters = queries.QueueFilters.from_args(request.args)
    rows = queries.queue(officer, filters)
    response = jsonify(rows_html=render_template("console/_queue_rows.html", rows=rows),
                       markers=[r.marker() for r in rows], ids=[r.id for r in rows], count=len(rows),
                       server_time=clock.now().isoformat())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/jurisdictions.geojson")
@officer_required
def jurisdictions():
    response = jsonify(queries.jurisdictions_geojson(current_officer()))
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# --- A report ---------------------------------------------------------------------------------------------------

def _report_forms(report) -> dict:
    resolve = forms.ResolveForm(prefix="resolve")
    resolve.outcome_code.choices = [("", "— choisir —")] + [(o.code, o.label_fr) for o in queries.outcome_codes()]
    transfer = forms.TransferForm(prefix="transfer")
    transfer.target_unit.choices = [("", "— choisir —")] + [
        (str(u.id), f"{u.name} ({u.kind_label}) — {describe_hours(u.service_hours)}")
        for u in queries.transfer_targets(report)]
    merge = forms.MergeForm(prefix="merge")
    merge.other_report.choices = [
        (str(r.id), f"{r.reference} — {r.commune_name or ''} — {_paris(r.received_at)}")
        for r in queries.merge_candidates(report, current_officer())]
    return {"acknowledge": forms.ActionForm(prefix="acknowledge"), "dispatch": forms.ActionForm(prefix="dispatch"),
            "resolve": resolve, "close": forms.ActionForm(prefix="close"), "reject": forms.ReasonForm(prefix="reject"),
            "transfer": transfer, "accept_transfer": forms.ActionForm(prefix="accept_transfer"),
            "decline_transfer": forms.ReasonForm(prefix="decline_transfer"),
            "reopen": forms.ActionForm(prefix="reopen"), "note": forms.NoteForm(prefix="note"),
            "merge": merge, "split": forms.ActionForm(prefix="split"),
            "contact": forms.RevealContactForm(prefix="contact"), "message": _message_form(report)}


def _message_form(report):
    form = forms.MessageForm(prefix="message")
    form.canned.choices = [("", "— écrire un message —")] + [
        (q.text, q.text) for q in messages.canned_questions(report.category_code)]
    return form


def _thread(report, officer):
    """The thread for the unit in charge (reading it is audited), None for a unit a transfer is offered to."""
    if not messages.unit_may_use_thread(report, officer):
        return None
    return messages.read_thread_for_unit(report, officer)


def _render_report(report, form_set=None, contact=None, contact_revealed=False, status=200):
    officer = current_officer()
    thread = _thread(report, officer)
    role = workflow.acting_role(report, officer)
    allowed = [a.value for a in workflow.allowed_actions(report.status, report.pending_transfer_unit_id is not None,
                                                         role)] if role else []
    return render_template(
        "console/report.html", report=report, forms=form_set or _report_forms(report), allowed=allowed,
        in_charge=role is workflow.Actor.CURRENT_UNIT, timeline=queries.timeline(report),
        answers=queries.answers_for_display(report), photo_ids=queries.photo_ids(report),
        has_contact=queries.has_contact(report), may_reveal_contact=contacts.may_reveal_contact(report, officer),
        contact=contact, contact_revealed=contact_revealed,
        incident_reports=queries.incident_siblings(report, officer), report_point=queries.report_point(report),
        outcome_labels={o.code: o.label_fr for o in queries.outcome_codes()}, action_labels=workflow.ACTION_LABELS_FR,
        thread=thread, thread_open=messages.thread_open(report),
        offer_reopen=thread is not None and "reopen" in allowed and messages.resident_wrote_after_end(report, thread),
        tile_url=current_app.config.get("MAP_TILE_URL") or ""), status


@bp.get("/reports/<int:report_id>")
@officer_required
def report_page(report_id: int):
    return _render_report(queries.get_report_or_404(report_id, current_officer()))


# Message ids (French), translated when flashed.
SUCCESS_FR = {
    "acknowledge": "Signalement pris en compte.", "dispatch": "Patrouille engagée.", "resolve": "Signalement résolu.",
    "close": "Signalement clôturé.", "reject": "Signalement rejeté.", "transfer": "Transfert demandé.",
    "accept_transfer": "Transfert accepté : le signalement est désormais traité par votre unité.",
    "decline_transfer": "Transfert refusé : le signalement revient à l'unité d'origine et à son superviseur.",
    "reopen": "Signalement rouvert.", "note": "Note ajoutée.",
}


def _perform(action: str, report, form, officer):
    text = form.text.data if hasattr(form, "text") else None
    if action == "acknowledge":
        return workflow.acknowledge(report, officer)
    if action == "dispatch":
        return workflow.dispatch(report, officer, text)
    if action == "resolve":
        return workflow.resolve(report, officer, form.outcome_code.data, text)
    if action == "close":
        return workflow.close(report, officer, text)
    if action == "reject":
        return workflow.reject(report, officer, text)
    if action == "transfer":
        target = officers.find_unit(int(form.target_unit.data))
        return workflow.transfer(report, officer, target, text)
    if action == "accept_transfer":
        return workflow.accept_transfer(report, officer, text)
    if action == "decline_transfer":
        return workflow.decline_transfer(report, officer, text)
    if action == "reopen":
        return workflow.reopen(report, officer, text)
    if action == "note":
        return workflow.add_note(report, officer, text)
    abort(404)


@bp.post("/reports/<int:report_id>/actions/<action>")
@officer_required
def report_action(report_id: int, action: str):
    officer = current_officer()
    report = queries.get_report_or_404(report_id, officer)
    if action not in SUCCESS_FR:
        abort(404)
    form_set = _report_forms(report)
    form = form_set[action]
    if not form.validate_on_submit():
        for problems in form.errors.values():
            for problem in problems:
                flash(problem, "error")
        return _render_report(report, form_set, status=422)
    try:
        _perform(action, report, form, officer)
    except workflow.NotInScope:
        abort(404)
    except workflow.WorkflowError as exc:
        flash(exc.message, "error")
        report = queries.get_report_or_404(report_id, officer)
        return _render_report(report, status=409)
    flash(_(SUCCESS_FR[action]), "success")
    if action == "decline_transfer":
        return redirect(url_for("console.queue"))
    return redirect(url_for("console.report_page", report_id=report.id))


@bp.post("/reports/<int:report_id>/contact")
@officer_required
def reveal_contact(report_id: int):
    """Explicit action: the contact details are shown only here, after the audit entry is written."""
    officer = current_officer()
    report = queries.get_report_or_404(report_id, officer)
    form = forms.RevealContactForm(prefix="contact")
    if not form.validate_on_submit():
        abort(400)
    try:
        contact = contacts.reveal_contact(report, officer, form.reason.data or None)
    except contacts.ContactRefused:
        abort(404)
    response, status = _render_report(report, contact=contact, contact_revealed=True)
    return Response(response, status=status, headers={"Cache-Control": "no-store"})


@bp.get("/reports/<int:report_id>/photos/<int:photo_id>")
@officer_required
def report_photo(report_id: int, photo_id: int):
    report = queries.get_report_or_404(report_id, current_officer())
    photo = queries.get_photo_or_404(report, photo_id)
    return Response(photo.content, mimetype=photo.content_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
                             "Content-Disposition": f'inline; filename="photo-{photo.id}"'})


@bp.post("/reports/<int:report_id>/messages")
@officer_required
def post_message(report_id: int):
    officer = current_officer()
    report = queries.get_report_or_404(report_id, officer)
    form_set = _report_forms(report)
    form = form_set["message"]
    if not form.validate_on_submit():
        for problems in form.errors.values():
            for problem in problems:
                flash(problem, "error")
        return _render_report(report, form_set, status=422)
    try:
        messages.post_unit_message(report, officer, form.text.data)
    except messages.MessageRefused as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return _render_report(queries.get_report_or_404(report_id, officer), status=exc.status)
    flash(_("Message envoyé au résident."), "success")
    return redirect(url_for("console.report_page", report_id=report.id) + "#h-messages")


@bp.get("/reports/<int:report_id>/message-photos/<int:photo_id>")
@officer_required
def message_photo(report_id: int, photo_id: int):
    officer = current_officer()
    report = queries.get_report_or_404(report_id, officer)
    photo = messages.get_photo(report, photo_id) if messages.unit_may_use_thread(report, officer) else None
    if photo is None:
        abort(404)
    return Response(photo.content, mimetype=photo.content_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
                             "Content-Disposition": f'inline; filename="message-photo-{photo.id}"'})


@bp.post("/reports/<int:report_id>/merge")
@officer_required
def merge_report(report_id: int):
    officer = current_officer()
    report = queries.get_report_or_404(report_id, officer)
    form_set = _report_forms(report)
    form = form_set["merge"]
    if not form.validate_on_submit():
        flash(_("Choisissez un signalement à regrouper."), "error")
        return _render_report(report, form_set, status=422)
    other = queries.get_report_or_404(int(form.other_report.data), officer)
    try:
        incident = incidents.merge_reports(report, other, officer)
    except incidents.IncidentError as exc:
        flash(exc.message, "error")
        return _render_report(queries.get_report_or_404(report_id, officer), status=409)
    flash(_("Signalement regroupé dans l'incident n° %(id)s.", id=incident.id), "success")
    return redirect(url_for("console.report_page", report_id=report.id))


@bp.post("/reports/<int:report_id>/split")
@officer_required
def split_report(report_id: int):
    officer = current_officer()
    report = queries.get_report_or_404(report_id, officer)
    form = forms.ActionForm(prefix="split")
    if not form.validate_on_submit():
        abort(400)
    try:
        incidents.split(report, officer)
    except incidents.IncidentError as exc:
        flash(exc.message, "error")
        return _render_report(queries.get_report_or_404(report_id, officer), status=409)
    flash(_("Signalement retiré de l'incident."), "success")
    return redirect(url_for("console.report_page", report_id=report.id))


# --- Incidents --------------------------------------------------------------------------------------------------

def _incident_form():
    form = forms.IncidentActionForm(prefix="incident")
    form.outcome_code.choices = [("", "— choisir —")] + [(o.code, o.label_fr) for o in queries.outcome_codes()]
    return form


@bp.get("/incidents/<int:incident_id>")
@officer_required
def incident_page(incident_id: int, status: int = 200):
    officer = current_officer()
    incident = queries.get_incident_or_404(incident_id, officer)
    labels = {action.value: label for action, label in workflow.INCIDENT_ACTION_LABELS_FR.items()}
    reports = queries.incident_reports(incident, officer)
    return render_template("console/incident.html", incident=incident, reports=reports,
                           form=_incident_form(), action_labels=labels), status


@bp.post("/incidents/<int:incident_id>/actions")
@officer_required
def incident_action(incident_id: int):
    officer = current_officer()
    incident = queries.get_incident_or_404(incident_id, officer)
    form = _incident_form()
    if not form.validate_on_submit() or form.action.data not in {a.value for a in workflow.INCIDENT_ACTION_LABELS_FR}:
        flash(_("Action invalide."), "error")
        return incident_page(incident_id, status=422)
    try:
        result = workflow.act_on_incident(incident, officer, form.action.data, text=form.text.data,
                                          outcome_code=form.outcome_code.data or None)
    except workflow.WorkflowError as exc:
        flash(exc.message, "error")
        return incident_page(incident_id, status=409)
    flash(_("%(n)s signalement(s) mis à jour.", n=len(result.events)), "success")
    for report, reason in result.skipped:
        flash(f"{report.reference} : {reason}", "info")
    return redirect(url_for("console.incident_page", incident_id=incident.id))


# --- Accounts (admin) -----------------------------------------------------------------------------------------

@bp.route("/accounts", methods=["GET", "POST"])
@officer_required(Role.ADMIN)
def accounts():
    form = forms.AccountForm()
    status = 200
    if form.validate_on_submit():
        try:
            created = officers.create_officer(form.email.data, form.role.data, form.password.data,
                                              unit=officers.find_unit(form.unit_code.data.strip() or None),
                                              display_name=form.display_name.data or "", actor=current_officer())
        except officers.OfficerError as exc:
            flash(str(exc), "error")
            status = 422
        else:
            flash(_("Compte créé : %(email)s.", email=created.email), "success")
            return redirect(url_for("console.accounts"))
    elif request.method == "POST":
        status = 422
    return render_template("console/accounts.html", form=form, accounts=queries.officers()), status


@bp.route("/canned-questions", methods=["GET", "POST"])
@officer_required(Role.ADMIN)
def canned_questions():
    """The questions officers can pick per category when writing to a resident: data, edited here."""
    form = forms.CannedQuestionForm()
    form.category_code.choices = [(c.code, c.label_fr) for c in queries.categories()]
    status = 200
    if form.validate_on_submit():
        try:
            messages.add_canned_question(form.category_code.data, form.text.data, form.position.data or 0,
                                         current_officer())
        except messages.MessageRefused as exc:
            flash(exc.message, "error")
            status = 422
        else:
            flash(_("Question ajoutée."), "success")
            return redirect(url_for("console.canned_questions"))
    elif request.method == "POST":
        status = 422
    return render_template("console/canned_questions.html", form=form, questions=queries.canned_questions(),
                           delete_form=forms.ActionForm(prefix="canned")), status


@bp.post("/canned-questions/<int:question_id>/delete")
@officer_required(Role.ADMIN)
def delete_canned_question(question_id: int):
    if not forms.ActionForm(prefix="canned").validate_on_submit():
        abort(400)
    messages.delete_canned_question(queries.get_canned_question_or_404(question_id), current_officer())
    flash(_("Question supprimée."), "success")
    return redirect(url_for("console.canned_questions"))


@bp.post("/accounts/<int:officer_id>/<change>")
@officer_required(Role.ADMIN)
def account_change(officer_id: int, change: str):
    target = queries.get_officer_or_404(officer_id)
    if not forms.ActionForm(prefix="account").validate_on_submit():
        abort(400)
    if change == "unlock":
        officers.unlock(target, current_officer())
        flash(_("Compte déverrouillé : %(email)s.", email=target.email), "success")
    elif change in ("deactivate", "activate"):
        if target.id == current_officer().id:
            flash(_("Vous ne pouvez pas désactiver votre propre compte."), "error")
        else:
            officers.set_active(target, change == "activate", current_officer())
            flash((_("Compte réactivé : %(email)s.", email=target.email) if change == "activate"
                   else _("Compte désactivé : %(email)s.", email=target.email)), "success")
    else:
        abort(404)
    return redirect(url_for("console.accounts"))
