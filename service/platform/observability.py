"""Observability: JSON logs with a request id (also in RQ jobs), personal data masked, Prometheus metrics.

- Every request gets an id (the caller's `X-Request-ID` if it looks sane, else a new one), echoed in the
  response and written on every log line; `job_meta()` carries it into RQ jobs, whose log lines show it.
- Log lines are JSON objects on stderr (LOG_FORMAT=text for humans); e-mail addresses, phone numbers,
  bearer secrets, API keys and push tokens are masked before anything is written.
- `/metrics` (Prometheus text format, private networks only): request latency, intake outcomes, queue
  depth, push outcomes. Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR in the environment
  (see docs/operations.md): prometheus_client reads it too, so each worker writes its samples there, and they
  are merged at scrape time.
"""
import ipaddress
import json
import logging
import re
import time
import uuid
from datetime import datetime, timezone

from flask import Blueprint, Flask, Response, abort, current_app, g, has_request_context, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily
from rq import Queue, get_current_job
from sqlalchemy import text

from models import db
from service.platform.config import read_setting
from service.platform.redis_client import get_redis

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

# --- masking ------------------------------------------------------------------------------------------------

_MASKS = [
    # "Authorization: Bearer <secret>", wherever it appears.
    (re.compile(r"(?i)(bearer\s+)[^\s'\",;]+"), r"\1[masqué]"),
    # key=value or "key": "value" for secrets and contact fields.
    (re.compile(r"(?i)(?<![\w])((?:api_key|token|fcm_token|secret|password|mot_de_passe|email|phone|telephone|name)"
                r"['\"]?\s*[:=]\s*['\"]?)([^'\"&\s,}]+)"), r"\1[masqué]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[courriel masqué]"),
    # French and international phone numbers (06 12 34 56 78, +33 6 12 34 56 78, 0612345678).
    (re.compile(r"(?<![\w.])(?:\+\d{2,3}[\s.-]?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)"), "[téléphone masqué]"),
    # Open311 partner keys carry a recognisable prefix (service.accounts.partners.KEY_PREFIX).
    (re.compile(r"pxk_[A-Za-z0-9_-]+"), "[clé masquée]"),
    # Opaque tokens (FCM registration tokens, device secrets): long runs of token characters.
    (re.compile(r"(?<![\w/-])[A-Za-z0-9_:-]{48,}(?![\w/-])"), "[jeton masqué]"),
]


def mask(text: str) -> str:
    """The text with contact details and secrets replaced by a placeholder (idempotent)."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFilter(logging.Filter):
    """Renders the message once, masked, so no handler ever sees the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


class ContextFilter(logging.Filter):
    """Adds the request id: of the HTTP request being served, or of the request that enqueued the RQ job."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        job = _current_job()
        record.job_id = job.id if job is not None else None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if getattr(record, "job_id", None):
            entry["job_id"] = record.job_id
        for key in ("method", "path", "status", "duration_ms", "endpoint", "remote_addr"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def _current_job():
    try:
        return get_current_job()
    except Exception:  # outside a worker, or Redis unreachable
        return None


def current_request_id() -> str | None:
    if has_request_context():
        return g.get("request_id")
    job = _current_job()
    if job is not None:
        return (job.meta or {}).get("request_id")
    return None


def job_meta() -> dict:
    """Meta for an RQ job enqueued now: the current request id, so the worker's log lines carry it."""
    request_id = current_request_id()
    return {"request_id": request_id} if request_id else {}


def configure_logging(app: Flask) -> None:
    """One stderr handler on the root logger, JSON (or text), masked, with the request id; set up once."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "proxima", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.proxima = True
        handler.addFilter(ContextFilter())
        handler.addFilter(MaskingFilter())
        root.addHandler(handler)
    if app.config["LOG_FORMAT"] == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    root.setLevel(app.config["LOG_LEVEL"])


# --- metrics ------------------------------------------------------------------------------------------------

REQUEST_LATENCY = Histogram(
    "proxima_http_request_duration_seconds", "Durée de traitement des requêtes HTTP",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.175, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
INTAKE = Counter(
    "proxima_intake_total", "Signalements reçus, par canal et par issue", ["channel", "outcome"])

INTAKE_ENDPOINTS = {"reports.create_report": "app", "open311.create_request": "open311"}


def intake_outcome(status: int, replayed: bool) -> str:
    if status in (200, 201):
        return "replayed" if replayed or status == 200 else "created"
    if status == 429:
        return "rate_limited"
    if status in (400, 403, 413, 415, 422):
        return "rejected"
    if status == 401:
        return "unauthenticated"
    if status == 503:
        return "unavailable"
    return "error" if status >= 500 else "other"


class BacklogCollector:
    """Queue depth and push outcomes, read at scrape time from Redis (RQ) and PostgreSQL (the outbox).

    Read from the stores rather than counted in-process, so every web and worker process agrees.
    """

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        queue_depth = GaugeMetricFamily("proxima_queue_depth", "Tâches en attente par file RQ", labels=["queue"])
        notifications = GaugeMetricFamily(
            "proxima_push_notifications", "Notifications de la file sortante par état (créées depuis 24 h)",
            labels=["state"])
        up = GaugeMetricFamily("proxima_backend_up", "Dépendance joignable lors de la collecte", labels=["backend"])
        with self.app.app_context():
            try:
                connection = get_redis()
                for name in ("push", "default", "maintenance"):
                    queue_depth.add_metric([name], Queue(name, connection=connection).count)
                up.add_metric(["redis"], 1)
            except Exception:
                up.add_metric(["redis"], 0)
            try:
                rows = db.session.execute(text(
                    "SELECT state, count(*) FROM notifications WHERE created_at > now() - interval '1 day' "
                    "GROUP BY state")).all()
                for state, count in rows:
                    notifications.add_metric([state], count)
                up.add_metric(["postgresql"], 1)
            except Exception:
                db.session.rollback()
                up.add_metric(["postgresql"], 0)
            finally:
                db.session.remove()
        yield queue_depth
        yield notifications
        yield up


bp = Blueprint("observability", __name__)


@bp.get("/metrics")
def metrics():
    if not _allowed(request.remote_addr):
        abort(404)
    if current_app.config["PROMETHEUS_MULTIPROC_DIR"]:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(current_app.extensions["proxima_backlog"])
    else:
        registry = current_app.extensions["proxima_registry"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _allowed(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net) for net in current_app.config["METRICS_ALLOWED_NETWORKS"])


def child_exit(server, worker) -> None:
    """gunicorn hook (`child_exit`) for multi-process metrics: forget a dead worker's live gauges."""
    if read_setting("PROMETHEUS_MULTIPROC_DIR"):  # the gunicorn master has no application
        multiprocess.mark_process_dead(worker.pid)


# --- request hooks ------------------------------------------------------------------------------------------

access_log = logging.getLogger("proxima.access")


def _start_request():
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response):
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    started = g.get("request_started")
    if started is None:
        return response
    duration = time.perf_counter() - started
    endpoint = request.endpoint or "unmatched"
    REQUEST_LATENCY.labels(request.method, endpoint, str(response.status_code)).observe(duration)
    channel = INTAKE_ENDPOINTS.get(endpoint)
    if channel and request.method == "POST":
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        INTAKE.labels(channel, intake_outcome(response.status_code, replayed)).inc()
    if endpoint not in ("health.healthz", "health.readyz", "observability.metrics", "static"):
        # The path only: query strings may hold a resident's position or a partner's api_key.
        access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={
            "method": request.method, "path": request.path, "status": response.status_code,
            "duration_ms": round(duration * 1000, 1), "endpoint": endpoint, "remote_addr": request.remote_addr})
    return response


def init_app(app: Flask) -> None:
    configure_logging(app)
    backlog = BacklogCollector(app)
    registry = CollectorRegistry()
    registry.register(_DefaultRegistryView())
    registry.register(backlog)
    app.extensions["proxima_backlog"] = backlog
    app.extensions["proxima_registry"] = registry
    # First in, last out: the id exists before any other hook logs, the latency covers the other hooks.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request_funcs.setdefault(None, []).insert(0, _finish_request)
    app.register_blueprint(bp)


class _DefaultRegistryView:
    """The process-wide metrics (latency, intake, Python runtime) inside an app's own registry."""

    def collect(self):
        return REGISTRY.collect()
