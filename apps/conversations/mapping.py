"""Reads Chatwoot-shaped conversation and message objects (API answers and events) into model fields.

The platform is loose about types: ids and enums come as numbers or strings, priorities as words or
numbers, times as unix seconds or ISO-8601. Everything tolerant lives here, in one place.
"""

from __future__ import annotations

from typing import Any

from apps.cx.mirror import parse_timestamp

from .models import ConversationStatus, Holder, MessageType, Priority, SenderKind

_PRIORITY_WORDS = {
    "none": Priority.NONE,
    "low": Priority.LOW,
    "medium": Priority.MEDIUM,
    "high": Priority.HIGH,
    "urgent": Priority.URGENT,
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


def priority_from(value: Any) -> int:
    if value is None or value == "":
        return Priority.NONE
    if isinstance(value, str) and value.strip().lower() in _PRIORITY_WORDS:
        return _PRIORITY_WORDS[value.strip().lower()]
    try:
        number = int(value)
    except (TypeError, ValueError):
        return Priority.NONE
    return number if number in Priority.values else Priority.NONE


def status_from(value: Any) -> str | None:
    text = str(value).strip().lower() if value is not None else ""
    if text.isdigit():
        # Chatwoot's enum order: open, resolved, pending, snoozed.
        text = {0: "open", 1: "resolved", 2: "pending", 3: "snoozed"}.get(int(text), "")
    return text if text in ConversationStatus.values else None


def message_type_from(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in MessageType.values:
        return value.strip().lower()
    try:
        return _MESSAGE_TYPE_NUMBERS.get(int(value), MessageType.INCOMING)
    except (TypeError, ValueError):
        return MessageType.INCOMING


def holder_for(status: str | None, assignee: Any) -> str:
    if status == ConversationStatus.PENDING:
        return Holder.BOT
    if status == ConversationStatus.RESOLVED:
        return Holder.NOBODY
    return Holder.AGENT


def conversation_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Model fields present in a conversation object; absent ones are left out, not blanked."""
    fields: dict[str, Any] = {}
    status = status_from(data.get("status"))
    meta = data["meta"] if isinstance(data.get("meta"), dict) else {}
    assignee = meta.get("assignee")
    if status:
        fields["status"] = status
        fields["holder"] = holder_for(status, assignee)
    if "priority" in data:
        fields["priority"] = priority_from(data.get("priority"))
    if isinstance(assignee, dict):
        fields["assignee_name"] = str(assignee.get("name") or assignee.get("available_name") or "")
    contact_inbox = data.get("contact_inbox")
    if isinstance(contact_inbox, dict) and contact_inbox.get("source_id"):
        fields["source_id"] = str(contact_inbox["source_id"])
    elif data.get("source_id"):
        fields["source_id"] = str(data["source_id"])
    for field, key in (
        ("remote_created_at", "created_at"),
        ("last_activity_at", "last_activity_at"),
        ("remote_updated_at", "updated_at"),
    ):
        moment = parse_timestamp(data.get(key))
        if moment:
            fields[field] = moment
    return fields


def sender_of(message: dict[str, Any]) -> tuple[str, str]:
    sender = message.get("sender")
    if isinstance(sender, dict):
        kind = _SENDER_TYPES.get(str(sender.get("type") or "").lower())
        name = str(sender.get("name") or "")
        if kind:
            return kind, name
    message_type = message_type_from(message.get("message_type"))
    if message_type == MessageType.INCOMING:
        return SenderKind.CONTACT, ""
    if message_type == MessageType.ACTIVITY:
        return SenderKind.SYSTEM, ""
    return (SenderKind.BOT if message.get("is_bot") else SenderKind.AGENT), ""


def message_fields(data: dict[str, Any]) -> dict[str, Any]:
    kind, name = sender_of(data)
    return {
        "content": str(data.get("content") or ""),
        "message_type": message_type_from(data.get("message_type")),
        "sender_kind": kind,
        "sender_name": name,
        "private": bool(data.get("private") or False),
        "remote_created_at": parse_timestamp(data.get("created_at")),
    }
