"""The report's thread in the console: writing, badges, the unread filter, reopening on a message, canned
questions, the audit of reads, and what a unit a transfer is offered to does not see."""
import io
from datetime import timedelta

from PIL import Image
from sqlalchemy import select

from models import AuditEntry, CannedQuestion, Notification, ReportMessage, db
from service.platform import clock as service_clock
from service.reports import messages
from tests.factories import make_device
from tests.integration.console_support import login, make_officer, make_report, new_client, token_from, unit


def post_message(client, report_id, text, **extra):
    token = token_from(client, f"/console/reports/{report_id}")
    return client.post(f"/console/reports/{report_id}/messages",
                       data={"message-csrf_token": token, "message-text": text, **extra})


def resident_writes(report, text, photos=()):
    return messages.post_resident_message(report, text, list(photos)).message


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (0, 90, 200)).save(out, "PNG")
    return out.getvalue()


def test_an_officer_writes_and_the_resident_answer_shows_with_its_badge_once(app, db_session):
    client = new_client(app)
    make_officer("agent@test.fr")
    report = make_report(device=make_device(tokens=("tok-1",)))
    login(client, "agent@test.fr")
    response = post_message(client, report.id, "Quelle entrée de l'immeuble ?")
    assert response.status_code == 302
    unit_message = db.session.scalars(select(ReportMessage)).one()
    assert unit_message.author == "unit" and unit_message.unit_id == report.unit_id
    assert db.session.scalars(select(Notification.kind).where(Notification.report_id == report.id)).all()[-1] \
        == "unit_message"

    resident_writes(report, "L'entrée B, côté parking", photos=[png()])
    queue = client.get("/console/").get_data(as_text=True)
    assert "1 message(s) non lu(s)" in queue
    page = client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert "côté parking" in page and "message-unread" in page
    photo_url = f"/console/reports/{report.id}/message-photos/"
    assert photo_url in page
    photo_id = db.session.scalar(select(ReportMessage).where(ReportMessage.author == "resident")).photos[0].id
    photo = client.get(f"{photo_url}{photo_id}")
    assert photo.status_code == 200 and photo.mimetype == "image/png"
    assert "Cache-Control" in photo.headers and "no-store" in photo.headers["Cache-Control"]
    # Read now: no badge on the page or in the queue, and the read is audited.
    assert "message-unread" not in client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert "message(s) non lu(s)" not in client.get("/console/").get_data(as_text=True)
    reads = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.messages.read")
                               .order_by(AuditEntry.id)).all()
    assert [r.details["unread"] for r in reads] == [1, 0]


def test_the_unread_filter_finds_a_closed_report_and_reopens_it_in_one_action(app, db_session, clock):
    client = new_client(app)
    make_officer("agent@test.fr")
    quiet, written = make_report(), make_report(description="Autre")
    written.status, written.closed_at = "closed", service_clock.now() - timedelta(days=2)
    db.session.commit()
    resident_writes(written, "Ils sont revenus ce soir")
    login(client, "agent@test.fr")
    default_queue = client.get("/console/").get_data(as_text=True)
    assert written.reference not in default_queue and quiet.reference in default_queue
    filtered = client.get("/console/?messages=non-lus").get_data(as_text=True)
    assert written.reference in filtered and quiet.reference not in filtered
    page = client.get(f"/console/reports/{written.id}").get_data(as_text=True)
    assert 'id="reopen-after-message"' in page
    token = token_from(client, f"/console/reports/{written.id}")
    response = client.post(f"/console/reports/{written.id}/actions/reopen",
                           data={"reopen-csrf_token": token, "reopen-text": "Nouveau message du résident"})
    assert response.status_code == 302
    db.session.refresh(written)
    assert written.status == "acknowledged"


def test_a_unit_a_transfer_is_offered_to_neither_reads_nor_writes_the_thread(app, db_session):
    client = new_client(app)
    make_officer("lyon@test.fr", unit_code="PN-69382")
    report = make_report()
    resident_writes(report, "Message personnel")
    report.pending_transfer_unit_id = unit("PN-69382").id
    db.session.commit()
    login(client, "lyon@test.fr")
    page = client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert "Message personnel" not in page and "réservés à l'unité en charge" in page
    assert post_message(client, report.id, "Bonjour").status_code == 404
    photo_id = 1
    assert client.get(f"/console/reports/{report.id}/message-photos/{photo_id}").status_code == 404
    assert db.session.scalars(select(ReportMessage.author)).all() == ["resident"]


def test_an_officer_of_another_unit_gets_404(app, db_session):
    client = new_client(app)
    make_officer("lyon@test.fr", unit_code="PN-69382")
    report = make_report()
    login(client, "lyon@test.fr")
    assert post_message(client, report.id, "Bonjour").status_code == 404


def test_administrators_edit_the_canned_questions_that_officers_pick(app, db_session):
    admin, agent = new_client(app), new_client(app)
    make_officer("admin@test.fr", role="admin", unit_code=None)
    make_officer("agent@test.fr")
    login(admin, "admin@test.fr")
    login(agent, "agent@test.fr")
    assert agent.get("/console/canned-questions").status_code in (403, 404)
    token = token_from(admin, "/console/canned-questions")
    response = admin.post("/console/canned-questions", data={
        "csrf_token": token, "category_code": "point_de_deal", "text": "Combien de personnes ?", "position": "1"})
    assert response.status_code == 302
    question = db.session.scalars(select(CannedQuestion)).one()
    report = make_report("point_de_deal")
    page = agent.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert 'id="message-canned"' in page and "Combien de personnes ?" in page
    token = token_from(admin, "/console/canned-questions")
    assert admin.post(f"/console/canned-questions/{question.id}/delete",
                      data={"canned-csrf_token": token}).status_code == 302
    assert db.session.scalars(select(CannedQuestion)).all() == []
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("canned_question.%"))
                              .order_by(AuditEntry.id)).all() == ["canned_question.create", "canned_question.delete"]
