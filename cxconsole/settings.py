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
    # Each request runs under an id (X-Request-ID) that its log lines and the tasks it sends carry.
    "apps.cx.tracing.RequestIdMiddleware",
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

# ------------------------------------------------------------------------------
# HTTPS
# ------------------------------------------------------------------------------
# A deployment (DEBUG off, not the embedded demo on http://127.0.0.1) is reached over HTTPS: cookies only over
# TLS, HSTS, http redirected to https. No variable is needed to get this; DJANGO_HTTPS=false turns it off for
# a console served on plain http on purpose (the integration tests on 127.0.0.1, a closed network).
HTTPS = env.bool("DJANGO_HTTPS", default=not DEBUG and not DEMO_MODE)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# Browsers remember to use https for a year. includeSubDomains covers the console's own subdomains only;
# preload does nothing until someone submits the domain at hstspreload.org (DJANGO_HSTS_PRELOAD=false to drop it).
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
# A load balancer polls /health/ on plain http inside the network: answered, not redirected (the pattern is
# matched against the path without its leading slash).
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^healthz$"]
# Behind a proxy that terminates TLS, the request reaching gunicorn is http: the proxy says what the client
# used in a header, e.g. DJANGO_SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (value "https"). Set it only when
# the proxy always sets (or strips) that header: a client could send it itself otherwise.
_proxy_header = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="")
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.strip().upper().replace("-", "_"), "https")
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

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
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A database host that does not answer fails a request (and /health/) in seconds, not after the
        # operating system's TCP timeout of minutes. DATABASE_URL's own ?connect_timeout= wins.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5)
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The API token cache must be shared by every process (web, worker, beat): the database cache by
# default, Redis in production form. Never a per-process memory cache.
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://cx_cache")}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # A cache server that does not answer costs a request seconds at most (redis-py waits forever by default).
    _cache_timeout = env.float("CACHE_SOCKET_TIMEOUT", default=2.0)
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": _cache_timeout, "socket_timeout": _cache_timeout}
    )

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
# The console's own look (static/cx/console.css, loaded by templates/admin/base_site.html) and its icons.
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files browsers ask for at the site's root (/favicon.ico), served by WhiteNoise like the static files.
WHITENOISE_ROOT = BASE_DIR / "public"
# Dates as 2026-12-05 14:30 (24 h) in lists and pages: a third of "Dec. 5, 2026, 2:30 p.m." across a table
# row, unambiguous for a team in several countries, and sortable by eye.
FORMAT_MODULE_PATH = ["cxconsole.formats"]
LOGIN_URL = "admin:login"

# ------------------------------------------------------------------------------
# Celery
# ------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport, which needs no server; production: Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    # kombu's transport, with each message written whole before a worker can see it (see the module).
    CELERY_BROKER_TRANSPORT = "cxconsole.filesystem_broker:Transport"
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
    # On Redis a task taken and not acknowledged goes back to the queue after this many seconds. It must be longer
    # than the longest hard time limit (callbacks.confirm_upload's, 660 s; `manage.py check` says so otherwise),
    # or a task still running would be handed to a second worker. It is also how long a task held by a worker
    # host that vanished waits before another takes it: the claim timeouts of the callbacks and the sweep of
    # the events recover that work sooner.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# Progress lives in our own rows; nothing reads Celery's result backend.
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup would close the database connections around every task (a new PostgreSQL session
# per task) unless this is set; cxconsole/celery.py closes them as Django does after a request instead.
CELERY_DB_REUSE_MAX = 2**31
CELERY_RESULT_BACKEND = None
# Reliability (README: "Celery, set for reliability"). Each task says for itself whether it may be delivered
# again after a crash: acks_late=True only where running it twice does no harm (a claim row, a conditional
# UPDATE, an upsert); the default acknowledges a message as the worker takes it, so a task that is not
# idempotent is at most lost, never repeated.
CELERY_TASK_ACKS_LATE = False
# A worker process that dies mid-task (OOM killer, SIGKILL): by default its late-acked message is acknowledged
# as failed. Tasks where a second run completes the first one's work set reject_on_worker_lost=True themselves.
CELERY_TASK_REJECT_ON_WORKER_LOST = False
# A worker process takes one message at a time: a slow task does not hold others that an idle process could run,
# and a worker that dies holds at most one unacknowledged message per process.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Soft limit: SoftTimeLimitExceeded is raised in the task, which rolls its transaction back; hard limit: the
# process is killed and replaced. Every task is short (one API call, one event, one tick) or works through a
# backlog for at most CX_TASK_SLICE_SECONDS and leaves the rest to its next run; the upload confirm has its own.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CX_TASK_SLICE_SECONDS = env.float("CX_TASK_SLICE_SECONDS", default=120.0)
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
# this many seconds per web process, and are mapped once they are this old: such an event is mirrored
# within about twice this long. A wake-up per event cost more than mapping it, and the copies of the bot's
# replies (each comes back as two events) are settled with one read once the bot has written the answer
# they repeat (bench/bot_latency.py at 50 msg/s: p99 0.1-1 s at 0.25 s, 0.1-0.5 s at 0.5 s, 0.11-0.15 s at 1 s).
CX_HOOK_WAKE_INTERVAL = env.float("CX_HOOK_WAKE_INTERVAL", default=1.0)
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
# LOG_FORMAT=json writes one JSON object per line (time, level, logger, message, request_id, task_id): what a log
# collector reads without a parser. Web, workers and beat all log through this (cxconsole/celery.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "apps.cx.tracing.ContextFilter"},
        "one_line_refusals": {"()": "cxconsole.log_filters.OneLineRefusals"},
    },
    "formatters": {
        "plain": {"()": "apps.cx.tracing.PlainFormatter", "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "apps.cx.tracing.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # A 403 or 404 is an answer, not a fault: one line with the path and reason, no traceback.
        "django.request": {"filters": ["one_line_refusals"]},
        # urllib3 logs full URLs and headers at DEBUG; keep it quiet so nothing secret leaks.
        "urllib3": {"level": "WARNING"},
    },
}
