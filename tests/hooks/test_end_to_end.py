"""The stand-in's own events, over real HTTP, into the console's endpoint (live server) and onto the mirror."""

from __future__ import annotations

import pytest

from apps.conversations.models import Conversation, Message
from apps.cx.client import Actor
from apps.hooks.models import InboundEvent
from apps.webhooks.services import webhook_subscription_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_customer_conversation_in_the_stand_in_lands_in_the_mirror(sandbox, tenant, inboxes, live_server, settings):
    settings.CONSOLE_PUBLIC_URL = live_server.url
    sandbox.configure(webhook_secret="whsec-e2e")
    tenant.set_event_signing_secret("whsec-e2e")
    tenant.save()
    webhook_subscription_create(
        tenant=tenant, actor=Actor.system("test"), subscriptions=["conversation_created", "message_created"]
    )

    started = sandbox.customer_conversation(
        tenant_domain=tenant.domain,
        inbox_id=int(inboxes[0].remote_id),
        name="Grace Hopper",
        email="grace@example.com",
        content="My order never arrived",
    )
    sandbox.customer_message(tenant_domain=tenant.domain, conversation_id=started["id"], content="Hello?")

    delivered = [d for d in sandbox.deliveries(wait=8) if "/hooks/webhook/" in d["url"]]
    assert delivered and all(d["status"] == 200 for d in delivered)
    assert InboundEvent.objects.filter(signature="verified", status="processed").count() == len(delivered)
    conversation = Conversation.objects.get(tenant=tenant, remote_id=str(started["id"]))
    assert conversation.contact.email == "grace@example.com" and conversation.inbox == inboxes[0]
    contents = list(Message.objects.filter(conversation=conversation).values_list("content", flat=True))
    assert "My order never arrived" in contents and "Hello?" in contents
