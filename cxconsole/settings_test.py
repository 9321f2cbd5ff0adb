"""Unit-test settings: the embedded defaults, with tasks run eagerly and fast password hashing.

Integration tests do not use this module: they run cxconsole.settings against PostgreSQL, Redis and a
real Celery worker (see tests/integration/conftest.py).
"""

from .settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = True
# Retries back off for real in the client; tests that check the waits set their own base.
CX_BACKOFF_BASE = 0.001
# The live server serves static files straight from the apps; no collectstatic before tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests point the client at their own stand-in; nothing must fall through to a real host.
CX_API_BASE_URL = "http://127.0.0.1:9/cx/api/v1/"
CX_TOKEN_URL = "http://127.0.0.1:9/oauth/token"
CX_CLIENT_ID = "test-client"
CX_CLIENT_SECRET = "test-secret"
CX_TENANT_DOMAIN = "test.cx.sangoma.com"
CONSOLE_PUBLIC_URL = "http://console.test"
# Secrets of the inbound endpoints are looked up every time, and every event wakes the mapper.
CX_HOOK_ENDPOINT_CACHE_SECONDS = 0.0
CX_HOOK_WAKE_INTERVAL = 0.0
