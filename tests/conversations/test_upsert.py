"""One writer per mirrored row: API answers and events land on the same rows, whichever comes first."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F

from apps.conversations.models import Conversation, Message
from apps.conversations.services import conversation_start, message_send
from apps.cx.audit import collect_api_answers
from apps.hooks.mapping import known_repeats, map_event
from tests.hooks.events import fixture

pytestmark = pytest.mark.django_db
ONE_MINUTE = dt.timedelta(minutes=1)


def test_a_conversation_whose_event_arrives_before_the_answer_to_starting_it_is_one_row(
    sandbox, tenant, inboxes, contact, actor
):
    first = conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message="First")
    next_id = int(first.remote_id) + 1  # the stand-in numbers conversations in order
    early = {**fixture("conversation_status_changed"), "id": next_id, "status": "pending", "inbox_id": None}
    map_event(tenant, "conversation_created", early)

    second = conversation_start(contact=contact, inbox=inboxes[1], actor=actor, initial_message="Second")

    assert second.remote_id == str(next_id)
    assert Conversation.objects.filter(remote_id=str(next_id)).count() == 1
    second.refresh_from_db()
    assert (second.inbox, second.source_id, second.sync_source) == (inboxes[1], "ada@example.com", "api")
    assert list(second.messages.values_list("content", flat=True)) == ["Second"]


def test_the_bots_reply_and_its_event_are_one_message_and_the_event_does_not_undo_the_answer(
    sandbox, tenant, inboxes, contact, actor
):
    conversation = conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message="Hi")
    with collect_api_answers() as answers:
        sent = message_send(conversation=conversation, actor=actor, content="Hello, how can I help?")
    echo = {**answers[-1], "event": "message_created", "content": "stale copy"}

    map_event(tenant, "message_created", echo)

    assert Message.objects.filter(remote_id=sent.remote_id).count() == 1
    assert Message.objects.get(remote_id=sent.remote_id).content == "Hello, how can I help?"
    assert conversation.messages.count() == 2


def test_the_copies_of_the_bots_reply_repeat_what_the_answer_mirrored(sandbox, tenant, inboxes, contact, actor):
    # The platform sends the reply back to the bot and to each webhook, with the conversation as the post
    # left it: the answer mirrors that conversation, so each copy finds nothing new (and writes nothing).
    conversation = conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message="Hi")
    # The mirror last saw the conversation a minute before the post (the customer's message moved it on since).
    Conversation.objects.filter(pk=conversation.pk).update(remote_updated_at=F("remote_updated_at") - ONE_MINUTE)
    with collect_api_answers() as answers:
        message_send(conversation=conversation, actor=actor, content="Hello, how can I help?")
    echo = {**answers[-1], "event": "message_created"}

    assert known_repeats(tenant, [("message_created", echo)])[0] is not None
    mirrored = Conversation.objects.get(pk=conversation.pk)
    assert mirrored.remote_updated_at is not None
    assert mirrored.remote_data["updated_at"] == answers[-1]["conversation"]["updated_at"]


def test_the_same_state_again_writes_nothing_and_adds_no_history(tenant):
    # Each of the bot's replies comes back as an event carrying the whole conversation, unchanged.
    event = fixture("message_created")
    map_event(tenant, "message_created", event)
    conversation = Conversation.objects.get()
    before = (conversation.history.count(), conversation.updated_at)

    for n in range(3):
        map_event(tenant, "message_created", {**event, "id": 90_000 + n})

    conversation.refresh_from_db()
    assert (conversation.history.count(), conversation.updated_at) == before
    assert Message.objects.count() == 4


# -- history: real changes only, and who or what made them ------------------------------------------------------
def test_a_conversations_history_has_no_sync_bumps_and_names_an_event_as_the_changer(tenant):
    event = fixture("message_created")
    map_event(tenant, "message_created", event)
    conversation = Conversation.objects.get()
    created = conversation.history.count()

    # Newer messages move the last activity on and re-sync the row: bookkeeping, not history.
    later = {**event, "id": 91_000, "created_at": "2026-09-21T12:30:00.000Z"}
    later["conversation"] = {**event["conversation"], "last_activity_at": 1_790_003_000, "updated_at": 1_790_003_000}
    map_event(tenant, "message_created", later)
    conversation.refresh_from_db()
    assert conversation.history.count() == created
    assert conversation.remote_updated_at.timestamp() == 1_790_003_000  # kept, for the order of later states

    # A real change (resolved) is one entry, naming the event as what changed it.
    resolved = {**event["conversation"], "status": "resolved", "updated_at": 1_790_009_000}
    map_event(tenant, "conversation_status_changed", {**resolved, "event": "conversation_status_changed"})
    latest = conversation.history.first()
    assert conversation.history.count() == created + 1
    assert (latest.status, latest.history_change_reason) == ("resolved", "webhook event")


def test_a_handoff_by_the_bot_names_the_bot_in_the_history(sandbox, tenant, inboxes, contact, actor):
    from apps.conversations.services import conversation_deliver_to_agent
    from apps.cx.client import Actor

    conversation = conversation_start(contact=contact, inbox=inboxes[0], actor=actor, initial_message="Hi")
    conversation_deliver_to_agent(conversation=conversation, actor=Actor.system("bot:Helper"))

    latest = conversation.history.first()
    assert (latest.holder, latest.history_change_reason) == ("agent", "bot:Helper")
