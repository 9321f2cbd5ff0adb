"""Maps one stored event onto the mirror: contact, conversation and message upserts.

Every upsert is keyed by the vendor's id, so the same event mapped twice (re-delivered, replayed, or
picked by two workers) leaves one row. A conversation's state (status, holder, assignee, priority) only
moves forward: an event older than the state already shown is recorded but does not overwrite it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from apps.contacts.models import Contact
from apps.conversations.mapping import conversation_fields, message_fields
from apps.conversations.models import Conversation, ConversationStatus, Message
from apps.cx.mirror import get_or_reference, synced_fields
from apps.cx.models import SyncSource, SyncState, Tenant
from apps.inboxes.models import Inbox

CONVERSATION_EVENTS = {
    "conversation_created",
    "conversation_updated",
    "conversation_status_changed",
    "conversation_opened",
    "conversation_resolved",
}
MESSAGE_EVENTS = {"message_created", "message_updated"}
CONTACT_EVENTS = {"contact_created", "contact_updated"}
# Known, and deliberately not mirrored: stored and marked ignored.
NOT_MAPPED_EVENTS = {
    "webwidget_triggered",
    "inbox_created",
    "inbox_updated",
    "conversation_typing_on",
    "conversation_typing_off",
}
# The lifecycle order used when two states carry the same (or no) timestamp.
_STATUS_RANK: dict[str, int] = {
    ConversationStatus.PENDING: 0,
    ConversationStatus.OPEN: 1,
    ConversationStatus.SNOOZED: 1,
    ConversationStatus.RESOLVED: 2,
}
_STATE_FIELDS = ("status", "holder", "assignee_name", "priority", "remote_updated_at", "finished_at")


class MappingError(Exception):
    """The event's body cannot be mapped as it stands (kept, marked failed, retried)."""


@dataclass
class Mapped:
    ignored: bool = False
    messages: list[Message] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    note: str = ""


def map_event(tenant: Tenant, event_type: str, data: dict[str, Any]) -> Mapped:
    if event_type in MESSAGE_EVENTS:
        message = upsert_message(tenant, data, update=event_type == "message_updated")
        return Mapped(messages=[message], conversations=[message.conversation])
    if event_type in CONVERSATION_EVENTS:
        return Mapped(conversations=[upsert_conversation(tenant, data)])
    if event_type in CONTACT_EVENTS:
        upsert_contact(tenant, data)
        return Mapped()
    if event_type in NOT_MAPPED_EVENTS:
        return Mapped(ignored=True, note=f"{event_type} events are kept but not mirrored.")
    return Mapped(ignored=True, note=f"Unknown event type {event_type or '(none)'!r}: kept, not mapped.")


def _vendor_id(data: dict[str, Any], what: str) -> str:
    value = data.get("id")
    if value in (None, "") or isinstance(value, bool | dict | list):
        raise MappingError(f"The {what} carries no usable id.")
    return str(value)


def _webhook_synced(data: dict[str, Any]) -> dict[str, Any]:
    return synced_fields(data, source=SyncSource.WEBHOOK)


def upsert_contact(tenant: Tenant, data: dict[str, Any]) -> Contact:
    remote_id = _vendor_id(data, "contact")
    known = {
        name: str(data[key])[:limit]
        for name, key, limit in (("name", "name", 200), ("email", "email", 254), ("phone_number", "phone_number", 20))
        if data.get(key)
    }
    contact, created = Contact.objects.get_or_create(
        tenant=tenant, remote_id=remote_id, defaults={**known, **_webhook_synced(data)}
    )
    if not created:
        # Blanks in an event never erase what the console already knows.
        changed = {name: value for name, value in known.items() if getattr(contact, name) != value}
        if changed or contact.sync_state != SyncState.SYNCED:
            for name, value in {**changed, **_webhook_synced(data)}.items():
                setattr(contact, name, value)
            contact.save()
    return contact


def _inbox(tenant: Tenant, data: dict[str, Any]) -> Inbox | None:
    inbox_id = data.get("inbox_id")
    if inbox_id in (None, "") and isinstance(data.get("inbox"), dict):
        inbox_id = data["inbox"].get("id")
    if inbox_id in (None, "") or isinstance(inbox_id, bool | dict | list):
        return None
    return get_or_reference(Inbox, tenant, inbox_id)


def _is_older(current: Conversation, incoming: dict[str, Any]) -> bool:
    """True when ``incoming`` describes an earlier state than the one the row shows."""
    new_at, old_at = incoming.get("remote_updated_at"), current.remote_updated_at
    if new_at and old_at and new_at != old_at:
        return bool(new_at < old_at)
    new_status = incoming.get("status")
    if not new_status or new_status == current.status:
        return False
    if current.sync_state == SyncState.REFERENCED:
        return False  # nothing real is shown yet
    return _STATUS_RANK.get(new_status, 0) < _STATUS_RANK.get(current.status, 0)


def upsert_conversation(tenant: Tenant, data: dict[str, Any], *, inbox_hint: Inbox | None = None) -> Conversation:
    remote_id = _vendor_id(data, "conversation")
    fields = conversation_fields(data)
    inbox = _inbox(tenant, data) or inbox_hint
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    sender = meta.get("sender") if isinstance(meta, dict) else None
    contact = upsert_contact(tenant, sender) if isinstance(sender, dict) and sender.get("id") is not None else None
    if fields.get("status") == ConversationStatus.RESOLVED:
        fields["finished_at"] = fields.get("remote_updated_at") or timezone.now()
    conversation, created = Conversation.objects.select_for_update().get_or_create(
        tenant=tenant,
        remote_id=remote_id,
        defaults={**fields, "inbox": inbox, "contact": contact, **_webhook_synced(data)},
    )
    if created:
        return conversation
    if _is_older(conversation, fields):
        fields = {name: value for name, value in fields.items() if name not in _STATE_FIELDS}
    # Only fill what the row lacks, or move times forward; never blank a known value.
    if conversation.inbox_id is None and inbox is not None:
        fields["inbox"] = inbox
    if conversation.contact_id is None and contact is not None:
        fields["contact"] = contact
    if conversation.last_activity_at and fields.get("last_activity_at"):
        fields["last_activity_at"] = max(conversation.last_activity_at, fields["last_activity_at"])
    if conversation.finished_at:
        fields.pop("finished_at", None)
    for name, value in {**fields, **_webhook_synced(data)}.items():
        setattr(conversation, name, value)
    conversation.save()
    return conversation


def upsert_message(tenant: Tenant, data: dict[str, Any], *, update: bool) -> Message:
    remote_id = _vendor_id(data, "message")
    carried = data.get("conversation")
    inbox = _inbox(tenant, data)
    if isinstance(carried, dict) and carried.get("id") not in (None, ""):
        conversation = upsert_conversation(tenant, carried, inbox_hint=inbox)
    elif data.get("conversation_id") not in (None, ""):
        conversation = get_or_reference(Conversation, tenant, data["conversation_id"], inbox=inbox)
    else:
        raise MappingError("The message names no conversation.")
    fields = message_fields(data)
    own = {key: value for key, value in data.items() if key != "conversation"}
    message, created = Message.objects.get_or_create(
        tenant=tenant,
        remote_id=remote_id,
        defaults={"conversation": conversation, **fields, **_webhook_synced(own)},
    )
    if not created and update:
        for name, value in {**fields, **_webhook_synced(own)}.items():
            setattr(message, name, value)
        message.save()
    moment = message.remote_created_at
    if moment and (conversation.last_activity_at is None or moment > conversation.last_activity_at):
        Conversation.objects.filter(pk=conversation.pk).update(last_activity_at=moment)
        conversation.last_activity_at = moment
    return message
