"""CX Console settings: one module, every deployment difference comes from the environment."""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the embedded default writes (SQLite, broker folders, cache) lives here, git-ignored.
VAR_DIR = Path(environ.Env().str("CX_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
# A developer's .env is read when present; the process environment always wins over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The embedded default (nothing configured) is the demo: no database or broker URL set.
DEMO_MODE = env.bool("CX_DEMO_MODE", default="DATABASE_URL" not in env)
_INSECURE_DEV_KEY = "django-insecure-cx-console-demo-key-only-for-the-embedded-default"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_INSECURE_DEV_KEY if (DEBUG or DEMO_MODE) else "")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DATABASE_URL is set (production form).")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# A bulk action posts one field per selected row: Django's 1,000 refused a selection of 1,000 rows with a 400.
# The webhook endpoints parse no form, so this reaches logged-in admin pages only.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20_000

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "simple_history",
    "apps.cx",
    "apps.inboxes",
    "apps.bots",
    "apps.contacts",
    "apps.conversations",
    "apps.callbacks",
    "apps.webhooks",
    "apps.hooks",
    "apps.dashboard",  # the admin home: reads the other apps, none imports it
    "apps.console",  # the top: the CLI, runconsole and the demo; imports the others, none imports it
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Inbound events (/hooks/…) are answered here, before the browser middleware below (apps/hooks/middleware.py).
    "apps.hooks.middleware.InboundEventsMiddleware",
    # Serves the admin's static files from gunicorn too, so the demo needs no separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who reads the page, so what customers wrote is shown masked unless they may see it (apps/cx/masking.py).
    "apps.cx.middleware.ViewerMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "cxconsole.urls"
WSGI_APPLICATION = "cxconsole.wsgi.application"

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

# ------------------------------------------------------------------------------
# Database and cache
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL and a busy timeout let the web server, the worker and beat share one SQLite file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    # A connection per request costs more than the request (≈6 ms to PostgreSQL here): keep them open.
    # A connection that broke is closed at the end of the request that saw the error; checking each one
    # before use (DB_CONN_HEALTH_CHECKS) costs a round trip per request.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The API token cache must be shared by every process (web, worker, beat): the database cache by
# default, Redis in production form. Never a per-process memory cache.
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://cx_cache")}

# ------------------------------------------------------------------------------
# Auth, i18n, static
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
LOGIN_URL = "admin:login"

# ------------------------------------------------------------------------------
# Celery
# ------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport, which needs no server; production: Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # How often the worker looks for a new task (kombu's default is 1 s). A customer waits for the bot
        # through one such look, and a look is one directory listing: 20 a second cost nothing.
        "polling_interval": env.float("CELERY_POLLING_INTERVAL", default=0.05),
    }
    # kombu expects the folders to exist; the embedded default makes them on first start.
    for _folder in ("queue", "control", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
else:
    # Tasks are short; a visibility timeout longer than any of them avoids double execution on Redis.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# Progress lives in our own rows; nothing reads Celery's result backend.
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup would close the database connections around every task (a new PostgreSQL session
# per task) unless this is set; cxconsole/celery.py closes them as Django does after a request instead.
CELERY_DB_REUSE_MAX = 2**31
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# A customer's message to the bot goes to this queue, which a worker of its own takes (runconsole.py):
# the answer never waits behind other events.
CX_BOT_QUEUE = env.str("CX_BOT_QUEUE", default="bot")
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True

# ------------------------------------------------------------------------------
# The CX API
# ------------------------------------------------------------------------------
CX_SANDBOX_PORT = env.int("CX_SANDBOX_PORT", default=8001)
_sandbox_url = f"http://127.0.0.1:{CX_SANDBOX_PORT}"
CX_API_BASE_URL = env.str("CX_API_BASE_URL", default=f"{_sandbox_url}/cx/api/v1/")
CX_TOKEN_URL = env.str("CX_TOKEN_URL", default=f"{_sandbox_url}/oauth/token")
CX_CLIENT_ID = env.str("CX_CLIENT_ID", default="demo-client" if DEMO_MODE else "")
CX_CLIENT_SECRET = env.str("CX_CLIENT_SECRET", default="demo-secret" if DEMO_MODE else "")
CX_TENANT_DOMAIN = env.str("CX_TENANT_DOMAIN", default="demo.cx.sangoma.com")
CX_SCOPES = env.list("CX_SCOPES", default=["cx.queue-calls", "cx.agent-calls", "cx.digital-interactions"])
# Seconds before a token's expiry at which it is treated as expired and fetched anew.
CX_TOKEN_EXPIRY_MARGIN = env.int("CX_TOKEN_EXPIRY_MARGIN", default=300)
CX_CONNECT_TIMEOUT = env.float("CX_CONNECT_TIMEOUT", default=3.05)
CX_READ_TIMEOUT = env.float("CX_READ_TIMEOUT", default=15.0)
# Attempts for a request that is safe to repeat (GETs, and POSTs that surely did not reach the API).
CX_MAX_ATTEMPTS = env.int("CX_MAX_ATTEMPTS", default=4)
CX_BACKOFF_BASE = env.float("CX_BACKOFF_BASE", default=0.5)
CX_BACKOFF_MAX = env.float("CX_BACKOFF_MAX", default=30.0)
# The vendor has renamed endpoints before: each path can be overridden, e.g.
# CX_API_PATHS=create_agent_bot=digital-interactions/agent-bot/,assign_agent_bot=...
CX_API_PATHS = env.dict("CX_API_PATHS", default={})
# Older names tried once when the current path answers 404 (see apps/cx/paths.py).
CX_API_FALLBACK_PATHS = env.dict("CX_API_FALLBACK_PATHS", default={})
# Response bodies kept on an API call row are capped at this many characters.
CX_API_LOG_BODY_CAP = env.int("CX_API_LOG_BODY_CAP", default=10_000)

# Inbound events (/hooks/…): size cap, signature freshness, how the mapper is woken and how it retries.
CX_HOOK_MAX_BODY_BYTES = env.int("CX_HOOK_MAX_BODY_BYTES", default=256 * 1024)
CX_HOOK_MAX_CLOCK_SKEW = env.int("CX_HOOK_MAX_CLOCK_SKEW", default=300)
CX_HOOK_ENDPOINT_CACHE_SECONDS = env.float("CX_HOOK_ENDPOINT_CACHE_SECONDS", default=5.0)
# Events nobody waits on (all but a customer's message to a bot) wake the batch mapper at most once per
# this many seconds per web process: a task sent per event cost more than storing it (bench/ingest.py).
CX_HOOK_WAKE_INTERVAL = env.float("CX_HOOK_WAKE_INTERVAL", default=0.05)
# A refused delivery at a known endpoint is kept (admin: Refused deliveries), its body cut at this many
# bytes; the newest CX_HOOK_REFUSED_KEEP of them are kept.
CX_HOOK_REFUSED_BODY_BYTES = env.int("CX_HOOK_REFUSED_BODY_BYTES", default=64 * 1024)
CX_HOOK_REFUSED_KEEP = env.int("CX_HOOK_REFUSED_KEEP", default=10_000)
CX_HOOK_BATCH_SIZE = env.int("CX_HOOK_BATCH_SIZE", default=200)
CX_HOOK_MAX_ATTEMPTS = env.int("CX_HOOK_MAX_ATTEMPTS", default=8)
CX_HOOK_RETRY_BASE = env.float("CX_HOOK_RETRY_BASE", default=30.0)

# Queue callbacks. A queue's own limits (admin: Queue limits) start from these defaults.
CX_CALLBACK_CALLS_PER_MINUTE = env.int("CX_CALLBACK_CALLS_PER_MINUTE", default=30)
CX_CALLBACK_MAX_IN_FLIGHT = env.int("CX_CALLBACK_MAX_IN_FLIGHT", default=5)
# POSTs per callback before a 429/5xx/unreachable API makes it failed; backoff doubles from the base.
CX_CALLBACK_MAX_ATTEMPTS = env.int("CX_CALLBACK_MAX_ATTEMPTS", default=5)
CX_CALLBACK_RETRY_BASE = env.float("CX_CALLBACK_RETRY_BASE", default=30.0)
CX_CALLBACK_RETRY_MAX = env.float("CX_CALLBACK_RETRY_MAX", default=900.0)
# A claim whose POST never started after this long is due again; a POST started and not finished after
# CALL_TIMEOUT (longer than the client's connect + read timeouts) becomes unknown.
CX_CALLBACK_CLAIM_TIMEOUT = env.int("CX_CALLBACK_CLAIM_TIMEOUT", default=120)
CX_CALLBACK_CALL_TIMEOUT = env.int("CX_CALLBACK_CALL_TIMEOUT", default=120)
# Uploaded callback files (CSV or XLSX) larger than this are refused by the upload form.
CX_CALLBACK_UPLOAD_MAX_BYTES = env.int("CX_CALLBACK_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
# Rows one callback file (upload or cx import-callbacks) may have.
CX_CALLBACK_IMPORT_MAX_ROWS = env.int("CX_CALLBACK_IMPORT_MAX_ROWS", default=50_000)
# How often the dashboard (the admin home) asks for fresh figures, in seconds (at least 5).
CX_DASHBOARD_REFRESH_SECONDS = env.int("CX_DASHBOARD_REFRESH_SECONDS", default=20)
# The address the vendor reaches this console at: webhook and agent-bot callback URLs start here.
CONSOLE_PUBLIC_URL = env.str("CONSOLE_PUBLIC_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}")

# ------------------------------------------------------------------------------
# Logging
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # urllib3 logs full URLs and headers at DEBUG; keep it quiet so nothing secret leaks.
        "urllib3": {"level": "WARNING"},
    },
}
