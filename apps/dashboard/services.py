"""The dashboard's writes: its rollups (conversations' figures; the event and API call logs per day) kept current."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from django.db import transaction
from django.db.models import Case, CharField, Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from apps.bots.models import AgentBotAssignment, BotReply
from apps.conversations.models import Conversation, Message
from apps.conversations.timeline import figures_of
from apps.cx.models import ApiCall
from apps.hooks.models import InboundEvent

from .models import ConversationFigures, CountedDay, DailyCount, LogKind, RollupMark

CHUNK = 200
MESSAGES_MARK = "messages"
FIGURE_FIELDS = (
    "tenant",
    "inbox",
    "bot",
    "created_at",
    "first_response_seconds",
    "handed_off",
    "handed_off_at",
    "resolved_at",
    "resolution_seconds",
    "seen_updated_at",
    "seen_activity_at",
    "computed_at",
)


def _stale_conversations(limit: int) -> list[int]:
    """Conversations with no figures yet, or changed since theirs were read (state, or last activity)."""
    conversations = Conversation.objects.annotate(stamp=Coalesce("last_activity_at", "updated_at"))
    current = ConversationFigures.objects.filter(
        pk=OuterRef("pk"), seen_updated_at=OuterRef("updated_at"), seen_activity_at=OuterRef("stamp")
    )
    return list(conversations.filter(~Exists(current)).order_by().values_list("pk", flat=True)[:limit])


def _conversations_with_new_messages(mark: RollupMark, count: int) -> tuple[list[int], int]:
    """Conversations given one of the next ``count`` messages after the mark, whatever the message's time (one
    that arrives late, older than the conversation's last activity, leaves the conversation's row as it was
    yet may change its figures), and the id of the last of those messages."""
    rows = list(Message.objects.filter(pk__gt=mark.value).order_by("pk").values_list("pk", "conversation_id")[:count])
    if not rows:
        return [], mark.value
    return list(dict.fromkeys(conversation_id for _, conversation_id in rows)), rows[-1][0]


def _bots_of(conversations: Iterable[Conversation]) -> dict[int, int | None]:
    """Each conversation's bot: the one that answered it first, else its inbox's bot now."""
    ids = [conversation.pk for conversation in conversations]
    answered: dict[int, int] = {}
    for conversation_id, bot_id in (
        BotReply.objects.filter(conversation_id__in=ids)
        .order_by("-created_at", "-id")
        .values_list("conversation_id", "bot_id")
    ):
        answered[conversation_id] = bot_id  # the oldest reply is seen last
    inboxes = {conversation.inbox_id for conversation in conversations if conversation.inbox_id}
    assigned = dict(AgentBotAssignment.objects.filter(inbox_id__in=inboxes).values_list("inbox_id", "bot_id"))
    return {
        conversation.pk: answered.get(conversation.pk) or assigned.get(conversation.inbox_id)  # type: ignore[arg-type]
        for conversation in conversations
    }


def _figures_rows(conversation_ids: list[int]) -> list[ConversationFigures]:
    conversations = list(
        Conversation.objects.filter(pk__in=conversation_ids).annotate(stamp=Coalesce("last_activity_at", "updated_at"))
    )
    figured = figures_of(conversations)
    bots = _bots_of(conversations)
    now = timezone.now()
    rows = []
    for conversation in conversations:
        figures = figured[conversation.pk]
        first_response, resolution = figures.to_first_response, figures.to_resolution
        rows.append(
            ConversationFigures(
                conversation_id=conversation.pk,
                tenant_id=conversation.tenant_id,
                inbox_id=conversation.inbox_id,
                bot_id=bots[conversation.pk],
                created_at=figures.created_at,
                first_response_seconds=first_response.total_seconds() if first_response is not None else None,
                handed_off=figures.handed_off,
                handed_off_at=figures.handed_off_at,
                resolved_at=figures.resolved_at,
                resolution_seconds=resolution.total_seconds() if resolution is not None else None,
                seen_updated_at=conversation.updated_at,
                seen_activity_at=conversation.stamp,  # type: ignore[attr-defined]
                computed_at=now,
            )
        )
    return rows


def conversation_figures_refresh(*, limit: int = 20_000, messages: int = 50_000, seconds: float = 20.0) -> int:
    """Reads again the figures of every conversation that changed since the last run (or has none), at most
    ``limit`` of them (and those of the next ``messages`` new messages) or for about ``seconds``; the next run
    takes the rest. Returns how many were read.

    The figures are ``figures_from``'s, the rule of a conversation's page and of the summary export. Each
    chunk is written in its own transaction, with the conversation's state as it was read: a conversation
    that changes meanwhile differs from its row and is read again next time.
    """
    started = time.monotonic()
    mark, created = RollupMark.objects.get_or_create(name=MESSAGES_MARK)
    if created:
        # On the first run every conversation lacks figures: the messages before it need no second look.
        newest = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        touched: list[int] = []
        upto = newest
    else:
        touched, upto = _conversations_with_new_messages(mark, messages)
    todo = list(dict.fromkeys([*touched, *_stale_conversations(max(limit - len(touched), 0))]))
    done = 0
    for start in range(0, len(todo), CHUNK):
        rows = _figures_rows(todo[start : start + CHUNK])
        with transaction.atomic():
            ConversationFigures.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["conversation"], update_fields=list(FIGURE_FIELDS)
            )
        done += len(rows)
        if time.monotonic() - started > seconds and start + CHUNK < len(todo):
            return done  # the mark stays: what is left is read next time
    # updated_at: when the rollup was last complete (the dashboard says so).
    RollupMark.objects.filter(pk=mark.pk).update(value=Greatest(F("value"), Value(upto)), updated_at=timezone.now())
    return done


# -- the logs' daily counts -------------------------------------------------------------------------------------
# Upper bounds (ms) of the lag buckets events are counted in; a lag above the last is counted as "more".
LAG_BOUNDS_MS = (100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 3_600_000)
LAG_MORE = "more"
# Days over are counted again this many days back: events mapped late, retried or replayed soon after.
RECOUNT_DAYS = 2


def event_lag() -> ExpressionWrapper:
    return ExpressionWrapper(F("processed_at") - F("received_at"), output_field=DurationField())


def event_lag_bucket() -> Case:
    """The upper bound (ms, as text) of the lag bucket an event falls in; "more" above the last one."""
    return Case(
        *(When(lag__lte=timedelta(milliseconds=bound), then=Value(str(bound))) for bound in LAG_BOUNDS_MS),
        default=Value(LAG_MORE),
        output_field=CharField(),
    )


def _day_span(day: date, zone: Any) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, dt_time.min), zone)
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), dt_time.min), zone)


def _count_day(day: date, zone: Any, zone_name: str) -> list[DailyCount]:
    start, end = _day_span(day, zone)
    events = InboundEvent.objects.filter(received_at__gte=start, received_at__lt=end).order_by()
    rows = [
        DailyCount(day=day, zone=zone_name, tenant_id=tenant_id, log=LogKind.EVENTS, key=status, count=n)
        for tenant_id, status, n in events.values_list("tenant_id", "status").annotate(n=Count("pk"))
    ]
    lags = (
        events.filter(processed_at__isnull=False)
        .annotate(lag=event_lag())
        .annotate(bucket=event_lag_bucket())
        .values_list("tenant_id", "bucket")
        .annotate(n=Count("pk"))
    )
    rows += [
        DailyCount(day=day, zone=zone_name, tenant_id=tenant_id, log=LogKind.EVENT_LAG, key=bucket, count=n)
        for tenant_id, bucket, n in lags
    ]
    calls = ApiCall.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    rows += [
        DailyCount(day=day, zone=zone_name, tenant_id=tenant_id, log=LogKind.API_CALLS, key=outcome, count=n)
        for tenant_id, outcome, n in calls.values_list("tenant_id", "outcome").annotate(n=Count("pk"))
    ]
    return rows


def daily_counts_refresh(*, today: date | None = None, days: int = 60) -> int:
    """Counts the event log and the API call log for each day that is over and not counted yet (the newest
    first, at most ``days`` of them; the next run takes the rest), and again for the last ``RECOUNT_DAYS``
    days. Returns how many days were counted."""
    zone = timezone.get_current_timezone()
    zone_name = str(zone)
    today = today or timezone.localdate()
    firsts = [
        InboundEvent.objects.order_by("received_at").values_list("received_at", flat=True).first(),
        ApiCall.objects.order_by("created_at").values_list("created_at", flat=True).first(),
    ]
    known = [moment for moment in firsts if moment is not None]
    if not known:
        return 0
    first = timezone.localtime(min(known), zone).date()
    counted = set(
        CountedDay.objects.filter(zone=zone_name, day__gte=first, day__lt=today).values_list("day", flat=True)
    )
    span = (today - first).days
    wanted = [today - timedelta(days=n) for n in range(1, span + 1)]
    todo = [day for day in wanted if day not in counted or day >= today - timedelta(days=RECOUNT_DAYS)][:days]
    for day in todo:
        rows = _count_day(day, zone, zone_name)
        with transaction.atomic():
            DailyCount.objects.filter(day=day, zone=zone_name).delete()
            DailyCount.objects.bulk_create(rows)
            CountedDay.objects.update_or_create(day=day, zone=zone_name, defaults={"counted_at": timezone.now()})
    return len(todo)
