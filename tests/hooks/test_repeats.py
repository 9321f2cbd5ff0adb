"""The copies of a message the mirror holds (the API's answer, then the bot's copy and each webhook's) are
settled together by the batch mapper without writing the mirror; whatever a copy says that is new still
reaches the mirror, the event's note, or the bot."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.hooks import processing
from apps.hooks.models import EventStatus, InboundEvent

from . import events

pytestmark = pytest.mark.django_db

BOT = {"id": 77, "name": "Fuzz bot", "type": "agent_bot"}


def bot_reply(**changes):
    """The bot's reply in conversation 501, as its copies arrive."""
    body = events.message_event(9100, content="Hi! How can I help?", message_type="outgoing", sender=BOT)
    for key, value in changes.items():
        body[key] = value
    return body


def mirror_writes(queries) -> list[str]:
    mirror = ("conversations_", "contacts_", "inboxes_")
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith(("INSERT", "UPDATE", "DELETE")) and any(f'"{t}' in q["sql"][:60] for t in mirror)
    ]


@pytest.fixture
def mirrored(post_unmapped, webhook):
    """The bot's reply mapped once, as its first copy brings it."""
    post_unmapped(webhook.path, events.raw(bot_reply()))
    assert processing.process_batch() == 1
    message = Message.objects.get(remote_id="9100")
    return message


def test_copies_of_a_mirrored_message_are_settled_in_one_update_without_writing_the_mirror(
    mirrored, post_unmapped, webhook, bot_hook
):
    conversation = Conversation.objects.get()
    history = conversation.history.count()
    for path in (bot_hook.path, webhook.path, webhook.path):
        post_unmapped(path, events.raw(bot_reply()))

    with CaptureQueriesContext(connection) as queries:
        assert processing.process_batch() == 3

    assert (
        list(InboundEvent.objects.order_by("id").values_list("status", "attempts", "error"))
        == [(EventStatus.PROCESSED, 1, "")] * 4
    )
    assert mirror_writes(queries.captured_queries) == []
    event_updates = [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "hooks_inboundevent"')]
    assert len(event_updates) == 1
    conversation.refresh_from_db()
    assert conversation.history.count() == history
    assert Message.objects.get().updated_at == mirrored.updated_at


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (  # the conversation moved on: resolved later
            {"conversation": events.conversation(status="resolved", updated_at=1_790_000_500)},
            lambda: Conversation.objects.get().status == "resolved",
        ),
        (  # the customer gave their name since
            {"conversation": events.conversation(meta={"sender": events.contact(name="Ada L.")})},
            lambda: Contact.objects.get().name == "Ada L.",
        ),
        (  # an edit
            {"event": "message_updated", "content": "Hi! How may I help?"},
            lambda: Message.objects.get().content == "Hi! How may I help?",
        ),
    ],
    ids=["status", "contact", "edit"],
)
def test_a_copy_that_says_something_new_reaches_the_mirror(mirrored, post_unmapped, webhook, change, check):
    body = bot_reply(**change)
    if "meta" in body["conversation"] and "assignee" not in body["conversation"]["meta"]:
        body["conversation"]["meta"] = {**events.conversation()["meta"], **body["conversation"]["meta"]}
    post_unmapped(webhook.path, events.raw(body))

    assert processing.process_batch() == 1

    assert check()
    assert InboundEvent.objects.order_by("-id").first().status == EventStatus.PROCESSED


def test_an_edit_that_changes_nothing_is_a_repeat(mirrored, post_unmapped, webhook):
    post_unmapped(webhook.path, events.raw(bot_reply(event="message_updated")))

    with CaptureQueriesContext(connection) as queries:
        assert processing.process_batch() == 1

    assert mirror_writes(queries.captured_queries) == []


def test_a_copy_with_a_value_left_out_keeps_its_note(mirrored, post_unmapped, webhook):
    post_unmapped(webhook.path, events.raw(bot_reply(private="maybe")))

    assert processing.process_batch() == 1

    event = InboundEvent.objects.order_by("-id").first()
    assert event.status == EventStatus.PROCESSED and "private" in event.error


def test_a_customer_message_at_the_bot_endpoint_goes_to_the_bot_even_when_mirrored(
    post_unmapped, webhook, bot_hook, monkeypatch
):
    answered = []
    monkeypatch.setattr(processing, "_answer_now", lambda answers: answered.extend(answers))
    customer = events.raw(events.message_event(9001))
    post_unmapped(webhook.path, customer)  # the webhook's copy came first
    assert processing.process_batch() == 1
    post_unmapped(bot_hook.path, customer)  # the bot's copy; its own task was lost
    InboundEvent.objects.filter(source="bot").update(received_at=timezone.now() - processing.SWEEP_GRACE)

    assert processing.process_batch() == 1

    assert [message.remote_id for _, _, message, _ in answered] == ["9001"]


def test_the_batch_leaves_a_new_customer_message_at_the_bot_endpoint_to_its_own_task(
    post_unmapped, webhook, bot_hook, monkeypatch
):
    answered = []
    monkeypatch.setattr(processing, "_answer_now", lambda answers: answered.extend(answers))
    post_unmapped(bot_hook.path, events.raw(events.message_event(9001)))  # its task is on the bot's queue
    post_unmapped(webhook.path, events.raw(bot_reply()))  # the wake-up came for this one

    assert processing.process_batch() == 1

    statuses = dict(InboundEvent.objects.values_list("source", "status"))
    assert statuses == {"bot": EventStatus.RECEIVED, "webhook": EventStatus.PROCESSED}
    assert dict(InboundEvent.objects.values_list("source", "customer_waits")) == {"bot": True, "webhook": False}
    assert answered == []
    assert processing.event_handle(InboundEvent.objects.get(source="bot").pk)  # its task maps it, and …
    assert [message.remote_id for _, _, message, _ in answered] == ["9001"]  # … the bot answers at once


def test_a_tenant_that_masks_at_rest_has_every_copy_masked(post_unmapped, webhook, tenant):
    tenant.mask_at_rest = True
    tenant.save()
    card = bot_reply(content="card 4242 4242 4242 4242 noted")
    post_unmapped(webhook.path, events.raw(card))
    post_unmapped(webhook.path, events.raw(card))

    assert processing.process_batch() == 2

    assert all("4242 4242" not in body for body in InboundEvent.objects.values_list("body", flat=True))


def test_a_copy_another_worker_settled_meanwhile_is_neither_updated_nor_counted_again(mirrored, post_unmapped, webhook):
    post_unmapped(webhook.path, events.raw(bot_reply()))
    event = InboundEvent.objects.order_by("-id").first()
    InboundEvent.objects.filter(pk=event.pk).update(status=EventStatus.PROCESSED, attempts=1)

    assert processing.settle_repeats([event]) == set()  # seen as new in this worker's batch
    event.refresh_from_db()
    assert event.attempts == 1
