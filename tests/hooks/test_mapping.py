"""Stored events mapped onto the mirror: upserts, duplicates, replays, order, unknown and failing events."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.cx.client import Actor
from apps.hooks import processing
from apps.hooks.mapping import known_repeats
from apps.hooks.models import EventStatus, InboundEvent
from apps.hooks.services import events_replay

from . import events

pytestmark = pytest.mark.django_db


def test_a_message_of_an_unseen_conversation_creates_contact_conversation_and_message(post, webhook):
    assert post(webhook.path, events.raw(events.message_event())).status_code == 200

    event = InboundEvent.objects.get()
    assert event.status == EventStatus.PROCESSED and event.attempts == 1
    conversation = Conversation.objects.get()
    assert (conversation.remote_id, conversation.status, conversation.holder) == ("501", "pending", "bot")
    assert conversation.inbox.remote_id == "11" and conversation.source_id == "ada@example.com"
    assert conversation.contact == Contact.objects.get(remote_id="7")
    assert conversation.contact.phone_number == "+14155550123"
    message = Message.objects.get()
    assert (message.remote_id, message.content, message.message_type) == (
        "9001",
        events.message_event()["content"],
        "incoming",
    )
    assert message.sender_kind == "contact" and message.conversation == conversation
    assert message.sync_source == "webhook"


def test_ids_and_enums_may_come_as_strings_or_numbers(post, webhook):
    body = events.message_event(message_id="9002", message_type=1, sender={"id": 3, "name": "Sam", "type": "user"})
    body["conversation"]["id"] = "501"
    body["conversation"]["status"] = 0  # open, as an enum number
    post(webhook.path, events.raw(body))

    message = Message.objects.get(remote_id="9002")
    assert (message.message_type, message.sender_kind, message.sender_name) == ("outgoing", "agent", "Sam")
    assert message.conversation.status == "open"


def test_the_same_event_twice_and_a_replay_leave_one_row_each(post, webhook, actor, django_capture_on_commit_callbacks):
    body = events.raw(events.message_event())
    post(webhook.path, body)
    post(webhook.path, body)
    with django_capture_on_commit_callbacks(execute=True):  # the replay's task is sent once it is committed
        events_replay(events=InboundEvent.objects.all(), actor=actor)

    assert InboundEvent.objects.filter(status=EventStatus.PROCESSED).count() == 2
    assert (Conversation.objects.count(), Message.objects.count(), Contact.objects.count()) == (1, 1, 1)


def test_an_older_event_never_moves_a_conversation_back(post, webhook):
    newer = events.conversation_event("conversation_status_changed", status="open", updated_at=1_790_000_100)
    older = events.conversation_event("conversation_created", status="pending", updated_at=1_790_000_000)
    newer["meta"]["assignee"] = {"id": 1, "name": "Demo Agent", "type": "user"}

    post(webhook.path, events.raw(newer))
    post(webhook.path, events.raw(older))

    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.holder, conversation.assignee_name) == ("open", "agent", "Demo Agent")
    assert InboundEvent.objects.filter(status=EventStatus.PROCESSED).count() == 2


def test_with_equal_timestamps_the_lifecycle_only_moves_forward(post, webhook):
    post(webhook.path, events.raw(events.conversation_event("conversation_resolved", status="resolved")))
    post(webhook.path, events.raw(events.conversation_event("conversation_opened", status="pending")))

    conversation = Conversation.objects.get()
    assert conversation.status == "resolved" and conversation.finished_at is not None


def test_a_newer_event_does_move_it_on_even_backwards_in_the_lifecycle(post, webhook):
    post(webhook.path, events.raw(events.conversation_event(status="resolved", updated_at=1_790_000_000)))
    post(webhook.path, events.raw(events.conversation_event(status="open", updated_at=1_790_000_500)))  # reopened
    assert Conversation.objects.get().status == "open"


def test_message_updated_changes_the_content_and_message_created_again_does_not(post, webhook):
    post(webhook.path, events.raw(events.message_event(content="first")))
    post(webhook.path, events.raw(events.message_event(content="edited", event="message_updated")))
    post(webhook.path, events.raw(events.message_event(content="stale copy")))
    assert Message.objects.get().content == "edited"


def edit(content: str, at: int) -> bytes:
    """A message_updated delivery as the platform sends it: the conversation it carries was touched at ``at``."""
    carried = events.conversation(updated_at=at, created_at=1_790_000_000 - 60)
    return events.raw(events.message_event(content=content, event="message_updated", conversation_obj=carried))


def test_an_edit_delivered_after_a_later_one_is_not_applied_over_it(post, webhook):
    post(webhook.path, events.raw(events.message_event(content="first")))
    post(webhook.path, edit("third: the last edit", 1_790_000_300))
    post(webhook.path, edit("second", 1_790_000_200))  # sent before the last edit, delivered after it

    message = Message.objects.get()
    assert message.content == "third: the last edit"
    assert message.remote_version_at.timestamp() == 1_790_000_300
    # Kept and done, not failed: the event is there to read; the mirror shows the newest version.
    assert InboundEvent.objects.filter(status=EventStatus.PROCESSED).count() == 3
    assert Conversation.objects.get().remote_updated_at.timestamp() == 1_790_000_300


def test_a_later_edit_is_applied_whatever_came_before(post, webhook):
    post(webhook.path, edit("second", 1_790_000_200))  # the edit before the message's own creation event
    post(webhook.path, events.raw(events.message_event(content="first")))
    post(webhook.path, edit("third", 1_790_000_300))
    assert Message.objects.get().content == "third"


def test_an_older_edit_counts_as_a_repeat_and_writes_nothing(post, webhook):
    post(webhook.path, edit("newest", 1_790_000_300))
    message = Message.objects.get()
    older = json.loads(edit("older", 1_790_000_200))
    (repeat,) = known_repeats(message.tenant, [("message_updated", older)])
    assert repeat == message


def test_unknown_events_are_stored_and_marked_ignored(post, webhook):
    post(webhook.path, events.raw({"event": "conversation_typing_on", "id": 501}))
    post(webhook.path, events.raw({"event": "brand_new_thing", "id": 1, "whatever": [1, 2]}))
    post(webhook.path, events.raw({"no_event_field": True}))

    ignored = InboundEvent.objects.filter(status=EventStatus.IGNORED)
    assert ignored.count() == 3
    assert "brand_new_thing" in ignored.get(event_type="brand_new_thing").error
    assert Conversation.objects.count() == 0


def test_an_event_that_cannot_be_mapped_is_failed_with_the_reason_and_retried(post, webhook, settings):
    body = events.message_event()
    del body["conversation"]
    post(webhook.path, events.raw(body))

    event = InboundEvent.objects.get()
    assert event.status == EventStatus.FAILED and "names no conversation" in event.error
    assert event.next_attempt_at > timezone.now()
    assert processing.process_all() == 0  # not due yet

    InboundEvent.objects.update(next_attempt_at=timezone.now())
    processing.process_all()
    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.FAILED, 2)


def test_a_failure_is_retried_until_it_maps(post, webhook, monkeypatch):
    from apps.hooks import mapping

    real = mapping.EVENT_MAPPERS["message_created"]
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:  # both tries of the first attempt (upsert_transaction)
            raise RuntimeError("database hiccup")
        return real(*args, **kwargs)

    monkeypatch.setitem(mapping.EVENT_MAPPERS, "message_created", flaky)
    post(webhook.path, events.raw(events.message_event()))
    event = InboundEvent.objects.get()
    assert event.status == EventStatus.FAILED and "database hiccup" in event.error
    assert Message.objects.count() == 0

    InboundEvent.objects.update(next_attempt_at=timezone.now())
    processing.process_all()

    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == (EventStatus.PROCESSED, 2, "")
    assert Message.objects.count() == 1


def test_one_failing_event_does_not_hold_up_its_batch(webhook, settings):
    good, bad = events.message_event(message_id=1), {"event": "message_created", "id": 2}
    for body in (bad, good):
        InboundEvent.objects.create(
            source="webhook",
            tenant=webhook.obj.tenant,
            subscription=webhook.obj,
            event_type="message_created",
            body=events.raw(body).decode(),
        )
    assert processing.process_batch() == 2
    assert sorted(InboundEvent.objects.values_list("status", flat=True)) == ["failed", "processed"]
    assert Message.objects.count() == 1


def test_after_the_last_attempt_it_waits_for_a_replay(webhook, settings, actor):
    settings.CX_HOOK_MAX_ATTEMPTS = 1
    event = InboundEvent.objects.create(
        source="webhook", tenant=webhook.obj.tenant, event_type="message_created", body='{"id": 3}'
    )
    processing.process_all()
    event.refresh_from_db()
    assert event.status == "failed" and event.next_attempt_at is None and "replay" in event.error
    assert events_replay(events=InboundEvent.objects.all(), actor=Actor.system("test")) == 1
    event.refresh_from_db()
    assert event.status == "received" and event.attempts == 0


def test_a_tenant_that_masks_at_rest_keeps_no_card_number(post, webhook, tenant):
    from apps.conversations.models import Conversation, Message

    tenant.mask_at_rest = True
    tenant.save()
    card = "4242 4242 4242 4242"
    body = events.message_event(content=f"my card is {card}")

    assert post(webhook.path, events.raw(body)).status_code == 200

    message = Message.objects.get()
    assert message.content == "my card is •••• •••• •••• 4242"
    assert card not in json.dumps(message.remote_data, ensure_ascii=False)
    assert card not in json.dumps(Conversation.objects.get().remote_data, ensure_ascii=False)
    event = InboundEvent.objects.get()
    assert card not in event.body and json.loads(event.body)["content"] == "my card is •••• •••• •••• 4242"


def test_a_tenant_that_does_not_mask_at_rest_keeps_what_was_said(post, webhook):
    from apps.conversations.models import Message

    post(webhook.path, events.raw(events.message_event(content="my card is 4242 4242 4242 4242")))
    assert Message.objects.get().content == "my card is 4242 4242 4242 4242"  # masked when shown, not stored


def test_a_message_remembers_the_event_that_brought_it_and_its_timeline_links_to_it(post, webhook, client, make_user):
    from django.urls import reverse

    from apps.conversations.models import Message

    post(webhook.path, events.raw(events.message_event(content="Where is my parcel?")))
    event = InboundEvent.objects.get()
    message = Message.objects.get()
    assert message.source_event_id == event.pk

    client.force_login(make_user("Auditor"))
    page = client.get(reverse("admin:conversations_conversation_change", args=[message.conversation_id]))
    assert reverse("admin:hooks_inboundevent_change", args=[event.pk]) in page.content.decode()
