"""The request path of the inbound endpoints: find the endpoint, read and check the delivery, store it.

Public input is hostile: every check here answers a 4xx with a reason for what it cannot read, whatever the
bytes or headers, and a refused delivery never touches another one. One indexed lookup (cached per process
for a few seconds) and one INSERT; mapping and the bot's answer happen in a Celery task.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import F, Field
from django.http import HttpRequest
from django.utils import timezone

from apps.bots.models import AgentBot
from apps.conversations.models import MessageType
from apps.conversations.parsing import message_type_from
from apps.cx.hooks import hash_hook_secret
from apps.cx.models import Tenant
from apps.cx.redaction import REDACTED, redact_headers
from apps.cx.sealing import unseal
from apps.cx.text import clean_text
from apps.webhooks.models import WebhookSubscription

from .models import EventSource, InboundEvent, RefusalCount, RefusalReason, RefusedDelivery, SignatureCheck

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_X_CHATWOOT_SIGNATURE"
TIMESTAMP_HEADER = "HTTP_X_CHATWOOT_TIMESTAMP"
DELIVERY_HEADER = "HTTP_X_CHATWOOT_DELIVERY"
# Never kept: they carry credentials of whoever sent the request.
_DROPPED_HEADERS = {"HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION"}
_SOURCES = frozenset(EventSource.values)
# Unix seconds in ASCII digits (int() would also take "١٢", " 12", "1_2" and 400 digits).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# The platform's signature: sha256= and 64 hex digits (anything else, non-ASCII included, is not one).
_SIGNATURE = re.compile(r"(?:sha256=)?([0-9a-fA-F]{64})")
# A Chatwoot event is a few levels deep; far deeper nesting is refused before it reaches any code that
# walks it (the mapper, the admin's pretty-printer).
MAX_DEPTH = 64
_TOO_DEEP = f"The JSON is nested deeper than {MAX_DEPTH} levels."
# Bytes read and thrown away after a refused body, so the sender reads our 4xx instead of a reset
# connection; a sender that declares more than this gets the answer at once and the connection closed.
DRAIN_LIMIT = 16 * 1024 * 1024


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
    """A delivery answered with a 4xx; ``body`` holds what was read of it, to keep for a person to look at."""

    def __init__(self, reason: str, status: int, message: str, *, body: bytes = b"", close: bool = False) -> None:
        super().__init__(message)
        self.reason, self.status, self.message = reason, status, message
        self.body, self.close = body, close


# ------------------------------------------------------------------------------
# Reading the body
# ------------------------------------------------------------------------------
def read_body(request: HttpRequest) -> bytes:
    """The body, whether sent with Content-Length or chunked; refused with 413 past the cap.

    A body over the cap is still read to its end (up to DRAIN_LIMIT) before the 413, so the sender, still
    writing, gets the answer rather than a reset connection.
    """
    cap = settings.CX_HOOK_MAX_BODY_BYTES
    too_large = f"The body is over {cap} bytes."
    declared = _content_length(request)
    if declared is None:
        # No Content-Length: chunked (gunicorn de-chunks wsgi.input), or nothing at all. Django reads a
        # body only up to Content-Length, so the stream is read directly, never past cap + 1.
        stream = request.META.get("wsgi.input")
        chunked = "chunked" in str(request.META.get("HTTP_TRANSFER_ENCODING", "")).lower()
        body = stream.read(cap + 1) if (stream is not None and chunked) else b""
        if len(body) > cap:
            _drain(stream, DRAIN_LIMIT)
            raise DeliveryRefused(RefusalReason.TOO_LARGE, 413, too_large, body=body[:cap])
        return body
    if declared > cap:
        if declared > DRAIN_LIMIT:
            raise DeliveryRefused(RefusalReason.TOO_LARGE, 413, too_large, close=True)
        head = request.read(cap)
        _drain(request, declared - len(head))
        raise DeliveryRefused(RefusalReason.TOO_LARGE, 413, too_large, body=head)
    return request.read(cap + 1)


def _content_length(request: HttpRequest) -> int | None:
    raw = str(request.META.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise DeliveryRefused(RefusalReason.BAD_REQUEST, 400, "Content-Length is not a number of bytes.", close=True)
    return int(raw)


def _drain(stream: Any, limit: int) -> None:
    left = limit
    while left > 0:
        chunk = stream.read(min(64 * 1024, left))
        if not chunk:
            return
        left -= len(chunk)


# ------------------------------------------------------------------------------
# Checking it
# ------------------------------------------------------------------------------
def verify_signature(endpoint: Endpoint, meta: dict[str, Any], body: bytes) -> str:
    """Checks the platform's signature when the tenant has a signing secret; says which check applied."""
    if not endpoint.signing_secret:
        return SignatureCheck.UNSIGNED
    signature = str(meta.get(SIGNATURE_HEADER) or "").strip()
    timestamp = str(meta.get(TIMESTAMP_HEADER) or "").strip()
    if not signature or not timestamp:
        raise DeliveryRefused(
            RefusalReason.BAD_SIGNATURE, 401, "Missing X-Chatwoot-Signature or X-Chatwoot-Timestamp.", body=body
        )
    if not _TIMESTAMP.fullmatch(timestamp):
        raise DeliveryRefused(RefusalReason.BAD_SIGNATURE, 401, "X-Chatwoot-Timestamp is not unix seconds.", body=body)
    sent_at = int(timestamp)
    if abs(time.time() - sent_at) > settings.CX_HOOK_MAX_CLOCK_SKEW:
        raise DeliveryRefused(
            RefusalReason.STALE_TIMESTAMP, 401, "X-Chatwoot-Timestamp is too old (or in the future).", body=body
        )
    given = _SIGNATURE.fullmatch(signature)
    if given is None:
        raise DeliveryRefused(
            RefusalReason.BAD_SIGNATURE, 401, "X-Chatwoot-Signature is not sha256= and 64 hex digits.", body=body
        )
    expected = hmac.new(endpoint.signing_secret.encode(), f"{sent_at}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given[1].lower()):
        raise DeliveryRefused(RefusalReason.BAD_SIGNATURE, 401, "The signature does not match the body.", body=body)
    return SignatureCheck.VERIFIED


def parse_body(body: bytes) -> dict[str, Any]:
    """The object the body holds; anything but a UTF-8 JSON object of sane depth is refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DeliveryRefused(RefusalReason.NOT_JSON, 400, "The body is not UTF-8 text.", body=body) from None
    if "\x00" in text:  # PostgreSQL text cannot hold NUL; refusing beats failing to store
        raise DeliveryRefused(RefusalReason.NOT_JSON, 400, "The body contains a NUL character.", body=body)
    try:
        data = json.loads(text)
    except RecursionError:
        raise DeliveryRefused(
            RefusalReason.TOO_DEEP, 400, f"The JSON is nested deeper than {MAX_DEPTH}.", body=body
        ) from None
    except ValueError:
        raise DeliveryRefused(RefusalReason.NOT_JSON, 400, "The body is not JSON.", body=body) from None
    if not isinstance(data, dict):
        raise DeliveryRefused(RefusalReason.NOT_JSON, 400, "The body is JSON but not an object.", body=body)
    # Nesting needs an opening bracket per level: with no more of them than the limit, no walk is needed.
    if text.count("{") + text.count("[") > MAX_DEPTH and nesting_depth(data) > MAX_DEPTH:
        raise DeliveryRefused(RefusalReason.TOO_DEEP, 400, _TOO_DEEP, body=body)
    return data


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep objects and arrays nest in ``value`` (walked without recursion; stops once past ``limit``)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


# ------------------------------------------------------------------------------
# Storing it
# ------------------------------------------------------------------------------
class _HeaderNames(dict[str, tuple[str, bool] | None]):
    """WSGI key → (header name, redacted?), or None when not kept: worked out once per key, per process."""

    MAX_ENTRIES = 1000

    def __missing__(self, key: str) -> tuple[str, bool] | None:
        if key.startswith("HTTP_") and key not in _DROPPED_HEADERS:
            name = clean_text(key[5:].replace("_", "-").title())[:100]
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
    """The request's headers as stored: credentials dropped, secrets redacted, values cut and made storable."""
    headers = {}
    for key, value in meta.items():
        entry = _header_names[key]
        if entry is None:
            continue
        name, redacted = entry
        if name == "Content-Type" and not value:
            continue
        headers[name] = REDACTED if redacted else clean_text(str(value)[:500])
    return headers


def _event_type(data: dict[str, Any]) -> str:
    value = data.get("event")
    return clean_text(value)[:64] if isinstance(value, str) else ""


_INSERT_COLUMNS = (
    "source",
    "tenant",
    "subscription",
    "bot",
    "event_type",
    "delivery_id",
    "body",
    "headers",
    "remote_addr",
    "signature",
    "received_at",
    "customer_waits",
)


@functools.cache
def _insert_statement(alias: str) -> tuple[str, tuple[Field, ...]]:
    """The endpoint's INSERT and its fields in parameter order, worked out once per process."""
    quote = connections[alias].ops.quote_name
    meta = InboundEvent._meta
    fields = tuple(field for name in _INSERT_COLUMNS if isinstance(field := meta.get_field(name), Field))
    assert len(fields) == len(_INSERT_COLUMNS)
    columns = ", ".join(quote(field.column) for field in fields)
    # ON CONFLICT: the partial unique index on (tenant, source, delivery id) skips a re-delivery.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote('id')}"
    )
    return sql, fields


def customer_message(data: dict[str, Any]) -> bool:
    """Whether the event is a customer's new message (the one a bot answers), read as the mapper reads it."""
    if data.get("event") != "message_created":
        return False
    try:
        return message_type_from(data.get("message_type")) == MessageType.INCOMING
    except ValueError:
        return False


def store_event(
    endpoint: Endpoint, *, body: bytes, data: dict[str, Any], meta: dict[str, Any], signature: str
) -> int | None:
    """Writes the event with one INSERT, committed before returning; returns its id.

    None when the same delivery id was already stored for this endpoint's tenant (a re-delivery).
    """
    values = (  # in the order of _INSERT_COLUMNS
        endpoint.source,
        endpoint.tenant_id,
        endpoint.subscription_id,
        endpoint.bot_id,
        _event_type(data),
        clean_text(str(meta.get(DELIVERY_HEADER) or ""))[:100],
        body.decode(),
        kept_headers(meta),
        meta.get("REMOTE_ADDR") or None,
        signature,
        timezone.now(),
        endpoint.source == EventSource.BOT and customer_message(data),
    )
    db = connections[DEFAULT_DB_ALIAS]
    sql, fields = _insert_statement(DEFAULT_DB_ALIAS)
    params = [field.get_db_prep_save(value, db) for field, value in zip(fields, values, strict=True)]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def refusal_record(source: str, refused: DeliveryRefused, *, endpoint: Endpoint | None, meta: dict[str, Any]) -> None:
    """Counts a refused delivery by day and reason; at a known endpoint, also keeps what arrived of it.

    A refusal at an unknown endpoint is only counted: anyone can send those, and they address nobody.
    Nothing here may turn a refusal into a 500, nor hold up the answer when the database is away.
    """
    source = source if source in _SOURCES else EventSource.WEBHOOK
    try:
        _count_refusal(source, refused.reason)
        if endpoint is not None:
            RefusedDelivery.objects.create(
                source=source,
                tenant_id=endpoint.tenant_id,
                subscription_id=endpoint.subscription_id,
                bot_id=endpoint.bot_id,
                reason=refused.reason,
                status=refused.status,
                message=refused.message,
                body=clean_text(refused.body[: settings.CX_HOOK_REFUSED_BODY_BYTES].decode("utf-8", "replace")),
                body_bytes=len(refused.body),
                headers=kept_headers(meta),
                remote_addr=meta.get("REMOTE_ADDR") or None,
            )
    except Exception:  # noqa: BLE001 - the answer is a refusal either way; the log says what was not kept
        logger.warning("Could not record a refused %s delivery (%s)", source, refused.reason, exc_info=True)


def _count_refusal(source: str, reason: str) -> None:
    today = timezone.localdate()
    updated = RefusalCount.objects.filter(day=today, source=source, reason=reason).update(
        count=F("count") + 1, last_at=timezone.now()
    )
    if not updated:
        RefusalCount.objects.bulk_create(
            [RefusalCount(day=today, source=source, reason=reason, count=1)], ignore_conflicts=True
        )
