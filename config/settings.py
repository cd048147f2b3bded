"""Hindsight settings, read from the environment.

Two modes, chosen with ``HINDSIGHT_ENV``:

* ``development`` (the default) needs nothing: an embedded PostgreSQL and an
  embedded Celery broker live under ``HINDSIGHT_DATA_DIR``.
* ``production`` refuses to start without ``SECRET_KEY``, ``ALLOWED_HOSTS`` and
  ``DATABASE_URL``, and turns on every ``check --deploy`` protection.

Every variable is listed in ``.env.example``.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

HINDSIGHT_ENV = env.str("HINDSIGHT_ENV", default="development")
if HINDSIGHT_ENV not in ("development", "production"):
    raise ImproperlyConfigured(
        f"HINDSIGHT_ENV must be 'development' or 'production', not {HINDSIGHT_ENV!r}."
    )
PRODUCTION = HINDSIGHT_ENV == "production"

DATA_DIR = (BASE_DIR / env.str("HINDSIGHT_DATA_DIR", default="var")).resolve()


def _require(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when HINDSIGHT_ENV=production.")
    return value


def _development_secret_key() -> str:
    # A per-checkout random key, so no two development installs share one and
    # none is committed. Sessions survive restarts because it is kept on disk.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = _require("SECRET_KEY")
    ALLOWED_HOSTS = [h.strip() for h in _require("ALLOWED_HOSTS").split(",") if h.strip()]
    DEBUG = env.bool("DEBUG", default=False)
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    DEBUG = env.bool("DEBUG", default=True)

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "simple_history",
    "axes",
    "csp",
    "accounts",
    "ops",
    "postmortems",
    "timeline",
    "imports",
    "patterns",
    "digests",
    "classifier",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    "accounts.middleware.TimezoneMiddleware",
    # A statement the web statement timeout cancelled answers 503, not 500.
    "core.middleware.StatementTimeoutMiddleware",
    # Last, as django-axes requires: it answers locked-out sign-ins.
    "axes.middleware.AxesMiddleware",
]

if PRODUCTION:
    # Serves collected static files from gunicorn; development uses runserver's.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# PostgreSQL only. DATABASE_URL selects a server; without it, the embedded
# server (the pgserver wheel) is started on first connection and shared by
# every process of this checkout.
if PRODUCTION:
    DATABASES = {"default": env.db_url_config(_require("DATABASE_URL"))}
elif env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "core.embedded_postgres",
            "NAME": "hindsight",
            "USER": "postgres",
            "PGDATA": str(DATA_DIR / "pgdata"),
        }
    }
# A Unix socket folder is written percent-encoded in the URL's host
# (postgres://user@%2Frun%2Fpostgresql/db); django-environ leaves it encoded.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"].get("HOST", ""))
if not DATABASES["default"]["ENGINE"].endswith(("postgresql", "embedded_postgres")):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…).")
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# Web processes have PostgreSQL cancel any statement running longer than
# WEB_STATEMENT_TIMEOUT milliseconds (0: never), so a search too broad to answer frees its
# worker and connection and answers 503 (core/middleware.py) instead of piling up. Workers
# and management commands (refresh, imports, migrations) run long statements on purpose
# and never get it: config/wsgi.py marks a web process while its settings load. A libpq
# startup option, not a SET: no statement is added to any request or connection.
WEB_STATEMENT_TIMEOUT = env.int("WEB_STATEMENT_TIMEOUT", default=15_000)
if WEB_STATEMENT_TIMEOUT < 0:
    raise ImproperlyConfigured("WEB_STATEMENT_TIMEOUT must be 0 (no timeout) or more.")
if os.environ.get("HINDSIGHT_WEB_PROCESS") == "1" and WEB_STATEMENT_TIMEOUT:
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # After any options the DATABASE_URL gave (?options=-c%20search_path%3D…).
    _options["options"] = " ".join(
        filter(None, [_options.get("options"), f"-c statement_timeout={WEB_STATEMENT_TIMEOUT}"])
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = (BASE_DIR / env.str("STATIC_ROOT", default="staticfiles")).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "postmortems:incident-list"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in rate limit: after AXES_FAILURE_LIMIT failures for one user name from
# one address, that pair waits AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# Content-Security-Policy: no inline scripts or styles, nothing from other origins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Celery ---------------------------------------------------------------
# Without CELERY_BROKER_URL, Kombu's filesystem transport carries messages
# through a folder under HINDSIGHT_DATA_DIR: a worker and beat run on one
# machine with no extra server. Production points this at Redis or RabbitMQ.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = DATA_DIR / "celery" / "messages"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    (DATA_DIR / "celery" / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(DATA_DIR / "celery" / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Acknowledge after the task ran, so a worker that dies mid-task does not lose it.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Beat keeps its last run times here, whatever the broker: the folder must exist.
(DATA_DIR / "celery").mkdir(parents=True, exist_ok=True)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celery" / "beat-schedule")
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {
    "record-worker-heartbeat": {
        "task": "ops.tasks.record_heartbeat",
        "schedule": WORKER_HEARTBEAT_SECONDS,
    },
    # Each source has its own interval; this tick only finds the ones now due.
    "poll-status-sources": {"task": "imports.tasks.poll_due_sources", "schedule": 60.0},
    # Changes refresh patterns within a minute; the nightly run catches anything missed
    # and lets recency weights age.
    "refresh-patterns-nightly": {
        "task": "patterns.tasks.refresh_patterns",
        "schedule": crontab(hour=3, minute=15),
    },
    # Labelled changes retrain within minutes; the nightly run retrains on the day's
    # knowledge base and classifies whatever is still unlabelled with the new model.
    "retrain-classifier-nightly": {
        "task": "classifier.tasks.retrain_classifier",
        "schedule": crontab(hour=2, minute=45),
    },
}

# --- Cache -------------------------------------------------------------------
# CACHE_URL picks a cache every process shares: redis://127.0.0.1:6379/1, or on one
# machine filecache:///var/tmp/hindsight-cache. Without it each process keeps its own in
# memory, so the API's throttle counts and rendered incident pages are per process.
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("CACHE_URL")}

# --- Email -------------------------------------------------------------------
# EMAIL_URL picks the mail server (smtp://user:pass@host:587 with STARTTLS as
# smtp+tls://, implicit TLS as smtp+ssl://). Without it, Django's usual EMAIL_HOST…
# variables are read when EMAIL_HOST is set; with neither, every message is written as
# an .eml file to EMAIL_FILE_PATH (var/mail/), where a new user can open it.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
elif env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
else:
    EMAIL_BACKEND = "core.mail.FolderEmailBackend"
EMAIL_FILE_PATH = str((DATA_DIR / env.str("EMAIL_FILE_PATH", default="mail")).resolve())
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Hindsight <hindsight@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Weekly digest --------------------------------------------------------------
# How often beat looks for digests that are due (at least hourly), how long a worker
# may hold one before another may take it over, and the first retry delay (it doubles
# per attempt, up to six hours, for DIGEST_MAX_ATTEMPTS attempts).
DIGEST_SCAN_SECONDS = env.float("DIGEST_SCAN_SECONDS", default=600.0)
if not 0 < DIGEST_SCAN_SECONDS <= 3600:
    raise ImproperlyConfigured("DIGEST_SCAN_SECONDS must be between 1 and 3600.")
DIGEST_LEASE_SECONDS = env.int("DIGEST_LEASE_SECONDS", default=600)
DIGEST_RETRY_SECONDS = env.float("DIGEST_RETRY_SECONDS", default=60.0)
DIGEST_MAX_ATTEMPTS = env.int("DIGEST_MAX_ATTEMPTS", default=8)
CELERY_BEAT_SCHEDULE["send-due-digests"] = {
    "task": "digests.tasks.enqueue_due_digests",
    "schedule": DIGEST_SCAN_SECONDS,
}

# --- Status-page fetching -------------------------------------------------------
# Users type polled URLs, so imports/fetching.py fetches only from public addresses, except
# the networks, addresses or host names an operator lists here (an on-prem status page), and
# bounds each fetch: bytes after decompression, seconds for all of it, redirects followed.


def _fetch_allowed(name: str) -> list[str]:
    import ipaddress
    import re

    # Labels of letters, digits, - and _; a last label of digits only is a mistyped address.
    host_name = re.compile(r"(?!(.*\.)?\d+\.?$)([\w-]{1,63}\.)*[\w-]{1,63}\.?", re.ASCII)
    entries = env.list(name, default=[])
    for entry in entries:
        try:
            ipaddress.ip_network(entry)
        except ValueError:
            if not host_name.fullmatch(entry):
                raise ImproperlyConfigured(
                    f"{name} must list networks (10.20.0.0/16), addresses or host names, "
                    f"separated by commas; {entry!r} is none of them."
                ) from None
    return entries


def _fetch_limit(name: str, default: float, cast: type, minimum: float) -> float:
    text = env.str(name, default=str(default))
    try:
        value = cast(text)
    except ValueError:
        value = None
    if value is None or not minimum <= value < float("inf"):  # nan fails both
        number = "a whole number" if cast is int else "a number"
        raise ImproperlyConfigured(f"{name} must be {number} of at least {minimum}, not {text!r}.")
    return value


STATUS_FETCH_ALLOWED_NETWORKS = _fetch_allowed("STATUS_FETCH_ALLOWED_NETWORKS")
STATUS_FETCH_MAX_BYTES = _fetch_limit("STATUS_FETCH_MAX_BYTES", 64 * 1024 * 1024, int, 1)
STATUS_FETCH_TIMEOUT = _fetch_limit("STATUS_FETCH_TIMEOUT", 30.0, float, 0.1)
STATUS_FETCH_MAX_REDIRECTS = _fetch_limit("STATUS_FETCH_MAX_REDIRECTS", 5, int, 0)

# --- Pattern analysis ---------------------------------------------------------
# Incidents a combination needs before it is a pattern, and how soon a vendor hit again
# by the same change type or category counts as a recurrence.
PATTERN_MIN_SUPPORT = env.int("PATTERN_MIN_SUPPORT", default=3)
PATTERN_RECURRENCE_DAYS = env.int("PATTERN_RECURRENCE_DAYS", default=365)

# --- Production hardening -------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters.")

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"pgserver": {"level": "WARNING"}},
}

# --- REST API ---
# /api/ (core/rest.py holds the shared pieces). Token or session authentication;
# JSON in and out; cursor pages; one error shape; throttled per user and per address.


def _throttle_rate(name: str, default: str) -> str:
    # DRF reads "<count>/<period>" where the period starts with s, m, h or d.
    value = env.str(name, default=default)
    count, _, period = value.partition("/")
    if not (count.isdigit() and period[:1] in ("s", "m", "h", "d")):
        raise ImproperlyConfigured(f"{name} must look like 1000/hour or 60/minute, not {value!r}.")
    return value


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that an unauthenticated request gets 401 with WWW-Authenticate: Bearer.
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.rest.ApiPermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.rest.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.rest.ApiCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "core.rest.ApiUserRateThrottle",
        "core.rest.ApiAnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": _throttle_rate("API_THROTTLE_USER", "5000/hour"),
        "anon": _throttle_rate("API_THROTTLE_ANON", "60/hour"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.rest.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Larger request bodies are refused with 413 (the API) before they are parsed.
# Generous by default: a vendor's whole status-page history is pushed in one
# request (a large Statuspage history is tens of megabytes).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Hindsight API",
    "DESCRIPTION": (
        "Postmortems, vendors and the taxonomy of Hindsight.\n\n"
        "**Authentication**: an API token from your settings page, sent as "
        "`Authorization: Bearer <key>` (or a signed-in browser session with its CSRF token). "
        "A token sees and does exactly what its user may; read-only tokens only read.\n\n"
        "**Errors** all share one shape (the `Error` schema): "
        '`{"error": {"status", "code", "message", "fields"}}`, with `fields` keyed by dotted '
        "path (`vendors.0`).\n\n"
        "**Concurrency**: an incident's `ETag` is its `version`. Every write to an incident "
        'says which version it is based on, as `If-Match: "<version>"` or a `version` field; '
        "a stale If-Match gets 412, a stale `version` 409, neither 428. Nothing is "
        "overwritten.\n\n"
        "**Pages**: lists are cursor-paginated (`next`/`previous` links, `page_size` up to "
        "200) and never counted."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public (they hold no data), throttled as anonymous.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would load an image from validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.rest.document_errors",  # the shared Error component on every operation
    ],
    "ENUM_NAME_OVERRIDES": {
        "ReviewStatusEnum": "postmortems.choices.ReviewStatus",
        "ActionItemStatusEnum": "postmortems.choices.ActionItemStatus",
        "VendorKindEnum": "postmortems.choices.VendorKind",
        "SourceKindEnum": "postmortems.choices.SourceKind",
        "EventKindEnum": "timeline.choices.EventKind",
        "FactorRoleEnum": "postmortems.choices.FactorRole",
    },
}
