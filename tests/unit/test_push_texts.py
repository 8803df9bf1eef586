"""Push messages: one text per event kind, in French and English; sensitive categories say nothing readable."""
import json

import pytest

from service.followup import push_texts
from service.followup.push_texts import MessageContext, render

EVENT_KINDS = {
    "routed": "report_routed", "acknowledged": "report_acknowledged", "dispatched": "patrol_dispatched",
    "resolved": "report_resolved", "closed": "report_closed", "transfer_accepted": "report_transferred",
    "rejected": "report_rejected", "merged": "report_merged", "reopened": "report_reopened",
}


def ctx(kind, **kw):
    base = dict(reference="PX-7K3M9QW2TD", category="Nuisances sonores", unit="CSP Paris Centre (fictive)",
                outcome="Une patrouille s'est rendue sur place.")
    base.update(kw)
    return MessageContext(kind=kind, **base)


@pytest.mark.parametrize("event_type,kind", sorted(EVENT_KINDS.items()))
def test_each_citizen_visible_event_has_its_own_message(event_type, kind):
    assert push_texts.kind_for_event(event_type) == kind
    fr = render(ctx(kind, locale="fr"))
    en = render(ctx(kind, locale="en"))
    assert fr["notification"]["title"] and en["notification"]["title"]
    assert fr["notification"]["title"] != en["notification"]["title"]
    assert "PX-7K3M9QW2TD" in fr["notification"]["body"] and "PX-7K3M9QW2TD" in en["notification"]["body"]
    assert fr["data"] == {"kind": kind, "reference": "PX-7K3M9QW2TD", "locale": "fr"}
    assert en["data"]["locale"] == "en"


def test_kinds_differ_from_one_event_to_the_next():
    titles = {render(ctx(kind))["notification"]["title"] for kind in EVENT_KINDS.values()}
    assert len(titles) == len(EVENT_KINDS)


def test_created_and_internal_events_send_nothing():
    for event_type in ("created", "note", "transferred", "transfer_declined", "sla_reminder", "escalated",
                       "citizen_notified", "feedback", "flagged", "split"):
        assert push_texts.kind_for_event(event_type) is None


def test_french_texts_name_the_unit_and_the_outcome():
    assert render(ctx("report_routed"))["notification"]["body"] == (
        "Votre signalement PX-7K3M9QW2TD (Nuisances sonores) a été transmis à : CSP Paris Centre (fictive).")
    assert render(ctx("report_resolved"))["notification"]["body"].endswith("Une patrouille s'est rendue sur place.")
    assert render(ctx("report_rejected"))["notification"]["body"] == (
        "Votre signalement PX-7K3M9QW2TD n'a pas été retenu. Le motif est indiqué dans le suivi du signalement.")


def test_english_text():
    assert render(ctx("patrol_dispatched", locale="en"))["notification"] == {
        "title": "Patrol dispatched", "body": "A patrol has been sent following your report PX-7K3M9QW2TD."}


def test_unknown_locale_falls_back_to_french():
    assert render(ctx("report_closed", locale="de"))["notification"]["title"] == "Signalement clôturé"


def test_sensitive_category_is_data_only_with_a_neutral_text():
    message = render(ctx("report_resolved", sensitive=True, category="Point de deal"))
    assert "notification" not in message
    assert "notification" not in message["android"]
    assert message["data"]["text"] == "Votre signalement a été mis à jour"
    assert message["data"]["reference"] == "PX-7K3M9QW2TD"
    assert message["apns"]["payload"]["aps"] == {"content-available": 1}
    dumped = json.dumps(message, ensure_ascii=False)
    for secret in ("Point de deal", "CSP Paris", "patrouille", "bailleur"):
        assert secret not in dumped
    assert render(ctx("report_resolved", sensitive=True, locale="en"))["data"]["text"] == "Your report has been updated"


def test_fcm_data_values_are_strings():
    for message in (render(ctx("report_routed")), render(ctx("report_routed", sensitive=True))):
        assert all(isinstance(v, str) for v in message["data"].values())


def test_urgency_raises_delivery_priority():
    assert render(ctx("patrol_dispatched", urgent=True))["android"]["priority"] == "high"
    assert render(ctx("patrol_dispatched", urgent=True))["apns"]["headers"]["apns-priority"] == "10"
    assert render(ctx("report_closed"))["android"]["priority"] == "normal"
    assert push_texts.is_urgent(1, "dispatched") and not push_texts.is_urgent(3, "dispatched")
    assert not push_texts.is_urgent(1, "closed")


def test_long_outcome_text_is_cut():
    body = render(ctx("report_resolved", outcome="x" * 1000))["notification"]["body"]
    assert len(body) < 320 and body.endswith("…")


def test_feedback_request_message():
    message = render(ctx(push_texts.FEEDBACK_REQUEST))
    assert message["notification"]["title"] == "Votre avis compte"
    assert message["data"]["kind"] == "feedback_request"


def test_the_logging_backend_writes_no_personal_text(caplog):
    from service.followup.push.log_backend import LoggingBackend
    caplog.set_level("INFO", logger="proxima.push")
    message = render(ctx("report_routed"))
    assert LoggingBackend().send("fcm-token-of-a-resident-123456", message).outcome.value == "logged"
    logged = caplog.text
    assert "report_routed" in logged and "PX-7K3M9QW2TD" in logged
    for personal in (message["notification"]["body"], message["notification"]["title"], "fcm-token", "123456"):
        assert personal not in logged
