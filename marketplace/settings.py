"""Creditshare settings: one module, every deploy knob an environment variable.

Defaults are safe for a single development machine (SQLite, a local-directory Celery broker with a
worker beside the web server, an in-process cache, mail printed to the console, CPU engine).
Production sets at least ``DJANGO_DEBUG=0``, ``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS``.
"""

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable, refusing values that are neither true nor false."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no.")


def _env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable into a list, dropping empty items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- core -------------------------------------------------------------------------------------

DEBUG = _env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. With DJANGO_DEBUG off, set DJANGO_SECRET_KEY to a long "
            "random string (e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"

ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# --- security (production defaults whenever DEBUG is off; `manage.py check --deploy` is clean) ---

# Behind a TLS-terminating proxy, cookies must only travel over HTTPS.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = _env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
# Preload is a long commitment to HTTPS for the whole domain; turn it off if that is not yours.
SECURE_HSTS_PRELOAD = _env_bool("DJANGO_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Set DJANGO_BEHIND_TLS_PROXY=1 when a proxy terminates TLS and sets X-Forwarded-Proto.
if _env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy sent on every response (marketplace.security); empty disables it.
CONTENT_SECURITY_POLICY = os.environ.get(
    "DJANGO_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)
# Sign-in lockout (marketplace.security): this many failed attempts on one username (from any
# address), or this many on any usernames from one address, lock it for LOGIN_LOCKOUT_S seconds.
LOGIN_MAX_FAILURES = int(os.environ.get("DJANGO_LOGIN_MAX_FAILURES", 5))
LOGIN_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("DJANGO_LOGIN_MAX_FAILURES_PER_ADDRESS", 30))
LOGIN_LOCKOUT_S = int(os.environ.get("DJANGO_LOGIN_LOCKOUT_S", 900))
# Reverse proxies in front of the site: client addresses (sign-in lockout, API throttles) are
# read from X-Forwarded-For past this many hops; 0 trusts only REMOTE_ADDR (the header can be
# forged by clients).
NUM_PROXIES = int(os.environ.get("API_NUM_PROXIES", 0))

# --- request limits: bad requests get a 4xx, never a 500 --------------------------------------

# Form fields and non-file bodies (JSON) larger than this are refused (413 on the API, a styled
# 400 page on the site); uploaded files are streamed to disk and bounded by UPLOAD_* below.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DJANGO_MAX_BODY_BYTES", 2_621_440))
# Whole request bodies (uploads included) declared larger than this are refused before they are
# read (413); the default leaves room for one archive at the upload limit (500 MiB).
MAX_REQUEST_BYTES = int(os.environ.get("DJANGO_MAX_REQUEST_BYTES", 510 * 1024 * 1024))
# Files in one request (the upload form says how many it takes).
DATA_UPLOAD_MAX_NUMBER_FILES = int(os.environ.get("DJANGO_MAX_UPLOAD_FILES", 100))
# JSON bodies nested deeper than this are refused with a JSON 400 (marketplace.api.parsers).
API_MAX_JSON_DEPTH = int(os.environ.get("API_MAX_JSON_DEPTH", 32))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "marketplace",
    "attribution",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "marketplace.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF (which reads the body), after authentication (the refusal page knows the user).
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "marketplace.security.RequestLimitsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

AUTH_USER_MODEL = "marketplace.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "after-login"

ROOT_URLCONF = "marketplace.urls"
# Friendly 4xx pages (templates/400.html ...) for the site; the API answers JSON itself.
# (The 413 of an oversized site form is Django's RequestDataTooBig, shown as the 400 page.)
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

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

# --- database ---------------------------------------------------------------------------------

# Embedded default: one SQLite file. Production: DATABASE_URL=postgres://user:pass@host:5432/name
# (psycopg 3 is the driver; query parameters such as ?sslmode=require go to it unchanged).


def _database_from_url(url: str) -> dict[str, object]:
    """Django's settings for a ``postgres://`` URL; anything else is refused with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported; use "
            "postgres://user:password@host:5432/name (or leave it unset for SQLite)."
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL names no database: add /name after the host.")
    options = dict(parse_qsl(parts.query))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": options.pop("host", None) or _url_host(parts.netloc, parts.hostname),
        "PORT": str(parts.port or ""),
        # Reuse connections for a minute; check them before use, so a restarted server is survived.
        "CONN_MAX_AGE": int(os.environ.get("DJANGO_DB_CONN_MAX_AGE", 60)),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


def _url_host(netloc: str, hostname: str | None) -> str:
    """The URL's host; a percent-encoded path (``u@%2Frun%2Fpostgresql``) is a socket directory."""
    host = netloc.rpartition("@")[2]
    if host[:3].lower() == "%2f":
        return unquote(host.rpartition(":")[0] if ":" in host else host)
    return hostname or ""


SQLITE_PATH = Path(os.environ.get("DJANGO_SQLITE_PATH", BASE_DIR / "var" / "db.sqlite3"))

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": _database_from_url(os.environ["DATABASE_URL"])}
else:
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            # The web process and a local worker share the file: write transactions take the
            # lock when they begin (no lock-upgrade deadlock), wait up to 20 s for it, and WAL
            # lets readers run beside the writer.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL;",
            },
        },
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- money ------------------------------------------------------------------------------------


def _env_payout_day(name: str) -> int | None:
    """A day of the month (1-28, so that every month has it), or None when unset or blank."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 28:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a day of the month from 1 to 28 (every month has those); "
            "leave it unset if payouts are not sent on a fixed day."
        )
    return int(raw)


# The day of each month on which approved payouts are sent, if they are sent on a fixed day: the
# contributor portal then shows the next such date. Unset: the portal says "not scheduled yet"
# (it never guesses a date).
PAYOUT_SCHEDULE_DAY = _env_payout_day("PAYOUT_SCHEDULE_DAY")

# --- i18n -------------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- static and media files -------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "var" / "media"))

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed files need `collectstatic`; in debug, serve the sources as they are.
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}
# Tie whitenoise to the DEBUG read here (not to the test runner's override), matching the storage
# above: in debug it serves the sources from the finders and needs no `collectstatic`.
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG

# --- cache: sign-in lockout counters and API throttles ----------------------------------------
# Every web process must see the same counters, or each gunicorn worker gives its own budget of
# guesses. Production: CACHE_URL=redis://host:6379/2 (or rediss://). Unset (the embedded default):
# an in-process memory cache, right for one process only; `manage.py check --deploy` warns about
# it. (No file-based cache: its incr rewrites the entry with the default timeout, which would cut
# the lockout window short.)


def _cache_from_url(url: str) -> dict[str, object]:
    """Django's cache settings for a ``CACHE_URL``; unknown schemes are refused with the reason."""
    parts = urlsplit(url)
    if parts.scheme in {"redis", "rediss"}:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if parts.scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    raise ImproperlyConfigured(
        f"CACHE_URL scheme {parts.scheme!r} is not supported; use redis://host:6379/N, "
        "rediss://... or locmem:// (or leave it unset)."
    )


CACHE_URL = os.environ.get("CACHE_URL", "") or "locmem://"
CACHES = {"default": _cache_from_url(CACHE_URL)}

# --- mail: password reset ---------------------------------------------------------------------
# Embedded default: mails are printed on the web server's console (password-reset links show up
# there). Production: EMAIL_URL=smtp://user:password@host:587 (STARTTLS; smtps://...:465 for TLS
# from the start; percent-encode special characters), or Django's usual EMAIL_HOST, EMAIL_PORT,
# EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL variables.


def _email_from_url(url: str) -> dict[str, object]:
    """The EMAIL_* settings for an ``EMAIL_URL``; unknown schemes are refused with the reason."""
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(
            f"EMAIL_URL scheme {parts.scheme!r} is not supported; use "
            "smtp://user:password@host:587, smtps://user:password@host:465 or console://."
        )
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL names no host: smtp://user:password@host:587")
    ssl = parts.scheme == "smtps"
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": parts.port or (465 if ssl else 587),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": ssl,
        "EMAIL_USE_TLS": not ssl,
    }


if os.environ.get("EMAIL_URL"):
    globals().update(_email_from_url(os.environ["EMAIL_URL"]))
elif os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 587))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_SSL = _env_bool("EMAIL_USE_SSL", False)
    EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", not EMAIL_USE_SSL)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", 20))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Creditshare <noreply@localhost>")

# --- REST API ---------------------------------------------------------------------------------

# API keys first: its `WWW-Authenticate` header makes unauthenticated requests 401, not 403.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "marketplace.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON with a nesting limit: a body of thousands of "[" is a JSON 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["marketplace.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.policy.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "marketplace.api.policy.AnonRateThrottle",
        "marketplace.api.policy.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/minute"),
        "user": os.environ.get("API_THROTTLE_USER", "600/minute"),
    },
    # Client addresses for anonymous throttling (see NUM_PROXIES above). The throttle histories
    # live in the default cache (CACHE_URL), shared by every process like the sign-in counters.
    "NUM_PROXIES": NUM_PROXIES,
    "EXCEPTION_HANDLER": "marketplace.api.policy.handle_exception",
    "DEFAULT_SCHEMA_CLASS": "marketplace.api.schema.DocumentedErrorsSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Creditshare API",
    "DESCRIPTION": (
        "Contributors, data groups, model versions, valuation rounds, their values and payouts. "
        "Authenticate with a session (browser) or an API key from the site's API keys page "
        "(/settings/api-keys/), sent as `Authorization: Bearer <prefix>.<secret>` (or "
        "`Authorization: Api-Key <prefix>.<secret>`). The schema and these docs are public; every "
        "operation needs authentication. Getting started: /api/v1/."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the vendored drf-spectacular-sidecar static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DataGroupStatusEnum": "marketplace.models.DataGroup.Status",
        "PayoutBatchStatusEnum": "marketplace.models.PayoutBatch.Status",
        "ContributorKindEnum": "marketplace.models.Contributor.Kind",
        "ModelVersionKindEnum": "marketplace.models.ModelVersion.Kind",
        "RoundStatusEnum": "attribution.models.ValuationRound.Status",
    },
}

# --- Celery -----------------------------------------------------------------------------------
# A round never runs inside a web request: starting one only queues it.
# Embedded mode (the default): kombu's filesystem broker under CELERY_QUEUE_DIR (var/celery) and
# one local worker (`./bin/demo` starts it beside the web server; by hand:
# `celery -A marketplace worker -Q gpu,cpu --concurrency 1 --max-tasks-per-child 1`). No server.
# The filesystem broker does not redeliver a message whose worker died (the message is taken off
# the folder when read): restart such a round from the admin.
# Production: CELERY_BROKER_URL=redis://… CELERY_RESULT_BACKEND=redis://… (rounds then fan out,
# one task per contributor) and workers on GPU nodes.

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
# 1 runs tasks inside the caller (tests, one-off scripts); never set it on a web server.
CELERY_TASK_ALWAYS_EAGER = _env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = _env_bool("CELERY_TASK_EAGER_PROPAGATES", True)
# Valuation tasks are long and idempotent: acknowledge only after they finish, so a crashed
# worker's task is redelivered, and let each worker hold one task at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# Generation needs the accelerator: a round's dispatch and its per-contributor bank units go to
# the queue GPU workers consume; the valuation stage (featurize, coalitions, SHAP) to the CPU
# queue. One worker may consume both (-Q gpu,cpu). Fanning out needs a result backend (the
# chord's counter); without one, or in eager mode, the whole round runs as one task.
_GPU_QUEUE = os.environ.get("CELERY_GPU_QUEUE", "gpu")
_CPU_QUEUE = os.environ.get("CELERY_CPU_QUEUE", "cpu")
CELERY_TASK_ROUTES = {
    "attribution.execute_round": {"queue": _GPU_QUEUE},
    "attribution.generate_bank": {"queue": _GPU_QUEUE},
    "attribution.value_round": {"queue": _CPU_QUEUE},
}
# Redis redelivers a message whose worker died (SIGKILL, lost node) once it has been unacked for
# the visibility timeout; it must exceed the longest single task (one contributor's bank, or the
# valuation stage), or a task still running is handed to a second worker as well.
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_QUEUE_DIR = Path(os.environ.get("CELERY_QUEUE_DIR", BASE_DIR / "var" / "celery"))
    for _folder in ("queue", "control"):
        (CELERY_QUEUE_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # One folder both ways: the web process writes messages where the worker reads them.
        "data_folder_in": str(CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "queue"),
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://", "sentinel://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 3600)),
        "unacked_restore_interval": int(os.environ.get("CELERY_UNACKED_RESTORE_INTERVAL", 10)),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", 6 * 3600))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", 6 * 3600 + 300))

# --- attribution engine -----------------------------------------------------------------------

ENGINE_DEVICE = os.environ.get("ENGINE_DEVICE", "cpu")
# Dotted path of the function that runs a round's engine configuration; empty = the real engine.
# (Tests and drills point workers at a fake with the same signature.)
ENGINE_RUNNER = os.environ.get("ENGINE_RUNNER", "")
# Likewise for one contributor's bank on a distributed round (a ``BankRunner``); empty = real.
ENGINE_BANK_RUNNER = os.environ.get("ENGINE_BANK_RUNNER", "")
# Content-addressed cache of sample banks and features: reruns and restarts resume from it.
ENGINE_CACHE_DIR = Path(os.environ.get("ENGINE_CACHE_DIR", BASE_DIR / "var" / "engine-cache"))
# A running round whose heartbeat is older than this is presumed dead and may be claimed again.
ENGINE_STALE_AFTER_S = int(os.environ.get("ENGINE_STALE_AFTER_S", 900))
# Wall-clock budget, per round, of the "to the payout tolerance" estimator's valuation (exact
# values when 2^n coalitions fit it, else sampling until the shares meet the tolerance or it runs
# out), and of the bank-noise bootstrap after it.
ENGINE_VALUATION_SECONDS = float(os.environ.get("ENGINE_VALUATION_SECONDS", 120))
