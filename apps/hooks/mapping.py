"""Maps one stored event onto the mirror: a table from event type to the service that owns those rows.

Each entry reads the body with its app's pure parser and hands the result to that app's upsert service
(keyed by the vendor's id, so an event mapped twice leaves one row); nothing here writes a model. What the
parser had to leave out, field by field, comes back as the note a person reads on the event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.contacts.parsing import parse_contact
from apps.contacts.services import contact_upsert_from_remote
from apps.conversations.models import Conversation, Message
from apps.conversations.parsing import MessagePayload, parse_conversation, parse_message
from apps.conversations.services import (
    conversation_upsert_from_remote,
    message_repeats_mirror,
    message_upsert_from_remote,
    messages_mirrored,
)
from apps.cx.models import SyncSource, Tenant
from apps.cx.validation import UnusablePayload


class MappingError(Exception):
    """The event's body cannot be mapped as it stands (kept, marked failed, retried)."""


@dataclass
class Mapped:
    ignored: bool = False
    messages: list[Message] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    # One line per value left out or altered, and why.
    note: str = ""


def _message(tenant: Tenant, event_type: str, data: dict[str, Any], event_id: int | None) -> Mapped:
    payload = parse_message(data)
    message = message_upsert_from_remote(
        tenant=tenant,
        payload=payload,
        source=SyncSource.WEBHOOK,
        update=event_type == "message_updated",
        source_event_id=event_id,
        likely_new=event_type == "message_created",
    )
    return Mapped(messages=[message], conversations=[message.conversation], note=payload.note)


def _conversation(tenant: Tenant, event_type: str, data: dict[str, Any], event_id: int | None) -> Mapped:
    payload = parse_conversation(data, with_messages=False)
    conversation = conversation_upsert_from_remote(tenant=tenant, payload=payload, source=SyncSource.WEBHOOK)
    return Mapped(conversations=[conversation], note=payload.note)


def _contact(tenant: Tenant, event_type: str, data: dict[str, Any], event_id: int | None) -> Mapped:
    payload = parse_contact(data)
    contact_upsert_from_remote(tenant=tenant, payload=payload, source=SyncSource.WEBHOOK)
    return Mapped(note="\n".join(payload.problems))


EVENT_MAPPERS: dict[str, Callable[[Tenant, str, dict[str, Any], int | None], Mapped]] = {
    "message_created": _message,
    "message_updated": _message,
    "conversation_created": _conversation,
    "conversation_updated": _conversation,
    "conversation_status_changed": _conversation,
    "conversation_opened": _conversation,
    "conversation_resolved": _conversation,
    "contact_created": _contact,
    "contact_updated": _contact,
}
# Known, and deliberately not mirrored: stored and marked ignored.
NOT_MAPPED_EVENTS = {
    "webwidget_triggered",
    "inbox_created",
    "inbox_updated",
    "conversation_typing_on",
    "conversation_typing_off",
}


def _repeatable(event_type: str, data: dict[str, Any]) -> MessagePayload | None:
    """The message a message event describes, when it could repeat one; None for another event, for one
    that cannot be read, and for one with problems (mapped the long way, so the event keeps the note)."""
    if EVENT_MAPPERS.get(event_type) is not _message:
        return None
    try:
        payload = parse_message(data)
    except UnusablePayload:
        return None
    return None if payload.problems else payload


def known_repeats(tenant: Tenant, events: list[tuple[str, dict[str, Any]]]) -> list[Message | None]:
    """For each (event type, body) of ``tenant``: the mirrored message it repeats, when mapping it would write
    nothing (``message_repeats_mirror``) and leave no note; else None. Reads only: one query in all."""
    payloads = [_repeatable(event_type, data) for event_type, data in events]
    wanted = [payload.remote_id for payload in payloads if payload]
    mirrored = messages_mirrored(tenant=tenant, remote_ids=wanted) if wanted else {}
    repeats: list[Message | None] = []
    for (event_type, _), payload in zip(events, payloads, strict=True):
        message = mirrored.get(payload.remote_id) if payload else None
        update = event_type == "message_updated"
        same = payload is not None and message is not None and message_repeats_mirror(message, payload, update=update)
        repeats.append(message if same else None)
    return repeats


def map_event(tenant: Tenant, event_type: str, data: dict[str, Any], *, event_id: int | None = None) -> Mapped:
    """Maps the body of an event (``event_id``: the stored event, which the messages it brings remember)."""
    mapper = EVENT_MAPPERS.get(event_type)
    if mapper is None:
        if event_type in NOT_MAPPED_EVENTS:
            return Mapped(ignored=True, note=f"{event_type} events are kept but not mirrored.")
        return Mapped(ignored=True, note=f"Unknown event type {event_type or '(none)'!r}: kept, not mapped.")
    try:
        return mapper(tenant, event_type, data, event_id)
    except UnusablePayload as exc:
        raise MappingError(str(exc)) from None
