"""Loose values in events read strictly: what cannot be read is left out with its reason on the event, never guessed.

The bodies are the named fixtures in tests/fixtures/events/, each test changing the one value it is about.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlparse

import pytest

from apps.bots.models import BotReply
from apps.bots.services import agent_bot_assign, agent_bot_create
from apps.contacts.models import Contact
from apps.conversations.models import Conversation, Message
from apps.hooks.models import EventStatus, InboundEvent
from apps.inboxes.models import Inbox

from . import events
from .events import fixture

pytestmark = pytest.mark.django_db


def message(**changes: Any) -> dict[str, Any]:
    body = fixture("message_created")
    body.update(changes)
    return body


@pytest.fixture
def deliver(post, webhook):
    """Posts a body to the webhook endpoint and returns its stored event, mapped."""

    def send(body: dict[str, Any]) -> InboundEvent:
        assert post(webhook.path, json.dumps(body)).status_code == 200
        return InboundEvent.objects.order_by("-id").first()

    return send


def lines(event: InboundEvent) -> list[str]:
    return event.error.splitlines()


# -- booleans ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "private"),
    [
        ("false", False),
        ("FALSE", False),
        ("0", False),
        (0, False),
        ("true", True),
        ("True", True),
        ("1", True),
        (1, True),
        (True, True),
    ],
)
def test_private_is_read_from_the_words_and_numbers_that_mean_true_or_false(deliver, value, private):
    event = deliver(message(private=value))

    assert event.status == EventStatus.PROCESSED and event.error == ""
    assert Message.objects.get().private is private


@pytest.mark.parametrize("value", ["no", "maybe", 2, {}, [], "yes", " true"])
def test_a_private_that_is_no_boolean_is_left_out_with_the_reason_and_the_message_is_kept(deliver, value):
    event = deliver(message(private=value))

    assert event.status == EventStatus.PROCESSED
    assert lines(event) == [f"message.private: {value!r} is not a boolean; left out"]
    stored = Message.objects.get()
    assert stored.private is False and stored.content == "Hi, where is my order?"


def test_an_unreadable_private_leaves_a_known_message_as_it_was(deliver):
    deliver(message(private=True))
    deliver(message(event="message_updated", private="maybe", content="edited"))

    stored = Message.objects.get()
    assert (stored.private, stored.content) == (True, "edited")


def test_a_private_false_written_as_a_word_is_answered_by_the_bot(
    client, sandbox, tenant, inboxes, actor, django_capture_on_commit_callbacks
):
    bot = agent_bot_create(tenant=tenant, actor=actor, name="Helper")  # its events come to this console
    agent_bot_assign(bot=bot, inbox=inboxes[0], actor=actor)
    sandbox.customer_conversation(
        tenant_domain=tenant.domain,
        inbox_id=int(inboxes[0].remote_id),
        name="Grace",
        email="grace@example.com",
        content="Where is my order?",
    )
    log = sandbox.deliveries(wait=5)
    (event,) = [d for d in log if "/hooks/bot/" in d["url"] and d["body"]["event"] == "message_created"]
    body = {**event["body"], "private": "false"}

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.generic("POST", urlparse(event["url"]).path, json.dumps(body), "application/json")

    assert answer.status_code == 200
    assert Message.objects.get(content="Where is my order?").private is False
    assert BotReply.objects.get().state == "sent"


# -- text -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [{"text": "hi"}, ["hi"], 42, True])
def test_content_that_is_not_text_is_left_out_not_stored_as_a_python_repr(deliver, content):
    event = deliver(message(content=content))

    assert event.status == EventStatus.PROCESSED
    assert lines(event) == [f"message.content: {content!r} is not text; left out"]
    assert Message.objects.get().content == ""


def test_null_content_is_an_empty_message(deliver):
    event = deliver(message(content=None))
    assert event.error == "" and Message.objects.get().content == ""


def test_lone_surrogates_and_nuls_are_made_storable_in_every_text_and_noted(deliver):
    body = message(content="broken emoji \ud83d and a \x00 NUL")
    body["sender"]["name"] = "Gr\ud800ce"
    body["conversation"]["meta"]["sender"]["name"] = "Gr\x00ace \udfff"
    body["conversation"]["contact_inbox"]["source_id"] = "grace\x00@example.com"

    event = deliver(body)

    assert event.status == EventStatus.PROCESSED
    stored = Message.objects.get()
    assert stored.content == "broken emoji \ufffd and a  NUL"
    assert stored.sender_name == "Gr\ufffdce"
    assert Contact.objects.get().name == "Grace \ufffd"
    assert Conversation.objects.get().source_id == "grace@example.com"
    assert "\ud83d" not in json.dumps(stored.remote_data, ensure_ascii=False).encode("utf-16", "surrogatepass").decode(
        "utf-16"
    )
    assert lines(event) == [
        "message.content: NUL characters removed",
        "message.content: broken characters (lone surrogates) replaced with U+FFFD",
        "message.sender.name: broken characters (lone surrogates) replaced with U+FFFD",
        "conversation.contact_inbox.source_id: NUL characters removed",
        "contact.name: NUL characters removed",
        "contact.name: broken characters (lone surrogates) replaced with U+FFFD",
    ]


def test_the_copy_of_the_body_kept_on_the_row_holds_no_lone_surrogate_or_nul(deliver):
    deliver(message(content="ok", attachments=[{"note": "\ud800\x00"}]))

    kept = Message.objects.get().remote_data
    assert kept["attachments"] == [{"note": "\ufffd"}]


def test_names_are_cut_to_their_column(deliver):
    body = message()
    body["conversation"]["meta"]["sender"]["name"] = "G" * 300

    event = deliver(body)

    assert Contact.objects.get().name == "G" * 200
    assert lines(event) == ["contact.name: cut to 200 characters"]


# -- contacts: phone numbers and emails -------------------------------------------------------------------------
@pytest.mark.parametrize("phone", ["abc", "inf", "+0415", "4155550199", "+99 123", 14155550199, "+1" + "5" * 300])
def test_a_phone_number_that_is_not_a_valid_e164_number_is_left_out(deliver, phone):
    body = fixture("contact_created")
    body["phone_number"] = phone

    event = deliver(body)

    assert event.status == EventStatus.PROCESSED
    assert Contact.objects.get().phone_number == ""
    (line,) = lines(event)
    assert line.startswith("contact.phone_number: ") and line.endswith(
        "is not a valid phone number in E.164 (+ and the country code); left out"
    )


@pytest.mark.parametrize("phone", ["+199999999", "+1415", "+99123"])
def test_a_number_the_platform_holds_is_kept_though_no_country_uses_it(deliver, phone):
    """The platform takes + and up to 15 digits for a contact (its page's own example is +199999999): that is
    the contact's number, whatever phonenumbers thinks of it. A callback checks it strictly on its own."""
    event = deliver({**fixture("contact_created"), "phone_number": phone})
    assert event.status == EventStatus.PROCESSED and lines(event) == []
    assert Contact.objects.get().phone_number == phone


def test_a_valid_phone_number_is_stored_in_e164(deliver):
    deliver({**fixture("contact_created"), "phone_number": "+1 (415) 555-0177"})
    assert Contact.objects.get().phone_number == "+14155550177"


def test_an_invalid_phone_number_or_email_never_erases_the_known_one(deliver):
    deliver(fixture("contact_created"))
    event = deliver({**fixture("contact_created"), "event": "contact_updated", "phone_number": "abc", "email": "nope"})

    contact = Contact.objects.get()
    assert (contact.phone_number, contact.email) == ("+14155550177", "katherine@example.com")
    assert lines(event) == [
        "contact.email: 'nope' is not a valid email address; left out",
        "contact.phone_number: 'abc' is not a valid phone number in E.164 (+ and the country code); left out",
    ]


@pytest.mark.parametrize("email", ["nope", "a@b", f"{'a' * 250}@example.com", ["a@b.co"]])
def test_an_email_that_is_not_one_is_left_out(deliver, email):
    event = deliver({**fixture("contact_created"), "email": email})

    assert Contact.objects.get().email == ""
    (line,) = lines(event)
    assert line.startswith("contact.email: ") and line.endswith("is not a valid email address; left out")


# -- ids --------------------------------------------------------------------------------------------------------
def short(value: Any) -> str:
    return repr(value)[:24]


# (The parser refuses 261,274 digits too: tests/conversations/test_parsing.py; a body that size is refused whole.)
BAD_IDS = ["abc", -1, "-1", 1.5, "1.5", "\x00", True, "1" * 20, "9" * 100_000, 0, "²", " 7", {"id": 7}]


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=short)
def test_a_message_without_a_usable_id_cannot_be_mapped_and_is_kept_failed(deliver, bad_id):
    event = deliver(message(id=bad_id))

    assert event.status == EventStatus.FAILED
    assert event.error.startswith("MappingError: The message carries no usable id: ")
    assert len(event.error) < 300  # the reason quotes the value, cut short
    assert (Message.objects.count(), Conversation.objects.count(), Contact.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=short)
def test_a_conversation_or_contact_event_without_a_usable_id_cannot_be_mapped(deliver, bad_id):
    conversation = deliver({**fixture("conversation_status_changed"), "id": bad_id})
    contact = deliver({**fixture("contact_created"), "id": bad_id})

    assert conversation.status == contact.status == EventStatus.FAILED
    assert "The conversation carries no usable id" in conversation.error
    assert "The contact carries no usable id" in contact.error
    assert (Conversation.objects.count(), Contact.objects.count()) == (0, 0)


def test_a_message_whose_conversation_id_is_unusable_cannot_be_mapped(deliver):
    body = message()
    body["conversation"]["id"] = "abc"

    event = deliver(body)

    assert event.status == EventStatus.FAILED and "'abc' is not an id" in event.error
    assert Message.objects.count() == 0


def test_ids_are_stored_in_one_form(deliver):
    deliver(message(id="0009101"))
    deliver(message(id=9101))

    assert list(Message.objects.values_list("remote_id", flat=True)) == ["9101"]


@pytest.mark.parametrize("bad_id", ["abc", "<script>alert(1)</script>", -3, 1.5, "\x00"], ids=short)
def test_an_unusable_inbox_id_is_left_out_and_creates_no_inbox(deliver, bad_id):
    body = fixture("conversation_status_changed")
    body["inbox_id"] = bad_id

    event = deliver(body)

    assert event.status == EventStatus.PROCESSED
    assert Conversation.objects.get().inbox is None and not Inbox.objects.exists()
    assert lines(event) == [
        f"conversation.inbox_id: {bad_id!r} is not an id (a positive whole number of at most 19 "
        "digits); the inbox is left out"
    ]


def test_an_unusable_sender_id_leaves_the_contact_out_and_maps_the_rest(deliver):
    body = fixture("conversation_status_changed")
    body["meta"]["sender"]["id"] = "x1"

    event = deliver(body)

    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.contact, Contact.objects.count()) == ("open", None, 0)
    assert lines(event) == [
        "conversation.meta.sender.id: The contact carries no usable id: 'x1' is not an id (a positive whole number "
        "of at most 19 digits). The conversation's contact is left out."
    ]


# -- enums ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["²", "٣", "weird", 9, True, {"s": 1}])
def test_an_unknown_status_is_left_out_and_the_rest_is_mapped(deliver, status):
    event = deliver({**fixture("conversation_status_changed"), "status": status})

    assert event.status == EventStatus.PROCESSED and event.attempts == 1
    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.priority, conversation.assignee_name) == ("open", 3, "Demo Agent")
    assert lines(event) == [
        f"conversation.status: {status!r} is not a status (open, resolved, pending, snoozed or 0-3); left out"
    ]


def test_an_unknown_status_or_priority_leaves_a_known_conversation_as_it_was(deliver):
    deliver(fixture("conversation_status_changed"))
    later = {**fixture("conversation_status_changed"), "status": "²", "priority": "bogus", "updated_at": 1790000400}

    event = deliver(later)

    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.priority) == ("open", 3)
    assert lines(event) == [
        "conversation.status: '²' is not a status (open, resolved, pending, snoozed or 0-3); left out",
        "conversation.priority: 'bogus' is not a priority (low, medium, high, urgent, none or 0-4); left out",
    ]


def test_an_unknown_message_type_is_left_out_and_the_note_says_the_bot_does_not_answer_it(deliver):
    event = deliver(message(message_type="whisper"))

    stored = Message.objects.get()
    assert stored.message_type == "outgoing" and stored.sender_kind == "contact"
    assert lines(event) == [
        "message.message_type: 'whisper' is not a message type (incoming, outgoing, activity, template or 0-3); "
        "left out, so the bot does not answer this message"
    ]


# -- times ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "created_at",
    ["٣", "3", 3, "1999-12-31T23:59:59Z", "2026-13-45T00:00:00Z", "tomorrow", 1e300, "3000-01-01T00:00:00Z"],
)
def test_a_message_time_that_cannot_be_read_or_is_out_of_range_is_left_out(deliver, created_at):
    event = deliver(message(created_at=created_at))

    assert event.status == EventStatus.PROCESSED
    assert Message.objects.get().remote_created_at is None
    (line,) = lines(event)
    assert line.startswith(f"message.created_at: {created_at!r} is not a time") and line.endswith("; left out")


def test_a_time_far_in_the_future_cannot_freeze_a_conversation(deliver):
    opened = {**fixture("conversation_status_changed"), "updated_at": 32503680000}  # the year 3000
    resolved = {**fixture("conversation_status_changed"), "status": "resolved", "updated_at": 1790000600}

    deliver(opened)
    deliver(resolved)

    assert Conversation.objects.get().status == "resolved"


def test_times_in_range_are_read_as_unix_seconds_or_iso(deliver):
    deliver(message(created_at="2026-09-21T12:00:00.000Z"))
    body = fixture("conversation_status_changed")
    body["updated_at"] = "1790000300"
    deliver(body)

    stored = Message.objects.get()
    assert stored.remote_created_at.isoformat() == "2026-09-21T12:00:00+00:00"
    assert Conversation.objects.get().remote_updated_at.timestamp() == 1790000300


# -- all at once ------------------------------------------------------------------------------------------------
def test_every_unreadable_field_has_its_own_line_and_the_rest_of_the_event_is_mapped(deliver):
    body = message(private="maybe", created_at="٣", message_type="incoming")
    conversation = copy.deepcopy(body["conversation"])
    conversation.update(status="²", inbox_id="abc", priority="top")
    conversation["meta"]["sender"]["phone_number"] = "inf"
    body["conversation"] = conversation

    event = deliver(body)

    assert event.status == EventStatus.PROCESSED
    assert [line.split(":")[0] for line in lines(event)] == [
        "message.private",
        "message.created_at",
        "conversation.status",
        "conversation.priority",
        "conversation.inbox_id",
        "contact.phone_number",
    ]
    stored = Message.objects.get()
    assert (stored.content, stored.message_type, stored.private) == ("Hi, where is my order?", "incoming", False)
    # The message's own inbox (inbox.id 11) still places the conversation.
    assert stored.conversation.inbox.remote_id == "11"
    assert stored.conversation.contact.email == "grace@example.com"


def test_the_shared_helper_bodies_still_map_cleanly(deliver):
    event = deliver(events.message_event())
    assert (event.status, event.error) == (EventStatus.PROCESSED, "")
