"""Chatwoot-shaped event bodies, as the platform sends them (see ../shared/CX_API.md)."""

from __future__ import annotations

import json
import time
from typing import Any

from standin.events import signature


def contact(contact_id: int = 7, **extra: Any) -> dict[str, Any]:
    return {
        "id": contact_id,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone_number": "+14155550123",
        "type": "contact",
        **extra,
    }


def conversation(conversation_id: int = 501, *, status: str = "pending", updated_at: int = 1_790_000_000, **extra: Any):
    return {
        "id": conversation_id,
        "inbox_id": 11,
        "account_id": 1,
        "status": status,
        "priority": None,
        "meta": {"sender": contact(), "assignee": None, "channel": "Channel::WebWidget"},
        "contact_inbox": {"source_id": "ada@example.com"},
        "messages": [],
        "created_at": updated_at - 60,
        "updated_at": updated_at,
        "last_activity_at": updated_at,
        **extra,
    }


def conversation_event(event: str = "conversation_created", **kwargs: Any) -> dict[str, Any]:
    return {**conversation(**kwargs), "event": event}


def message_event(
    message_id: int = 9001,
    *,
    content: str = "Hello, I need help with my order",
    message_type: Any = "incoming",
    sender: dict[str, Any] | None = None,
    conversation_obj: dict[str, Any] | None = None,
    event: str = "message_created",
    private: bool = False,
) -> dict[str, Any]:
    return {
        "event": event,
        "id": message_id,
        "content": content,
        "content_type": "text",
        "message_type": message_type,
        "private": private,
        "created_at": "2026-09-21T12:00:00.000Z",
        "sender": sender if sender is not None else contact(),
        "inbox": {"id": 11, "name": "Website"},
        "account": {"id": 1, "name": "test"},
        "source_id": None,
        "attachments": [],
        "conversation": conversation_obj if conversation_obj is not None else conversation(),
    }


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None, delivery: str = "") -> dict[str, str]:
    """Headers as the platform signs a delivery (the stand-in's signer, independent of the console's check)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "HTTP_X_CHATWOOT_TIMESTAMP": str(timestamp),
        "HTTP_X_CHATWOOT_SIGNATURE": signature(secret, timestamp, body),
    }
    if delivery:
        headers["HTTP_X_CHATWOOT_DELIVERY"] = delivery
    return headers
