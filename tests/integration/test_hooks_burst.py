"""A burst of events at the real ingest endpoint (gunicorn), each mapped by a real worker once; its INSERT."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import DatabaseError, connection

from apps.conversations.models import Conversation, Message
from apps.cx.hooks import new_hook_secret
from apps.cx.services import tenant_resolve
from apps.hooks.ingest import Endpoint, store_event
from apps.hooks.models import EventStatus, InboundEvent
from apps.webhooks.models import WebhookSubscription
from tests.hooks import events

from .conftest import broker_idle, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def worker_done():
    """The worker has finished what the test sent it before the tables are emptied (a TRUNCATE waiting on a
    mapping still running deadlocks)."""
    yield
    wait_until(broker_idle, timeout=60, interval=0.2)


EVENTS = 1500
CONVERSATIONS = 150
CONNECTIONS = 16


def test_every_event_of_a_burst_is_kept_and_mapped_once(sandbox, celery_worker, console_server):
    tenant = tenant_resolve()
    secret, secret_hash = new_hook_secret()
    WebhookSubscription.objects.create(
        tenant=tenant, remote_id="burst", url="…", subscriptions=["message_created"], hook_secret_hash=secret_hash
    )
    url = f"{console_server}/hooks/webhook/{secret}/"
    bodies = []
    for n in range(EVENTS):
        conversation = events.conversation(100_000 + n % CONVERSATIONS, updated_at=1_790_000_000 + n)
        body = events.message_event(200_000 + n, content=f"message {n}", conversation_obj=conversation)
        bodies.append((json.dumps(body).encode(), str(uuid.uuid4())))
    # One event in ten is delivered a second time with its delivery id, as the platform re-delivers.
    deliveries = bodies + bodies[::10]

    def send(chunk):
        session = requests.Session()
        return [
            session.post(
                url, data=body, headers={"Content-Type": "application/json", "X-Chatwoot-Delivery": d}
            ).status_code
            for body, d in chunk
        ]

    chunks = [deliveries[i::CONNECTIONS] for i in range(CONNECTIONS)]
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        statuses = Counter(status for result in pool.map(send, chunks) for status in result)

    assert statuses == {200: len(deliveries)}
    assert InboundEvent.objects.count() == EVENTS  # every one kept, re-deliveries once
    done = wait_until(
        lambda: not InboundEvent.objects.filter(status=EventStatus.RECEIVED).exists(), timeout=120, interval=0.5
    )
    assert done, f"{InboundEvent.objects.filter(status='received').count()} events never mapped"
    assert dict(Counter(InboundEvent.objects.values_list("status", flat=True))) == {"processed": EVENTS}
    assert Message.objects.filter(tenant=tenant).count() == EVENTS
    assert Conversation.objects.filter(tenant=tenant).count() == CONVERSATIONS
    # The newest state of each conversation won, whatever order the batches ran in.
    newest = Conversation.objects.get(tenant=tenant, remote_id=str(100_000 + (EVENTS - 1) % CONVERSATIONS))
    assert newest.remote_updated_at.timestamp() == 1_790_000_000 + EVENTS - 1


# The endpoint's one INSERT, on PostgreSQL (apps/hooks/ingest.py store_event).


def _store(tenant, *, body: bytes, delivery: str = "", headers: dict | None = None) -> int | None:
    meta = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_CHATWOOT_DELIVERY": delivery}
    meta.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()})
    return store_event(
        Endpoint("webhook", tenant.pk), body=body, data=json.loads(body), meta=meta, signature="unsigned"
    )


def test_the_insert_stores_the_event_as_received_once_per_delivery_id():
    tenant = tenant_resolve()
    body = events.raw(events.message_event(content="Grüße — ünïcode"))

    first_id = _store(tenant, body=body, delivery="d-1", headers={"User-Agent": "Chatwoot"})
    assert _store(tenant, body=body, delivery="d-1") is None  # a re-delivery
    assert _store(tenant, body=body, delivery="d-2") and _store(tenant, body=body)

    stored = InboundEvent.objects.order_by("id")
    assert stored.count() == 3
    first = stored[0]
    assert first.pk == first_id
    assert first.body.encode() == body and first.headers == {"User-Agent": "Chatwoot", "X-Chatwoot-Delivery": "d-1"}
    assert (first.status, first.attempts, first.error) == (EventStatus.RECEIVED, 0, "")
    assert (first.delivery_id, first.remote_addr, first.tenant_id) == ("d-1", "203.0.113.9", tenant.pk)


def test_what_postgresql_cannot_hold_is_made_storable():
    tenant = tenant_resolve()
    body = b'{"event": "message_\\u0000created", "content": "\\ud800"}'
    assert _store(tenant, body=body, headers={"X-Odd": "a\x00b"})
    event = InboundEvent.objects.get()
    assert (event.event_type, event.headers["X-Odd"], event.body.encode()) == ("message_created", "ab", body)


def test_a_body_at_the_size_cap_is_stored():
    tenant = tenant_resolve()
    body = json.dumps({"event": "message_created", "content": "x" * (settings.CX_HOOK_MAX_BODY_BYTES - 40)}).encode()
    _store(tenant, body=body)
    assert InboundEvent.objects.get().body.encode() == body


def test_a_lost_database_connection_raises_and_the_next_insert_reconnects():
    tenant = tenant_resolve()
    _store(tenant, body=b'{"event": "a"}')
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])

    with pytest.raises(DatabaseError):
        _store(tenant, body=b'{"event": "b"}')
    connection.close_if_unusable_or_obsolete()  # what Django does when the request ends
    _store(tenant, body=b'{"event": "c"}')
    assert sorted(json.loads(e.body)["event"] for e in InboundEvent.objects.all()) == ["a", "c"]


def test_an_event_claimed_by_one_worker_does_not_hold_up_another_event_of_its_tenant():
    """The claim locks the event's row only: joined to its tenant, it locked the tenant's row as well, so
    every other worker skipped every other event of that tenant (left for the sweep, 30 s later)."""
    import threading

    from django.db import connections, transaction

    from apps.hooks.processing import event_claim, event_handle

    tenant = tenant_resolve()
    first = _store(tenant, body=events.raw({"event": "brand_new_thing", "id": 1}))
    second = _store(tenant, body=events.raw({"event": "brand_new_thing", "id": 2}))
    claimed, release = threading.Event(), threading.Event()

    def hold_the_first_claim() -> None:
        try:
            with transaction.atomic():
                assert event_claim(first) is not None
                claimed.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_first_claim)
    holder.start()
    try:
        assert claimed.wait(10)
        assert event_handle(first) is False  # taken: skipped, not waited for
        assert event_handle(second) is True
    finally:
        release.set()
        holder.join()
    assert InboundEvent.objects.get(pk=second).status == EventStatus.IGNORED
