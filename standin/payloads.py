"""JSON shapes of the sandbox's objects, as the CX API answers them and as Chatwoot sends them in events.

Every function here reads the state's tables, so callers hold the state lock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .records import AgentBot, Contact, Conversation, Inbox, Message, Tables, Webhook

CHANNEL = "Channel::WebWidget"
PRIORITIES: tuple[str | None, ...] = (None, "low", "medium", "high", "urgent")
# Chatwoot's numeric message types, used where it sends message_type_before_type_cast.
MESSAGE_TYPE_NUMBERS = {"incoming": 0, "outgoing": 1, "activity": 2, "template": 3}
_SENDER_CLASSES = {"contact": "Contact", "user": "User", "agent_bot": "AgentBot"}
DEMO_AGENT = {"id": 1, "name": "Demo Agent", "type": "user"}
GENERIC_BOT = {"id": None, "name": "Bot", "type": "agent_bot"}


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def inbox(record: Inbox) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "channel_type": CHANNEL,
        "avatar_url": "",
        "widget_color": "#1f93ff",
        "website_url": "",
        "enable_auto_assignment": True,
        "agent_bot_id": record.agent_bot_id,
    }


def agent_bot(record: AgentBot) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "description": record.description,
        "outgoing_url": record.outgoing_url,
        "account_id": record.tenant_id,
        "bot_type": "webhook",
    }


def webhook(record: Webhook) -> dict[str, Any]:
    return {
        "id": record.id,
        "url": record.url,
        "subscriptions": list(record.subscriptions),
        "account_id": record.tenant_id,
    }


def contact_record(state: Tables, record: Contact) -> dict[str, Any]:
    """A contact as the contacts endpoint answers it."""
    return {
        "id": record.id,
        "name": record.name,
        "email": record.email,
        "phone_number": record.phone_number,
        "identifier": None,
        "thumbnail": "",
        "contact_inboxes": [
            {"source_id": record.email, "inbox": {"id": inbox_id, "name": state.inboxes[inbox_id].name}}
            for inbox_id in record.inbox_ids
        ],
    }


def contact_sender(record: Contact) -> dict[str, Any]:
    """A contact as events show it (``sender``, ``meta.sender``)."""
    return {
        "id": record.id,
        "name": record.name,
        "email": record.email,
        "phone_number": record.phone_number,
        "identifier": None,
        "thumbnail": "",
        "additional_attributes": {},
        "custom_attributes": {},
        "type": "contact",
    }


def contact_event(state: Tables, record: Contact) -> dict[str, Any]:
    tenant = state.tenants[record.tenant_id]
    return {**contact_sender(record), "account": {"id": tenant.id, "name": tenant.domain}}


def sender(state: Tables, record: Message) -> dict[str, Any]:
    if record.sender_type == "contact":
        assert record.sender_id is not None
        return contact_sender(state.contacts[record.sender_id])
    if record.sender_type == "agent_bot":
        bot = state.bots.get(record.sender_id) if record.sender_id is not None else None
        return {"id": bot.id, "name": bot.name, "type": "agent_bot"} if bot else dict(GENERIC_BOT)
    return dict(DEMO_AGENT)


def _last_message(state: Tables, record: Message) -> dict[str, Any]:
    """A message inside ``conversation.messages``: numeric type and unix time, as Chatwoot pushes it."""
    conversation = state.conversations[record.conversation_id]
    return {
        "id": record.id,
        "content": record.content,
        "content_type": "text",
        "content_attributes": {},
        "message_type": MESSAGE_TYPE_NUMBERS[record.message_type],
        "created_at": int(record.created_at),
        "updated_at": int(record.created_at),
        "private": False,
        "status": "sent",
        "source_id": None,
        "conversation_id": conversation.id,
        "inbox_id": conversation.inbox_id,
        "account_id": conversation.tenant_id,
        "sender_type": _SENDER_CLASSES[record.sender_type],
        "sender_id": record.sender_id,
        "sender": sender(state, record),
    }


def conversation(state: Tables, record: Conversation) -> dict[str, Any]:
    """The conversation object: the API's answer and the body of conversation events."""
    contact = state.contacts[record.contact_id]
    last = state.messages.get(record.last_message_id) if record.last_message_id is not None else None
    return {
        "id": record.id,
        "inbox_id": record.inbox_id,
        "account_id": record.tenant_id,
        "status": record.status,
        "priority": PRIORITIES[record.priority],
        "meta": {
            "sender": contact_sender(contact),
            "assignee": dict(DEMO_AGENT) if record.assignee_id is not None else None,
            "channel": CHANNEL,
        },
        "contact_inbox": {"source_id": record.source_id},
        "messages": [_last_message(state, last)] if last else [],
        "created_at": int(record.created_at),
        "updated_at": int(record.updated_at),
        "last_activity_at": int(record.last_activity_at),
        "timestamp": int(record.last_activity_at),
        "waiting_since": int(record.waiting_since) if record.waiting_since is not None else None,
        "snoozed_until": None,
        "additional_attributes": {},
        "custom_attributes": {},
        "labels": [],
        "can_reply": True,
        "unread_count": record.unread_count,
    }


def message(state: Tables, record: Message) -> dict[str, Any]:
    """The message object: the API's answer and the body of message events (word type, ISO time)."""
    record_conversation = state.conversations[record.conversation_id]
    tenant = state.tenants[record_conversation.tenant_id]
    record_inbox = state.inboxes[record_conversation.inbox_id]
    return {
        "id": record.id,
        "content": record.content,
        "content_type": "text",
        "message_type": record.message_type,
        "private": False,
        "created_at": iso(record.created_at),
        "sender": sender(state, record),
        "inbox": {"id": record_inbox.id, "name": record_inbox.name},
        "account": {"id": tenant.id, "name": tenant.domain},
        "source_id": None,
        "attachments": [],
        "content_attributes": {},
        "additional_attributes": {},
        "conversation": conversation(state, record_conversation),
    }


def message_record(state: Tables, record: Message) -> dict[str, Any]:
    """A flat message for the control API's state dump (no nested conversation)."""
    return {
        "id": record.id,
        "conversation_id": record.conversation_id,
        "inbox_id": state.conversations[record.conversation_id].inbox_id,
        "content": record.content,
        "message_type": record.message_type,
        "sender": sender(state, record),
        "created_at": iso(record.created_at),
    }
