"""Configuration, read from the environment in one place (every variable is documented in .env.example)."""
import os
from dataclasses import dataclass


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _str(name: str, default: str | None) -> str | None:
    raw = os.environ.get(name)
    return raw if raw not in (None, "") else default


def normalise_database_url(url: str) -> str:
    """psycopg 3 needs the `postgresql+psycopg://` driver prefix; accept the usual spellings."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# A database that is down or unreachable must cost seconds, never a hung request: bounded connection set-up,
# and a dead link noticed by TCP within ~10 s instead of the kernel's ~15 min (statement_timeout is set per
# database role, see docs/operations.md, so migrations and batch jobs keep their own).
DATABASE_CONNECT_ARGS = {"connect_timeout": 3, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
                         "keepalives_count": 3, "tcp_user_timeout": 10000}


def _networks(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


# Settings whose defaults live beside the module that uses them (service/platform/limits.py, security.py,
# observability.py, console): the environment overrides them here, parsed to the right type.
MODULE_SETTINGS = {
    "PROXY_FIX_X_FOR": int, "PROXY_FIX_X_PROTO": int, "PROXY_FIX_X_HOST": int, "HSTS_MAX_AGE_S": int,
    "LOG_FORMAT": str, "LOG_LEVEL": str, "METRICS_ALLOWED_NETWORKS": _networks,
    "RATELIMIT_REGISTRATION_PER_IP": str, "RATELIMIT_INTAKE_ATTEMPTS_PER_DEVICE": str,
    "RATELIMIT_INTAKE_PER_IP": str, "RATELIMIT_REPORTS_PER_DEVICE": str, "RATELIMIT_PHOTOS_PER_DEVICE": str,
    "RATELIMIT_FEEDBACK_PER_DEVICE": str, "RATELIMIT_FEEDBACK_PER_IP": str,
    "RATELIMIT_OPEN311_WRITE_PER_KEY": str, "RATELIMIT_OPEN311_READ_PER_KEY": str,
    "RATELIMIT_OPEN311_READ_PER_IP": str, "RATELIMIT_OPEN311_WRITE_PER_IP": str,
    "STORM_REPORTS": int, "STORM_RADIUS_M": int, "STORM_WINDOW_MIN": int,
    "LOGIN_MAX_FAILURES_PER_IP": int, "CONSOLE_POLL_MS": int, "INDICATOR_STORE_MIN_DAYS": int,
    "TEST_CLOCK_OFFSET_S": float,
}


def module_settings_from_env() -> dict:
    return {name: parse(os.environ[name]) for name, parse in MODULE_SETTINGS.items()
            if os.environ.get(name, "") != ""}


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment; `as_flask_config()` feeds `app.config`."""

    database_url: str
    database_pgbouncer: bool
    database_replica_url: str | None
    replica_max_lag_s: float
    redis_url: str
    redis_sentinels: str | None
    redis_sentinel_master: str
    secret_key: str
    env: str
    fallback_distance_m: int
    routing_index: str
    routing_index_ttl_s: float
    fcm_credentials_file: str | None
    fcm_project_id: str | None
    fcm_endpoint: str
    push_max_attempts: int
    push_backoff_base_s: int
    push_backoff_max_s: int
    push_http_timeout_s: int
    push_sending_timeout_s: int
    outbox_relay_interval_s: int
    satisfaction_delay_min: int
    sla_escalation_delay_min: int
    session_cookie_secure: bool
    tile_url: str
    photo_max_bytes: int
    photo_max_count: int
    reports_per_device_per_day: int
    ratelimit_enabled: bool
    login_max_failures: int
    login_lock_minutes: int
    open311_jurisdiction_id: str
    open311_contact: str

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=normalise_database_url(
                _str("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/proxima")),
            database_pgbouncer=_bool("DATABASE_PGBOUNCER", False),
            database_replica_url=(normalise_database_url(_str("DATABASE_REPLICA_URL", ""))
                                  if _str("DATABASE_REPLICA_URL", None) else None),
            replica_max_lag_s=float(_str("REPLICA_MAX_LAG_S", "5")),
            redis_url=_str("REDIS_URL", "redis://127.0.0.1:6379/0"),
            redis_sentinels=_str("REDIS_SENTINELS", None),
            redis_sentinel_master=_str("REDIS_SENTINEL_MASTER", "proxima"),
            secret_key=_str("SECRET_KEY", "dev-only-not-secret"),
            env=_str("PROXIMA_ENV", "development"),
            fallback_distance_m=_int("ROUTING_FALLBACK_DISTANCE_M", 2000),
            routing_index=_str("ROUTING_INDEX", "memory"),
            routing_index_ttl_s=float(_str("ROUTING_INDEX_TTL_S", "5")),
            fcm_credentials_file=_str("FCM_CREDENTIALS_FILE", None),
            fcm_project_id=_str("FCM_PROJECT_ID", None),
            fcm_endpoint=_str("FCM_ENDPOINT", "https://fcm.googleapis.com"),
            push_max_attempts=_int("PUSH_MAX_ATTEMPTS", 8),
            push_backoff_base_s=_int("PUSH_BACKOFF_BASE_S", 30),
            push_backoff_max_s=_int("PUSH_BACKOFF_MAX_S", 3600),
            push_http_timeout_s=_int("PUSH_HTTP_TIMEOUT_S", 10),
            push_sending_timeout_s=_int("PUSH_SENDING_TIMEOUT_S", 120),
            outbox_relay_interval_s=_int("OUTBOX_RELAY_INTERVAL_S", 5),
            satisfaction_delay_min=_int("SATISFACTION_DELAY_MIN", 60),
            sla_escalation_delay_min=_int("SLA_ESCALATION_DELAY_MIN", 30),
            session_cookie_secure=_bool("SESSION_COOKIE_SECURE", False),
            tile_url=_str("MAP_TILE_URL", ""),
            photo_max_bytes=_int("PHOTO_MAX_BYTES", 8 * 1024 * 1024),
            photo_max_count=_int("PHOTO_MAX_COUNT", 3),
            reports_per_device_per_day=_int("REPORTS_PER_DEVICE_PER_DAY", 20),
            ratelimit_enabled=_bool("RATELIMIT_ENABLED", True),
            login_max_failures=_int("LOGIN_MAX_FAILURES", 5),
            login_lock_minutes=_int("LOGIN_LOCK_MINUTES", 15),
            open311_jurisdiction_id=_str("OPEN311_JURISDICTION_ID", "proxima.interieur.gouv.fr"),
            open311_contact=_str("OPEN311_CONTACT", "Proxima — référent Open311 de la DGPN / DGGN"),
        )

    def as_flask_config(self) -> dict:
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "DATABASE_PGBOUNCER": self.database_pgbouncer,
            "DATABASE_REPLICA_URL": self.database_replica_url,
            "REPLICA_MAX_LAG_S": self.replica_max_lag_s,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10,
                                          "pool_timeout": 5, "connect_args": DATABASE_CONNECT_ARGS},
            "REDIS_URL": self.redis_url,
            "REDIS_SENTINELS": self.redis_sentinels,
            "REDIS_SENTINEL_MASTER": self.redis_sentinel_master,
            "PROXIMA_ENV": self.env,
            "ROUTING_FALLBACK_DISTANCE_M": self.fallback_distance_m,
            "ROUTING_INDEX": self.routing_index,
            "ROUTING_INDEX_TTL_S": self.routing_index_ttl_s,
            "FCM_CREDENTIALS_FILE": self.fcm_credentials_file,
            "FCM_PROJECT_ID": self.fcm_project_id,
            "FCM_ENDPOINT": self.fcm_endpoint,
            "PUSH_MAX_ATTEMPTS": self.push_max_attempts,
            "PUSH_BACKOFF_BASE_S": self.push_backoff_base_s,
            "PUSH_BACKOFF_MAX_S": self.push_backoff_max_s,
            "PUSH_HTTP_TIMEOUT_S": self.push_http_timeout_s,
            "PUSH_SENDING_TIMEOUT_S": self.push_sending_timeout_s,
            "OUTBOX_RELAY_INTERVAL_S": self.outbox_relay_interval_s,
            "SATISFACTION_DELAY_MIN": self.satisfaction_delay_min,
            "SLA_ESCALATION_DELAY_MIN": self.sla_escalation_delay_min,
            "SESSION_COOKIE_SECURE": self.session_cookie_secure,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "MAP_TILE_URL": self.tile_url,
            "PHOTO_MAX_BYTES": self.photo_max_bytes,
            "PHOTO_MAX_COUNT": self.photo_max_count,
            # Whole request cap: photos plus form fields.
            "MAX_CONTENT_LENGTH": self.photo_max_bytes * self.photo_max_count + 256 * 1024,
            "REPORTS_PER_DEVICE_PER_DAY": self.reports_per_device_per_day,
            "RATELIMIT_ENABLED": self.ratelimit_enabled,
            "RATELIMIT_STORAGE_URI": self.redis_url,
            "LOGIN_MAX_FAILURES": self.login_max_failures,
            "LOGIN_LOCK_MINUTES": self.login_lock_minutes,
            "OPEN311_JURISDICTION_ID": self.open311_jurisdiction_id,
            "OPEN311_CONTACT": self.open311_contact,
            # flask-smorest / OpenAPI
            "API_TITLE": "Proxima — API citoyenne",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api/v1",
            "OPENAPI_JSON_PATH": "openapi.json",
            "OPENAPI_REDOC_PATH": "/docs",
            "OPENAPI_REDOC_URL": "/static/vendor/redoc/redoc.standalone.js",
        }
