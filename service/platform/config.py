"""Configuration: every environment setting Proxima reads, declared once in `SETTINGS`, and what fills `app.config`.

A setting is a row of the table (name, parser, default, meaning). `read_environment()` reads the table;
`app_config()` adds the `create_app(config)` overrides and the Flask keys derived from the settings
(`derived_flask_config`). docs/configuration.md and .env.example list the same rows in the same order, and
tests/unit/test_config.py fails when they drift from the table.
"""
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping


def parse_bool(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


def parse_networks(raw: str) -> tuple[str, ...]:
    """Comma-separated networks (`10.0.0.0/8, ::1/128`)."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def normalise_database_url(url: str) -> str:
    """psycopg 3 needs the `postgresql+psycopg://` driver prefix; accept the usual spellings."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass(frozen=True)
class Setting:
    """One environment variable: how its text is parsed, its value when unset or empty, and what it does."""
    name: str
    parse: Callable[[str], Any]
    default: Any
    meaning: str

    def read(self, environ: Mapping[str, str]) -> Any:
        raw = environ.get(self.name, "")
        return self.default if raw == "" else self.parse(raw)


SETTINGS: tuple[Setting, ...] = (
    # --- application ----------------------------------------------------------------------------------------
    Setting("PROXIMA_ENV", str, "development",
            "`development`, `test`, `benchmark` (production's code paths over demo data: `make bench`) or "
            "`production`"),
    Setting("SECRET_KEY", str, "dev-only-not-secret",
            "signs session cookies and CSRF tokens: set a long random value in production"),
    Setting("AUDIT_HMAC_KEY", str, "dev-only-audit-key",
            "keys the audit log's chain and checkpoints; kept out of the database: set a long random value, "
            "distinct from SECRET_KEY, in production"),
    Setting("AUDIT_CHECKPOINT_FILE", str, None,
            "file (outside the database) to which each signed audit checkpoint is appended; `flask audit verify` "
            "checks the chain against it too"),

    # --- database & Redis -----------------------------------------------------------------------------------
    Setting("DATABASE_URL", normalise_database_url, "postgresql+psycopg://postgres@127.0.0.1:5432/proxima",
            "PostgreSQL 15+ with PostGIS; `postgres://` and `postgresql://` are accepted. When set, `make run` "
            "uses it and starts nothing"),
    Setting("DATABASE_OWNER_URL", normalise_database_url, None,
            "the owner role's URL, used by the migrations only (DATABASE_URL is then the application role, which "
            "gets its grants after each upgrade); unset = migrations run as DATABASE_URL"),
    Setting("REDIS_URL", str, "redis://127.0.0.1:6379/0",
            "Redis of the RQ queues, the rate limits and the scheduler"),
    # Scale-out (docs/scaling.md; `make cluster` sets all of these).
    Setting("DATABASE_PGBOUNCER", parse_bool, False,
            "`1` when DATABASE_URL is PgBouncer in transaction mode: psycopg prepares no statement on the server"),
    Setting("DATABASE_REPLICA_URL", normalise_database_url, None,
            "streaming replica for the reads that tolerate lag (dashboard, its report list and CSV export, "
            "Open311 GET); unset = everything on DATABASE_URL"),
    Setting("REPLICA_MAX_LAG_S", float, 5.0,
            "above this replay lag (seconds), or when the replica stops streaming, those reads go to the primary"),
    Setting("REDIS_SENTINELS", str, None,
            "Redis Sentinels (`host:port,host:port,…`): queues, rate limits and scheduler follow the master they "
            "name; the database number still comes from REDIS_URL. Unset = REDIS_URL directly"),
    Setting("REDIS_SENTINEL_MASTER", str, "proxima", "the master's name in the Sentinels' configuration"),

    # --- routing --------------------------------------------------------------------------------------------
    Setting("ROUTING_FALLBACK_DISTANCE_M", int, 2000,
            "a point outside every jurisdiction goes to the nearest one within this distance (m); farther is a 422"),
    Setting("ROUTING_INDEX", str, "memory",
            "`memory`: an in-process spatial index of jurisdictions; anything else: one PostGIS query per decision"),
    Setting("ROUTING_INDEX_TTL_S", float, 5.0,
            "how often (seconds) the in-process index checks the units table, and intake the categories table, "
            "and reloads them if they changed"),

    # --- push notifications (FCM HTTP v1 through pyfcm) and the outbox --------------------------------------
    Setting("FCM_CREDENTIALS_FILE", str, None,
            "service-account JSON file of the Firebase project; unset = notifications are logged, not sent"),
    Setting("FCM_PROJECT_ID", str, None, "Firebase project id; unset = the one of the credentials file"),
    Setting("FCM_ENDPOINT", str, "https://fcm.googleapis.com",
            "base URL of the FCM API (the tests point it at a local FCM test server)"),
    Setting("PUSH_MAX_ATTEMPTS", int, 8, "attempts per notification before it is given up"),
    Setting("PUSH_BACKOFF_BASE_S", int, 30, "first retry delay of a failed push (seconds; doubles each time)"),
    Setting("PUSH_BACKOFF_MAX_S", int, 3600, "longest retry delay of a failed push (seconds)"),
    Setting("PUSH_HTTP_TIMEOUT_S", int, 10, "timeout of one HTTP call to FCM (seconds)"),
    Setting("PUSH_SENDING_TIMEOUT_S", int, 120,
            "a notification stuck in `sending` longer than this (seconds) is given up as failed "
            "`DELIVERY_UNKNOWN`, never resent"),
    Setting("PUSH_SEND_THREADS", int, 16,
            "HTTP calls to FCM a worker process keeps in flight, and kept-alive connections of its pool"),
    Setting("OUTBOX_RELAY_INTERVAL_S", int, 5,
            "how often (seconds) the outbox relay moves pending notifications to RQ"),

    # --- follow-up ------------------------------------------------------------------------------------------
    Setting("SATISFACTION_DELAY_MIN", int, 60, "minutes after closure before the resident is asked for feedback"),
    Setting("SLA_ESCALATION_DELAY_MIN", int, 30,
            "minutes past the acknowledgement target before the supervisors are alerted"),

    # --- console ----------------------------------------------------------------------------------------------
    Setting("MAP_TILE_URL", str, "",
            "tile URL template (`…/{z}/{x}/{y}.png`) of the console maps; empty = no background tiles "
            "(no third-party CDN)"),
    Setting("LOGIN_MAX_FAILURES", int, 5,
            "failed logins for one account from one address (an IPv6 /64) before that pair is refused for the "
            "window; the account stays open from elsewhere"),
    Setting("LOGIN_LOCK_MINUTES", int, 15, "window (minutes) of the failed-login counters and of a refusal"),
    Setting("LOGIN_MAX_FAILURES_PER_IP", int, 30,
            "failed logins from one address (an IPv6 /64; any account) before that address is refused for the "
            "window"),
    Setting("LOGIN_ALERT_FAILURES", int, 20,
            "failed logins for one account from any address within the window that alert its supervisors"),
    Setting("CONSOLE_SESSION_IDLE_MIN", int, 120, "a console session unused this long (minutes) ends"),
    Setting("CONSOLE_SESSION_MAX_HOURS", int, 12, "a console session ends this long (hours) after login, used or not"),
    Setting("CONSOLE_POLL_MS", int, 15000, "how often (milliseconds) the queue page checks for new reports"),
    Setting("INDICATOR_STORE_MIN_DAYS", int, 45,
            "dashboard views this long (days) or longer are computed from every report's clocks kept in each web "
            "process (about 150 MB per million reports); `-1` turns that store off"),

    # --- residents' web app (service/residents, docs/residents_app.md) -----------------------------------------
    Setting("RESIDENTS_POLL_S", int, 30,
            "how often (seconds) an open report's page refreshes its timeline when web push is not in use"),
    Setting("FCM_WEB_API_KEY", str, None,
            "Firebase web `apiKey`; web push needs the four FCM_WEB_* and FCM_PROJECT_ID"),
    Setting("FCM_WEB_APP_ID", str, None, "Firebase web `appId`"),
    Setting("FCM_WEB_SENDER_ID", str, None, "Firebase `messagingSenderId`"),
    Setting("FCM_WEB_VAPID_KEY", str, None, "public key of the Firebase project's web push certificate"),

    # --- photos -----------------------------------------------------------------------------------------------
    Setting("PHOTO_MAX_COUNT", int, 3, "photos per report"),
    Setting("PHOTO_MAX_BYTES", int, 8 * 1024 * 1024, "size limit of one photo (bytes)"),

    # --- rate limits and abuse (Flask-Limiter on Redis; skipped, never blocking, when Redis is down) -----------
    Setting("RATELIMIT_ENABLED", parse_bool, True, "rate limiting on or off"),
    Setting("REPORTS_PER_DEVICE_PER_DAY", int, 20,
            "reports a device may send in 24 hours (counted in PostgreSQL: holds while Redis is down)"),
    Setting("REPORTS_PER_DEVICE_PER_MINUTE", int, 6,
            "reports a device may send in one minute (counted in PostgreSQL, like the daily cap)"),
    # Limits in Flask-Limiter's notation ("N per minute;M per hour"). Mobile networks put many residents
    # behind one address (CGNAT): limits per address are looser than limits per device.
    Setting("RATELIMIT_REGISTRATION_PER_IP", str, "20 per minute;200 per hour", "device registrations per address"),
    Setting("RATELIMIT_INTAKE_ATTEMPTS_PER_DEVICE", str, "60 per minute", "intake requests per device, valid or not"),
    Setting("RATELIMIT_INTAKE_PER_IP", str, "120 per minute;1000 per hour", "intake requests per address"),
    Setting("RATELIMIT_PHOTOS_PER_DEVICE", str, "30 per hour", "photos actually stored per device"),
    Setting("RATELIMIT_FEEDBACK_PER_DEVICE", str, "10 per minute;30 per hour", "satisfaction ratings per device"),
    Setting("RATELIMIT_FEEDBACK_PER_IP", str, "60 per minute", "satisfaction ratings per address"),
    Setting("RATELIMIT_MESSAGES_PER_DEVICE", str, "10 per minute;60 per hour",
            "messages a device posts on its reports (docs/messages.md)"),
    Setting("MESSAGES_PER_REPORT_PER_DAY", int, 20,
            "a resident's messages on one report in 24 hours (counted in the database, so it holds without Redis)"),
    Setting("RATELIMIT_OPEN311_WRITE_PER_KEY", str, "60 per minute;2000 per day",
            "Open311 requests created per partner key"),
    Setting("RATELIMIT_OPEN311_READ_PER_KEY", str, "600 per minute", "Open311 reads per partner key"),
    Setting("RATELIMIT_OPEN311_READ_PER_IP", str, "120 per minute", "Open311 reads per address without a key"),
    Setting("RATELIMIT_OPEN311_WRITE_PER_IP", str, "30 per minute", "Open311 requests created per address"),
    Setting("RATELIMIT_SPATIAL_READ_PER_IP", str, "120 per minute;2000 per hour",
            "coverage and commune-outline lookups (a spatial query each) per address"),
    Setting("RATELIMIT_PUBLIC_READ_PER_IP", str, "300 per minute", "category list reads per address"),
    Setting("RATELIMIT_CONSOLE_LOGIN_PER_IP", str, "30 per minute;300 per hour",
            "console sign-in attempts per address (IPv6: per /64)"),
    # A storm: this many reports (the new one included) from one device within the radius and the window.
    Setting("STORM_REPORTS", int, 4,
            "reports from one device within the radius and window that hold the last one for supervisor review"),
    Setting("STORM_RADIUS_M", int, 150, "radius (m) of a storm"),
    Setting("STORM_WINDOW_MIN", int, 60, "window (minutes) of a storm"),

    # --- security headers, cookies and the reverse proxy -------------------------------------------------------
    Setting("SESSION_COOKIE_SECURE", parse_bool, False,
            "`1` behind HTTPS: the console's session and remember cookies are never sent in clear"),
    Setting("PROXY_FIX_X_FOR", int, 0,
            "trusted proxies setting X-Forwarded-For in front of gunicorn (0 = none); per-address limits "
            "depend on it"),
    Setting("PROXY_FIX_X_PROTO", int, 0, "trusted proxies setting X-Forwarded-Proto (0 = none); HSTS depends on it"),
    Setting("PROXY_FIX_X_HOST", int, 0, "trusted proxies setting X-Forwarded-Host (0 = none)"),
    Setting("HSTS_MAX_AGE_S", int, 63072000,
            "Strict-Transport-Security max-age (two years; the preload list asks for one), sent over TLS only"),

    # --- observability ----------------------------------------------------------------------------------------
    Setting("LOG_FORMAT", str, "json", "`json` (one object per line, with the request id) or `text`"),
    Setting("LOG_LEVEL", str, "INFO", "level of the root logger"),
    Setting("METRICS_ALLOWED_NETWORKS", parse_networks,
            ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
            "networks (comma-separated) whose addresses may read `/metrics`, after ProxyFix"),
    # prometheus_client reads this variable itself from the environment when it is imported: it must be set
    # before the process starts (a create_app override cannot turn multi-process metrics on).
    Setting("PROMETHEUS_MULTIPROC_DIR", str, None,
            "directory where the gunicorn workers write their metrics, merged at scrape time; environment only, "
            "set before start-up (see docs/operations.md)"),

    # --- Open311 GeoReport v2 ---------------------------------------------------------------------------------
    Setting("OPEN311_JURISDICTION_ID", str, "proxima.interieur.gouv.fr", "Open311 `jurisdiction_id`"),
    Setting("OPEN311_CONTACT", str, "Proxima — référent Open311 de la DGPN / DGGN",
            "contact published in the Open311 discovery"),

    # --- test only --------------------------------------------------------------------------------------------
    Setting("TEST_CLOCK_OFFSET_S", float, None,
            "test only (honoured only with `PROXIMA_ENV=test`): set by the suite for a worker or server it "
            "starts, seconds added to the machine's clock"),
)


def read_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting of the table: its value in the environment, parsed, or its default (empty = unset)."""
    environ = os.environ if environ is None else environ
    return {setting.name: setting.read(environ) for setting in SETTINGS}


def read_setting(name: str) -> Any:
    """One setting from the environment, for code that runs without an application (a gunicorn hook)."""
    return next(setting for setting in SETTINGS if setting.name == name).read(os.environ)


# A database that is down or unreachable must cost seconds, never a hung request: bounded connection set-up,
# and a dead link noticed by TCP within ~10 s instead of the kernel's ~15 min (statement_timeout is set per
# database role, see docs/operations.md, so migrations and batch jobs keep their own).
DATABASE_CONNECT_ARGS = {"connect_timeout": 3, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
                         "keepalives_count": 3, "tcp_user_timeout": 10000}


def derived_flask_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The `app.config` keys that are not environment settings: computed from the settings, or fixed values of
    Flask and its extensions (Flask-SQLAlchemy, Flask-Limiter, flask-smorest, Flask-Babel, Flask-WTF,
    Flask-Login) and of service.platform.security."""
    return {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(settings["DATABASE_URL"]),
        # hide_parameters: a database error never carries the bound values (a description, a point) into a log.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10,
                                      "pool_timeout": 5, "connect_args": DATABASE_CONNECT_ARGS,
                                      "hide_parameters": True},
        # Whole request cap: photos plus form fields.
        "MAX_CONTENT_LENGTH": settings["PHOTO_MAX_BYTES"] * settings["PHOTO_MAX_COUNT"] + 256 * 1024,
        # Session cookies: never readable by scripts, not sent on cross-site posts; Secure from
        # SESSION_COOKIE_SECURE (plain-HTTP development would lose the session). The remember cookie alike.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": settings["SESSION_COOKIE_SECURE"],
        # The cookie lasts as long as a session may; the server decides when it ends (service.console.sessions).
        "PERMANENT_SESSION_LIFETIME": settings["CONSOLE_SESSION_MAX_HOURS"] * 3600,
        # Console: French UI in Paris time; a CSRF token lasts a working shift. CSRF is checked by the console
        # for every state-changing request except the token-authenticated APIs (service.console).
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "BABEL_TRANSLATION_DIRECTORIES": "translations",
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "WTF_CSRF_CHECK_DEFAULT": False,
        # URL prefixes serving HTML pages (the rest is JSON or XML): they get the pages' CSP.
        "CSP_PAGE_PREFIXES": ("/console", "/api/v1/docs"),
        # Flask-Limiter (service.platform.limits): counters in Redis, under one prefix.
        "RATELIMIT_STORAGE_URI": settings["REDIS_URL"],
        "RATELIMIT_KEY_PREFIX": "proxima-limits",
        # Fixed windows: one INCR per counted request (a moving window costs a sorted set per key and request).
        "RATELIMIT_STRATEGY": "fixed-window",
        # No X-RateLimit-* headers on every answer: they cost two Redis round trips per request. A 429 still says
        # when to come back (Retry-After, service.platform.limits.retry_after_s).
        "RATELIMIT_HEADERS_ENABLED": False,
        # Redis down: limits are skipped, never the report, and an unreachable Redis costs half a second at most.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        # flask-smorest / OpenAPI
        "API_TITLE": "Proxima — API citoyenne",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_REDOC_PATH": "/docs",
        "OPENAPI_REDOC_URL": "/static/vendor/redoc/redoc.standalone.js",
    }


def app_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What fills `app.config`: the settings from the environment, `overrides` on top (create_app's `config`,
    for tests), and the keys derived from both; an override of a derived key wins too."""
    settings = {**read_environment(), **(overrides or {})}
    return {**derived_flask_config(settings), **settings}
