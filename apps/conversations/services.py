"""Conversation writes: start, message, hand to an agent, finish, each through the CX API; and in bulk.

``conversation_upsert_from_remote`` and ``message_upsert_from_remote`` are the one place a conversation
or a message the platform describes (an event, an API answer, the bot's own reply) is written, whoever
read it. Both are keyed by the vendor's id, so the same payload twice (re-delivered, replayed, answered
and then sent as an event) leaves one row.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from apps.bots.models import AgentBot
from apps.contacts.models import Contact
from apps.contacts.services import contact_upsert_from_remote
from apps.cx.audit import audited, collect_api_calls
from apps.cx.client import Actor, CxClient
from apps.cx.exceptions import CxBadResponse, CxError, CxUnknownOutcome
from apps.cx.masking import mask_json, mask_text, masked_at_rest
from apps.cx.mirror import (
    changed_fields,
    get_or_reference,
    mirror_get_or_create,
    says_nothing_new,
    synced_fields,
    update_fields,
    upsert_transaction,
)
from apps.cx.models import AuditAction, SyncSource, SyncState, Tenant
from apps.cx.task_sending import task_send
from apps.cx.validation import UnusablePayload
from apps.inboxes.models import Inbox
from apps.inboxes.services import inbox_reference

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
    SenderKind,
)
from .parsing import ConversationPayload, MessagePayload, parse_conversation, parse_message
from .search_text import SEARCH_CONFIG, fold

logger = logging.getLogger(__name__)
P = TypeVar("P", ConversationPayload, MessagePayload)

# The lifecycle order used when two states carry the same (or no) timestamp.
_STATUS_RANK: dict[str, int] = {
    ConversationStatus.PENDING: 0,
    ConversationStatus.OPEN: 1,
    ConversationStatus.SNOOZED: 1,
    ConversationStatus.RESOLVED: 2,
}
_STATE_FIELDS = ("status", "holder", "assignee_name", "priority", "remote_updated_at", "finished_at")
# What a conversation's history names for a change that came from the platform rather than from a person.
_SOURCE_REASONS: dict[str, str] = {SyncSource.WEBHOOK: "webhook event", SyncSource.API: "API answer"}


class ConversationStateError(ValueError):
    """The conversation's state forbids the action (it is resolved): refused before any API call."""


# -- the mirror: what the platform says ---------------------------------------------------------------------
def _is_older(current: Conversation, incoming: Mapping[str, Any]) -> bool:
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


def _payload_fields(payload: ConversationPayload, established: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a payload gives a conversation, with what they imply (a finish time, a handoff)."""
    fields = dict(payload.fields)
    if fields.get("status") == ConversationStatus.RESOLVED:
        fields["finished_at"] = fields.get("remote_updated_at") or timezone.now()
    if Holder.AGENT in (fields.get("holder"), established.get("holder")):
        fields["handed_to_agent"] = True  # even from an older payload: it was with an agent then
    return fields


def _changes(conversation: Conversation, fields: Mapping[str, Any], established: Mapping[str, Any]) -> dict[str, Any]:
    """What bringing the row up to date with ``fields`` changes: its state only moves forward (an older
    payload's state is left out), a finish time once set stays, the last activity only moves forward;
    ``established`` applies whatever the payload says."""
    if _is_older(conversation, fields):
        fields = {name: value for name, value in fields.items() if name not in _STATE_FIELDS}
    fields = dict(fields)
    if conversation.finished_at:
        fields.pop("finished_at", None)
    fields.update(established)
    if conversation.last_activity_at and fields.get("last_activity_at"):
        fields["last_activity_at"] = max(conversation.last_activity_at, fields["last_activity_at"])
    return changed_fields(conversation, fields)


def conversation_upsert_from_remote(
    *,
    tenant: Tenant,
    payload: ConversationPayload,
    source: str = SyncSource.WEBHOOK,
    inbox: Inbox | None = None,
    established: Mapping[str, Any] | None = None,
    reason: str = "",
    contact: Contact | None = None,
) -> Conversation:
    """The conversation ``payload`` describes, created or brought up to date, with its contact and inbox.

    Its state (status, holder, assignee, priority) only moves forward: a payload older than the state shown
    is kept as the last one seen but does not overwrite it. Blanks and unreadable values are not in the
    payload's fields, so they never erase a known value; the inbox and contact are only filled in when the
    row has none. ``inbox``: where the caller knows the conversation is, when the payload does not say.
    ``established``: fields the caller's own API call has just made true (finishing makes it resolved),
    applied whatever the payload says. ``reason``: who or what the history names for the change (the
    payload's source when not given). ``contact``: the conversation's contact as the caller holds it, used
    as it is when it is the one the payload names and the payload says nothing new of it.
    """
    if payload.inbox_id and (inbox is None or inbox.remote_id != payload.inbox_id):
        inbox = inbox_reference(tenant=tenant, remote_id=payload.inbox_id)
    carried = payload.contact
    if carried is None:
        contact = None
    elif contact is None or contact.remote_id != carried.remote_id or not says_nothing_new(contact, carried.fields):
        contact = contact_upsert_from_remote(tenant=tenant, payload=carried, source=source)
    established = dict(established or {})
    fields = _payload_fields(payload, established)
    synced = synced_fields(payload.raw, source=source)
    if masked_at_rest(tenant):  # the payload may carry the conversation's messages
        synced["remote_data"] = mask_json(synced["remote_data"], patterns=tenant.mask_patterns)
    initial = {**fields, "inbox": inbox, "contact": contact, **established, **synced}
    if fields.get("last_activity_at") and established.get("last_activity_at"):
        initial["last_activity_at"] = max(fields["last_activity_at"], established["last_activity_at"])
    # Part of the caller's transaction when there is one (an event's mapping): no savepoint of its own.
    with transaction.atomic(savepoint=False):
        conversation, created = mirror_get_or_create(
            Conversation.objects.select_for_update(), tenant=tenant, remote_id=payload.remote_id, defaults=initial
        )
        if created:
            return conversation
        conversation.tenant = tenant  # the row was found by it: no query for it later
        if conversation.inbox_id is None and inbox is not None:
            fields["inbox"] = inbox
        if conversation.contact_id is None and contact is not None:
            fields["contact"] = contact
        changed = _changes(conversation, fields, established)
        # The same state again (each reply's echo carries the conversation): no write, no history entry.
        if changed or conversation.sync_state != SyncState.SYNCED:
            update_fields(conversation, {**changed, **synced}, reason=reason or _SOURCE_REASONS.get(source, ""))
    return conversation


def _cached(conversation: Conversation, name: str) -> Any:
    """The related row the instance holds already (None when it would take a query)."""
    field = Conversation._meta.get_field(name)
    return getattr(conversation, name) if field.is_cached(conversation) else None  # type: ignore[union-attr]


def _conversation_of(
    tenant: Tenant, payload: MessagePayload, source: str, moves: Mapping[str, Any]
) -> tuple[Conversation, bool]:
    """The conversation a message names, and whether its row is locked already (upserted in this transaction,
    with what the message ``moves``)."""
    inbox = inbox_reference(tenant=tenant, remote_id=payload.inbox_id) if payload.inbox_id else None
    if payload.conversation is not None:
        carried = payload.conversation
        upserted = conversation_upsert_from_remote(
            tenant=tenant, payload=carried, source=source, inbox=inbox, established=moves
        )
        return upserted, True
    if payload.conversation_id is not None:
        defaults = {"inbox": inbox} if inbox is not None else {}
        return get_or_reference(Conversation, tenant, payload.conversation_id, **defaults), False
    raise UnusablePayload("The message names no conversation.")


def _conversation_says_nothing_new(conversation: Conversation, carried: ConversationPayload) -> bool:
    """Whether upserting ``carried`` onto ``conversation`` would write nothing (``conversation_upsert_from_remote``'s
    rules), with the inbox and contact it names being the row's own."""
    if carried.inbox_id and (conversation.inbox is None or conversation.inbox.remote_id != carried.inbox_id):
        return False
    if carried.contact is not None:
        contact = conversation.contact
        if contact is None or contact.remote_id != carried.contact.remote_id:
            return False
        if not says_nothing_new(contact, carried.contact.fields):
            return False
    return conversation.sync_state == SyncState.SYNCED and not _changes(conversation, _payload_fields(carried, {}), {})


def messages_mirrored(*, tenant: Tenant, remote_ids: Iterable[str]) -> dict[str, Message]:
    """The mirrored messages of these vendor ids, by id, each with its conversation, contact and inbox:
    one query, without the raw payloads."""
    messages = (
        Message.objects.filter(tenant=tenant, remote_id__in=set(remote_ids))
        .select_related("conversation__contact", "conversation__inbox")
        .defer(
            "remote_data",
            "conversation__remote_data",
            "conversation__contact__remote_data",
            "conversation__inbox__remote_data",
        )
    )
    found = {}
    for message in messages:
        message.conversation.tenant = tenant
        found[str(message.remote_id)] = message
    return found


def message_repeats_mirror(message: Message, payload: MessagePayload, *, update: bool = True) -> bool:
    """Whether ``payload`` says nothing new about ``message`` (read by ``messages_mirrored``): upserting it
    would change nothing a person sees, only the raw payload kept and the sync time.

    On the platform every message arrives more than once: the API's answer to the post, then one event to
    the bot and one to each webhook (the bot's own replies are half of a busy console's events). Once the
    first copy is mirrored, the others carry the same message, conversation, contact and inbox; whatever
    differs (an edit, a new status, a contact's new name, a conversation that moved on) takes the upsert.
    ``update``: as in ``message_upsert_from_remote`` (False: the message's own fields are not compared).
    """
    conversation = message.conversation
    carried = payload.conversation
    if carried is not None:
        if carried.remote_id != conversation.remote_id or not _conversation_says_nothing_new(conversation, carried):
            return False
    elif payload.conversation_id is not None and payload.conversation_id != conversation.remote_id:
        return False
    if update and not _older_version(message, payload.fields) and not says_nothing_new(message, payload.fields):
        return False
    if _moves_activity(conversation, payload.fields.get("remote_created_at")):
        return False
    return not _taking_part(conversation, payload.fields.get("sender_kind"))


def message_upsert_from_remote(
    *,
    tenant: Tenant,
    payload: MessagePayload,
    source: str = SyncSource.WEBHOOK,
    conversation: Conversation | None = None,
    update: bool = True,
    source_event_id: int | None = None,
    likely_new: bool = False,
) -> Message:
    """The message ``payload`` describes, created (with the conversation it names) or updated.

    ``conversation``: the one the caller knows it belongs to (an answer to a message sent there), brought up
    to date from the conversation the payload carries, if it carries that one; otherwise the conversation
    the payload carries is mirrored too, or referenced by its id (``UnusablePayload`` when it names none).
    ``update``: False where a repeated delivery must not undo a later edit (message_created arriving again
    after message_updated). The conversation's last activity moves forward to the message.
    ``source_event_id``: the inbound event this comes from, kept on a message it creates.
    ``likely_new``: the message is almost never mirrored yet (the answer to its post, the event of its
    creation): inserted without a look first, unless that fails (see ``mirror_get_or_create``).
    """
    moment = payload.fields.get("remote_created_at")
    # What the message says of its conversation: the last activity moves forward to it; its sender took part.
    moves = {"last_activity_at": moment} if moment else {}
    moves.update(_taking_part(None, payload.fields.get("sender_kind")))
    # Part of the caller's transaction when there is one (an event's mapping): no savepoint of its own.
    with transaction.atomic(savepoint=False):
        # The conversation's row is locked before the message's is written, on every path (an event's
        # mapping, the answer to the bot's own message): the same order everywhere, so never a deadlock.
        # Where the payload carries the conversation, its upsert writes what the message moves too.
        locked = False
        carried = payload.conversation
        if conversation is None:
            conversation, locked = _conversation_of(tenant, payload, source, moves)
        elif carried is not None and carried.remote_id == conversation.remote_id:
            # An answer carrying the conversation as the post left it: mirrored now, so the copies of the
            # message that come back as events find nothing new. The caller's inbox and contact spare a read.
            conversation = conversation_upsert_from_remote(
                tenant=tenant,
                payload=carried,
                source=source,
                inbox=_cached(conversation, "inbox"),
                contact=_cached(conversation, "contact"),
                established=moves,
            )
            locked = True
        if not locked:
            # Moving the last activity forward takes the lock; with no time to move it to, a plain lock.
            taking_part = _taking_part(conversation, payload.fields.get("sender_kind"))
            rows = Conversation.objects.filter(pk=conversation.pk)
            if moment:
                rows.update(
                    last_activity_at=Greatest(Coalesce("last_activity_at", Value(moment)), Value(moment)),
                    **taking_part,
                )
            elif taking_part:
                rows.update(**taking_part)
            else:
                rows.select_for_update().values_list("pk").first()
            if _moves_activity(conversation, moment):
                conversation.last_activity_at = moment
            for name, value in taking_part.items():
                setattr(conversation, name, value)
        fields, synced = dict(payload.fields), synced_fields(payload.raw, source=source)
        if masked_at_rest(tenant):  # the tenant keeps no card number, not even in the raw payload
            patterns = tenant.mask_patterns
            if "content" in fields:
                fields["content"] = mask_text(fields["content"], patterns=patterns)
            synced["remote_data"] = mask_json(synced["remote_data"], patterns=patterns)
        written = {**fields, **synced, **_search_vector_of(fields)}
        brought = {"source_event_id": source_event_id} if source_event_id is not None else {}
        message, created = mirror_get_or_create(
            Message.objects.all(),
            tenant=tenant,
            remote_id=payload.remote_id,
            defaults={"conversation": conversation, **written, **brought},
            likely_new=likely_new,
        )
        if not created and update and not _older_version(message, written):
            update_fields(message, written)
    return message


def _older_version(message: Message, fields: Mapping[str, Any]) -> bool:
    """Whether ``fields`` describe an earlier version of ``message`` than the one mirrored: an edit delivered
    after a later one. With no time on either side (or the same second) the last one mapped wins."""
    new_at, old_at = fields.get("remote_version_at"), message.remote_version_at
    return bool(new_at and old_at and new_at < old_at)


def _search_vector_of(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The search vector written with a message's content on PostgreSQL (SQLite's FTS5 triggers keep their own)."""
    if "content" not in fields or connection.vendor != "postgresql":
        return {}
    return {"search_vector": message_search_vector(fields["content"])}


def message_search_vector(content: str) -> SearchVector:
    """What a message's ``search_vector`` holds on PostgreSQL: its folded words (bulk writers set it too)."""
    return SearchVector(Value(fold(content)), config=SEARCH_CONFIG)


# -- API answers --------------------------------------------------------------------------------------------
def _answer_payload(parse: Callable[[dict[str, Any]], P], answer: Any, what: str) -> P:
    """The API's answer read as ``what``; an answer that names no usable object is a bad response."""
    if not isinstance(answer, dict):
        raise CxBadResponse(f"The CX API's answer is not a {what}.", body=answer)
    try:
        payload = parse(answer)
    except UnusablePayload as exc:
        raise CxBadResponse(f"The CX API's answer cannot be read: {exc}", body=answer) from None
    if payload.problems:
        logger.warning("The CX API's %s answer had values left out: %s", what, "; ".join(payload.problems))
    return payload


def _refuse_if_resolved(conversation: Conversation, refusal: str) -> None:
    # The state as the caller read it: the admin's page, the bot's mapping, the CLI and the bulk row each
    # read the row just before; a finish the mirror has not heard of yet is the API's to refuse.
    if conversation.status == ConversationStatus.RESOLVED:
        raise ConversationStateError(f"The conversation is resolved: {refusal}")


def _remote_id(conversation: Conversation) -> str:
    if not conversation.remote_id:
        raise ValueError("The conversation does not exist remotely.")
    return conversation.remote_id


def _apply_conversation_answer(conversation: Conversation, answer: Any, *, actor: Actor, **known: Any) -> Conversation:
    """Updates the mirror from an answer; ``known`` are the facts the call itself establishes, by ``actor``."""
    payload = None
    if isinstance(answer, dict) and answer.get("id") not in (None, ""):
        # An answer that is this conversation's object says more than the call itself.
        candidate = _answer_payload(parse_conversation, answer, "conversation")
        payload = candidate if candidate.remote_id == conversation.remote_id else None
    with transaction.atomic():
        if payload is None:
            if known:
                update_fields(conversation, known, reason=actor.label)
        else:
            conversation_upsert_from_remote(
                tenant=conversation.tenant,
                payload=payload,
                source=SyncSource.API,
                established=known,
                reason=actor.label,
            )
            for message in payload.messages:
                message_upsert_from_remote(
                    tenant=conversation.tenant, payload=message, source=SyncSource.API, conversation=conversation
                )
            conversation.refresh_from_db()  # the caller's instance (the bot's, the admin's) shows the new state
    return conversation


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
    with audited(actor=actor, action=AuditAction.START_CONVERSATION, obj=contact, detail=f"in {inbox}") as audit:
        answer = CxClient(contact.tenant, actor=actor).create_conversation(
            source_id=source_id,
            contact_id=contact.remote_id,
            inbox_id=inbox.remote_id,
            priority=priority,
            initial_message=initial_message,
        )
        payload = _answer_payload(parse_conversation, answer, "conversation")
        with transaction.atomic():
            conversation = conversation_upsert_from_remote(
                tenant=contact.tenant,
                payload=payload,
                source=SyncSource.API,
                established={
                    "inbox": inbox,
                    "contact": contact,
                    "source_id": source_id,
                    "priority": priority,
                    "last_activity_at": timezone.now(),
                },
            )
            for message in payload.messages:
                message_upsert_from_remote(
                    tenant=contact.tenant, payload=message, source=SyncSource.API, conversation=conversation
                )
        audit.obj, audit.detail = conversation, f"for {contact} in {inbox}: {initial_message[:200]}"
        return conversation


def _moves_activity(conversation: Conversation, moment: dt.datetime | None) -> bool:
    """Whether a message at ``moment`` moves the conversation's last activity forward."""
    if moment is None:
        return False
    return conversation.last_activity_at is None or moment > conversation.last_activity_at


def _taking_part(conversation: Conversation | None, sender_kind: str | None) -> dict[str, bool]:
    """What a message by ``sender_kind`` newly says of who took part in ``conversation`` (None: whatever the
    conversation knows already)."""
    if sender_kind == SenderKind.AGENT and not (conversation and conversation.handed_to_agent):
        return {"handed_to_agent": True}
    if sender_kind == SenderKind.BOT and not (conversation and conversation.answered_by_bot):
        return {"answered_by_bot": True}
    return {}


def message_send(
    *,
    conversation: Conversation,
    actor: Actor,
    content: str,
    message_type: str = MessageType.OUTGOING,
    bot: AgentBot | None = None,
) -> Message:
    """Sends ``content`` as the bot (outgoing) or as the customer (incoming, for testing); never into a
    resolved conversation (``ConversationStateError``)."""
    _refuse_if_resolved(conversation, "nothing can be sent into it.")
    is_outgoing = message_type == MessageType.OUTGOING
    as_whom = "as the bot" if is_outgoing else "as the customer"
    with audited(actor=actor, action=AuditAction.SEND_MESSAGE, obj=conversation, detail=f"{as_whom}: {content[:200]}"):
        answer = CxClient(conversation.tenant, actor=actor).send_message(
            conversation_id=_remote_id(conversation),
            content=content,
            message_type=message_type,
            is_bot=True if is_outgoing else None,
            agent_bot_id=bot.remote_id if (bot and bot.remote_id) else None,
        )
        payload = _answer_payload(parse_message, answer, "message")

        def mirror() -> Message:
            message = message_upsert_from_remote(
                tenant=conversation.tenant,
                payload=payload,
                source=SyncSource.API,
                conversation=conversation,
                likely_new=True,
            )
            if message.remote_created_at is None:
                update_fields(conversation, {"last_activity_at": timezone.now()})
            return message

        return upsert_transaction(mirror)


def conversation_deliver_to_agent(*, conversation: Conversation, actor: Actor) -> Conversation:
    """Hands the conversation from the bot to a human agent, unless it is resolved (``ConversationStateError``)."""
    _refuse_if_resolved(conversation, "it cannot be delivered to an agent.")
    with audited(actor=actor, action=AuditAction.DELIVER_TO_AGENT, obj=conversation):
        answer = CxClient(conversation.tenant, actor=actor).deliver_to_agent(conversation_id=_remote_id(conversation))
        return _apply_conversation_answer(
            conversation,
            answer,
            actor=actor,
            status=ConversationStatus.OPEN,
            holder=Holder.AGENT,
            handed_to_agent=True,
            last_activity_at=timezone.now(),
        )


def conversation_finish(*, conversation: Conversation, actor: Actor) -> Conversation:
    """Closes the conversation, unless it is resolved already (``ConversationStateError``)."""
    _refuse_if_resolved(conversation, "there is nothing left to finish.")
    with audited(actor=actor, action=AuditAction.FINISH, obj=conversation):
        answer = CxClient(conversation.tenant, actor=actor).finish_conversation(
            conversation_id=_remote_id(conversation)
        )
        now = timezone.now()
        return _apply_conversation_answer(
            conversation,
            answer,
            actor=actor,
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
    with (
        transaction.atomic(),
        audited(
            actor=actor,
            action=AuditAction.BULK_DELIVER if kind == BulkKind.DELIVER else AuditAction.BULK_FINISH,
            tenant=tenant,
        ) as audit,
    ):
        operation = BulkOperation.objects.create(
            kind=kind, tenant=tenant, requested_by_id=actor.user_id, actor=actor.label
        )
        BulkOperationItem.objects.bulk_create(
            BulkOperationItem(operation=operation, conversation_id=pk) for pk, _ in selection
        )
        audit.obj, audit.detail = operation, f"{len(selection)} conversation(s) queued"
        # A worker must not look for the rows before they are committed.
        task_send("conversations.bulk_operation_run", operation.pk)
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
    stop_at = time.monotonic() + settings.CX_TASK_SLICE_SECONDS
    for done, item_id in enumerate(pending):
        if done and time.monotonic() > stop_at:
            # The rest goes to a run of its own (one row at least per run), so none nears the task's time limit.
            task_send("conversations.bulk_operation_run", operation.pk)
            return
        claimed = BulkOperationItem.objects.filter(pk=item_id, state=BulkItemState.PENDING).update(
            state=BulkItemState.RUNNING, started_at=timezone.now()
        )
        if claimed:
            _bulk_item_run(kind=operation.kind, item_id=item_id, actor=actor)
    if not operation.items.filter(state__in=[BulkItemState.PENDING, BulkItemState.RUNNING]).exists():
        BulkOperation.objects.filter(pk=operation.pk).exclude(status=BulkStatus.DONE).update(
            status=BulkStatus.DONE, finished_at=timezone.now()
        )


# A bulk action with rows still pending and no row started or finished for this long is handed to a worker
# again: its task message was lost (Redis lost its data) or its run was cut off. Rows are claimed one by one,
# so a run still going on meanwhile does no row twice. Longer than one row can take (four attempts with backoff).
BULK_STALL_AFTER = dt.timedelta(minutes=5)


def bulk_operations_resume(*, now: dt.datetime | None = None) -> int:
    """Beat's safety net: sends every stalled bulk action to a worker again; returns how many."""
    quiet_since = (now or timezone.now()) - BULK_STALL_AFTER
    items = BulkOperationItem.objects.filter(operation=OuterRef("pk"))
    stalled = (
        BulkOperation.objects.filter(status__in=[BulkStatus.QUEUED, BulkStatus.RUNNING], created_at__lt=quiet_since)
        .filter(Exists(items.filter(state=BulkItemState.PENDING)))
        .exclude(Exists(items.filter(Q(started_at__gte=quiet_since) | Q(finished_at__gte=quiet_since))))
        .values_list("pk", flat=True)
    )
    resumed = list(stalled)
    for operation_id in resumed:
        logger.warning("Bulk operation %s has stalled with rows pending; sending it to a worker again", operation_id)
        task_send("conversations.bulk_operation_run", operation_id)
    return len(resumed)


def _bulk_item_run(*, kind: str, item_id: int, actor: Actor) -> None:
    """One row: the single-conversation service (which audits it), and the outcome kept on the row."""
    item = BulkOperationItem.objects.select_related("conversation__tenant").get(pk=item_id)
    with collect_api_calls() as calls:
        try:
            _BULK_SERVICES[kind](conversation=item.conversation, actor=actor)
        except ConversationStateError:  # the service refused it before any call
            state, error = BulkItemState.SKIPPED, "Already resolved: nothing to do."
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
