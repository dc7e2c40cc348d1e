"""Every knob is an environment variable, read here and nowhere else."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.schedules import on_the_clock

# Lets admin and serializer classes be written with their generic parameters.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OUTAGES_VAR_DIR", BASE_DIR / "var"))


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {value!r}")


def envpair(name: str, default: str) -> tuple[str, str] | None:
    """ "HTTP_X_FORWARDED_PROTO,https" as a (header, value) pair; empty means None."""
    value = os.environ.get(name, default).strip()
    if not value:
        return None
    header, sep, expected = (part.strip() for part in value.partition(","))
    if not sep or not header or not expected:
        raise ImproperlyConfigured(f"{name} must look like 'HTTP_X_FORWARDED_PROTO,https'")
    return header, expected


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


# The development mode of `make run` and the test suite, on plain HTTP at 127.0.0.1: it may run
# on a published key, and the HTTPS settings below default to off. Anything else is production.
DEV_MODE = envbool("DEV_MODE", "False")
DEBUG = envbool("DEBUG", "False")
# Published in this repository: it signs nothing that matters outside a developer's machine.
DEV_SECRET_KEY = "insecure-dev-key-change-me"
SECRET_KEY = envstr("SECRET_KEY", "")
if not SECRET_KEY and DEV_MODE:
    SECRET_KEY = DEV_SECRET_KEY
elif not SECRET_KEY or (SECRET_KEY in (DEV_SECRET_KEY, "change-me") and not DEV_MODE):
    # A known key would let anyone forge sessions and recompute client keys from addresses.
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random value outside DEV_MODE, e.g. "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'. "
        "DEV_MODE=true (make run, the tests) runs on a published development key."
    )
# The host names the site answers to (comma-separated; "*" for any, ".example.org" for it and
# its subdomains). Django answers 400 to a request naming any other, so no link, redirect or
# kept page is built from a name a client made up. Production's default is the machine itself
# (a health check on loopback): a deployment that has not named its host refuses its visitors
# rather than trusting every name. The development mode answers to any (make run, the tests).
ALLOWED_HOSTS = [
    h
    for h in envstr("ALLOWED_HOSTS", "*" if DEV_MODE else "localhost,127.0.0.1,[::1]").split(",")
    if h
]
CSRF_TRUSTED_ORIGINS = [o for o in envstr("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
SITE_NAME = envstr("SITE_NAME", "Outage Radar")

# HTTPS: on by default outside DEV_MODE, each switch its own variable (a trial on plain HTTP
# turns off the redirect and the secure cookies). Behind a proxy that terminates TLS, set
# SECURE_PROXY_SSL_HEADER to the header it sets, and only if it always sets it itself (nginx in
# docker/ overwrites X-Forwarded-Proto): a client could otherwise claim HTTPS.
_PRODUCTION = "False" if DEV_MODE else "True"
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", _PRODUCTION)
# Load balancers probe over plain HTTP and count a redirect as a failure.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/ready)?$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEV_MODE else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _PRODUCTION)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", _PRODUCTION)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", _PRODUCTION)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", _PRODUCTION)
SECURE_PROXY_SSL_HEADER = envpair("SECURE_PROXY_SSL_HEADER", "")

# Content-Security-Policy on every response (django-csp): scripts, styles and everything else
# from this site only, no inline script or style, no framing. The API viewers relax it for
# themselves only (web/api/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The admin: at ADMIN_PATH (a path of one's own keeps it out of the scanners' way), and a
# pause for an address after ADMIN_LOGIN_FAILURE_LIMIT wrong passwords (django-axes, counted
# in the database so that every web process sees them, per address as common.http.client_ip
# finds it).
ADMIN_PATH = envstr("ADMIN_PATH", "admin").strip("/") + "/"
if ADMIN_PATH == "/":
    raise ImproperlyConfigured("ADMIN_PATH must not be empty")
AXES_FAILURE_LIMIT = envint("ADMIN_LOGIN_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = timedelta(minutes=envint("ADMIN_LOGIN_COOLOFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "common.http.client_ip"
AXES_RESET_ON_SUCCESS = True
# Failures and lockouts are still logged; not its banner at every start of every command.
AXES_VERBOSE = False
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "outages",
    "reports",
    "demo",
    "web",
    "analytics",
    "alerts",
]

MIDDLEWARE = [
    "reports.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before (so after, on the way out) everything that writes a body; never a response with
    # a secret on it (BREACH, see common/compression.py).
    "common.compression.PublicGZipMiddleware",
    "csp.middleware.CSPMiddleware",
    "common.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language from the URL's prefix; an unprefixed page sends a visitor whose choice or
    # browser asks for another language to that language's URL (web/languages.py).
    "web.languages.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "web.context_processors.site",
                "web.context_processors.languages",
            ],
        },
    },
]

# SQLite is the embedded default so that `make run` needs no server; PostgreSQL is what
# production and the test suite use (DATABASE_URL=postgres://...).
DATABASE_URL = envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'outages.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600)}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions let the web server and the worker write without
    # "database is locked" errors.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # Parallel workers take 5-8 ms to start on a small host, more than a page's whole query
    # (a day of a service's regions: 1.5 ms of work, 9 ms with two workers). Only plans
    # estimated far above that, like a catch-up scan of millions of rows, are worth them.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c parallel_setup_cost={envint('DATABASE_PARALLEL_SETUP_COST', '50000')}"
    )
    # A server that does not answer (a host gone, a network partition) fails a request in
    # seconds with a 503, instead of holding a web worker until gunicorn kills it.
    DATABASES["default"]["OPTIONS"]["connect_timeout"] = envint("DATABASE_CONNECT_TIMEOUT", "5")
    # Django's cursors quote values into the SQL text and never prepare; the single report's
    # statement (reports.services._accept_in_one_statement) binds them on the server and asks
    # psycopg for a prepared statement, which needs a threshold set on the connection
    # (Django's default None turns preparing off). Behind a pooler that cannot keep prepared
    # statements across transactions (PgBouncer in transaction mode before 1.21), set it to
    # false.
    if envbool("DATABASE_PREPARED_STATEMENTS", "true"):
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "common.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": envstr("CACHE_KEY_PREFIX", "or"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    # Abuse-control state only holds within one process here; set REDIS_URL to share
    # it across web workers.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis when configured, otherwise kombu's filesystem transport (no server needed).
if REDIS_URL:
    CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
else:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "data_folder_processed": str(_broker_dir / "processed"),
        # Broadcast (pidbox) files; kombu's default is ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "50")
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "60")
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "False")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
DEMO_TRICKLE = envbool("DEMO_TRICKLE", "False")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # A burst is judged on whole minutes: a pass 2 s after each minute closes (and one at
    # half past, for a rollup that ran late) instead of whenever beat happened to start.
    "detect": {"task": "analytics.tasks.detect_task", "schedule": on_the_clock(30, offset=2)},
    "baseline": {"task": "analytics.tasks.baseline_task", "schedule": 3600.0},
    "retention": {"task": "analytics.tasks.retention_task", "schedule": 3600.0},
    # Rate-limit counters, dedupe claims and cap counters whose window has passed: on an
    # outage day hundreds of thousands an hour, so the table is swept every minute.
    "claims": {"task": "reports.tasks.claims_expire_task", "schedule": 60.0},
    # Announcements whose hand-over to the broker failed (it was down) go out once it is back.
    # A sweep that waited longer than the interval is dropped: the next one does its work.
    "outbox": {
        "task": "outages.tasks.outbox_sweep_task",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # Official status pages due for a poll, each polled by a task of the "status" queue.
    "status-pages": {
        "task": "outages.tasks.status_pages_due_task",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
}
# Polling other sites waits on them: a queue of its own, so a slow status page never holds
# up detection or webhooks.
CELERY_TASK_ROUTES = {
    "outages.tasks.status_pages_due_task": {"queue": "status"},
    "outages.tasks.status_page_poll_task": {"queue": "status"},
}
if DEMO_TRICKLE:
    CELERY_BEAT_SCHEDULE["demo-trickle"] = {
        "task": "demo.tasks.simulate_trickle",
        "schedule": 30.0,
        "options": {"expires": 25},
    }
# A live burst for demos, e.g. "tiktok:BR:30:45" (service, country, factor, minutes).
DEMO_TRICKLE_BURST = envstr("DEMO_TRICKLE_BURST", "")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# The site's languages (web/languages.py): English at unprefixed URLs, the others under their
# prefix (/es/, /pt-br/, ...). Catalogues in locale/, compiled by `make` (gettext's msgfmt).
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("pt-br", "Português (Brasil)"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("ja", "日本語"),
    ("hi", "हिन्दी"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our changes to Django's number and date formats for a language (config/formats/<lang>/).
FORMAT_MODULE_PATH = ["config.formats"]
# The switcher's choice (a preference, not a secret: readable by the page's script is fine).
LANGUAGE_COOKIE_NAME = "or_lang"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# 12,345 / 12.345 / 12 345 as each language writes it (templates; numbers in attributes are
# written with `unlocalize` or built in Python).
USE_THOUSAND_SEPARATOR = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic minifies the site's own scripts and stylesheets with esbuild (npm, `make
# node_modules/.installed`) before hashing them (common/staticfiles.py); DEBUG serves the
# sources as they are. STATIC_MINIFY=false collects them unminified, on a machine without Node.
STATIC_MINIFY = envbool("STATIC_MINIFY", "True")
ESBUILD = envstr("ESBUILD", str(BASE_DIR / "node_modules" / ".bin" / "esbuild"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "common.staticfiles.MinifiedManifestStaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "common.api.AutoSchema",
}

# Read API throttling (Django cache = Redis, so limits hold across web workers). Rates are
# "N/second|minute|hour|day". Anonymous clients are limited per IP, token holders per token.
# Report intake is not affected: it has its own per-IP limit (RATE_LIMIT_REPORTS).
API_THROTTLE_ANON = envstr("API_THROTTLE_ANON", "120/minute")
API_THROTTLE_TOKEN = envstr("API_THROTTLE_TOKEN", "1200/minute")
# How long clients and proxies may reuse a read without revalidating (seconds). 0 (default):
# always revalidate with the ETag; a CDN in front may prefer ~30 (the rollup moves each minute).
API_CACHE_MAX_AGE = envint("API_CACHE_MAX_AGE", "0")

SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": (
        "Crowdsourced outage reports: services and their level, report trends against the "
        "expected count, regional heatmaps, problems, incidents and webhooks. Timestamps are "
        "ISO 8601 UTC. Errors share one shape: {error, message, fields}. No text may hold "
        "NUL or a lone surrogate; an empty query parameter is an error, not its default."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.api.schema_postprocess",
    ],
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "outages.models.Level",
        "DeliveryStatusEnum": "outages.models.DeliveryStatus",
        "OutageStatusEnum": ["open", "resolved"],
        # A heatmap's regions and its recoveries: one name for the one choice.
        "RegionLevelEnum": ["country", "subdivision"],
    },
    # Swagger UI and Redoc from drf-spectacular-sidecar's bundled files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Webhooks: notifications of incidents opening, changing level and resolving.
WEBHOOK_TIMEOUT = envint("WEBHOOK_TIMEOUT", "10")  # seconds per attempt
WEBHOOK_MAX_RETRIES = envint("WEBHOOK_MAX_RETRIES", "8")  # after the first attempt
WEBHOOK_RETRY_BACKOFF_MAX = envint("WEBHOOK_RETRY_BACKOFF_MAX", "3600")  # seconds
# Off in production: a subscriber's URL must not reach the server's own network (SSRF).
WEBHOOK_ALLOW_PRIVATE_TARGETS = envbool("WEBHOOK_ALLOW_PRIVATE_TARGETS", "False")
WEBHOOK_MAX_SUBSCRIPTIONS = envint("WEBHOOK_MAX_SUBSCRIPTIONS", "20")  # per token holder
# Official status pages (outages.statuspages): how often each is polled, how long an answer
# may take (per read and in all: a slow drip is cut off), how large it may be, the backoff
# after failures, and the least time between two polls of one host (several services' pages
# on one provider's host).
STATUS_PAGE_INTERVAL = envint("STATUS_PAGE_INTERVAL", "60")  # seconds
STATUS_PAGE_TIMEOUT = envint("STATUS_PAGE_TIMEOUT", "10")  # seconds per read
STATUS_PAGE_DEADLINE = envint("STATUS_PAGE_DEADLINE", "20")  # seconds for a whole answer
STATUS_PAGE_MAX_BYTES = envint("STATUS_PAGE_MAX_BYTES", str(2 * 1024 * 1024))
STATUS_PAGE_BACKOFF_MAX = envint("STATUS_PAGE_BACKOFF_MAX", "3600")  # seconds
STATUS_PAGE_HOST_INTERVAL = envint("STATUS_PAGE_HOST_INTERVAL", "5")  # seconds
# Host names a status page may be fetched from although they resolve to private addresses
# (a page on the internal network). Redirects are followed to public addresses only.
STATUS_PAGE_PRIVATE_HOSTS = [
    h.strip().lower() for h in envstr("STATUS_PAGE_PRIVATE_HOSTS", "").split(",") if h.strip()
]
# Links in webhook payloads and feeds; empty means relative links.
SITE_URL = envstr("SITE_URL", "").rstrip("/")

# Alerts for people without an account (alerts/): e-mail through Django's SMTP backend, and
# browser push with VAPID. Links in alert mails need SITE_URL (e.g. https://outages.example).
EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "False")
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", "False")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "10")  # seconds per connection and command
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", f"{SITE_NAME} <alerts@localhost>")
# A confirmation link is good for this long (seconds); nothing is stored until it is used.
ALERT_CONFIRM_MAX_AGE = envint("ALERT_CONFIRM_MAX_AGE", str(2 * 24 * 3600))
# Sign-ups: confirmation mails per address per day, and sign-ups per client address per hour.
ALERT_SIGNUPS_PER_EMAIL = envint("ALERT_SIGNUPS_PER_EMAIL", "3")
ALERT_SIGNUPS_PER_IP = envint("ALERT_SIGNUPS_PER_IP", "10")
ALERT_MAX_RETRIES = envint("ALERT_MAX_RETRIES", "6")  # after the first attempt
# Browser push: the application server's VAPID key (base64url of the raw P-256 private key,
# or a PEM; `manage.py vapid_key` makes one). Empty: the push option is not offered.
VAPID_PRIVATE_KEY = envstr("VAPID_PRIVATE_KEY", "")
VAPID_SUBJECT = envstr("VAPID_SUBJECT", "mailto:alerts@localhost")
PUSH_TIMEOUT = envint("PUSH_TIMEOUT", "10")  # seconds per push request

# Report intake and abuse controls.
REPORT_DEDUPE_WINDOW = envint("REPORT_DEDUPE_WINDOW", "900")  # seconds
# Counted reports per address (an IPv4 address, an IPv6 /64) per service per dedupe window,
# however many browsers it holds: past it reports are stored but not counted. A household is
# a few people; a mobile carrier's shared (CGNAT) address holds many subscribers, but the
# carrier spreads them over thousands of addresses, so an outage they live through arrives
# from many addresses a few reports each. Ten every 15 minutes leaves both counted while one
# address adds at most 10 counts per service, not the ~450 that fresh cookies used to buy.
# 0 turns the cap off.
REPORT_ADDRESS_LIMIT = envint("REPORT_ADDRESS_LIMIT", "10")
RATE_LIMIT_REPORTS = envint("RATE_LIMIT_REPORTS", "30")  # requests per address per window
RATE_LIMIT_WINDOW = envint("RATE_LIMIT_WINDOW", "60")  # seconds
REPORT_MAX_BODY = envint("REPORT_MAX_BODY", "8192")  # bytes, single report and form
BATCH_MAX_BODY = envint("BATCH_MAX_BODY", str(8 * 1024 * 1024))  # bytes
BATCH_MAX_REPORTS = envint("BATCH_MAX_REPORTS", "10000")
# Number of reverse proxies in front of the app whose X-Forwarded-For we trust: only where the
# app is reachable through them alone, or clients write their own address (docker/compose.yaml
# publishes nginx, never web).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "0")
CLIENT_KEY_SALT = envstr("CLIENT_KEY_SALT", SECRET_KEY)
DATA_UPLOAD_MAX_MEMORY_SIZE = BATCH_MAX_BODY

# Analytics.
ROLLUP_LATENESS = envint("ROLLUP_LATENESS", "300")  # seconds a report may commit late
RAW_REPORT_RETENTION_DAYS = envint("RAW_REPORT_RETENTION_DAYS", "90")
# A (service, country) gets a baseline and detection of its own above this many reports a week.
COUNTRY_SERIES_MIN_REPORTS = envint("COUNTRY_SERIES_MIN_REPORTS", "200")
# Pages and the API say "data delayed" instead of a level, and /healthz/ready fails, when the
# last detection pass is older than this (seconds): passes run every 30 s.
DETECTION_MAX_AGE = envint("DETECTION_MAX_AGE", "120")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}
