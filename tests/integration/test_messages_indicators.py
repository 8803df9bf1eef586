"""The exchange indicators per unit: share of reports with an exchange and the unit's answer time, on the
dashboard and in the CSV export, over exactly the reports of the view."""
from datetime import timedelta

from models import ReportMessage, db
from service.platform import clock as service_clock
from service.statistics.exchanges import exchanges_by_unit
from service.statistics.filters import IndicatorFilters
from service.statistics.report_clocks import refresh_indicator_views
from tests.integration.console_support import login, make_officer
from tests.integration.test_dashboard import _export, two_units  # noqa: F401 (fixture)


def write(report, author, minutes_after_reception):
    db.session.add(ReportMessage(report_id=report.id, author=author, unit_id=report.unit_id, text="…",
                                 created_at=report.received_at + timedelta(minutes=minutes_after_reception)))


def test_share_of_reports_with_an_exchange_and_answer_time_per_unit(client, two_units):  # noqa: F811
    r = two_units["reports"]
    # Unit a: the rodéo has an exchange (the unit asks at +10, the resident answers at +20, the unit at +50);
    # the noise report only a resident's message, unanswered. Unit b: no message at all.
    write(r["a_rodeo"], "unit", 10)
    write(r["a_rodeo"], "resident", 20)
    write(r["a_rodeo"], "unit", 50)
    write(r["a_noise"], "resident", 5)
    db.session.commit()
    refresh_indicator_views(full=True)
    now = service_clock.now().date()
    rows = {row["unit_id"]: row for row in exchanges_by_unit(
        IndicatorFilters(start=now - timedelta(days=30), end=now))}
    a, b = rows[two_units["a"].id], rows[two_units["b"].id]
    assert (a["reports"], a["with_exchange"], a["exchange_share"], a["answered"]) == (2, 1, 0.5, 1)
    assert a["answer_p50"] == 30 * 60 and a["answer_p90"] == 30 * 60
    assert (b["reports"], b["with_exchange"], b["exchange_share"], b["answer_p50"]) == (1, 0, 0.0, None)

    make_officer("admin3@example.fr", "admin", None)
    login(client, "admin3@example.fr")
    html = client.get("/console/tableau-de-bord/").get_data(as_text=True)
    assert 'id="exchanges"' in html and f'data-unit-id="{two_units["a"].id}"' in html
    _, exported, _ = _export(client, "")
    by_reference = {row["reference"]: row for row in exported}
    assert (by_reference[r["a_rodeo"].reference]["exchange"], by_reference[r["a_rodeo"].reference]["answer_min"]) \
        == ("oui", "30.0")
    assert (by_reference[r["a_noise"].reference]["exchange"], by_reference[r["a_noise"].reference]["answer_min"]) \
        == ("non", "")
    assert by_reference[r["b_rodeo"].reference]["exchange"] == "non"
