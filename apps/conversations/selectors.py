"""Reads for the conversations admin: transcripts, and bulk operations with their row counts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from apps.cx.selectors import tenant_ids_for
from apps.cx.spreadsheet import spreadsheet_cell

from .models import BulkItemState, BulkOperation, BulkOperationItem, Conversation, Message

TRANSCRIPT_HEADER = (
    "conversation",
    "tenant",
    "inbox",
    "contact",
    "status",
    "time",
    "sender",
    "message type",
    "private",
    "content",
)


def transcript_rows(conversations: QuerySet[Conversation]) -> Iterator[tuple[str, ...]]:
    """One row per message of ``conversations``, in conversation then time order, header first."""
    yield TRANSCRIPT_HEADER
    messages = (
        Message.objects.filter(conversation__in=conversations)
        .select_related("conversation__tenant", "conversation__inbox", "conversation__contact")
        .order_by("conversation_id", "remote_created_at", "id")
    )
    for message in messages.iterator(chunk_size=500):
        conversation = message.conversation
        moment = message.remote_created_at or message.created_at
        yield (
            conversation.remote_id or "",
            conversation.tenant.domain,
            spreadsheet_cell(str(conversation.inbox or "")),
            spreadsheet_cell(str(conversation.contact or "")),
            conversation.get_status_display(),
            moment.isoformat(),
            message.get_sender_kind_display(),
            message.get_message_type_display(),
            "yes" if message.private else "no",
            spreadsheet_cell(message.content),
        )


def scope_bulk_operations(operations: QuerySet[BulkOperation], user: Any) -> QuerySet[BulkOperation]:
    """The operations ``user`` may see: for a user limited to some tenants, those with every row in them."""
    tenant_ids = tenant_ids_for(user)
    if tenant_ids is None:
        return operations
    elsewhere = BulkOperationItem.objects.filter(operation=OuterRef("pk")).exclude(
        conversation__tenant_id__in=tenant_ids
    )
    return operations.filter(~Exists(elsewhere))


def with_item_counts(operations: QuerySet[BulkOperation]) -> QuerySet[BulkOperation]:
    """Adds ``ok_count``, ``failed_count``, ``skipped_count`` and ``pending_count`` (pending or running)."""
    return operations.annotate(
        ok_count=Count("items", filter=Q(items__state=BulkItemState.OK)),
        failed_count=Count("items", filter=Q(items__state=BulkItemState.FAILED)),
        skipped_count=Count("items", filter=Q(items__state=BulkItemState.SKIPPED)),
        pending_count=Count("items", filter=Q(items__state__in=[BulkItemState.PENDING, BulkItemState.RUNNING])),
    )
