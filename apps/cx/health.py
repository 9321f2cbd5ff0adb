"""`/health/` for load balancers and monitors: database, broker, cache and the API token, each with a short timeout.

Answered without a login and polled as often as once a second per poller, so each check is one cheap
round trip: ``SELECT 1``, a broker ``PING`` (1 s timeouts), a cache read, and for the token a look into the
token cache. A token is fetched from here only when none is cached, by one process at a time and at most
once per ``TOKEN_CHECK_SECONDS`` (the verdict is kept in the cache for that long): a poller never makes the
console ask the vendor for a token every second. What it answers names the parts and whether they work,
never a host, a URL or an exception's text (those may hold credentials).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .auth import Credentials, TokenProvider
from .exceptions import CxAuthError, CxConfigurationError, CxError

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = 1.0
# How often, at most, a missing token makes /health/ ask the token endpoint (once for every process).
TOKEN_CHECK_SECONDS = 60
# The token endpoint's timeouts when /health/ asks it: a poller must not hang for the client's 15 s.
TOKEN_TIMEOUT = (1.0, 2.0)
TOKEN_VERDICT_KEY = "cx:health:token-verdict"


@dataclass(frozen=True)
class Part:
    name: str
    ok: bool | None  # None: not checked (what it needs is down already)
    detail: str = ""


def check_database() -> Part:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - whatever it is, the database does not answer
        logger.warning("Health: the database does not answer (%s)", type(exc).__name__)
        return Part("database", False, "does not answer")
    return Part("database", True)


_redis_clients: dict[str, object] = {}
_redis_lock = threading.Lock()


def _redis(url: str):  # noqa: ANN202 - redis.Redis, imported lazily
    """One client (and connection pool) per broker URL and process, with 1 s timeouts and no retry."""
    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=BROKER_TIMEOUT,
                socket_timeout=BROKER_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
            )
            _redis_clients[url] = client
        return client


def check_broker() -> Part:
    url = settings.CELERY_BROKER_URL
    scheme = urlparse(url).scheme
    try:
        if scheme in ("redis", "rediss"):
            _redis(url).ping()  # type: ignore[attr-defined]
        elif scheme == "filesystem":
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
            if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
                return Part("broker", False, "its folder is missing or not writable")
        else:
            from celery import current_app

            with current_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        logger.warning("Health: the broker does not answer (%s)", type(exc).__name__)
        return Part("broker", False, "does not answer")
    return Part("broker", True)


def check_cache() -> Part:
    try:
        caches["default"].get("cx:health:probe")
    except Exception as exc:  # noqa: BLE001
        logger.warning("Health: the cache does not answer (%s)", type(exc).__name__)
        return Part("cache", False, "does not answer")
    return Part("cache", True)


def check_token() -> Part:
    """A cached, unexpired token is enough. Without one, one process asks the token endpoint, at most once
    per TOKEN_CHECK_SECONDS; the others (and later polls) read its verdict."""
    try:
        credentials = Credentials.from_settings()
    except CxConfigurationError:
        return Part("token", False, "no client credentials configured")
    cache = caches["default"]
    try:
        provider = _token_provider(credentials)
        if provider.cached_token():
            return Part("token", True)
        verdict = cache.get(TOKEN_VERDICT_KEY)
        if verdict is not None:
            return Part("token", verdict == "ok", "" if verdict == "ok" else verdict)
        if not cache.add(TOKEN_VERDICT_KEY + ":lock", 1, timeout=TOKEN_CHECK_SECONDS):
            return Part("token", True, "being checked")
        try:
            provider.get()
            verdict = "ok"
        except CxAuthError:
            verdict = "the token endpoint refused the client credentials"
        except CxError:
            verdict = "the token endpoint cannot be reached"
        cache.set(TOKEN_VERDICT_KEY, verdict, timeout=TOKEN_CHECK_SECONDS)
    except Exception as exc:  # noqa: BLE001 - the cache broke meanwhile: that part says so already
        logger.warning("Health: the token could not be checked (%s)", type(exc).__name__)
        return Part("token", False, "could not be checked")
    return Part("token", verdict == "ok", "" if verdict == "ok" else verdict)


def _token_provider(credentials: Credentials) -> TokenProvider:
    """The token cache every process shares; a fetch from here is an API call row like any other."""
    from .client import Actor, CxClient
    from .services import tenant_resolve

    client = CxClient(tenant_resolve(), actor=Actor.system("health"))
    return TokenProvider(credentials, session=client.session, record=client._record_token_call, timeout=TOKEN_TIMEOUT)  # noqa: SLF001


def health_parts() -> list[Part]:
    parts = [check_database(), check_broker(), check_cache()]
    if parts[0].ok and parts[2].ok:
        parts.append(check_token())
    else:
        # The token lives in the cache and its fetch is logged in the database: nothing to learn now.
        parts.append(Part("token", None, "not checked: the database or the cache does not answer"))
    return parts


@never_cache
@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    """200 when every part works, else 503; the JSON names each part and what failed."""
    started = time.monotonic()
    parts = health_parts()
    failed = [p.name for p in parts if p.ok is False]
    body = {
        "status": "ok" if not failed else "failing",
        "failed": failed,
        "parts": {p.name: {"ok": p.ok, **({"detail": p.detail} if p.detail else {})} for p in parts},
        "took_ms": int((time.monotonic() - started) * 1000),
    }
    return JsonResponse(body, status=200 if not failed else 503)
