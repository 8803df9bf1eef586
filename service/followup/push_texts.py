"""Push texts told to residents, in French and English, one per kind of citizen-visible event or message.

`render()` is pure (unit-tested); `context_for()` reads what a message needs from the report and its event.
What a lock screen shows is built only from fixed templates and reference data (category labels, unit names,
administrators' outcome texts), never from what an officer typed: a rejection reason may name a person, so the
resident reads it in the app's timeline, not on a locked phone. Sensitive categories (point de deal,
violences…) get a data-only message: nothing readable on a lock screen, the app shows a neutral "Votre signalement
a été mis à jour" and opens the report from its reference.
"""
from dataclasses import dataclass

from models import EventType, OutcomeCode, Report, ReportEvent, Unit, db

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
# FCM caps a message at 4 KB; the outcome texts administrators write are cut well below that.
MAX_OUTCOME_TEXT = 240

# CREATED gets no push of its own: the app has the intake answer, and ROUTED says "received, handled by X".
KIND_BY_EVENT = {
    EventType.ROUTED.value: "report_routed",
    EventType.ACKNOWLEDGED.value: "report_acknowledged",
    EventType.DISPATCHED.value: "patrol_dispatched",
    EventType.RESOLVED.value: "report_resolved",
    EventType.CLOSED.value: "report_closed",
    EventType.TRANSFER_ACCEPTED.value: "report_transferred",
    EventType.REJECTED.value: "report_rejected",
    EventType.MERGED.value: "report_merged",
    EventType.REOPENED.value: "report_reopened",
}
FEEDBACK_REQUEST = "feedback_request"
# An officer wrote in the report's thread (service/reports/messages.py): the lock screen never shows the text,
# only that there is a message; the app opens the thread from the reference.
UNIT_MESSAGE = "unit_message"

# Events worth waking someone for during their quiet hours, on the most urgent categories only: the
# resident reported a rodéo or violence a moment ago and is waiting to know whether a patrol is coming.
URGENT_EVENTS = frozenset({EventType.ACKNOWLEDGED.value, EventType.DISPATCHED.value, EventType.RESOLVED.value})
URGENT_PRIORITY = 1

SENSITIVE_TEXT = {"fr": "Votre signalement a été mis à jour", "en": "Your report has been updated"}

# kind -> locale -> (title, body). Bodies are str.format templates over MessageContext fields.
TEMPLATES = {
    "report_routed": {
        "fr": ("Signalement reçu", "Votre signalement {reference} ({category}) a été transmis à : {unit}."),
        "en": ("Report received", "Your report {reference} ({category}) has been passed to: {unit}."),
    },
    "report_acknowledged": {
        "fr": ("Signalement pris en compte", "{unit} a pris en compte votre signalement {reference}."),
        "en": ("Report acknowledged", "{unit} has taken up your report {reference}."),
    },
    "patrol_dispatched": {
        "fr": ("Patrouille engagée", "Une patrouille a été engagée à la suite de votre signalement {reference}."),
        "en": ("Patrol dispatched", "A patrol has been sent following your report {reference}."),
    },
    "report_resolved": {
        "fr": ("Signalement traité", "Votre signalement {reference} a été traité. {outcome}"),
        "en": ("Report dealt with", "Your report {reference} has been dealt with. {outcome}"),
    },
    "report_closed": {
        "fr": ("Signalement clôturé", "Votre signalement {reference} est clôturé. Merci de votre vigilance."),
        "en": ("Report closed", "Your report {reference} is closed. Thank you for your vigilance."),
    },
    "report_transferred": {
        "fr": ("Signalement transféré", "Votre signalement {reference} est désormais suivi par : {unit}."),
        "en": ("Report transferred", "Your report {reference} is now followed up by: {unit}."),
    },
    "report_rejected": {
        "fr": ("Signalement non retenu", "Votre signalement {reference} n'a pas été retenu. Le motif est indiqué "
                                         "dans le suivi du signalement."),
        "en": ("Report not taken up", "Your report {reference} was not taken up. The reason is given in the "
                                      "report's follow-up."),
    },
    "report_merged": {
        "fr": ("Signalements regroupés", "Votre signalement {reference} a été regroupé avec d'autres signalements "
                                         "du même fait : ils sont traités ensemble."),
        "en": ("Reports grouped", "Your report {reference} has been grouped with other reports of the same "
                                  "event: they are handled together."),
    },
    "report_reopened": {
        "fr": ("Signalement rouvert", "Votre signalement {reference} a été rouvert."),
        "en": ("Report reopened", "Your report {reference} has been reopened."),
    },
    UNIT_MESSAGE: {
        "fr": ("Nouveau message", "Nouveau message de l'unité sur votre signalement"),
        "en": ("New message", "New message from the unit about your report"),
    },
    FEEDBACK_REQUEST: {
        "fr": ("Votre avis compte", "Comment jugez-vous la réponse apportée à votre signalement {reference} ? "
                                    "Donnez votre avis en 30 secondes."),
        "en": ("Your opinion matters", "How do you rate the answer to your report {reference}? "
                                       "Tell us in 30 seconds."),
    },
}


@dataclass(frozen=True)
class MessageContext:
    kind: str
    reference: str
    locale: str = DEFAULT_LOCALE
    sensitive: bool = False
    urgent: bool = False
    category: str = ""
    unit: str = ""
    outcome: str = ""


def kind_for_event(event_type: str) -> str | None:
    return KIND_BY_EVENT.get(str(getattr(event_type, "value", event_type)))


def is_urgent(priority: int, event_type: str) -> bool:
    return priority <= URGENT_PRIORITY and str(getattr(event_type, "value", event_type)) in URGENT_EVENTS


def normalise_locale(locale: str | None) -> str:
    return locale if locale in LOCALES else DEFAULT_LOCALE


def render(ctx: MessageContext) -> dict:
    """The FCM v1 message body (without its token) for this context."""
    locale = normalise_locale(ctx.locale)
    data = {"kind": ctx.kind, "reference": ctx.reference, "locale": locale}
    if ctx.sensitive:
        # Data-only: no `notification` block, so the system shows nothing by itself; the app decides.
        data.update(sensitive="true", text=SENSITIVE_TEXT[locale])
        return {
            "data": data,
            "android": {"priority": "high", "collapse_key": ctx.reference},
            "apns": {"headers": {"apns-push-type": "background", "apns-priority": "5"},
                     "payload": {"aps": {"content-available": 1}}},
        }
    title, body = text_for(ctx, locale)
    return {
        "notification": {"title": title, "body": body},
        "data": data,
        "android": {"priority": "high" if ctx.urgent else "normal", "collapse_key": ctx.reference,
                    "notification": {"channel_id": "proxima_suivi", "tag": ctx.reference}},
        "apns": {"headers": {"apns-priority": "10" if ctx.urgent else "5", "apns-collapse-id": ctx.reference},
                 "payload": {"aps": {"thread-id": ctx.reference}}},
    }


def text_for(ctx: MessageContext, locale: str | None = None) -> tuple[str, str]:
    """Title and body of a displayed notification."""
    locale = normalise_locale(locale or ctx.locale)
    title, body = TEMPLATES[ctx.kind][locale]
    body = body.format(reference=ctx.reference, category=ctx.category, unit=ctx.unit, outcome=_cut(ctx.outcome))
    return title, " ".join(body.split())


def context_for(report: Report, event: ReportEvent | None, kind: str, locale: str | None,
                urgent: bool = False) -> MessageContext:
    """Gather what the message for `kind` says about `report` (and the event that caused it)."""
    locale = normalise_locale(locale)
    category = report.category
    unit = report.unit
    if event is not None and kind == "report_transferred":
        target_id = event.target_unit_id or event.unit_id
        unit = db.session.get(Unit, target_id) if target_id else unit
    outcome = ""
    outcome_code = (event.outcome_code if event is not None else None) or report.outcome_code
    if kind == "report_resolved" and outcome_code:
        code = db.session.get(OutcomeCode, outcome_code)
        if code is not None:
            outcome = code.citizen_text_en if locale == "en" else code.citizen_text_fr
    return MessageContext(
        kind=kind, reference=report.reference, locale=locale, sensitive=bool(category.sensitive), urgent=urgent,
        category=category.label(locale), unit=unit.name if unit is not None else "", outcome=outcome)


def _cut(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= MAX_OUTCOME_TEXT else text[:MAX_OUTCOME_TEXT - 1].rstrip() + "…"
