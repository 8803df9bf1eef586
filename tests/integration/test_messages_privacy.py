"""Messages are personal data: the retention purge clears them, Open311 shows neither them nor their existence, and
no log line carries their text."""
import io
from datetime import datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from models import ReportMessage, ReportMessagePhoto, db
from service.accounts import partners
from service.reports import messages, retention
from tests.factories import add_event, make_device, make_officer, make_report
from tests.integration.test_citizen_api import register
from tests.integration.test_observability import log_lines  # noqa: F401 (fixture)

AT = "2026-11-24T10:00:00+01:00"
NOW = datetime.fromisoformat(AT)
SECRET = "Le conducteur est mon voisin M. Martin, plaque AB-123-CD"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 10, 10)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.instant(AT)
def test_the_purge_clears_message_texts_and_deletes_their_photos_and_counts_them_first(db_session, clock):
    expired = make_report("nuisance_sonore", device=make_device(), status="closed",
                          received_at=NOW - timedelta(days=403), closed_at=NOW - timedelta(days=400))
    kept = make_report("nuisance_sonore", device=make_device(), status="closed",
                       received_at=NOW - timedelta(days=4), closed_at=NOW - timedelta(days=2))
    for report, written_at in ((expired, NOW - timedelta(days=401)), (kept, NOW - timedelta(days=3))):
        photo = ReportMessagePhoto(content_type="image/png", width=8, height=8, content=png())
        for author, photos in (("unit", []), ("resident", [photo])):
            db.session.add(ReportMessage(report_id=report.id, author=author, unit_id=report.unit_id, text=SECRET,
                                         created_at=written_at, photos=photos))
    add_event(expired, "closed", at=NOW - timedelta(days=400))
    db.session.commit()

    preview = retention.what_would_be_purged()
    assert (preview.reports, preview.message_texts, preview.message_photos) == (1, 2, 1)
    assert db.session.scalar(select(func.count()).select_from(ReportMessagePhoto)) == 2  # the dry run changed nothing
    result = retention.purge_expired_reports()
    assert result.counts() == preview.counts()
    db.session.expire_all()
    purged = db.session.scalars(select(ReportMessage).where(ReportMessage.report_id == expired.id)).all()
    assert [(m.author, m.text, m.photos) for m in purged] == [("unit", "", []), ("resident", "", [])]
    assert [m.text for m in db.session.scalars(select(ReportMessage).where(ReportMessage.report_id == kept.id))] \
        == [SECRET, SECRET]
    assert db.session.scalar(select(func.count()).select_from(ReportMessagePhoto)) == 1


def _open311_reads(client, key, reference) -> list[bytes]:
    base = "/open311/v2"
    return [client.get(url).data for url in (
        f"{base}/requests.json?extensions=true", f"{base}/requests.xml?extensions=true",
        f"{base}/requests/{reference}.json?extensions=true", f"{base}/requests/{reference}.xml?extensions=true",
        f"{base}/requests.json?extensions=true&api_key={key.secret}",
        f"{base}/servicerequestupdates.json", f"{base}/servicerequestupdates.xml")]


def test_open311_shows_neither_messages_nor_their_existence(client, clock):
    key = partners.create_key("Mairie de Paris — CRM")
    headers, device_id = register(client)
    from models import Device
    report = make_report("degradation", device=db.session.get(Device, device_id))
    db.session.commit()
    clock.freeze()
    before = _open311_reads(client, key, report.reference)
    assert all(b for b in before) and report.reference.encode() in before[0]
    messages.post_unit_message(report, make_officer(report.unit), "Une question sur la porte")
    answered = client.post(f"/api/v1/reports/{report.reference}/messages", headers=headers,
                           json={"text": SECRET})
    assert answered.status_code == 201
    after = _open311_reads(client, key, report.reference)
    assert after == before  # not a byte more: no note, no changed updated_datetime
    for body in after:
        assert b"AB-123-CD" not in body and b"question" not in body


def test_no_log_line_carries_a_message_text(client, log_lines):  # noqa: F811
    headers, device_id = register(client)
    from models import Device
    report = make_report(device=db.session.get(Device, device_id))
    response = client.post(f"/api/v1/reports/{report.reference}/messages", headers=headers, json={"text": SECRET})
    assert response.status_code == 201
    messages.post_unit_message(report, make_officer(report.unit), "Quelle heure ? AB-123-CD")
    client.get(f"/api/v1/reports/{report.reference}/messages", headers=headers)
    lines = log_lines()
    assert any(line.get("path", "").endswith("/messages") for line in lines)
    assert "AB-123-CD" not in repr(lines) and "Martin" not in repr(lines)
