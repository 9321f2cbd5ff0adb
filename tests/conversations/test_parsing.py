"""Chatwoot's loose shapes read into our fields: numbers or words, unix or ISO times; the unreadable left out."""

from datetime import UTC, datetime

import pytest

from apps.conversations.models import ConversationStatus, Holder, MessageType, Priority, SenderKind
from apps.conversations.parsing import parse_conversation, parse_message, priority_from, status_from
from apps.cx.validation import UnusablePayload


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Priority.NONE),
        ("low", Priority.LOW),
        ("URGENT", Priority.URGENT),
        (3, Priority.HIGH),
        ("2", Priority.MEDIUM),
    ],
)
def test_priority_from_words_and_numbers(value, expected):
    assert priority_from(value) == expected


@pytest.mark.parametrize("value", ["bogus", 99, "²", True, 1.5, {}])
def test_a_priority_that_is_none_of_them_is_refused_not_read_as_none(value):
    with pytest.raises(ValueError, match="is not a priority"):
        priority_from(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("open", "open"), ("Pending", "pending"), (1, "resolved"), ("3", "snoozed")],
)
def test_status_from_words_and_enum_numbers(value, expected):
    assert status_from(value) == expected


@pytest.mark.parametrize("value", ["weird", "²", "٣", 7, True, [], "1.0"])
def test_a_status_that_is_none_of_them_is_refused(value):
    with pytest.raises(ValueError, match="is not a status"):
        status_from(value)


def test_conversation_fields_from_an_event_body():
    payload = parse_conversation(
        {
            "id": 7,
            "status": "pending",
            "priority": "high",
            "created_at": 1700000000,
            "last_activity_at": "1700000100",
            "meta": {"assignee": None},
            "contact_inbox": {"source_id": "a@b.c"},
        }
    )
    assert payload.remote_id == "7" and payload.problems == ()
    assert payload.fields == {
        "status": ConversationStatus.PENDING,
        "holder": Holder.BOT,
        "priority": Priority.HIGH,
        "source_id": "a@b.c",
        "remote_created_at": datetime.fromtimestamp(1700000000, tz=UTC),
        "last_activity_at": datetime.fromtimestamp(1700000100, tz=UTC),
    }


def test_conversation_fields_leave_out_what_is_absent():
    payload = parse_conversation({"id": 7})
    assert (payload.fields, payload.inbox_id, payload.contact, payload.problems) == ({}, None, None, ())


def test_message_from_a_top_level_event_with_word_type_and_iso_time():
    payload = parse_message(
        {
            "id": 1,
            "content": "hi",
            "message_type": "outgoing",
            "private": True,
            "created_at": "2024-11-24T10:00:00Z",
            "sender": {"type": "agent_bot", "name": "Bot"},
        }
    )
    fields = payload.fields
    assert fields["message_type"] == MessageType.OUTGOING
    assert (fields["sender_kind"], fields["sender_name"]) == (SenderKind.BOT, "Bot")
    assert fields["private"] is True
    assert fields["remote_created_at"] == datetime(2024, 11, 24, 10, tzinfo=UTC)


def test_message_inside_a_conversation_with_number_type_and_unix_time():
    fields = parse_message({"id": 1, "content": "hello", "message_type": 0, "created_at": 1700000000}).fields
    assert fields["message_type"] == MessageType.INCOMING and fields["sender_kind"] == SenderKind.CONTACT
    assert fields["remote_created_at"] == datetime.fromtimestamp(1700000000, tz=UTC)


def test_agent_user_sender():
    fields = parse_message({"id": 1, "message_type": 1, "sender": {"type": "user", "name": "Ann"}}).fields
    assert fields["sender_kind"] == SenderKind.AGENT


def test_an_outgoing_message_without_a_sender_is_the_bot_only_when_is_bot_says_so():
    assert parse_message({"id": 1, "message_type": 1, "is_bot": "true"}).fields["sender_kind"] == SenderKind.BOT
    assert parse_message({"id": 1, "message_type": 1, "is_bot": False}).fields["sender_kind"] == SenderKind.AGENT
    payload = parse_message({"id": 1, "message_type": 1, "is_bot": "perhaps"})
    assert "sender_kind" not in payload.fields
    assert payload.problems == ("message.is_bot: 'perhaps' is not a boolean; who sent it (bot or agent) is left out",)


@pytest.mark.parametrize("bad_id", ["abc", -1, "-1", 1.5, "1.5", "\x00", True, "1" * 261_274, 0, "²", None, ""])
def test_a_message_or_conversation_without_a_usable_id_cannot_be_read(bad_id):
    with pytest.raises(UnusablePayload, match="The message carries no"):
        parse_message({"id": bad_id, "content": "hi"})
    with pytest.raises(UnusablePayload, match="The conversation carries no"):
        parse_conversation({"id": bad_id})


def test_a_message_whose_conversation_has_no_usable_id_cannot_be_read():
    with pytest.raises(UnusablePayload, match="conversation cannot be read.*'abc' is not an id"):
        parse_message({"id": 1, "conversation": {"id": "abc"}})
    with pytest.raises(UnusablePayload, match="names no usable conversation"):
        parse_message({"id": 1, "conversation_id": "-5"})


def test_ids_are_kept_in_one_form_whether_they_come_as_numbers_or_strings():
    assert parse_message({"id": "0042", "conversation_id": 501}).remote_id == "42"
    assert parse_message({"id": 42, "conversation_id": "501"}).conversation_id == "501"
