"""Reads Chatwoot-shaped conversation and message objects (API answers and events) into model fields.

The platform is loose about types: ids and enums come as numbers or strings, priorities as words or
numbers, times as unix seconds or ISO-8601. These parsers are pure (no database) and strict: each value
that cannot be read is left out, and the reason joins the payload's ``problems``, one line per field
("message.private: 'maybe' is not a boolean; left out"). Only an object whose own id is unusable
cannot be read at all (``UnusablePayload``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import TextChoices

from apps.contacts.parsing import ContactPayload, parse_contact
from apps.cx.validation import Reading, UnusablePayload, checked_bool, checked_moment, checked_remote_id, own_id, shown

from .models import ConversationStatus, Holder, MessageType, Priority, SenderKind

NAME_MAX_LENGTH = 200
SOURCE_ID_MAX_LENGTH = 255

_PRIORITY_WORDS = {
    "none": Priority.NONE,
    "low": Priority.LOW,
    "medium": Priority.MEDIUM,
    "high": Priority.HIGH,
    "urgent": Priority.URGENT,
}
# Chatwoot's enum orders, for the places where it sends the number.
_STATUS_NUMBERS = {
    0: ConversationStatus.OPEN,
    1: ConversationStatus.RESOLVED,
    2: ConversationStatus.PENDING,
    3: ConversationStatus.SNOOZED,
}
_MESSAGE_TYPE_NUMBERS = {
    0: MessageType.INCOMING,
    1: MessageType.OUTGOING,
    2: MessageType.ACTIVITY,
    3: MessageType.TEMPLATE,
}
_SENDER_TYPES = {
    "contact": SenderKind.CONTACT,
    "user": SenderKind.AGENT,
    "agent_bot": SenderKind.BOT,
    "agentbot": SenderKind.BOT,
}


@dataclass(frozen=True)
class ConversationPayload:
    remote_id: str
    # Only what the payload gave and could be read: a blank or unreadable value never erases a known one.
    fields: dict[str, Any]
    inbox_id: str | None
    contact: ContactPayload | None
    messages: tuple[MessagePayload, ...]
    raw: dict[str, Any]
    problems: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        return "\n".join(self.problems)


@dataclass(frozen=True)
class MessagePayload:
    remote_id: str
    fields: dict[str, Any]
    # The conversation object the message carries (events, API answers), else only its id, else nothing.
    conversation: ConversationPayload | None
    conversation_id: str | None
    inbox_id: str | None
    raw: dict[str, Any]
    problems: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        return "\n".join(self.problems)


def _enum_number(value: Any) -> int | None:
    """An enum given as a number: a JSON integer or a string of ASCII digits ("²" and "٣" are not)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 3:
        return int(value)
    return None


def _word(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) else None


def priority_from(value: Any) -> int:
    """A word (low … urgent, none), null for none, or our own number 0-4; anything else is refused."""
    if value is None:
        return Priority.NONE
    word = _word(value)
    if word in _PRIORITY_WORDS:
        return _PRIORITY_WORDS[word]
    number = _enum_number(value)
    if number in Priority.values:
        return Priority(number)
    raise ValueError(f"{shown(value)} is not a priority (low, medium, high, urgent, none or 0-4)")


def _choice(value: Any, choices: type[TextChoices], numbers: Mapping[int, str], what: str) -> str:
    """One of ``choices``, given as its word (any case) or as Chatwoot's number for it."""
    word = _word(value)
    if word in choices.values:
        return choices(word)
    number = _enum_number(value)
    if number is not None and number in numbers:
        return numbers[number]
    raise ValueError(f"{shown(value)} is not {what}")


def status_from(value: Any) -> str:
    return _choice(value, ConversationStatus, _STATUS_NUMBERS, "a status (open, resolved, pending, snoozed or 0-3)")


def message_type_from(value: Any) -> str:
    return _choice(
        value, MessageType, _MESSAGE_TYPE_NUMBERS, "a message type (incoming, outgoing, activity, template or 0-3)"
    )


def holder_for(status: str) -> str:
    if status == ConversationStatus.PENDING:
        return Holder.BOT
    if status == ConversationStatus.RESOLVED:
        return Holder.NOBODY
    return Holder.AGENT


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _inbox_id(reading: Reading, data: dict[str, Any]) -> str | None:
    if data.get("inbox_id") not in (None, ""):
        key, value = "inbox_id", data["inbox_id"]
    else:
        key, value = "inbox.id", _dict(data.get("inbox")).get("id")
    if value is None or value == "":
        return None
    try:
        return checked_remote_id(value)
    except ValueError as exc:
        reading.note(key, f"{exc}; the inbox is left out")
        return None


def parse_conversation(data: dict[str, Any], *, with_messages: bool = True) -> ConversationPayload:
    """Raises ``UnusablePayload`` when the conversation's own id is unusable."""
    remote_id = own_id(data, "conversation")
    reading = Reading("conversation")
    status = reading.take("status", "status", data.get("status"), status_from)
    if status:
        reading.fields["holder"] = holder_for(status)
    if "priority" in data:
        if data["priority"] is None:  # Chatwoot's null priority is "none", a value, not a blank
            reading.fields["priority"] = Priority.NONE
        else:
            reading.take("priority", "priority", data["priority"], priority_from)
    meta = _dict(data.get("meta"))
    assignee = meta.get("assignee")
    if isinstance(assignee, dict):
        name = assignee.get("name") or assignee.get("available_name")
        reading.take_text("assignee_name", "meta.assignee.name", name, max_length=NAME_MAX_LENGTH)
    contact_inbox = _dict(data.get("contact_inbox"))
    if contact_inbox.get("source_id"):
        reading.take_text(
            "source_id", "contact_inbox.source_id", contact_inbox["source_id"], max_length=SOURCE_ID_MAX_LENGTH
        )
    else:
        reading.take_text("source_id", "source_id", data.get("source_id"), max_length=SOURCE_ID_MAX_LENGTH)
    for name, key in (
        ("remote_created_at", "created_at"),
        ("last_activity_at", "last_activity_at"),
        ("remote_updated_at", "updated_at"),
    ):
        reading.take(name, key, data.get(key), checked_moment)
    inbox_id = _inbox_id(reading, data)
    contact = None
    sender = meta.get("sender")
    if isinstance(sender, dict) and sender.get("id") is not None:
        try:
            contact = parse_contact(sender)
        except UnusablePayload as exc:
            reading.note("meta.sender.id", f"{exc} The conversation's contact is left out.")
    problems = list(reading.problems) + list(contact.problems if contact else ())
    messages: list[MessagePayload] = []
    carried_messages = data.get("messages") if with_messages else None
    for item in carried_messages if isinstance(carried_messages, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            message = parse_message(item, carried=False)
        except UnusablePayload as exc:
            problems.append(f"conversation.messages: {exc} That message is left out.")
            continue
        messages.append(message)
        problems.extend(message.problems)
    return ConversationPayload(remote_id, reading.fields, inbox_id, contact, tuple(messages), data, tuple(problems))


def _sender(reading: Reading, data: dict[str, Any], message_type: str | None) -> None:
    """Who wrote it: the sender's type when it says, else what the message type implies."""
    sender = data.get("sender")
    if isinstance(sender, dict):
        kind = _SENDER_TYPES.get(_word(sender.get("type")) or "")
        if kind:
            reading.fields["sender_kind"] = kind
            reading.fields["sender_name"] = ""
            reading.take_text("sender_name", "sender.name", sender.get("name"), max_length=NAME_MAX_LENGTH)
            return
    if message_type == MessageType.INCOMING:
        reading.fields.update(sender_kind=SenderKind.CONTACT, sender_name="")
    elif message_type == MessageType.ACTIVITY:
        reading.fields.update(sender_kind=SenderKind.SYSTEM, sender_name="")
    elif message_type is not None:
        is_bot = False
        if data.get("is_bot") not in (None, ""):
            try:
                is_bot = checked_bool(data["is_bot"])
            except ValueError as exc:
                reading.note("is_bot", f"{exc}; who sent it (bot or agent) is left out")
                return
        reading.fields.update(sender_kind=SenderKind.BOT if is_bot else SenderKind.AGENT, sender_name="")


def parse_message(data: dict[str, Any], *, carried: bool = True) -> MessagePayload:
    """Raises ``UnusablePayload`` when the message's own id, or the conversation it carries, is unusable.

    ``carried``: read the conversation object the message carries (a message inside a conversation's
    ``messages`` has none worth reading, and is not read for one).
    """
    remote_id = own_id(data, "message")
    reading = Reading("message")
    if "content" in data:
        if data["content"] is None:
            reading.fields["content"] = ""
        else:
            reading.take_text("content", "content", data["content"])
    message_type = None
    if data.get("message_type") not in (None, ""):
        try:
            message_type = reading.fields["message_type"] = message_type_from(data["message_type"])
        except ValueError as exc:
            # Guessing "incoming" would have the bot answer an agent's note or a template; a new row keeps the
            # model's default (outgoing): it shows in the transcript, and nobody answers it automatically.
            reading.note("message_type", f"{exc}; left out, so the bot does not answer this message")
    _sender(reading, data, message_type)
    reading.take("private", "private", data.get("private"), checked_bool)
    reading.take("remote_created_at", "created_at", data.get("created_at"), checked_moment)
    inbox_id = _inbox_id(reading, data)
    conversation, conversation_id = None, None
    carried_object = data.get("conversation") if carried else None
    if isinstance(carried_object, dict) and carried_object.get("id") not in (None, ""):
        try:
            conversation = parse_conversation(carried_object, with_messages=False)
        except UnusablePayload as exc:
            raise UnusablePayload(f"The message's conversation cannot be read: {exc}") from None
        conversation_id = conversation.remote_id
        if conversation.fields.get("remote_updated_at"):
            # The platform touches the conversation whenever it saves one of its messages: this version's time.
            reading.fields["remote_version_at"] = conversation.fields["remote_updated_at"]
    elif data.get("conversation_id") not in (None, ""):
        try:
            conversation_id = checked_remote_id(data["conversation_id"])
        except ValueError as exc:
            raise UnusablePayload(f"The message names no usable conversation: {exc}.") from None
    problems = list(reading.problems) + list(conversation.problems if conversation else ())
    own = {key: value for key, value in data.items() if key != "conversation"}
    return MessagePayload(remote_id, reading.fields, conversation, conversation_id, inbox_id, own, tuple(problems))
