"""Conversations as files for an auditor: transcripts in CSV (one message or console action per row) and
JSON Lines (one conversation per line, with its messages and actions), and a summary CSV (one row per
conversation with its figures: first response, handoff, resolution, contained by the bot).

Streamed from the database a chunk of conversations at a time (their messages and audit entries read
per chunk), so memory stays flat however many conversations go out; CSV cells a spreadsheet would run
as formulas are escaped. ``conversations_export`` writes the audit entry: who took which conversations
out, in what form.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from apps.cx.audit import audited
from apps.cx.masking import Masker, masker_for
from apps.cx.models import AuditAction, AuditEntry, Tenant
from apps.cx.spreadsheet import spreadsheet_cell, spreadsheet_time

from .models import Conversation, Message
from .timeline import SIDES, figures_of

FORMATS = ("csv", "jsonl", "summary")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "summary": "text/csv; charset=utf-8",
}
# How a reader without the permission to see card numbers sees what was said (the CLI, a task).
MASKED = masker_for(None)
# Conversations read per round trip; their messages and actions come with them.
CHUNK = 200

CSV_HEADER = (
    "conversation",
    "tenant",
    "inbox",
    "contact",
    "status",
    "time",
    "row",
    "sender kind",
    "sender",
    "message type",
    "private",
    "content",
    "outcome",
)


@dataclass(frozen=True)
class Entry:
    """One line of a conversation's record: a message, or something the console did."""

    at: datetime
    kind: str  # "message" or "action"
    sender_kind: str
    sender: str
    message_type: str
    private: bool
    content: str
    outcome: str = ""


def _message_entry(message: Message, show: Masker, tenant: Tenant) -> Entry:
    return Entry(
        at=message.remote_created_at or message.created_at,
        kind="message",
        sender_kind=message.get_sender_kind_display(),
        sender=message.sender_name,
        message_type=message.get_message_type_display(),
        private=message.private,
        content=show(message.content, tenant),
    )


def _action_entry(entry: AuditEntry, show: Masker, tenant: Tenant) -> Entry:
    return Entry(
        at=entry.created_at,
        kind="action",
        sender_kind="Console",
        sender=entry.actor,
        message_type="",
        private=False,
        content=f"{entry.action}: {show(entry.detail, tenant)}" if entry.detail else entry.action,
        outcome=entry.get_outcome_display(),
    )


def _chunks(conversations: QuerySet[Conversation]) -> Iterator[list[Conversation]]:
    """The conversations in id order, a chunk at a time (keyset paging: no OFFSET over a big table)."""
    ordered = conversations.select_related("tenant", "inbox", "contact").order_by("id")
    last = 0
    while True:
        chunk = list(ordered.filter(id__gt=last)[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def _records(conversations: QuerySet[Conversation], show: Masker) -> Iterator[tuple[Conversation, list[Entry]]]:
    """Each conversation with its messages and the console's actions on it, in time order, as ``show``
    lets the reader see what was said."""
    content_type = ContentType.objects.get_for_model(Conversation)
    for chunk in _chunks(conversations):
        ids = [conversation.pk for conversation in chunk]
        tenants = {conversation.pk: conversation.tenant for conversation in chunk}
        entries: dict[int, list[Entry]] = defaultdict(list)
        for message in Message.objects.filter(conversation_id__in=ids).order_by("remote_created_at", "id"):
            tenant = tenants[message.conversation_id]
            entries[message.conversation_id].append(_message_entry(message, show, tenant))
        actions = AuditEntry.objects.filter(content_type=content_type, object_id__in=[str(i) for i in ids])
        for action in actions.order_by("created_at", "id"):
            conversation_id = int(action.object_id)
            entries[conversation_id].append(_action_entry(action, show, tenants[conversation_id]))
        for conversation in chunk:
            yield conversation, sorted(entries[conversation.pk], key=lambda entry: entry.at)


def csv_rows(conversations: QuerySet[Conversation], show: Masker = MASKED) -> Iterator[tuple[str, ...]]:
    """Header, then one row per message and per console action, conversation by conversation."""
    yield CSV_HEADER
    for conversation, entries in _records(conversations, show):
        fixed = (
            conversation.remote_id or "",
            conversation.tenant.domain,
            spreadsheet_cell(str(conversation.inbox or "")),
            spreadsheet_cell(str(conversation.contact or "")),
            conversation.get_status_display(),
        )
        for entry in entries:
            yield (
                *fixed,
                entry.at.isoformat(),
                entry.kind,
                entry.sender_kind,
                spreadsheet_cell(entry.sender),
                entry.message_type,
                ("yes" if entry.private else "no") if entry.kind == "message" else "",
                spreadsheet_cell(entry.content),
                entry.outcome,
            )


def jsonl_lines(conversations: QuerySet[Conversation], show: Masker = MASKED) -> Iterator[str]:
    """One JSON object per conversation and line: its fields, then its messages and actions in time order."""
    for conversation, entries in _records(conversations, show):
        record: dict[str, Any] = {
            "conversation": conversation.remote_id,
            "tenant": conversation.tenant.domain,
            "inbox": str(conversation.inbox or ""),
            "contact": str(conversation.contact or ""),
            "status": conversation.status,
            "priority": conversation.priority,
            "holder": conversation.holder,
            "created_at": (conversation.remote_created_at or conversation.created_at).isoformat(),
            "finished_at": conversation.finished_at.isoformat() if conversation.finished_at else None,
            "entries": [
                {
                    "at": entry.at.isoformat(),
                    "kind": entry.kind,
                    "sender_kind": entry.sender_kind,
                    "sender": entry.sender,
                    "message_type": entry.message_type,
                    "private": entry.private,
                    "content": entry.content,
                    **({"outcome": entry.outcome} if entry.outcome else {}),
                }
                for entry in entries
            ],
        }
        yield json.dumps(record, ensure_ascii=False) + "\n"


SUMMARY_HEADER = (
    "conversation",
    "tenant",
    "inbox",
    "contact",
    "status",
    "priority",
    "holder",
    "created",
    "first response",
    "handed off",
    "resolved",
    "seconds to first response",
    "seconds to handoff",
    "seconds to resolution",
    "contained by the bot",
    *(f"messages: {side}" for side in SIDES.values()),
)


def _seconds(span: timedelta | None) -> str:
    return str(int(span.total_seconds())) if span is not None else ""


def summary_rows(conversations: QuerySet[Conversation]) -> Iterator[tuple[str, ...]]:
    """Header, then one row per conversation with its figures (the rules of ``timeline.figures_from``)."""
    yield SUMMARY_HEADER
    for chunk in _chunks(conversations):
        figured = figures_of(chunk)
        for conversation in chunk:
            figures = figured[conversation.pk]
            contained = "" if figures.contained is None else ("yes" if figures.contained else "no")
            yield (
                conversation.remote_id or "",
                conversation.tenant.domain,
                spreadsheet_cell(str(conversation.inbox or "")),
                spreadsheet_cell(str(conversation.contact or "")),
                conversation.get_status_display(),
                conversation.get_priority_display(),
                conversation.get_holder_display(),
                spreadsheet_time(figures.created_at),
                spreadsheet_time(figures.first_response_at),
                spreadsheet_time(figures.handed_off_at) or ("yes" if figures.handed_off else ""),
                spreadsheet_time(figures.resolved_at),
                _seconds(figures.to_first_response),
                _seconds(figures.to_handoff),
                _seconds(figures.to_resolution),
                contained,
                *(str(figures.messages_by_side.get(side, 0)) for side in SIDES.values()),
            )


def conversations_export(
    *, conversations: QuerySet[Conversation], actor: Any, fmt: str, described: str = "", viewer: Any = None
) -> Iterable[Any]:
    """The export of ``conversations`` in ``fmt`` (csv rows or JSON lines); the audit entry says who took
    which conversations out (``described``: the search or filter that chose them), and how many.

    Card numbers and the tenants' masked patterns go out masked unless ``viewer`` (the user exporting;
    None for the CLI) may see them unmasked."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    count = conversations.count()
    tenant_ids = set(conversations.order_by().values_list("tenant_id", flat=True).distinct())
    tenant = Tenant.objects.get(pk=tenant_ids.pop()) if len(tenant_ids) == 1 else None
    detail = f"{count} conversation(s) as {fmt}" + (f"; {described}" if described else "")
    # Nothing goes to the API: the entry is the record of who took the customer data out.
    with audited(actor=actor, action=AuditAction.EXPORT_CONVERSATIONS, tenant=tenant, detail=detail):
        pass
    show = masker_for(viewer)
    if fmt == "summary":
        return summary_rows(conversations)  # figures only: nothing of what was said
    return csv_rows(conversations, show) if fmt == "csv" else jsonl_lines(conversations, show)
