"""Abuse limits: request rates per device and per IP (Flask-Limiter on Redis), a daily cap, report storms.

The policy is one table (`POLICY`: endpoint → limits) applied here, so views stay thin and every limit
is read in one place. Each limit string is a setting (service.platform.config, with its default) read from
`app.config` per request, so a deployment tunes them without code. A 429 goes through
`service.platform.errors` like any other error (JSON shape under /api, Open311's format under /open311) and
carries `Retry-After`; other answers carry no X-RateLimit-* headers (two Redis round trips per request).

Redis down: the rates are skipped (errors swallowed, short timeouts), never the report: an outage of the
limiter must not refuse residents. The caps of reports created per device (a minute, a day) do not depend on
Redis: intake's first statement counts the device's reports in PostgreSQL (`check_device_caps`), so they are exact
and hold during an outage too.

Who is counted: a device by a hash of its token; an address by itself, IPv6 by its /64 (one subscriber's whole
prefix); an Open311 partner by its key only once the key is known and active (any other `api_key` value is counted
with the anonymous requests of its address).
"""
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from flask import Flask, current_app, request
from flask_limiter import Limiter

from models import EventType
from service.accounts import partners
from service.platform.addresses import address_bucket

MESSAGE = "Trop de requêtes : réessayez plus tard."
DAILY_CAP_MESSAGE = ("Nombre maximal de signalements par jour atteint pour cet appareil. En cas d'urgence, "
                     "appelez le 17 ou le 112.")


# --- who is counted ---------------------------------------------------------------------------------------

def by_ip() -> str:
    # With ProxyFix configured (service.platform.security), remote_addr is the client, not the load balancer.
    return "ip:" + address_bucket(request.remote_addr)


def by_device() -> str:
    """A hash of the bearer token, so no secret reaches Redis; no token → counted by address."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return by_ip()
    return "device:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]


_PARTNER_KEY = "proxima.limits.partner_key_id"


def partner_key_id() -> int | None:
    """The id of the active Open311 key the request carries, or None (no key, unknown or revoked: anonymous).

    Looked up once per request (kept in the request's environ): a random `api_key` must not open a bucket of its
    own.
    """
    if _PARTNER_KEY not in request.environ:
        secret = request.args.get("api_key") or (request.form.get("api_key") if request.method == "POST" else None)
        key = partners.active_key(secret)
        request.environ[_PARTNER_KEY] = key.id if key is not None else None
    return request.environ[_PARTNER_KEY]


def by_api_key() -> str:
    """A known, active Open311 partner key; otherwise counted by address."""
    key_id = partner_key_id()
    return f"apikey:{key_id}" if key_id is not None else by_ip()


def has_api_key() -> bool:
    return partner_key_id() is not None


def is_read() -> bool:
    return request.method in ("GET", "HEAD")


# --- when a request costs something -----------------------------------------------------------------------

def report_created(response) -> bool:
    return response.status_code == 201 and response.headers.get("Idempotent-Replayed") != "true"


def photo_count() -> int:
    if request.mimetype != "multipart/form-data":
        return 0
    return len([f for f in request.files.getlist("photos") if f.filename or f.content_length])


def without_photos() -> bool:
    return photo_count() == 0


@dataclass(frozen=True)
class Rule:
    """One limit of the policy: the config key of its limit string, who is counted, and how."""
    setting: str
    key: Callable[[], str]
    deduct_when: Callable | None = None
    cost: Callable[[], int] | int = 1
    exempt_when: Callable[[], bool] | None = None
    message: str = MESSAGE
    # Set when the setting is a bare number of requests per this period (e.g. REPORTS_PER_DEVICE_PER_DAY).
    per: str | None = None

    def limit_value(self) -> str:
        value = current_app.config[self.setting]
        return f"{int(value)} per {self.per}" if self.per else value


INTAKE_APP = [
    Rule("RATELIMIT_INTAKE_ATTEMPTS_PER_DEVICE", by_device),
    Rule("RATELIMIT_INTAKE_PER_IP", by_ip),
    Rule("RATELIMIT_PHOTOS_PER_DEVICE", by_device, deduct_when=report_created, cost=photo_count,
         exempt_when=without_photos),
]
OPEN311_READ = [
    Rule("RATELIMIT_OPEN311_READ_PER_KEY", by_api_key, exempt_when=lambda: not has_api_key()),
    Rule("RATELIMIT_OPEN311_READ_PER_IP", by_ip, exempt_when=has_api_key),
]
OPEN311_WRITE = [
    Rule("RATELIMIT_OPEN311_WRITE_PER_KEY", by_api_key, exempt_when=lambda: not has_api_key()),
    Rule("RATELIMIT_OPEN311_WRITE_PER_IP", by_ip),
]

SPATIAL_READ = [Rule("RATELIMIT_SPATIAL_READ_PER_IP", by_ip)]

# Endpoint → limits. An endpoint missing from the app (a blueprint not registered) is skipped. Every endpoint
# that answers without authentication and reaches the database is here; the rest without a token are static
# (the residents' app shell, the API document) or probes.
POLICY: dict[str, list[Rule]] = {
    "devices.register_device": [Rule("RATELIMIT_REGISTRATION_PER_IP", by_ip)],
    "categories.list_categories": [Rule("RATELIMIT_PUBLIC_READ_PER_IP", by_ip)],
    "coverage.coverage": SPATIAL_READ,
    "communes.commune_outlines": SPATIAL_READ,
    "console.login": [Rule("RATELIMIT_CONSOLE_LOGIN_PER_IP", by_ip, exempt_when=is_read)],
    "reports.create_report": INTAKE_APP,
    "messages.post_message": [Rule("RATELIMIT_MESSAGES_PER_DEVICE", by_device)],
    "feedback.create_feedback": [Rule("RATELIMIT_FEEDBACK_PER_DEVICE", by_device),
                                 Rule("RATELIMIT_FEEDBACK_PER_IP", by_ip)],
    "open311.create_request": OPEN311_WRITE,
    "open311.discovery": OPEN311_READ,
    "open311.services": OPEN311_READ,
    "open311.service_definition": OPEN311_READ,
    "open311.list_requests": OPEN311_READ,
    "open311.show_request": OPEN311_READ,
    "open311.token": OPEN311_READ,
    "open311.service_request_updates": OPEN311_READ,
}


def retry_after_s() -> int | None:
    """Seconds until the limit this request breached resets (for the 429's Retry-After), or None when no limit
    was breached or Redis cannot say."""
    limiter = current_app.extensions.get("proxima.limiter")
    breached = limiter.current_limit if limiter is not None else None
    if breached is None or not breached.breached:
        return None
    try:
        return max(1, int(breached.reset_at - time.time()))
    except Exception:  # Redis gone between the check and this answer
        return None


def init_app(app: Flask) -> None:
    """Bind the limiter to Redis and wrap the endpoints of `POLICY` (call after the blueprints)."""
    # One limiter per app: its registry of limits belongs to that app's view functions.
    limiter = Limiter(key_func=by_ip)
    limiter.init_app(app)
    # The wrapped views hold the limiter by weak reference, and with RATELIMIT_ENABLED off Flask-Limiter keeps none
    # of its own: without this one it is collected and every limited view fails.
    app.extensions["proxima.limiter"] = limiter
    for endpoint, rules in POLICY.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        for rule in rules:
            # One bucket per setting and key, shared by the endpoints that use the setting (Open311 reads).
            view = limiter.shared_limit(rule.limit_value, scope=rule.setting.lower(), key_func=rule.key,
                                        deduct_when=rule.deduct_when, cost=rule.cost,
                                        exempt_when=rule.exempt_when, error_message=rule.message)(view)
        app.view_functions[endpoint] = view


# --- storms and the caps per device: counted by intake's first statement (service.reports.intake_sql) ------

def storm_event(nearby_from_device: int) -> dict | None:
    """The `flagged` event (column values) holding a report for supervisor review when it is one of many from the
    same device at the same place — `nearby_from_device` of its other reports within STORM_RADIUS_M in the last
    STORM_WINDOW_MIN minutes; None when it is not. The report is still routed, so the unit sees it, but it is
    marked `flagged_for_review`; the resident does not see the event."""
    config = current_app.config
    radius, window_min = config["STORM_RADIUS_M"], config["STORM_WINDOW_MIN"]
    if nearby_from_device + 1 < config["STORM_REPORTS"]:
        return None
    return dict(type=EventType.FLAGGED.value, actor_kind="system", citizen_visible=False,
                text=(f"Signalement n° {nearby_from_device + 1} du même appareil à moins de {radius} m en "
                      f"{window_min} min : à vérifier par un superviseur."),
                data={"rule": "storm", "reports_nearby": nearby_from_device, "radius_m": radius,
                      "window_min": window_min})


class DeviceCapReached(Exception):
    """The device has sent its REPORTS_PER_DEVICE_PER_MINUTE or REPORTS_PER_DEVICE_PER_DAY reports."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class DeviceCap:
    setting: str
    window: timedelta
    message: str


# Reports created by one device, counted in PostgreSQL at intake (replays and rejected requests create none): exact,
# and holding while the limiter's Redis is away. Intake's first statement counts each window.
DEVICE_CAPS = (
    DeviceCap("REPORTS_PER_DEVICE_PER_MINUTE", timedelta(minutes=1),
              "Trop de signalements envoyés en une minute par cet appareil : réessayez dans un instant."),
    DeviceCap("REPORTS_PER_DEVICE_PER_DAY", timedelta(days=1), DAILY_CAP_MESSAGE),
)


def check_device_caps(counts: list[tuple[int, datetime | None]], now: datetime) -> None:
    """Refuse a device's report beyond one of DEVICE_CAPS; `counts` holds, for each cap in order, the number of the
    device's reports received in its window before `now` and the oldest of them. Off with the other limits
    (RATELIMIT_ENABLED)."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return
    for cap, (count, oldest) in zip(DEVICE_CAPS, counts):
        if count >= config[cap.setting]:
            since = now - cap.window
            raise DeviceCapReached(cap.message, max(1, int((oldest - since).total_seconds()) + 1))
