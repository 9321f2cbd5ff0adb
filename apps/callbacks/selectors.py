"""Reads for the callbacks admin: a batch's progress figures, counts for a page of batches, the results export."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from apps.cx.spreadsheet import spreadsheet_cell, spreadsheet_time

from .estimate import (
    NEXT_FOR_HOURS,
    NEXT_FOR_REQUESTED,
    NEXT_FOR_RETRY,
    NEXT_FOR_START,
    EstimateInput,
    LimitStall,
    TimeLeft,
    estimate_time_left,
)
from .hours import Hours, open_intervals, zones_for_number
from .models import (
    FINAL_STATES,
    LIVE_BATCH_STATUSES,
    OPEN_STATES,
    BatchStatus,
    CallbackAttempt,
    CallbackBatch,
    CallbackState,
    QueueCallback,
    QueueLimit,
)

# The window the batch page's "calls per minute" is measured over, and the shortest span it is measured over
# (a batch started 3 s ago has placed its first calls; a rate over 3 s would be noise).
RATE_WINDOW = dt.timedelta(minutes=5)
SHORTEST_SPAN = dt.timedelta(seconds=10)
LIMIT_WINDOW = dt.timedelta(seconds=60)
STATES: tuple[str, ...] = tuple(CallbackState.values)


def state_counts(batch_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Batch id → state → number of callbacks, for a page of batches: one grouped query."""
    ids = list(batch_ids)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if not ids:
        return counts
    rows = (
        QueueCallback.objects.filter(batch_id__in=ids)
        .order_by()
        .values_list("batch_id", "state")
        .annotate(n=Count("id"))
    )
    for batch_id, state, n in rows:
        counts[batch_id][state] = n
    return counts


def attach_state_counts(batches: Iterable[CallbackBatch]) -> None:
    """Sets ``state_counts`` on each batch of a changelist page (one query for the whole page)."""
    batches = list(batches)
    counts = state_counts(b.pk for b in batches)
    for batch in batches:
        batch.state_counts = {state: counts.get(batch.pk, {}).get(state, 0) for state in STATES}  # type: ignore[attr-defined]


def done_percent(counts: dict[str, int], total: int) -> int:
    """Share of the batch in a final state, rounded down (100 only when nothing is left open)."""
    done = sum(counts.get(s, 0) for s in FINAL_STATES)
    still_open = sum(counts.get(s, 0) for s in OPEN_STATES)
    total = max(total, done + still_open)
    if not still_open:
        return 100
    return done * 100 // total if total else 0


def _local(moment: dt.datetime, zone_name: str) -> str:
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


@dataclass
class BatchProgress:
    """What the batch page's progress bar shows, as figures and as the words beside them."""

    batch_id: int
    status: str
    status_label: str
    total: int
    counts: dict[str, int]
    done: int
    open: int
    percent: int
    per_minute: float
    seconds_left: int | None
    time_left: str
    waiting: str
    finished: bool
    labels: dict[str, str] = field(default_factory=lambda: dict(CallbackState.choices))

    def as_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch_id,
            "status": self.status,
            "status_label": self.status_label,
            "total": self.total,
            "counts": self.counts,
            "done": self.done,
            "open": self.open,
            "percent": self.percent,
            "per_minute": self.per_minute,
            "seconds_left": self.seconds_left,
            "time_left": self.time_left,
            "waiting": self.waiting,
            "finished": self.finished,
            "summary": self.summary,
        }

    @property
    def summary(self) -> str:
        shown = [f"{self.counts[s]} {self.labels[s].split(' (')[0].lower()}" for s in STATES if self.counts[s]]
        return f"{self.percent} % done: " + (", ".join(shown) or "no callbacks")

    @property
    def bar(self) -> list[tuple[str, str, float]]:
        """(state, label, width in %) for the final states, in the bar's order."""
        total = self.total or 1
        return [(s, self.labels[s], self.counts[s] * 100 / total) for s in FINAL_STATES]


def batch_progress(batch: CallbackBatch, *, now: dt.datetime | None = None) -> BatchProgress:
    """Counts per state, calls started per minute lately, time left and what the batch waits for: a bounded
    number of queries (at most seven) whatever the batch's size; the estimate is ``estimate_time_left``."""
    now = now or timezone.now()
    callbacks = QueueCallback.objects.filter(batch=batch).order_by()
    found = dict(callbacks.values_list("state").annotate(n=Count("id")))
    counts = {state: found.get(state, 0) for state in STATES}
    still_open = sum(counts[s] for s in OPEN_STATES)
    done = sum(counts[s] for s in FINAL_STATES)
    total = max(batch.total, done + still_open)
    per_minute = _achieved_per_minute(batch, now)
    left = TimeLeft(0, "done", "")
    if still_open:
        figures = _estimate_input(batch, callbacks, counts, per_minute, now)
        left = estimate_time_left(figures, show_time=lambda moment: _local(moment, batch.tenant.time_zone))
        if per_minute is not None:
            # Four calls placed in the first second are not a pace of 240 a minute: the queues allow so many.
            per_minute = min(per_minute, figures.limit_per_minute)
    # Over once nothing is open and the batch has a final status of its own (the last call's end sets it).
    over = not still_open and batch.status not in LIVE_BATCH_STATUSES
    return BatchProgress(
        batch_id=batch.pk,
        status=batch.status,
        status_label=batch.get_status_display(),
        total=total,
        counts=counts,
        done=done,
        open=still_open,
        percent=done_percent(counts, total),
        per_minute=round(float(per_minute or 0.0), 1),
        seconds_left=left.seconds,
        time_left=left.text,
        waiting=left.waiting,
        finished=over,
    )


def _achieved_per_minute(batch: CallbackBatch, now: dt.datetime) -> float | None:
    """Calls of the batch started per minute over the last minutes (since it was last resumed, at most
    ``RATE_WINDOW``, at least ``SHORTEST_SPAN``); None when none started in that time."""
    since = now - RATE_WINDOW
    if batch.status == BatchStatus.RUNNING and batch.status_changed_at and batch.status_changed_at > since:
        since = batch.status_changed_at  # resumed lately: the paused minutes are no measure of its pace
    attempts = CallbackAttempt.objects.filter(callback__batch=batch).aggregate(
        recent=Count("id", filter=Q(started_at__gte=since)), first=Min("started_at")
    )
    if not attempts["recent"]:
        return None
    span = max(SHORTEST_SPAN, now - max(since, attempts["first"]))
    return attempts["recent"] / (span.total_seconds() / 60)


def _estimate_input(
    batch: CallbackBatch, callbacks: Any, counts: dict[str, int], per_minute: float | None, now: dt.datetime
) -> EstimateInput:
    scheduled = callbacks.filter(state=CallbackState.SCHEDULED)
    due_now = counts[CallbackState.DISPATCHING] + scheduled.filter(due_at__lte=now).count()
    fields = ("due_at", "attempts", "not_before", "time_zones", "destination", "queue_name")
    nxt = None if due_now else scheduled.filter(due_at__gt=now).order_by("due_at").values_list(*fields).first()
    sample = nxt or callbacks.filter(state__in=OPEN_STATES).values_list(*fields).first()
    queues = list(
        callbacks.filter(state__in=OPEN_STATES).values_list("queue_name", flat=True).distinct().order_by()[:20]
    )
    limits = {q.queue_name: q for q in QueueLimit.objects.filter(tenant_id=batch.tenant_id, queue_name__in=queues)}
    per_queue = {name: limits[name].calls_per_minute if name in limits else default_per_minute() for name in queues}
    stall = None
    if due_now:
        recent = (
            CallbackAttempt.objects.filter(
                tenant_id=batch.tenant_id, queue_name__in=queues, started_at__gt=now - LIMIT_WINDOW
            )
            .order_by()
            .values_list("queue_name")
            .annotate(n=Count("id"), first=Min("started_at"))
        )
        for name, n, first in recent:
            if n >= per_queue[name]:
                stall = LimitStall(queue_name=name, per_minute=per_queue[name], next_at=first + LIMIT_WINDOW)
                break
    next_due_at, next_for, hours_ahead = None, NEXT_FOR_HOURS, None
    if sample is not None:
        due_at, attempts, not_before, zones, destination, queue_name = sample
        if nxt is not None:
            next_due_at = due_at
            if attempts:
                next_for = NEXT_FOR_RETRY
            elif due_at == batch.starts_at:
                next_for = NEXT_FOR_START
            elif due_at == not_before:
                next_for = NEXT_FOR_REQUESTED
        zone_list = zones.split(",") if zones else zones_for_number(destination, fallback=batch.tenant.time_zone)
        limit = limits.get(queue_name) or QueueLimit(tenant_id=batch.tenant_id, queue_name=queue_name)
        hours = Hours(
            start=limit.hours_start,
            end=limit.hours_end,
            weekdays=frozenset(limit.weekdays),
            window_start=batch.window_start,
            window_end=batch.window_end,
        )
        hours_ahead = open_intervals(now, zone_list, hours)
        if batch.deadline is not None:
            hours_ahead = [(begin, min(end, batch.deadline)) for begin, end in hours_ahead if begin < batch.deadline]
    return EstimateInput(
        now=now,
        paused=batch.status == BatchStatus.PAUSED,
        open=sum(counts[s] for s in OPEN_STATES),
        due_now=due_now,
        achieved_per_minute=per_minute,
        limit_per_minute=sum(per_queue.values()) or default_per_minute(),
        next_due_at=next_due_at,
        next_due_for=next_for,
        stall=stall,
        hours_ahead=hours_ahead,
    )


def default_per_minute() -> int:
    """A queue's calls a minute before anyone set its limit (its row is made with it on first use)."""
    return int(settings.CX_CALLBACK_CALLS_PER_MINUTE)


# -- the results export -----------------------------------------------------------------------------------
RESULTS_HEADER = (
    "line",
    "destination",
    "name",
    "queue",
    "state",
    "state_reason",
    "attempts",
    "last_error",
    "remote_id",
    "placed_at",
    "finished_at",
)


def batch_results_rows(batch: CallbackBatch) -> Iterator[tuple[str, ...]]:
    """Header, then one row per callback of the batch in file order; streamed from the database."""
    yield RESULTS_HEADER
    rows = (
        QueueCallback.objects.filter(batch=batch)
        .order_by("line_number", "id")
        .values_list(
            "line_number",
            "destination",
            "name",
            "queue_name",
            "state",
            "state_reason",
            "attempts",
            "last_error",
            "remote_id",
            "placed_at",
            "finished_at",
        )
    )
    for line, destination, name, queue, state, reason, attempts, error, remote_id, placed, finished in rows.iterator(
        chunk_size=2000
    ):
        yield (
            "" if line is None else str(line),
            destination,  # E.164 starts with "+": kept as is, it is a phone number, not a formula
            spreadsheet_cell(name),
            spreadsheet_cell(queue),
            state,
            spreadsheet_cell(reason),
            str(attempts),
            spreadsheet_cell(error),
            remote_id,
            spreadsheet_time(placed),
            spreadsheet_time(finished),
        )
