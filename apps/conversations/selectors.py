"""Reads for the conversations admin: searching what was said, bulk operations with their row counts (exports:
``exports.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from apps.bots.models import BotDecision, BotReply
from apps.contacts.models import Contact
from apps.cx.selectors import scope_to_user, tenant_ids_for

from .models import (
    BulkItemState,
    BulkOperation,
    BulkOperationItem,
    BulkStatus,
    Conversation,
    Message,
)
from .search_text import SEARCH_CONFIG, fold, search_words


def message_search(term: str, messages: QuerySet[Message] | None = None) -> QuerySet[Message]:
    """The messages (of ``messages``, all by default) holding every word of ``term``, in any order, whatever
    the case and accents; on PostgreSQL stemmed too ("orders" finds "order"). Private notes included."""
    messages = Message.objects.all() if messages is None else messages
    words = search_words(term)
    if not words:
        return messages.none()
    if connection.vendor == "postgresql":
        # plainto_tsquery reads the term as the vector was built (an address stays one word): the GIN index.
        return messages.filter(search_vector=SearchQuery(fold(term), config=SEARCH_CONFIG, search_type="plain"))
    # Each word quoted, so nothing the user types is FTS5 syntax; words side by side must all be there.
    match = " ".join('"{}"'.format(word.replace('"', '""')) for word in words)
    hits = RawSQL("SELECT rowid FROM conversations_message_fts WHERE conversations_message_fts MATCH %s", [match])
    return messages.filter(pk__in=hits)


# A term matching more contacts than this is not looking for a person: their conversations are found through
# a subquery rather than a list of ids.
CONTACTS_LISTED = 500


def conversation_search(conversations: QuerySet[Conversation], term: str) -> QuerySet[Conversation]:
    """The conversations in which a message holds every word of ``term``, or whose contact's name, email or
    phone holds each word, or whose id or source id is ``term``; with the first matching message
    (``with_first_match``).

    The words alone make one ``id IN (messages matching)``, which the planner may run either way round: along
    the list's order, checking each conversation's messages (a common word: the page is found in the first
    rows), or from the full-text index (a rare word). Or-ing anything to it forces the second way for every
    word, so the other branches are added only where they can match: contacts first looked up on their own
    table, ids only for a term that looks like one.
    """
    said = Q(pk__in=message_search(term).values("conversation_id"))
    condition = said
    people = _contacts_matching(term)
    listed = list(people.values_list("pk", flat=True)[: CONTACTS_LISTED + 1])
    if len(listed) > CONTACTS_LISTED:
        condition |= Q(contact_id__in=people.values("pk"))
    elif listed:
        condition |= Q(contact_id__in=listed)
    token = term.strip()
    if token and not any(ch.isspace() for ch in token) and any(ch.isdigit() for ch in token):
        condition |= Q(remote_id=token) | Q(source_id=token)
    return with_first_match(conversations.filter(condition), term)


def _contacts_matching(term: str) -> QuerySet[Contact]:
    """Contacts whose name, email or phone holds each word of ``term`` (Django's admin search, on one table)."""
    contacts = Contact.objects.order_by()  # only ids are read: no join for the default ordering
    for word in term.split():
        contacts = contacts.filter(Q(name__icontains=word) | Q(email__icontains=word) | Q(phone_number__icontains=word))
    return contacts


def with_first_match(conversations: QuerySet[Conversation], term: str) -> QuerySet[Conversation]:
    """Adds ``first_match_id`` and ``first_match_content``: the earliest message matching ``term`` (None if none)."""
    first = message_search(term).filter(conversation=OuterRef("pk")).order_by("remote_created_at", "id")
    return conversations.annotate(
        first_match_id=Subquery(first.values("id")[:1]),
        first_match_content=Subquery(first.values("content")[:1]),
    )


# -- the conversation list's filters -----------------------------------------------------------------------
def _messages_of_row(**conditions: Any) -> Exists:
    return Exists(Message.objects.filter(conversation=OuterRef("pk"), **conditions))


def _bot_replies_of_row(**conditions: Any) -> Exists:
    return Exists(BotReply.objects.filter(conversation=OuterRef("pk"), **conditions))


def with_handler(conversations: QuerySet[Conversation], handler: str) -> QuerySet[Conversation]:
    """``handler`` "agent": handed to an agent (held by one, delivered to one, or an agent wrote); "bot": the
    bot answered and none of that happened. Read from the columns the services keep as messages arrive."""
    if handler == "agent":
        return conversations.filter(handed_to_agent=True)
    return conversations.filter(answered_by_bot=True, handed_to_agent=False)


def with_private_notes(conversations: QuerySet[Conversation], present: bool) -> QuerySet[Conversation]:
    notes = _messages_of_row(private=True)
    return conversations.filter(notes) if present else conversations.exclude(notes)


def with_bot_decision(
    conversations: QuerySet[Conversation], *, decision: str, matched: str | None = None
) -> QuerySet[Conversation]:
    """The conversations in which the bot decided ``decision`` at least once (with ``matched`` as its match)."""
    conditions: dict[str, Any] = {"decision": decision}
    if matched is not None:
        conditions["matched"] = matched
    return conversations.filter(_bot_replies_of_row(**conditions))


def bot_rules_matched(user: Any, limit: int = 50) -> list[str]:
    """The distinct words the bots' reply rules matched in the tenants ``user`` may see (first ``limit``)."""
    replies = scope_to_user(
        BotReply.objects.filter(decision=BotDecision.RULE), user, tenant_field="conversation__tenant"
    )
    return list(replies.exclude(matched="").order_by("matched").values_list("matched", flat=True).distinct()[:limit])


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


@dataclass(frozen=True)
class BulkProgress:
    """What a bulk operation's page shows above its rows, and what its script polls as JSON."""

    operation_id: int
    status: str
    status_label: str
    total: int
    counts: dict[str, int]  # ok, failed, skipped, running, pending
    percent: int
    finished: bool

    @property
    def done(self) -> int:
        return self.counts["ok"] + self.counts["failed"] + self.counts["skipped"]

    @property
    def summary(self) -> str:
        c = self.counts
        text = f"{c['ok']} done, {c['failed']} failed, {c['skipped']} skipped"
        waiting = c["pending"] + c["running"]
        return text + (f", {waiting} to do" if waiting else "")

    @property
    def headline(self) -> str:
        if self.finished:
            return f"Done: {self.summary}."
        if self.status == BulkStatus.QUEUED:
            return f"Queued: waiting for a worker to start ({self.total} conversation(s))."
        return f"Running: {self.done} of {self.total} ({self.summary})."

    @property
    def bar(self) -> list[tuple[str, str, float]]:
        """(state, label, width in %) of the rows that are over, in the bar's order."""
        total = self.total or 1
        labels = dict(BulkItemState.choices)
        return [(s, labels[s], self.counts[s] * 100 / total) for s in ("ok", "failed", "skipped")]

    def as_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation_id,
            "status": self.status,
            "status_label": self.status_label,
            "total": self.total,
            "counts": self.counts,
            "done": self.done,
            "percent": self.percent,
            "finished": self.finished,
            "summary": self.summary,
            "headline": self.headline,
        }


def bulk_operation_progress(operation: BulkOperation) -> BulkProgress:
    """The operation's rows counted by state (one grouped query) and how far it is."""
    found = dict(operation.items.order_by().values_list("state").annotate(n=Count("id")))
    counts = {state: found.get(state, 0) for state in BulkItemState.values}
    total = sum(counts.values())
    over = counts["ok"] + counts["failed"] + counts["skipped"]
    finished = operation.status == BulkStatus.DONE
    return BulkProgress(
        operation_id=operation.pk,
        status=operation.status,
        status_label=operation.get_status_display(),
        total=total,
        counts=counts,
        percent=100 if finished or not total else over * 100 // total,
        finished=finished,
    )
