"""Reads for a conversation's page: its timeline (messages, the console's actions, the bot's decisions) and figures.

The timeline is read a page at a time, newest first from a cursor, whatever the conversation's length: each
source (messages, audit entries, bot replies) is asked for at most ``limit + 1`` rows past the cursor, and
the API calls of the shown rows in one more query, so a page costs the same few queries at 20 messages or
2,000. Webhook events are not part of it: an ``InboundEvent`` has no link to the message it brought, and its
body is neither indexed nor searchable cheaply (see apps/hooks/models.py), so finding them would scan the
event log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.contrib.contenttypes.models import ContentType
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.bots.models import AgentBotAssignment, BotReply
from apps.cx.masking import Masker, masker_for
from apps.cx.models import ApiCall, AuditAction, AuditEntry, AuditOutcome

from .models import Conversation, Holder, Message, MessageType, SenderKind

# How a reader without the permission to see card numbers sees what was said.
MASKED = masker_for(None)
PAGE_SIZE = 100

# Where an item stands among items of the same moment: the message, then the bot's decision on it, then
# what the console did.
MESSAGE_RANK, BOT_REPLY_RANK, AUDIT_RANK = 0, 1, 2

# The side of the timeline a sender's message is shown on.
SIDES = {
    SenderKind.CONTACT: "customer",
    SenderKind.BOT: "bot",
    SenderKind.AGENT: "agent",
    SenderKind.SYSTEM: "system",
}


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the timeline: an item's moment, rank and primary key. Its text form goes in URLs."""

    moment: datetime
    rank: int = -1
    pk: int = 0

    def __str__(self) -> str:
        return f"{self.moment.isoformat()}~{self.rank}~{self.pk}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """The cursor ``text`` names, or None when it names none (a hand-edited URL)."""
        moment_text, _, rest = text.partition("~")
        rank_text, _, pk_text = rest.partition("~")
        moment = parse_datetime(moment_text.replace(" ", "+"))  # a "+" in a query string arrives as a space
        if moment is None or not rank_text.lstrip("-").isdigit() or not pk_text.isdigit():
            return None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, timezone.get_current_timezone())
        return cls(moment, int(rank_text), int(pk_text))

    @classmethod
    def start_of_day(cls, day: Any) -> Cursor:
        """Just before everything of ``day`` (a date) in the current time zone."""
        midnight = datetime(day.year, day.month, day.day)
        return cls(timezone.make_aware(midnight, timezone.get_current_timezone()))


@dataclass(frozen=True)
class ApiCallRef:
    pk: int
    operation: str
    method: str
    path: str
    status_code: int | None
    outcome: str
    outcome_label: str


@dataclass(frozen=True)
class TimelineItem:
    kind: ClassVar[str] = ""
    rank: ClassVar[int] = 0
    pk: int
    moment: datetime

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.moment, self.rank, self.pk)

    @property
    def order_key(self) -> str:
        """The item's place in timeline order as text that sorts the same way (the page's script inserts a new
        item where its key belongs)."""
        return f"{self.moment.timestamp():018.6f}~{self.rank}~{self.pk:012d}"


@dataclass(frozen=True)
class MessageItem(TimelineItem):
    """A message: who said it (side and name), what, and whether it is a private note."""

    kind: ClassVar[str] = "message"
    rank: ClassVar[int] = MESSAGE_RANK
    side: str = "system"
    sender: str = ""
    content: str = ""
    private: bool = False
    message_type: str = MessageType.OUTGOING
    event_id: int | None = None  # the inbound event that brought it (None: sent by the console, or an API answer)


@dataclass(frozen=True)
class ActionItem(TimelineItem):
    """An audit entry about the conversation: who did what through the console, how it ended, its API calls."""

    kind: ClassVar[str] = "action"
    rank: ClassVar[int] = AUDIT_RANK
    actor: str = ""
    action: str = ""
    outcome: str = AuditOutcome.OK
    outcome_label: str = ""
    detail: str = ""
    api_calls: tuple[ApiCallRef, ...] = ()


@dataclass(frozen=True)
class BotDecisionItem(TimelineItem):
    """How the bot answered a customer's message: its decision, the rule that matched, and its API calls."""

    kind: ClassVar[str] = "bot_reply"
    rank: ClassVar[int] = BOT_REPLY_RANK
    bot: str = ""
    message_pk: int = 0
    decision: str = ""
    decision_label: str = ""
    matched: str = ""
    state: str = ""
    state_label: str = ""
    error: str = ""
    api_calls: tuple[ApiCallRef, ...] = ()


def _past(cursor: Cursor | None, rank: int, *, before: bool) -> Q:
    """The rows of a source of ``rank`` strictly before (or after) ``cursor`` in timeline order."""
    if cursor is None:
        return Q()
    if before:
        q = Q(moment__lt=cursor.moment)
        if rank < cursor.rank:
            q |= Q(moment=cursor.moment)
        elif rank == cursor.rank:
            q |= Q(moment=cursor.moment, pk__lt=cursor.pk)
        return q
    q = Q(moment__gt=cursor.moment)
    if rank > cursor.rank:
        q |= Q(moment=cursor.moment)
    elif rank == cursor.rank:
        q |= Q(moment=cursor.moment, pk__gt=cursor.pk)
    return q


def _window(rows: QuerySet[Any], rank: int, cursor: Cursor | None, *, before: bool, limit: int) -> list[Any]:
    order = ("-moment", "-pk") if before else ("moment", "pk")
    return list(rows.filter(_past(cursor, rank, before=before)).order_by(*order)[:limit])


def _calls_by_id(ids: set[int]) -> dict[int, ApiCallRef]:
    if not ids:
        return {}
    calls = ApiCall.objects.filter(pk__in=ids).only("pk", "operation", "method", "path", "status_code", "outcome")
    return {
        call.pk: ApiCallRef(
            call.pk, call.operation, call.method, call.path, call.status_code, call.outcome, call.get_outcome_display()
        )
        for call in calls
    }


def _ids(values: Any) -> list[int]:
    return [value for value in (values or []) if isinstance(value, int)]


def conversation_timeline(
    conversation: Conversation,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
    show: Masker = MASKED,
) -> list[TimelineItem]:
    """Up to ``limit`` items of the conversation in time order: the newest ones before ``before`` (the newest
    of all without a cursor), or the oldest ones after ``after``. What was said goes through ``show``: card
    numbers masked unless the reader may see them (``apps.cx.masking.masker_for``)."""
    newest_first = after is None
    cursor = before if newest_first else after
    messages = Message.objects.filter(conversation=conversation).annotate(
        moment=Coalesce("remote_created_at", "created_at")
    )
    entries = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Conversation), object_id=str(conversation.pk)
    ).annotate(moment=F("created_at"))
    replies = BotReply.objects.filter(conversation=conversation).annotate(moment=F("created_at")).select_related("bot")
    found: list[tuple[int, Any]] = []
    for rank, rows in ((MESSAGE_RANK, messages), (AUDIT_RANK, entries), (BOT_REPLY_RANK, replies)):
        found += [(rank, row) for row in _window(rows, rank, cursor, before=newest_first, limit=limit)]
    found.sort(key=lambda pair: (pair[1].moment, pair[0], pair[1].pk), reverse=newest_first)
    found = found[:limit]
    if newest_first:
        found.reverse()

    return _items(conversation, found, show)


def _items(conversation: Conversation, found: list[tuple[int, Any]], show: Masker) -> list[TimelineItem]:
    """The timeline items of rows (rank, row) read from their sources, with their API calls (one query) and
    the names of their senders."""
    calls = _calls_by_id({pk for rank, row in found if rank != MESSAGE_RANK for pk in _ids(row.api_call_ids)})
    names = {"customer": conversation.contact.name if conversation.contact_id and conversation.contact else ""}
    unnamed_bot = any(
        rank == MESSAGE_RANK and row.sender_kind == SenderKind.BOT and not row.sender_name for rank, row in found
    )
    if unnamed_bot and conversation.inbox_id is not None:
        # The platform often names no sender for a bot's message: the inbox's bot, as it is assigned now.
        names["bot"] = (
            AgentBotAssignment.objects.filter(inbox_id=conversation.inbox_id)
            .values_list("bot__name", flat=True)
            .first()
            or ""
        )
    items: list[TimelineItem] = []
    for rank, row in found:
        refs = tuple(calls[pk] for pk in _ids(getattr(row, "api_call_ids", None)) if pk in calls)
        if rank == MESSAGE_RANK:
            items.append(_message_item(row, names, show, conversation.tenant))
        elif rank == AUDIT_RANK:
            items.append(
                ActionItem(
                    pk=row.pk,
                    moment=row.moment,
                    actor=row.actor,
                    action=row.action,
                    outcome=row.outcome,
                    outcome_label=row.get_outcome_display(),
                    detail=show(row.detail, conversation.tenant),
                    api_calls=refs,
                )
            )
        else:
            items.append(
                BotDecisionItem(
                    pk=row.pk,
                    moment=row.moment,
                    bot=row.bot.name,
                    message_pk=row.message_id,
                    decision=row.decision,
                    decision_label=row.get_decision_display(),
                    matched=row.matched,
                    state=row.state,
                    state_label=row.get_state_display(),
                    error=row.error,
                    api_calls=refs,
                )
            )
    return items


# -- what changed since the page last looked ----------------------------------------------------------------
# How far back each poll looks past the time the previous one read at: a writer's transaction that stamped its
# row just before that read but committed just after it is still found (and a few seconds of clock skew
# between app servers). The page's script skips an item it already shows unchanged.
LIVE_OVERLAP = timedelta(seconds=10)
LIVE_LIMIT = 50


def timeline_changes(
    conversation: Conversation, *, since: datetime, limit: int = LIVE_LIMIT, show: Masker = MASKED
) -> list[TimelineItem] | None:
    """The timeline items written or changed since ``since`` (less ``LIVE_OVERLAP``) in timeline order, or None
    when more than ``limit`` of a kind changed (the page then reloads its newest page instead).

    Bounded whatever the conversation's length: one indexed query per source (messages by (conversation,
    updated_at), audit entries by their object, bot replies by conversation), each at most ``limit + 1``
    rows, and one for the API calls of what is shown."""
    after = since - LIVE_OVERLAP
    messages = (
        Message.objects.filter(conversation=conversation, updated_at__gte=after)
        .annotate(moment=Coalesce("remote_created_at", "created_at"))
        .order_by("updated_at", "pk")
    )
    entries = (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Conversation),
            object_id=str(conversation.pk),
            created_at__gte=after,
        )
        .annotate(moment=F("created_at"))
        .order_by("created_at", "pk")
    )
    replies = (
        BotReply.objects.filter(conversation=conversation)
        .filter(Q(created_at__gte=after) | Q(finished_at__gte=after))
        .annotate(moment=F("created_at"))
        .select_related("bot")
        .order_by("created_at", "pk")
    )
    found: list[tuple[int, Any]] = []
    for rank, rows in ((MESSAGE_RANK, messages), (AUDIT_RANK, entries), (BOT_REPLY_RANK, replies)):
        window = list(rows[: limit + 1])
        if len(window) > limit:
            return None
        found += [(rank, row) for row in window]
    found.sort(key=lambda pair: (pair[1].moment, pair[0], pair[1].pk))
    return _items(conversation, found, show)


def _message_item(message: Any, names: dict[str, str], show: Masker, tenant: Any) -> MessageItem:
    side = SIDES.get(message.sender_kind, "system")
    sender = message.sender_name or names.get(side) or message.get_sender_kind_display()
    return MessageItem(
        pk=message.pk,
        moment=message.moment,
        side=side,
        sender=sender,
        content=show(message.content, tenant),
        private=message.private,
        message_type=message.message_type,
        event_id=message.source_event_id,
    )


def message_cursor(conversation: Conversation, message_pk: str) -> Cursor | None:
    """Just before the message ``message_pk`` of the conversation (a page that starts with it), or None."""
    if not message_pk.isdigit():
        return None
    moment = (
        Message.objects.filter(conversation=conversation, pk=int(message_pk))
        .annotate(moment=Coalesce("remote_created_at", "created_at"))
        .values_list("moment", flat=True)
        .first()
    )
    return Cursor(moment, MESSAGE_RANK, int(message_pk) - 1) if moment is not None else None


@dataclass(frozen=True)
class TimelinePage:
    """One page of the timeline and the cursors of the pages on either side (None where there is none)."""

    items: list[TimelineItem]
    older: Cursor | None
    newer: Cursor | None


def timeline_page(
    conversation: Conversation,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
    show: Masker = MASKED,
) -> TimelinePage:
    """A page of :func:`conversation_timeline` with whether there is more on either side of it."""
    items = conversation_timeline(conversation, before=before, after=after, limit=limit + 1, show=show)
    more = len(items) > limit
    if after is None:
        items = items[1:] if more else items
        older = items[0].cursor if more and items else None
        newer = items[-1].cursor if before is not None and items else None
    else:
        items = items[:limit]
        older = items[0].cursor if items else None
        newer = items[-1].cursor if more and items else None
    return TimelinePage(items=items, older=older, newer=newer)


# -- figures --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figures:
    """When the conversation's milestones happened, how long after its creation, and who said how much."""

    created_at: datetime
    first_incoming_at: datetime | None
    first_response_at: datetime | None
    handed_off_at: datetime | None
    handed_off: bool
    resolved_at: datetime | None
    messages_by_side: dict[str, int] = field(default_factory=dict)

    def _since_created(self, moment: datetime | None) -> timedelta | None:
        return moment - self.created_at if moment is not None else None

    @property
    def to_first_response(self) -> timedelta | None:
        return self._since_created(self.first_response_at)

    @property
    def to_handoff(self) -> timedelta | None:
        return self._since_created(self.handed_off_at)

    @property
    def to_resolution(self) -> timedelta | None:
        return self._since_created(self.resolved_at)

    @property
    def contained(self) -> bool | None:
        """Resolved by the bot without a handoff; None while the conversation is not resolved."""
        if self.resolved_at is None:
            return None
        return not self.handed_off


def conversation_figures(conversation: Conversation) -> Figures:
    """The conversation's figures (see :func:`figures_from`), read from its messages and audit trail."""
    messages = (
        Message.objects.filter(conversation=conversation)
        .annotate(moment=Coalesce("remote_created_at", "created_at"))
        .values_list("moment", "message_type", "private", "sender_kind")
    )
    handoffs = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Conversation),
        object_id=str(conversation.pk),
        action=AuditAction.DELIVER_TO_AGENT,
        outcome=AuditOutcome.OK,
    ).values_list("created_at", flat=True)
    return figures_from(conversation, list(messages), list(handoffs))


def figures_of(conversations: Sequence[Conversation]) -> dict[int, Figures]:
    """The figures of each of ``conversations`` (see :func:`figures_from`), read in two queries for them all:
    their messages and their handoffs done. For a chunk of rows (an export, the dashboard's rollup)."""
    ids = [conversation.pk for conversation in conversations]
    messages: dict[int, list[tuple[datetime, str, bool, str]]] = {pk: [] for pk in ids}
    rows = (
        Message.objects.filter(conversation_id__in=ids)
        .annotate(moment=Coalesce("remote_created_at", "created_at"))
        .values_list("conversation_id", "moment", "message_type", "private", "sender_kind")
    )
    for conversation_id, *message in rows:
        messages[conversation_id].append(tuple(message))  # type: ignore[arg-type]
    handoffs: dict[int, list[datetime]] = {pk: [] for pk in ids}
    done = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Conversation),
        object_id__in=[str(pk) for pk in ids],
        action=AuditAction.DELIVER_TO_AGENT,
        outcome=AuditOutcome.OK,
    ).values_list("object_id", "created_at")
    for object_id, at in done:
        handoffs[int(object_id)].append(at)
    return {
        conversation.pk: figures_from(conversation, messages[conversation.pk], handoffs[conversation.pk])
        for conversation in conversations
    }


def figures_from(
    conversation: Conversation,
    messages: Iterable[tuple[datetime, str, bool, str]],
    handoffs: Iterable[datetime],
) -> Figures:
    """The figures of ``conversation`` from its ``messages`` (moment, message type, private, sender kind) and
    the times of its ``handoffs`` done (deliver_to_agent in the audit trail). One rule for the page and the
    summary export:

    - created: the platform's time, else the earliest known (the row's, or its first message's);
    - first response: the first outgoing public message after the customer's first;
    - handed off: the first delivery the audit trail shows done (the holder, or an agent's message, says so
      when the trail does not);
    - resolved: finished_at; messages per side.
    """
    ordered = sorted(messages, key=lambda message: message[0])
    first_incoming = next((at for at, kind, _, _ in ordered if kind == MessageType.INCOMING), None)
    first_response = None
    if first_incoming is not None:
        first_response = next(
            (
                at
                for at, kind, private, _ in ordered
                if kind == MessageType.OUTGOING and not private and at > first_incoming
            ),
            None,
        )
    handed_off_at = min(handoffs, default=None)
    counts: dict[str, int] = {}
    for _, _, _, sender_kind in ordered:
        counts[sender_kind] = counts.get(sender_kind, 0) + 1
    created_at = conversation.remote_created_at
    if created_at is None:
        # The mirror's row can be younger than the conversation (first heard of late): its first message is not.
        created_at = min(conversation.created_at, ordered[0][0]) if ordered else conversation.created_at
    return Figures(
        created_at=created_at,
        first_incoming_at=first_incoming,
        first_response_at=first_response,
        handed_off_at=handed_off_at,
        # The same rule as the list's "who handled it": the column the services keep, the trail, the holder.
        handed_off=handed_off_at is not None or conversation.holder == Holder.AGENT or conversation.handed_to_agent,
        resolved_at=conversation.finished_at,
        messages_by_side={side: counts.get(kind, 0) for kind, side in SIDES.items()},
    )
