"""A customer's message is mapped and answered without a savepoint per row: the transaction is tried whole
first, and only a failure (another worker inserting the same row a moment before) takes the careful way."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.conversations.models import Conversation, Message
from apps.cx import mirror
from apps.hooks import processing
from apps.hooks.models import EventStatus, InboundEvent

from . import events

CUSTOMER_TEXT = "Hello, my parcel from order 48213-B has not arrived yet."


def customer_event(sandbox, bot, tenant, inbox, email="ada@example.org") -> InboundEvent:
    """A new customer's first message, as the platform sends it to the bot, stored as the endpoint stores it."""
    held = sandbox._call(
        "POST",
        "customer-conversation/unsent",
        json={
            "tenant_domain": tenant.domain,
            "inbox_id": int(inbox.remote_id),
            "name": "Ada",
            "email": email,
            "content": CUSTOMER_TEXT,
        },
    )
    (body,) = [e["body"] for e in held["events"] if e["url"] == bot.outgoing_url and e["event"] == "message_created"]
    return InboundEvent.objects.create(
        source="bot",
        tenant=tenant,
        bot=bot,
        event_type="message_created",
        body=json.dumps(body),
        customer_waits=True,
    )


def statements(queries, start: str) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith(start)]


@pytest.mark.django_db(transaction=True)
def test_a_customers_first_message_is_mapped_and_answered_without_a_savepoint(sandbox, bot, inboxes, tenant):
    event = customer_event(sandbox, bot, tenant, inboxes[0])

    with CaptureQueriesContext(connection) as queries:
        assert processing.event_handle(event.pk)

    assert statements(queries.captured_queries, "SAVEPOINT") == []
    conversation = Conversation.objects.get()
    customer, reply = conversation.messages.order_by("id")
    assert (customer.content, reply.sender_kind) == (CUSTOMER_TEXT, "bot")
    # Each transaction writes the conversation once: its INSERT carries the customer's message time, and the
    # answer's one UPDATE the reply's time and that the bot took part, with no history entry of its own.
    writes = statements(
        queries.captured_queries, ('INSERT INTO "conversations_conversation"', 'UPDATE "conversations_conversation"')
    )
    assert [sql.split(" ")[0] for sql in writes] == ["INSERT", "UPDATE"]
    assert conversation.answered_by_bot and conversation.last_activity_at >= reply.remote_created_at
    assert conversation.history.count() == 1
    assert InboundEvent.objects.get().status == EventStatus.PROCESSED


@pytest.mark.django_db
def test_a_row_another_worker_inserted_meanwhile_sends_the_mapping_the_careful_way(
    sandbox, bot, inboxes, tenant, monkeypatch
):
    """The other worker's message row commits between this worker's look for it and its insert."""
    event = customer_event(sandbox, bot, tenant, inboxes[0])
    body = json.loads(event.body)
    answered = []
    monkeypatch.setattr(processing, "_answer_now", lambda answers: answered.extend(answers))
    tries = []
    real = mirror.mirror_get_or_create

    def racing(queryset, *, defaults, **lookup):
        tries.append(mirror.savepoints_skipped())
        if queryset.model is Message and mirror.savepoints_skipped():
            # This worker looks and finds nothing; the other worker's insert of the same message commits.
            Message.objects.create(**lookup, **defaults)
            return real(queryset.none(), defaults=defaults, **lookup)
        return real(queryset, defaults=defaults, **lookup)

    monkeypatch.setattr(mirror, "mirror_get_or_create", racing)
    monkeypatch.setattr("apps.conversations.services.mirror_get_or_create", racing)
    monkeypatch.setattr("apps.contacts.services.mirror_get_or_create", racing)

    assert processing.event_handle(event.pk)

    assert True in tries and tries[-1] is False  # the first try failed on the conflict; the careful one mapped it
    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == (EventStatus.PROCESSED, 1, "")
    assert Message.objects.filter(remote_id=str(body["id"])).count() == 1
    assert [message.remote_id for _, _, message, _ in answered] == [str(body["id"])]


@pytest.mark.django_db
def test_a_mapping_that_fails_half_way_leaves_nothing_written(webhook, post, monkeypatch):
    """The first try has no savepoint to undo the contact and conversation it wrote before the failure."""
    from apps.contacts.models import Contact

    real = mirror.mirror_get_or_create

    def failing(queryset, *, defaults, **lookup):
        if queryset.model is Message:
            raise RuntimeError("disk full")
        return real(queryset, defaults=defaults, **lookup)

    monkeypatch.setattr("apps.conversations.services.mirror_get_or_create", failing)
    post(webhook.path, events.raw(events.message_event()))

    event = InboundEvent.objects.get()
    assert (event.status, event.attempts) == (EventStatus.FAILED, 1) and "disk full" in event.error
    assert not Contact.objects.exists() and not Conversation.objects.exists() and not Message.objects.exists()
