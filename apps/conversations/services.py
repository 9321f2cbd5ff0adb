"""Conversation writes: start, message, hand to an agent, finish, each through the CX API."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.bots.models import AgentBot
from apps.contacts.models import Contact
from apps.cx.audit import audited
from apps.cx.client import Actor, CxClient
from apps.cx.mirror import remote_id_of, synced_fields, update_fields, with_answer
from apps.inboxes.models import Inbox

from .mapping import conversation_fields, message_fields
from .models import Conversation, ConversationStatus, Holder, Message, MessageType


def _remote_id(conversation: Conversation) -> str:
    if not conversation.remote_id:
        raise ValueError("The conversation does not exist remotely.")
    return conversation.remote_id


def _mirror_message(conversation: Conversation, answer: dict[str, Any]) -> Message:
    message, _ = Message.objects.update_or_create(
        tenant=conversation.tenant,
        remote_id=remote_id_of(answer),
        defaults={"conversation": conversation, **message_fields(answer), **synced_fields(answer)},
    )
    return message


def _apply_conversation_answer(conversation: Conversation, answer: Any, **known: Any) -> Conversation:
    """Updates the mirror from an answer; ``known`` are the facts the call itself establishes."""
    data = answer if isinstance(answer, dict) else {}
    fields = {**known, **conversation_fields(data)} if data.get("id") else dict(known)
    fields.update(synced_fields(answer) if data.get("id") else {})
    with transaction.atomic():
        update_fields(conversation, fields)
        for message in data.get("messages") or []:
            if isinstance(message, dict) and message.get("id") is not None:
                _mirror_message(conversation, message)
    return with_answer(conversation, answer)


def conversation_start(
    *,
    contact: Contact,
    inbox: Inbox,
    actor: Actor,
    initial_message: str,
    priority: int = 0,
    source_id: str | None = None,
) -> Conversation:
    """Starts a conversation for ``contact`` in ``inbox``; the source id defaults to the contact's email."""
    if not contact.remote_id or not inbox.remote_id:
        raise ValueError("The contact and the inbox must exist remotely first.")
    source_id = source_id or contact.email
    if not source_id:
        raise ValueError("A source id is needed: the contact has no email to use.")
    with audited(actor=actor, action="start_conversation", obj=contact, detail=f"in {inbox}") as audit:
        answer = CxClient(contact.tenant, actor=actor).create_conversation(
            source_id=source_id, contact_id=contact.remote_id, inbox_id=inbox.remote_id, priority=priority,
            initial_message=initial_message,
        )
        conversation = Conversation.objects.create(
            tenant=contact.tenant, remote_id=remote_id_of(answer), inbox=inbox, contact=contact,
            source_id=source_id, priority=priority, last_activity_at=timezone.now(), **synced_fields(answer),
        )
        audit.obj, audit.detail = conversation, f"for {contact} in {inbox}: {initial_message[:200]}"
        return _apply_conversation_answer(conversation, answer)


def message_send(
    *,
    conversation: Conversation,
    actor: Actor,
    content: str,
    message_type: str = MessageType.OUTGOING,
    bot: AgentBot | None = None,
) -> Message:
    """Sends ``content`` as the bot (outgoing) or as the customer (incoming, for testing)."""
    is_outgoing = message_type == MessageType.OUTGOING
    as_whom = "as the bot" if is_outgoing else "as the customer"
    with audited(actor=actor, action="send_message", obj=conversation, detail=f"{as_whom}: {content[:200]}"):
        answer = CxClient(conversation.tenant, actor=actor).send_message(
            conversation_id=_remote_id(conversation),
            content=content,
            message_type=message_type,
            is_bot=True if is_outgoing else None,
            agent_bot_id=bot.remote_id if (bot and bot.remote_id) else None,
        )
        with transaction.atomic():
            message = _mirror_message(conversation, answer)
            update_fields(conversation, {"last_activity_at": message.remote_created_at or timezone.now()})
    return with_answer(message, answer)


def conversation_deliver_to_agent(*, conversation: Conversation, actor: Actor) -> Conversation:
    with audited(actor=actor, action="deliver_to_agent", obj=conversation):
        answer = CxClient(conversation.tenant, actor=actor).deliver_to_agent(
            conversation_id=_remote_id(conversation)
        )
        return _apply_conversation_answer(
            conversation, answer, status=ConversationStatus.OPEN, holder=Holder.AGENT,
            last_activity_at=timezone.now(),
        )


def conversation_finish(*, conversation: Conversation, actor: Actor) -> Conversation:
    with audited(actor=actor, action="finish", obj=conversation):
        answer = CxClient(conversation.tenant, actor=actor).finish_conversation(
            conversation_id=_remote_id(conversation)
        )
        now = timezone.now()
        return _apply_conversation_answer(
            conversation, answer, status=ConversationStatus.RESOLVED, holder=Holder.NOBODY, finished_at=now,
            last_activity_at=now,
        )
