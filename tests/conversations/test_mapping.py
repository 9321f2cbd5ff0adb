"""Chatwoot's loose shapes read into our fields: numbers or words, unix or ISO times."""

from datetime import UTC, datetime

import pytest

from apps.conversations.mapping import conversation_fields, message_fields, priority_from, status_from
from apps.conversations.models import ConversationStatus, Holder, MessageType, Priority, SenderKind


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Priority.NONE),
        ("low", Priority.LOW),
        ("URGENT", Priority.URGENT),
        (3, Priority.HIGH),
        ("2", Priority.MEDIUM),
        ("bogus", Priority.NONE),
        (99, Priority.NONE),
    ],
)
def test_priority_from_words_and_numbers(value, expected):
    assert priority_from(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("open", "open"), ("Pending", "pending"), (1, "resolved"), ("3", "snoozed"), ("weird", None), (None, None)],
)
def test_status_from_words_and_enum_numbers(value, expected):
    assert status_from(value) == expected


def test_conversation_fields_from_an_event_body():
    fields = conversation_fields(
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
    assert fields == {
        "status": ConversationStatus.PENDING,
        "holder": Holder.BOT,
        "priority": Priority.HIGH,
        "source_id": "a@b.c",
        "remote_created_at": datetime.fromtimestamp(1700000000, tz=UTC),
        "last_activity_at": datetime.fromtimestamp(1700000100, tz=UTC),
    }


def test_conversation_fields_leave_out_what_is_absent():
    assert conversation_fields({"id": 7}) == {}


def test_message_from_a_top_level_event_with_word_type_and_iso_time():
    fields = message_fields(
        {
            "content": "hi",
            "message_type": "outgoing",
            "private": True,
            "created_at": "2026-11-24T10:00:00Z",
            "sender": {"type": "agent_bot", "name": "Bot"},
        }
    )
    assert fields["message_type"] == MessageType.OUTGOING
    assert (fields["sender_kind"], fields["sender_name"]) == (SenderKind.BOT, "Bot")
    assert fields["private"] is True
    assert fields["remote_created_at"] == datetime(2026, 11, 24, 10, tzinfo=UTC)


def test_message_inside_a_conversation_with_number_type_and_unix_time():
    fields = message_fields({"content": "hello", "message_type": 0, "created_at": 1700000000})
    assert fields["message_type"] == MessageType.INCOMING and fields["sender_kind"] == SenderKind.CONTACT
    assert fields["remote_created_at"] == datetime.fromtimestamp(1700000000, tz=UTC)


def test_agent_user_sender():
    assert (
        message_fields({"message_type": 1, "sender": {"type": "user", "name": "Ann"}})["sender_kind"]
        == SenderKind.AGENT
    )
