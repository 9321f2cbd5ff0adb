"""The dashboard's reads: the day's figures for the tenants a user may see, each with the rows behind it.

Every figure is one indexed aggregate query (a ``GROUP BY`` over a time range), whatever the number of
rows: callbacks by ``finished_at``, callback attempts by ``started_at``, inbound events by
``received_at``, API calls by ``created_at``, refusals by ``day``. Two kinds of figure read rollup rows that
``dashboard.refresh_figures`` keeps instead: conversation figures (first response, handoff, resolution,
contained) need every message of a conversation (``models.ConversationFigures``, by ``created_at``); and a
range of several days reads the event and API call logs' days that are over from their daily counts
(``models.DailyCount``), and only today from the logs.

Each figure carries the link to the admin list that shows the rows it counts, with the same filters.
A section is there only when the user may view the rows it counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Trunc
from django.urls import reverse
from django.utils import timezone

from apps.bots.models import AgentBotAssignment
from apps.callbacks.models import CallbackAttempt, CallbackState, QueueCallback, QueueLimit
from apps.cx.models import ApiCall, ApiCallOutcome
from apps.cx.selectors import tenant_ids_for
from apps.hooks.models import EventStatus, InboundEvent, RefusalCount, RefusalReason

from .models import ConversationFigures, CountedDay, DailyCount, LogKind, RollupMark
from .services import LAG_BOUNDS_MS, LAG_MORE, event_lag, event_lag_bucket

MAX_DAYS = 366
HOURLY_UP_TO_DAYS = 2  # longer ranges are drawn per day
MINUTES_SHOWN = 60  # calls per minute: the last hour, as the dispatcher counts them
ENDED_STATES = (
    CallbackState.PLACED,
    CallbackState.FAILED,
    CallbackState.UNKNOWN,
    CallbackState.SKIPPED,
    CallbackState.CANCELLED,
)
WAITING_STATES = (CallbackState.PENDING, CallbackState.SCHEDULED, CallbackState.DISPATCHING)
API_ERRORS = tuple(outcome for outcome in ApiCallOutcome.values if outcome not in ("ok", "rate_limited"))


# -- the range -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """Whole days, both included, in the current time zone; drawn per hour or per day."""

    first_day: date
    last_day: date
    zone: tzinfo

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first_day, time.min), self.zone)

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.last_day + timedelta(days=1), time.min), self.zone)

    @property
    def bucket(self) -> str:
        return "hour" if (self.last_day - self.first_day).days < HOURLY_UP_TO_DAYS else "day"

    def buckets(self) -> list[datetime]:
        """The start of each hour (or day) of the range."""
        if self.bucket == "day":
            days = (self.last_day - self.first_day).days + 1
            return [
                timezone.make_aware(datetime.combine(self.first_day + timedelta(days=n), time.min), self.zone)
                for n in range(days)
            ]
        # Hours are counted in UTC so a change of summer time neither repeats nor skips one.
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
        hours = int((end - start).total_seconds() // 3600)
        return [(start + timedelta(hours=n)).astimezone(self.zone) for n in range(hours)]


def period_from(since: str | None, until: str | None, *, today: date | None = None) -> tuple[Period, list[str]]:
    """The range ``since``–``until`` (ISO dates, both included; today when not given) and what was wrong with
    what was given (today's range is used then)."""
    zone = timezone.get_current_timezone()
    today = today or timezone.localdate()
    problems: list[str] = []

    def day(text: str | None, name: str) -> date | None:
        if not text:
            return None
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            problems.append(f"“{text[:40]}” is not a date ({name}): write it as YYYY-MM-DD.")
            return None

    first, last = day(since, "from"), day(until, "to")
    if problems:
        return Period(today, today, zone), problems
    first, last = first or last or today, last or first or today
    if last < first:
        problems.append("The range ends before it starts: today is shown.")
    elif (last - first).days >= MAX_DAYS:
        problems.append(f"A range is at most {MAX_DAYS} days: today is shown.")
    if problems:
        return Period(today, today, zone), problems
    return Period(first, last, zone), problems


# -- helpers -----------------------------------------------------------------------------------------------------
class PercentileDisc(Aggregate):
    """PostgreSQL's ``percentile_disc``: the first value whose rank reaches the fraction (nearest rank)."""

    function = "percentile_disc"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def _percentiles(rows: QuerySet[Any], expression: Any, fractions: tuple[float, ...]) -> list[Any]:
    """The nearest-rank percentiles of ``expression`` over ``rows`` (None where there are no rows).

    PostgreSQL sorts once per fraction inside one query. Elsewhere (the embedded SQLite) the count, then
    the row at each rank: a constant number of queries, nothing held in memory.
    """
    if connection.vendor == "postgresql":
        found = rows.aggregate(
            **{f"p{n}": PercentileDisc(expression, fraction) for n, fraction in enumerate(fractions)}
        )
        return [found[f"p{n}"] for n in range(len(fractions))]
    count = rows.count()
    if not count:
        return [None for _ in fractions]
    ordered = rows.annotate(value=expression).order_by("value").values_list("value", flat=True)
    return [ordered[max(math.ceil(fraction * count) - 1, 0)] for fraction in fractions]


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    return round(value.total_seconds() if isinstance(value, timedelta) else float(value), 3)


def duration_text(seconds: float | None) -> str:
    """``seconds`` as a reader says it: "850 ms", "42 s", "3 min 5 s", "2 min", "2 h 10 min"; "–" for none."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    whole = round(seconds)
    for size, unit, part_size, part_unit in ((86400, "d", 3600, "h"), (3600, "h", 60, "min"), (60, "min", 1, "s")):
        if whole >= size:
            part = whole % size // part_size
            return f"{whole // size} {unit} {part} {part_unit}" if part else f"{whole // size} {unit}"
    return f"{whole} s"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percent_text(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.0f} %"


def _moment(value: datetime) -> str:
    return value.isoformat()


class Links:
    """Admin list URLs with the dashboard's filters: the tenant chosen and the range on the list's own time field."""

    def __init__(self, period: Period, tenant_id: int | None) -> None:
        self.period = period
        self.tenant_id = tenant_id

    def to(
        self,
        changelist: str,
        *,
        time_field: str | None = None,
        tenant: str | None = "tenant__id__exact",
        **filters: Any,
    ) -> str:
        params: dict[str, Any] = {}
        if time_field:
            params[f"{time_field}__gte"] = _moment(self.period.start)
            params[f"{time_field}__lt"] = _moment(self.period.end)
        if tenant and self.tenant_id is not None:
            params[tenant] = self.tenant_id
        params.update({name: value for name, value in filters.items() if value is not None})
        url = reverse(f"admin:{changelist}_changelist")
        return f"{url}?{urlencode(params)}" if params else url

    def conversations(self, **filters: Any) -> str:
        # The conversation list's own range filter takes days.
        return self.to(
            "conversations_conversation",
            remote_created_at__from=self.period.first_day.isoformat(),
            remote_created_at__to=self.period.last_day.isoformat(),
            **filters,
        )


def _bucketed(rows: QuerySet[Any], field: str, period: Period, key: str) -> dict[str, list[int]]:
    """Counts of ``rows`` per bucket of ``field`` and per value of ``key``: {value: [count per bucket]}."""
    starts = period.buckets()
    index = {start: n for n, start in enumerate(starts)}
    series: dict[str, list[int]] = {}
    grouped = (
        rows.annotate(bucket=Trunc(field, period.bucket, tzinfo=period.zone))
        .values_list("bucket", key)
        .annotate(n=Count("pk"))
        .order_by()
    )
    for bucket, value, n in grouped:
        at = index.get(bucket)
        if at is None:
            continue
        series.setdefault(str(value), [0] * len(starts))[at] += n
    return series


def _scoped(rows: QuerySet[Any], tenant_ids: list[int] | None) -> QuerySet[Any]:
    return rows if tenant_ids is None else rows.filter(tenant_id__in=tenant_ids)


@dataclass(frozen=True)
class Split:
    """Where a range is read from: the logs' daily counts for ``rolled`` (consecutive days over and counted),
    the logs themselves for the rest of the range (today, and days not counted yet)."""

    period: Period
    rolled: tuple[date, ...]

    def live(self, field: str) -> Q:
        """The rows of the range not in the counted days, by their time ``field``."""
        if not self.rolled:
            return Q(**{f"{field}__gte": self.period.start, f"{field}__lt": self.period.end})
        zone = self.period.zone
        first = timezone.make_aware(datetime.combine(self.rolled[0], time.min), zone)
        after = timezone.make_aware(datetime.combine(self.rolled[-1] + timedelta(days=1), time.min), zone)
        return Q(**{f"{field}__gte": self.period.start, f"{field}__lt": first}) | Q(
            **{f"{field}__gte": after, f"{field}__lt": self.period.end}
        )


def _split(period: Period) -> Split:
    """Ranges of whole days read the days over from the daily counts (the latest run of counted days: they are
    counted newest first); a range drawn per hour reads the logs."""
    if period.bucket != "day":
        return Split(period, ())
    last = min(period.last_day, timezone.localdate() - timedelta(days=1))
    counted = set(
        CountedDay.objects.filter(zone=str(period.zone), day__gte=period.first_day, day__lte=last).values_list(
            "day", flat=True
        )
    )
    rolled: list[date] = []
    day = last
    while day >= period.first_day and day in counted:
        rolled.insert(0, day)
        day -= timedelta(days=1)
    # When the newest day over is not counted yet, nothing is read from the counts: the logs answer for all.
    return Split(period, tuple(rolled))


def _daily(
    split: Split, period: Period, tenant_ids: list[int] | None, log: str, *, by_day: bool = True
) -> dict[str, Any]:
    """The daily counts of ``log`` over the split's counted days: {key: [count per day]}, or {key: count}."""
    if period.bucket != "day":
        return {}
    rows = _scoped(DailyCount.objects.filter(zone=str(period.zone), log=log), tenant_ids)
    # Asked even when no day is counted (an empty span): the same queries whatever the rollup holds.
    first, last = (
        (split.rolled[0], split.rolled[-1])
        if split.rolled
        else (period.first_day, period.first_day - timedelta(days=1))
    )
    rows = rows.filter(day__gte=first, day__lte=last)
    if not by_day:
        return dict(rows.values_list("key").annotate(n=Sum("count")).order_by())
    found: dict[str, list[int]] = {}
    size = len(period.buckets())
    for day, key, n in rows.values_list("day", "key").annotate(n=Sum("count")).order_by():
        found.setdefault(key, [0] * size)[(day - period.first_day).days] += n
    return found


def _merged(live: dict[str, list[int]], counted: dict[str, list[int]]) -> dict[str, list[int]]:
    merged = {key: list(counts) for key, counts in live.items()}
    for key, counts in counted.items():
        mine = merged.setdefault(key, [0] * len(counts))
        for n, count in enumerate(counts):
            mine[n] += count
    return merged


def _bucket_percentile(counts: dict[str, int], fraction: float) -> float | None:
    """The upper bound (seconds; ``inf`` past the last bucket) of the lag bucket holding the nearest-rank
    percentile ``fraction`` of the counted events; None when there are none."""
    bounds = sorted((math.inf if key == LAG_MORE else int(key) / 1000, n) for key, n in counts.items())
    total = sum(n for _, n in bounds)
    if not total:
        return None
    rank, seen = max(math.ceil(fraction * total), 1), 0
    for bound, n in bounds:
        seen += n
        if seen >= rank:
            return bound
    return math.inf


# -- the sections ----------------------------------------------------------------------------------------------
def _callbacks(period: Period, tenant_ids: list[int] | None, links: Links, now: datetime) -> dict[str, Any]:
    callbacks = _scoped(QueueCallback.objects.all(), tenant_ids)
    ended = _bucketed(
        callbacks.filter(finished_at__gte=period.start, finished_at__lt=period.end, state__in=ENDED_STATES),
        "finished_at",
        period,
        "state",
    )
    labels = dict(CallbackState.choices)
    series: list[dict[str, Any]] = [
        {
            "key": state,
            "label": str(labels[state]),
            "counts": ended.get(state, [0] * len(period.buckets())),
            "link": links.to("callbacks_queuecallback", state__exact=state),
            "time_field": "finished_at",
        }
        for state in ENDED_STATES
    ]
    for line in series:
        line["total"] = sum(line["counts"])
        line["total_link"] = links.to("callbacks_queuecallback", time_field="finished_at", state__exact=line["key"])
    now_by_state = dict(
        callbacks.filter(state__in=[*WAITING_STATES, CallbackState.UNKNOWN])
        .values_list("state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    waiting = [
        {
            "key": state,
            "label": str(labels[state]),
            "count": now_by_state.get(state, 0),
            "link": links.to("callbacks_queuecallback", state__exact=state),
        }
        for state in WAITING_STATES
    ]
    return {
        "ended": series,
        "waiting": waiting,
        "unknown": {
            "count": now_by_state.get(CallbackState.UNKNOWN, 0),
            "link": links.to("callbacks_queuecallback", state__exact=CallbackState.UNKNOWN),
        },
        "queues": _calls_per_minute(tenant_ids, links, now),
    }


def _calls_per_minute(tenant_ids: list[int] | None, links: Links, now: datetime) -> dict[str, Any]:
    """Calls started per minute in the last hour for each queue (attempts, as the dispatcher counts them),
    and the queue's limit."""
    zone = timezone.get_current_timezone()
    first = (now - timedelta(minutes=MINUTES_SHOWN - 1)).replace(second=0, microsecond=0)
    minutes = [first + timedelta(minutes=n) for n in range(MINUTES_SHOWN)]
    index = {minute: n for n, minute in enumerate(minutes)}
    counts: dict[tuple[int, str], list[int]] = {}
    rows = (
        _scoped(CallbackAttempt.objects.filter(started_at__gte=first), tenant_ids)
        .annotate(minute=Trunc("started_at", "minute", tzinfo=zone))
        .values_list("tenant_id", "queue_name", "minute")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for tenant_id, queue_name, minute, n in rows:
        at = index.get(minute)
        if at is not None:
            counts.setdefault((tenant_id, queue_name), [0] * MINUTES_SHOWN)[at] += n
    limits = {
        (limit.tenant_id, limit.queue_name): limit
        for limit in _scoped(QueueLimit.objects.select_related("tenant"), tenant_ids)
    }
    default_limit = QueueLimit._meta.get_field("calls_per_minute").get_default()
    queues = []
    for key in sorted(set(limits) | set(counts), key=lambda pair: (pair[0], pair[1])):
        per_minute = counts.get(key, [0] * MINUTES_SHOWN)
        limit = limits.get(key)
        tenant_id, queue_name = key
        queues.append(
            {
                "queue": queue_name,
                "tenant": str(limit.tenant) if limit else "",
                "limit": limit.calls_per_minute if limit else default_limit,
                "per_minute": per_minute,
                "last_minute": per_minute[-1],
                "peak": max(per_minute),
                "link": Links(links.period, tenant_id).to(
                    "callbacks_callbackattempt",
                    queue_name__exact=queue_name,
                    started_at__gte=_moment(first),
                ),
                "limit_link": reverse("admin:callbacks_queuelimit_change", args=[limit.pk]) if limit else "",
            }
        )
    return {"minutes": [minute.strftime("%H:%M") for minute in minutes], "queues": queues}


def _conversations(period: Period, tenant_ids: list[int] | None, links: Links) -> dict[str, Any]:
    cohort = _scoped(ConversationFigures.objects.all(), tenant_ids).filter(
        created_at__gte=period.start, created_at__lt=period.end
    )
    finished, handed = Q(resolved_at__isnull=False), Q(handed_off=True)
    counts = {
        "opened": Count("pk"),
        "with_bot": Count("pk", filter=~finished & ~handed),
        "with_agent": Count("pk", filter=~finished & handed),
        "handed": Count("pk", filter=handed),
        "finished": Count("pk", filter=finished),
        "contained": Count("pk", filter=finished & ~handed),
    }
    totals = cohort.aggregate(**counts)
    totals["containment"] = _rate(totals["contained"], totals["finished"])
    totals["handoff_rate"] = _rate(totals["handed"], totals["opened"])
    totals["containment_text"] = percent_text(totals["containment"])
    totals["handoff_rate_text"] = percent_text(totals["handoff_rate"])
    fate = (
        cohort.annotate(finished=ExpressionWrapper(finished, output_field=BooleanField()))
        .annotate(bucket=Trunc("created_at", period.bucket, tzinfo=period.zone))
        .values_list("bucket", "finished", "handed_off")
        .annotate(n=Count("pk"))
        .order_by()
    )
    starts = period.buckets()
    index = {start: n for n, start in enumerate(starts)}
    names = {
        (False, False): "with_bot",
        (False, True): "with_agent",
        (True, False): "contained",
        (True, True): "finished_by_agent",
    }
    by_fate: dict[str, list[int]] = {name: [0] * len(starts) for name in names.values()}
    for bucket, is_finished, is_handed, n in fate:
        at = index.get(bucket)
        if at is not None:
            by_fate[names[(bool(is_finished), bool(is_handed))]][at] += n
    series_filters = {
        "with_bot": {"holder__exact": "bot"},
        "with_agent": {"holder__exact": "agent"},
        "contained": {"status__exact": "resolved", "handled": "bot"},
        "finished_by_agent": {"status__exact": "resolved", "handled": "agent"},
    }
    series_labels = {
        "with_bot": "still with the bot",
        "with_agent": "with an agent",
        "contained": "finished by the bot",
        "finished_by_agent": "finished after a handoff",
    }
    series = [
        {
            "key": key,
            "label": series_labels[key],
            "counts": by_fate[key],
            "link": links.conversations(**series_filters[key]),
            "day_field": "remote_created_at",
        }
        for key in names.values()
    ]
    first_response = _percentiles(
        cohort.filter(first_response_seconds__isnull=False), F("first_response_seconds"), (0.5, 0.9)
    )
    resolution = _percentiles(cohort.filter(resolution_seconds__isnull=False), F("resolution_seconds"), (0.5, 0.9))
    times: dict[str, dict[str, Any]] = {
        "first_response": {"p50": _seconds(first_response[0]), "p90": _seconds(first_response[1])},
        "resolution": {"p50": _seconds(resolution[0]), "p90": _seconds(resolution[1])},
    }
    for figure in times.values():
        figure["p50_text"] = duration_text(figure["p50"])
        figure["p90_text"] = duration_text(figure["p90"])
    bots = _bots(cohort, counts, links)
    mark = RollupMark.objects.filter(name="messages").values_list("updated_at", flat=True).first()
    return {
        "totals": totals,
        "links": {
            "opened": links.conversations(),
            "with_bot": links.conversations(holder__exact="bot"),
            "with_agent": links.conversations(holder__exact="agent"),
            "handed": links.conversations(handled="agent"),
            "finished": links.conversations(status__exact="resolved"),
            "contained": links.conversations(status__exact="resolved", handled="bot"),
        },
        "series": series,
        "times": times,
        "bots": bots,
        "figures_as_of": _moment(mark) if mark else None,
        "figures_as_of_text": timezone.localtime(mark).strftime("%H:%M:%S") if mark else "",
    }


def _bots(cohort: QuerySet[ConversationFigures], counts: dict[str, Any], links: Links) -> list[dict[str, Any]]:
    """Each bot's conversations of the range: opened, handed off, finished, contained; containment and handoff rate."""
    rows = list(cohort.values("bot_id", "bot__name").annotate(**counts).order_by("bot__name"))
    inboxes: dict[int, list[int]] = {}
    for bot_id, inbox_id in AgentBotAssignment.objects.filter(
        bot_id__in=[row["bot_id"] for row in rows if row["bot_id"]]
    ).values_list("bot_id", "inbox_id"):
        inboxes.setdefault(bot_id, []).append(inbox_id)
    found = []
    for row in rows:
        bot_id = row["bot_id"]
        where = {"inbox__id__in": ",".join(str(pk) for pk in sorted(inboxes.get(bot_id, [])))} if bot_id else {}
        found.append(
            {
                "bot": row["bot__name"] or "(no bot)",
                "opened": row["opened"],
                "handed": row["handed"],
                "finished": row["finished"],
                "contained": row["contained"],
                "containment": _rate(row["contained"], row["finished"]),
                "handoff_rate": _rate(row["handed"], row["opened"]),
                "containment_text": percent_text(_rate(row["contained"], row["finished"])),
                "handoff_rate_text": percent_text(_rate(row["handed"], row["opened"])),
                "link": reverse("admin:bots_agentbot_change", args=[bot_id]) if bot_id else "",
                "conversations_link": links.conversations(**where) if where.get("inbox__id__in") else "",
            }
        )
    return found


def _events(
    period: Period, split: Split, tenant_ids: list[int] | None, links: Links, *, refusals: bool
) -> dict[str, Any]:
    events = _scoped(InboundEvent.objects.filter(split.live("received_at")), tenant_ids)
    by_status = _merged(
        _bucketed(events, "received_at", period, "status"), _daily(split, period, tenant_ids, LogKind.EVENTS)
    )
    labels = dict(EventStatus.choices)
    series: list[dict[str, Any]] = [
        {
            "key": status,
            "label": str(labels[status]),
            "counts": by_status.get(status, [0] * len(period.buckets())),
            "link": links.to("hooks_inboundevent", status__exact=status),
            "time_field": "received_at",
        }
        for status in EventStatus.values
    ]
    for line in series:
        line["total"] = sum(line["counts"])
        line["total_link"] = links.to("hooks_inboundevent", time_field="received_at", status__exact=line["key"])
    mapped = events.filter(processed_at__isnull=False)
    if period.bucket == "hour":
        exact = _percentiles(mapped, event_lag(), (0.5, 0.99))
        lag: dict[str, Any] = {"p50": _seconds(exact[0]), "p99": _seconds(exact[1]), "approximate": False}
        lag["p50_text"], lag["p99_text"] = duration_text(lag["p50"]), duration_text(lag["p99"])
    else:
        # Days are counted in lag buckets (services.LAG_BOUNDS_MS): the bucket each percentile falls in.
        counts = _daily(split, period, tenant_ids, LogKind.EVENT_LAG, by_day=False)
        live = mapped.annotate(lag=event_lag()).annotate(bucket=event_lag_bucket()).values_list("bucket")
        for bucket, n in live.annotate(n=Count("pk")).order_by():
            counts[bucket] = counts.get(bucket, 0) + n
        lag = {"approximate": True}
        for name, fraction in (("p50", 0.5), ("p99", 0.99)):
            bound = _bucket_percentile(counts, fraction)
            lag[name] = bound
            lag[f"{name}_text"] = (
                "–"
                if bound is None
                else (
                    f"> {duration_text(LAG_BOUNDS_MS[-1] / 1000)}" if bound == math.inf else f"≤ {duration_text(bound)}"
                )
            )
            if bound == math.inf:
                lag[name] = None
    found: dict[str, Any] = {
        "series": series,
        "received": sum(line["total"] for line in series),
        "received_link": links.to("hooks_inboundevent", time_field="received_at"),
        "lag": lag,
        "refusals": None,
    }
    if refusals:
        counted = dict(
            RefusalCount.objects.filter(day__gte=period.first_day, day__lte=period.last_day)
            .values_list("reason")
            .annotate(n=Sum("count"))
            .order_by()
        )
        reasons = dict(RefusalReason.choices)
        day_range = {"day__gte": period.first_day.isoformat(), "day__lte": period.last_day.isoformat()}
        found["refusals"] = [
            {
                "reason": reason,
                "label": str(reasons[reason]),
                "count": counted.get(reason, 0),
                "link": links.to("hooks_refusalcount", tenant=None, reason__exact=reason, **day_range),
            }
            for reason in RefusalReason.values
        ]
    return found


def _api_calls(period: Period, split: Split, tenant_ids: list[int] | None, links: Links) -> dict[str, Any]:
    calls = _scoped(ApiCall.objects.filter(split.live("created_at")), tenant_ids)
    by_outcome = _merged(
        _bucketed(calls, "created_at", period, "outcome"), _daily(split, period, tenant_ids, LogKind.API_CALLS)
    )
    size = len(period.buckets())
    errors = [sum(by_outcome.get(outcome, [0] * size)[n] for outcome in API_ERRORS) for n in range(size)]
    limited = by_outcome.get(ApiCallOutcome.RATE_LIMITED, [0] * size)
    ok = by_outcome.get(ApiCallOutcome.OK, [0] * size)
    total = sum(sum(counts) for counts in by_outcome.values())
    error_link = {"outcome__in": ",".join(API_ERRORS)}
    return {
        "series": [
            {
                "key": "ok",
                "label": "answered",
                "counts": ok,
                "link": links.to("cx_apicall", outcome__exact="ok"),
                "time_field": "created_at",
            },
            {
                "key": "errors",
                "label": "errors",
                "counts": errors,
                "link": links.to("cx_apicall", **error_link),
                "time_field": "created_at",
            },
            {
                "key": "rate_limited",
                "label": "429 rate limited",
                "counts": limited,
                "link": links.to("cx_apicall", outcome__exact="rate_limited"),
                "time_field": "created_at",
            },
        ],
        "calls": total,
        "errors": sum(errors),
        "rate_limited": sum(limited),
        "error_rate": _rate(sum(errors) + sum(limited), total),
        "error_rate_text": percent_text(_rate(sum(errors) + sum(limited), total)),
        "error_rate_per_bucket": [_rate(errors[n] + limited[n], errors[n] + limited[n] + ok[n]) for n in range(size)],
        "links": {
            "calls": links.to("cx_apicall", time_field="created_at"),
            "errors": links.to("cx_apicall", time_field="created_at", **error_link),
            "rate_limited": links.to("cx_apicall", time_field="created_at", outcome__exact="rate_limited"),
        },
    }


# -- the whole -------------------------------------------------------------------------------------------------------
def dashboard_figures(
    *, user: Any, period: Period, tenant_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the dashboard shows for ``user`` over ``period`` (one tenant of theirs, or all they may see),
    as plain data (the page and its JSON endpoint share it). ``tenant_id`` must be one the user may see."""
    now = now or timezone.now()
    allowed = tenant_ids_for(user)
    tenant_ids = [tenant_id] if tenant_id is not None else allowed
    links = Links(period, tenant_id)
    buckets = period.buckets()
    label_format = (
        "%H:%M"
        if period.bucket == "hour" and period.first_day == period.last_day
        else ("%a %H:%M" if period.bucket == "hour" else "%b %d")
    )
    figures: dict[str, Any] = {
        "period": {
            "since": period.first_day.isoformat(),
            "until": period.last_day.isoformat(),
            "bucket": period.bucket,
            "zone": str(period.zone),
        },
        "generated_at": _moment(now),
        "generated_at_text": timezone.localtime(now).strftime("%H:%M:%S"),
        "labels": [start.strftime(label_format) for start in buckets],
        "bounds": [_moment(start) for start in [*buckets, period.end]],
        "bucket_days": [start.date().isoformat() for start in buckets],
        "callbacks": None,
        "conversations": None,
        "events": None,
        "api": None,
    }
    if user.has_perm("callbacks.view_queuecallback"):
        figures["callbacks"] = _callbacks(period, tenant_ids, links, now)
    if user.has_perm("conversations.view_conversation"):
        figures["conversations"] = _conversations(period, tenant_ids, links)
    split = _split(period) if user.has_perm("hooks.view_inboundevent") or user.has_perm("cx.view_apicall") else None
    if split is not None and user.has_perm("hooks.view_inboundevent"):
        # Refusals are counted for the console as a whole (a refused delivery may name no tenant): shown only
        # to users who see every tenant.
        refusals = allowed is None and user.has_perm("hooks.view_refusalcount")
        figures["events"] = _events(period, split, tenant_ids, links, refusals=refusals)
    if split is not None and user.has_perm("cx.view_apicall"):
        figures["api"] = _api_calls(period, split, tenant_ids, links)
    return figures
