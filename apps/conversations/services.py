"""Conversation writes: start, message, hand to an agent, finish, each through the CX API; and in bulk."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.bots.models import AgentBot
from apps.contacts.models import Contact
from apps.cx.audit import audited, collect_api_calls
from apps.cx.client import Actor, CxClient
from apps.cx.exceptions import CxError, CxUnknownOutcome
from apps.cx.mirror import remote_id_of, synced_fields, update_fields, with_answer
from apps.cx.models import Tenant
from apps.inboxes.models import Inbox

from .mapping import conversation_fields, message_fields
from .models import (
    BulkItemState,
    BulkKind,
    BulkOperation,
    BulkOperationItem,
    BulkStatus,
    Conversation,
    ConversationStatus,
    Holder,
    Message,
    MessageType,
)
from .selectors import transcript_rows

logger = logging.getLogger(__name__)


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
    fields = dict(known)
    if data.get("id"):  # an answer that is a conversation object says more than the call itself
        fields.update(conversation_fields(data))
        fields.update(synced_fields(answer))
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
            source_id=source_id,
            contact_id=contact.remote_id,
            inbox_id=inbox.remote_id,
            priority=priority,
            initial_message=initial_message,
        )
        conversation = Conversation.objects.create(
            tenant=contact.tenant,
            remote_id=remote_id_of(answer),
            inbox=inbox,
            contact=contact,
            source_id=source_id,
            priority=priority,
            last_activity_at=timezone.now(),
            **synced_fields(answer),
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
        answer = CxClient(conversation.tenant, actor=actor).deliver_to_agent(conversation_id=_remote_id(conversation))
        return _apply_conversation_answer(
            conversation,
            answer,
            status=ConversationStatus.OPEN,
            holder=Holder.AGENT,
            last_activity_at=timezone.now(),
        )


def conversation_finish(*, conversation: Conversation, actor: Actor) -> Conversation:
    with audited(actor=actor, action="finish", obj=conversation):
        answer = CxClient(conversation.tenant, actor=actor).finish_conversation(
            conversation_id=_remote_id(conversation)
        )
        now = timezone.now()
        return _apply_conversation_answer(
            conversation,
            answer,
            status=ConversationStatus.RESOLVED,
            holder=Holder.NOBODY,
            finished_at=now,
            last_activity_at=now,
        )


# -- bulk operations ---------------------------------------------------------------------------------------
_BULK_SERVICES: dict[str, Callable[..., Conversation]] = {
    BulkKind.DELIVER: conversation_deliver_to_agent,
    BulkKind.FINISH: conversation_finish,
}


def bulk_operation_create(*, kind: str, conversations: Iterable[Conversation], actor: Actor) -> BulkOperation:
    """Records the selection as one operation with a pending row per conversation, and queues one task for it."""
    if kind not in _BULK_SERVICES:
        raise ValueError(f"Unknown bulk operation {kind!r}.")
    if isinstance(conversations, QuerySet):
        selection = list(conversations.order_by("pk").values_list("pk", "tenant_id"))
    else:
        selection = sorted({(c.pk, c.tenant_id) for c in conversations})
    if not selection:
        raise ValueError("No conversations were selected.")
    tenant_ids = {tenant_id for _, tenant_id in selection}
    tenant = Tenant.objects.get(pk=tenant_ids.pop()) if len(tenant_ids) == 1 else None
    with transaction.atomic(), audited(actor=actor, action=f"bulk_{kind}", tenant=tenant) as audit:
        operation = BulkOperation.objects.create(
            kind=kind, tenant=tenant, requested_by_id=actor.user_id, actor=actor.label
        )
        BulkOperationItem.objects.bulk_create(
            BulkOperationItem(operation=operation, conversation_id=pk) for pk, _ in selection
        )
        audit.obj, audit.detail = operation, f"{len(selection)} conversation(s) queued"
        # Imported here because the task module imports this one.
        from .tasks import bulk_operation_run_task

        # A worker must not look for the rows before they are committed.
        transaction.on_commit(partial(bulk_operation_run_task.delay, operation.pk))
    return operation


def bulk_operation_run(*, operation_id: int) -> None:
    """Carries out every pending row once, even when the task is delivered twice or runs in two workers.

    Each row is claimed with a conditional UPDATE (pending → running) before its call, so a second run skips
    what another has taken. A row left running by a worker that stopped mid-call is not repeated: its call
    may have reached the API.
    """
    operation = BulkOperation.objects.get(pk=operation_id)
    BulkOperation.objects.filter(pk=operation.pk, status=BulkStatus.QUEUED).update(
        status=BulkStatus.RUNNING, started_at=timezone.now()
    )
    actor = Actor(label=operation.actor, user_id=operation.requested_by_id)
    pending = list(operation.items.filter(state=BulkItemState.PENDING).values_list("pk", flat=True))
    for item_id in pending:
        claimed = BulkOperationItem.objects.filter(pk=item_id, state=BulkItemState.PENDING).update(
            state=BulkItemState.RUNNING, started_at=timezone.now()
        )
        if claimed:
            _bulk_item_run(kind=operation.kind, item_id=item_id, actor=actor)
    if not operation.items.filter(state__in=[BulkItemState.PENDING, BulkItemState.RUNNING]).exists():
        BulkOperation.objects.filter(pk=operation.pk).exclude(status=BulkStatus.DONE).update(
            status=BulkStatus.DONE, finished_at=timezone.now()
        )


def _bulk_item_run(*, kind: str, item_id: int, actor: Actor) -> None:
    """One row: the single-conversation service (which audits it), and the outcome kept on the row."""
    item = BulkOperationItem.objects.select_related("conversation__tenant").get(pk=item_id)
    conversation = item.conversation
    if conversation.status == ConversationStatus.RESOLVED:
        _bulk_item_close(item_id, BulkItemState.SKIPPED, "Already resolved: nothing to do.", [])
        return
    with collect_api_calls() as calls:
        try:
            _BULK_SERVICES[kind](conversation=conversation, actor=actor)
        except CxUnknownOutcome as exc:
            state, error = BulkItemState.FAILED, f"No answer from the CX API, it may have happened: {exc.message}"
        except CxError as exc:
            state, error = BulkItemState.FAILED, exc.message
        except ValueError as exc:
            state, error = BulkItemState.FAILED, str(exc)
        except Exception as exc:  # noqa: BLE001 - one broken row must not leave the rest of the selection undone
            logger.exception("Bulk operation row %s failed unexpectedly", item_id)
            state, error = BulkItemState.FAILED, f"Unexpected error: {exc!r}"
        else:
            state, error = BulkItemState.OK, ""
    _bulk_item_close(item_id, state, error, calls)


def _bulk_item_close(item_id: int, state: str, error: str, api_call_ids: list[int]) -> None:
    BulkOperationItem.objects.filter(pk=item_id).update(
        state=state, error=error[:5000], api_call_ids=list(api_call_ids), finished_at=timezone.now()
    )


# -- transcripts ---------------------------------------------------------------------------------------------
def transcript_export(*, conversations: QuerySet[Conversation], actor: Actor) -> Iterator[tuple[str, ...]]:
    """The transcript rows of ``conversations``; who exported what is kept, since transcripts hold customer data."""
    count = conversations.count()
    tenant_ids = set(conversations.order_by().values_list("tenant_id", flat=True).distinct())
    tenant = Tenant.objects.get(pk=tenant_ids.pop()) if len(tenant_ids) == 1 else None
    # Nothing goes to the API: the entry is the record of who took the customer data out.
    with audited(actor=actor, action="export_transcripts", tenant=tenant, detail=f"{count} conversation(s)"):
        pass
    return transcript_rows(conversations)
