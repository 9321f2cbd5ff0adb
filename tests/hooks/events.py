"""Event bodies as the platform sends them: named JSON fixtures (tests/fixtures/events/), each test
changing only the values it is about.

``ada_*.json`` are one customer's contact, conversation and message as the platform describes them;
the other fixtures are whole deliveries of their event type. Signing follows ../shared/CX_API.md, written
here from the contract rather than taken from the stand-in.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"


@functools.cache
def _loaded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fixture(name: str) -> dict[str, Any]:
    """A fresh copy of the named fixture (tests change it freely)."""
    return copy.deepcopy(_loaded(name))


def contact(contact_id: int = 7, **extra: Any) -> dict[str, Any]:
    return {**fixture("ada_contact"), "id": contact_id, **extra}


def conversation(conversation_id: int = 501, *, status: str = "pending", updated_at: int = 1_790_000_000, **extra: Any):
    body = fixture("ada_conversation")
    body["meta"]["sender"] = contact()
    times = {"created_at": updated_at - 60, "updated_at": updated_at, "last_activity_at": updated_at}
    return {**body, "id": conversation_id, "status": status, **times, **extra}


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
        **fixture("ada_message_created"),
        "event": event,
        "id": message_id,
        "content": content,
        "message_type": message_type,
        "private": private,
        "sender": sender if sender is not None else contact(),
        "conversation": conversation_obj if conversation_obj is not None else conversation(),
    }


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """``X-Chatwoot-Signature`` as the contract defines it: HMAC-SHA256 of ``"{timestamp}.{raw body}"``."""
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None, delivery: str = "") -> dict[str, str]:
    """Headers as the platform signs a delivery (signed here, independently of the console's check)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "HTTP_X_CHATWOOT_TIMESTAMP": str(timestamp),
        "HTTP_X_CHATWOOT_SIGNATURE": signature(secret, timestamp, body),
    }
    if delivery:
        headers["HTTP_X_CHATWOOT_DELIVERY"] = delivery
    return headers
