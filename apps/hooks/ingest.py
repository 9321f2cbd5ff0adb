"""The request path of the inbound endpoints: find the endpoint, check the delivery, store it, wake the mapper.

Kept to one indexed lookup (cached per process for a few seconds) and one INSERT, so the endpoint stays
fast under a flood; all other work is done by ``apps.hooks.processing`` in a Celery task.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from apps.bots.models import AgentBot
from apps.cx.hooks import hash_hook_secret
from apps.cx.models import Tenant
from apps.cx.redaction import REDACTED, redact_headers
from apps.cx.sealing import unseal
from apps.webhooks.models import WebhookSubscription

from .models import EventSource, RejectedDeliveries, SignatureCheck
from .threads import ProcessThread
from .writer import group_writer, insert_rows

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_X_CHATWOOT_SIGNATURE"
TIMESTAMP_HEADER = "HTTP_X_CHATWOOT_TIMESTAMP"
DELIVERY_HEADER = "HTTP_X_CHATWOOT_DELIVERY"
# Never kept: they carry credentials of whoever sent the request.
_DROPPED_HEADERS = {"HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION"}
_SOURCES = frozenset(EventSource.values)


@dataclass(frozen=True)
class Endpoint:
    """What a secret in the path addresses."""

    source: str
    tenant_id: int
    subscription_id: int | None = None
    bot_id: int | None = None
    # The platform's signing secret, in clear, in this process's memory only.
    signing_secret: str | None = None


class _EndpointCache:
    """Secret hash → endpoint (or None), per process, for a few seconds: a flood costs no lookups.

    A rotated or removed secret stops working everywhere within ``CX_HOOK_ENDPOINT_CACHE_SECONDS``
    (at once in the process that rotated it).
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, Endpoint | None]] = {}
        self._lock = threading.Lock()

    def get(self, source: str, secret_hash: str) -> tuple[bool, Endpoint | None]:
        entry = self._entries.get((source, secret_hash))
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, source: str, secret_hash: str, endpoint: Endpoint | None) -> None:
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[(source, secret_hash)] = (
                time.monotonic() + settings.CX_HOOK_ENDPOINT_CACHE_SECONDS,
                endpoint,
            )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


endpoint_cache = _EndpointCache()


def resolve_endpoint(source: str, secret: str) -> Endpoint | None:
    if source not in _SOURCES or not secret or len(secret) > 200:
        return None
    secret_hash = hash_hook_secret(secret)
    known, endpoint = endpoint_cache.get(source, secret_hash)
    if not known:
        endpoint = _lookup(source, secret_hash)
        endpoint_cache.put(source, secret_hash, endpoint)
    return endpoint


def _lookup(source: str, secret_hash: str) -> Endpoint | None:
    model = WebhookSubscription if source == EventSource.WEBHOOK else AgentBot
    row = (
        model._default_manager.filter(hook_secret_hash=secret_hash, tenant__is_active=True)
        .values_list("pk", "tenant_id", "tenant__event_signing_secret")
        .first()
    )
    if row is None:
        return None
    pk, tenant_id, sealed = row
    signing_secret = unseal(sealed, Tenant.SIGNING_PURPOSE)
    if source == EventSource.WEBHOOK:
        return Endpoint(source, tenant_id, subscription_id=pk, signing_secret=signing_secret)
    return Endpoint(source, tenant_id, bot_id=pk, signing_secret=signing_secret)


class DeliveryRefused(Exception):
    def __init__(self, reason: str, status: int, message: str) -> None:
        super().__init__(message)
        self.reason, self.status, self.message = reason, status, message


def verify_signature(endpoint: Endpoint, meta: dict[str, Any], body: bytes) -> str:
    """Checks the platform's signature when the tenant has a signing secret; says which check applied."""
    if not endpoint.signing_secret:
        return SignatureCheck.UNSIGNED
    signature = str(meta.get(SIGNATURE_HEADER) or "")
    timestamp = str(meta.get(TIMESTAMP_HEADER) or "")
    if not signature or not timestamp:
        raise DeliveryRefused("bad_signature", 401, "Missing X-Chatwoot-Signature or X-Chatwoot-Timestamp.")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise DeliveryRefused("bad_signature", 401, "X-Chatwoot-Timestamp is not unix seconds.") from None
    if abs(time.time() - sent_at) > settings.CX_HOOK_MAX_CLOCK_SKEW:
        raise DeliveryRefused("stale_timestamp", 401, "X-Chatwoot-Timestamp is too old (or in the future).")
    expected = hmac.new(endpoint.signing_secret.encode(), f"{sent_at}.".encode() + body, hashlib.sha256).hexdigest()
    given = signature.removeprefix("sha256=")
    if not hmac.compare_digest(expected, given):
        raise DeliveryRefused("bad_signature", 401, "The signature does not match the body.")
    return SignatureCheck.VERIFIED


def parse_body(body: bytes) -> dict[str, Any]:
    """The object the body holds; anything but a UTF-8 JSON object is refused."""
    try:
        text = body.decode("utf-8")
        data = json.loads(text)
    except UnicodeDecodeError:
        raise DeliveryRefused("not_json", 400, "The body is not UTF-8 text.") from None
    except ValueError:
        raise DeliveryRefused("not_json", 400, "The body is not JSON.") from None
    if not isinstance(data, dict):
        raise DeliveryRefused("not_json", 400, "The body is JSON but not an object.")
    if "\x00" in text:  # PostgreSQL text cannot hold NUL; refusing beats failing to store
        raise DeliveryRefused("not_json", 400, "The body contains a NUL character.")
    return data


class _HeaderNames(dict[str, tuple[str, bool] | None]):
    """WSGI key → (header name, redacted?), or None when not kept: worked out once per key, per process."""

    MAX_ENTRIES = 1000

    def __missing__(self, key: str) -> tuple[str, bool] | None:
        if key.startswith("HTTP_") and key not in _DROPPED_HEADERS:
            name = key[5:].replace("_", "-").title()
        elif key == "CONTENT_TYPE":
            name = "Content-Type"
        else:
            name = None
        # The signature, and anything named like a secret, is kept as "[redacted]".
        entry = None if name is None else (name, redact_headers({name: "kept"})[name] != "kept")
        if len(self) >= self.MAX_ENTRIES:
            self.clear()
        self[key] = entry
        return entry


_header_names = _HeaderNames()


def kept_headers(meta: dict[str, Any]) -> dict[str, str]:
    headers = {}
    for key, value in meta.items():
        entry = _header_names[key]
        if entry is None:
            continue
        name, redacted = entry
        if name == "Content-Type":
            if value:
                headers[name] = REDACTED if redacted else str(value)[:200]
        else:
            headers[name] = REDACTED if redacted else str(value)[:500]
    return headers


def store_event(endpoint: Endpoint, *, body: bytes, data: dict[str, Any], meta: dict[str, Any], signature: str) -> None:
    """Writes the event durably before returning. A re-delivery (same delivery id) is not stored again.

    With CX_HOOK_GROUP_COMMIT, concurrent requests of this process share one INSERT and one commit
    (``apps.hooks.writer``); otherwise the row is inserted on the request's own connection.
    """
    row = (  # in the order of writer.COLUMNS
        endpoint.source,
        endpoint.tenant_id,
        endpoint.subscription_id,
        endpoint.bot_id,
        str(data.get("event") or "")[:64],
        str(meta.get(DELIVERY_HEADER) or "")[:100],
        body,
        kept_headers(meta),
        meta.get("REMOTE_ADDR") or None,
        signature,
        timezone.now(),
    )
    if settings.CX_HOOK_GROUP_COMMIT:
        group_writer.store(row)
    else:
        insert_rows([row])


def count_refusal(source: str, reason: str) -> None:
    """Bumps the day's counter for a refused delivery; the refused request itself is not kept."""
    source = source if source in EventSource.values else EventSource.WEBHOOK
    today = timezone.localdate()
    try:
        updated = RejectedDeliveries.objects.filter(day=today, source=source, reason=reason).update(
            count=F("count") + 1, last_at=timezone.now()
        )
        if not updated:
            RejectedDeliveries.objects.bulk_create(
                [RejectedDeliveries(day=today, source=source, reason=reason, count=1)], ignore_conflicts=True
            )
    except Exception:  # noqa: BLE001 - a counter must never turn a refusal into a 500
        logger.warning("Could not count a refused %s delivery (%s)", source, reason, exc_info=True)


class Waker:
    """Tells the mapper there is work, at most once per interval per process, from a background thread.

    The request never waits on the broker: it sets a flag. A thread sends one ``hooks.process_events``
    task per interval while the flag is set, so a flood of events costs a handful of tasks, and an event
    stored just after a task started still gets a task after it. If the broker is down the periodic
    sweep (django-celery-beat) picks the events up.
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._thread = ProcessThread(self._run, "cx-hooks-waker")

    def poke(self) -> None:
        mode = settings.CX_HOOK_WAKE
        if mode == "off":
            return
        if mode == "inline":  # tests with eager tasks: map right away
            from .tasks import process_events_task

            process_events_task.delay()
            return
        self._flag.set()
        self._thread.ensure()

    def _run(self) -> None:
        from .tasks import process_events_task

        while True:
            self._flag.wait()
            self._flag.clear()
            try:
                process_events_task.delay()
            except Exception:  # noqa: BLE001 - the sweep catches up; the thread must live on
                logger.warning("Could not queue hooks.process_events; the periodic sweep will", exc_info=True)
            time.sleep(settings.CX_HOOK_WAKE_INTERVAL)


waker = Waker()
