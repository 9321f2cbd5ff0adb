"""A burst of thousands of events at the real ingest endpoint (gunicorn), mapped by a real worker."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apps.conversations.models import Conversation, Message
from apps.cx.hooks import new_hook_secret
from apps.cx.services import tenant_resolve
from apps.hooks.models import EventStatus, InboundEvent
from apps.webhooks.models import WebhookSubscription
from tests.hooks import events

from .conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 3000
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
